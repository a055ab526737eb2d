# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a runbook step's gates on the controller (plugins/plugin_utils/gates.py decides each one)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import (
    Answer,
    GateConfigError,
    Transport,
    blocking_failures,
    recorded,
    run_gates,
    summary,
)

try:
    from ansible.errors import AnsiblePromptInterrupt, AnsiblePromptNoninteractive
except ImportError:  # older ansible-core: no prompts from the action, confirm gates stay open
    AnsiblePromptInterrupt = AnsiblePromptNoninteractive = AnsibleError

try:
    from ansible.plugins.action import VariableLayer
except ImportError:  # ansible-core < 2.21: the fact comes from the result's ansible_facts
    VariableLayer = None

display = Display()

ARGUMENT_SPEC = dict(
    step=dict(type="str"),
    lines=dict(type="list", elements="str"),
    gates=dict(type="list", elements="dict"),
    systems=dict(type="dict", default={}),
    fail_on_blocking=dict(type="bool", default=True),
)


class ControllerTransport(Transport):
    """HTTP from the controller with ``open_url``; prompts on the controller's terminal."""

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
            return display.prompt_until(text + ": ", private=False)
        except (AnsiblePromptNoninteractive, AnsiblePromptInterrupt):
            return None


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


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        step = args["step"] or to_text(self._templar.template(task_vars.get("runbook_step_key", "")))
        if not step:
            return dict(result, failed=True, msg="runbook_gate: no step (set step or runbook_step_key)")
        gates = args["gates"]
        if gates is None:
            gates = self._templar.template((task_vars.get("runbook_gates") or {}).get(step, []))
        variables = TemplatedVars(self._templar, task_vars, args["systems"])
        try:
            results = run_gates(gates, args["lines"], step, variables, self._task.check_mode, ControllerTransport())
        except GateConfigError as e:
            return dict(result, failed=True, msg=to_text(e))
        facts = {"runbook_gate_results": recorded(task_vars.get("runbook_gate_results"), results)}
        if VariableLayer is not None:  # set_fact's layer: a plain variable, no top-level-fact deprecation
            self.register_host_variables({}, VariableLayer.CACHEABLE_FACT)
            self.register_host_variables(facts, VariableLayer.EPHEMERAL_FACT)
        blocked = bool(blocking_failures(results))
        result.update(
            changed=any(item["changed"] for item in results),
            gates=recorded([], results),
            blocked=blocked,
            msg=summary(step, results),
            ansible_facts=facts,
        )
        if blocked and args["fail_on_blocking"]:
            result["failed"] = True
        return result
