# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an action plugin needs to run gates (gates.py) in a task: HTTP and prompts on the controller,
the task's variables templated on read, and one call that returns results and the fact.

From any action plugin (the runbook_gate action, the step engine)::

    results, facts = run_task_gates(self._templar, task_vars, step, lines, check_mode=self._task.check_mode)
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import open_url
from ansible.utils.display import Display
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import Answer, Transport, recorded, run_gates

try:
    from ansible.errors import AnsiblePromptInterrupt, AnsiblePromptNoninteractive
except ImportError:  # older ansible-core: a failed prompt is any AnsibleError
    AnsiblePromptInterrupt = AnsiblePromptNoninteractive = AnsibleError

display = Display()


class ControllerTransport(Transport):
    """HTTP from the controller with ``open_url``; prompts and progress lines on the controller's terminal; real sleeps."""

    def request(self, request):
        data = None if request.body is None else json.dumps(request.body)
        headers = dict(request.headers)
        if data is not None:
            headers.setdefault("Content-Type", "application/json")
        try:
            response = open_url(request.url, data=data, headers=headers, method=request.method, timeout=request.timeout,
                                validate_certs=request.validate_certs, follow_redirects="safe")
            return Answer(response.getcode(), to_text(response.read(), errors="surrogate_or_replace"), "OK")
        except Exception as e:  # HTTPError carries a status and a body; anything else is no answer
            code = getattr(e, "code", None)
            if isinstance(code, int):
                body = e.read() if hasattr(e, "read") else b""
                return Answer(code, to_text(body or b"", errors="surrogate_or_replace"), to_native(getattr(e, "reason", e)))
            return Answer(-1, "", "%s: %s" % (type(e).__name__, to_native(getattr(e, "reason", e))))

    def prompt(self, text):
        try:
            return to_text(display.prompt_until(text + ": ", private=False))
        except (AnsiblePromptNoninteractive, AnsiblePromptInterrupt):
            return None

    def sleep(self, seconds):
        time.sleep(seconds)

    def note(self, text):
        display.display(text)


class TemplatedVars(Mapping):
    """The task's variables, templated on read; an undefined one (a vault variable not loaded) is None."""

    def __init__(self, templar, task_vars, overrides=None):
        self._templar = templar
        self._vars = task_vars
        self._overrides = overrides or {}

    def __getitem__(self, name):
        if name in self._overrides:
            return self._resolve(self._overrides[name])
        return self._resolve(self._vars[name])

    def __iter__(self):
        return iter(set(self._vars) | set(self._overrides))

    def __len__(self):
        return len(set(self._vars) | set(self._overrides))

    def _resolve(self, value):
        if isinstance(value, Mapping):
            return {key: self._resolve(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._resolve(item) for item in value]
        try:
            return self._templar.template(value)
        except AnsibleError:
            return None


def run_task_gates(templar, task_vars, step, lines=None, gates=None, systems=None, check_mode=False, transport=None):
    """Run the gates of ``step`` at ``lines`` for a task: returns (results, facts).

    gates default to ``runbook_gates[step]``; systems (by variable name) override the task's variables;
    facts is ``{"runbook_gate_results": earlier results + these}``. Raises GateConfigError for bad gates.
    """
    if gates is None:
        gates = templar.template((task_vars.get("runbook_gates") or {}).get(step, []))
    variables = TemplatedVars(templar, task_vars, systems)
    results = run_gates(gates, lines, step, variables, check_mode, transport or ControllerTransport())
    return results, {"runbook_gate_results": recorded(task_vars.get("runbook_gate_results"), results)}
