# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a runbook step's gates on the controller (plugins/plugin_utils/gates.py decides each one)."""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gate_runtime import run_task_gates
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gates import GateConfigError, blocking_failures, recorded, summary

try:
    from ansible.plugins.action import VariableLayer
except ImportError:  # ansible-core < 2.21: the fact comes from the result's ansible_facts
    VariableLayer = None

ARGUMENT_SPEC = dict(
    step=dict(type="str"),
    lines=dict(type="list", elements="str"),
    gates=dict(type="list", elements="dict"),
    systems=dict(type="dict", default={}),
    fail_on_blocking=dict(type="bool", default=True),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        step = args["step"] or to_text(self._templar.template(task_vars.get("runbook_step_key", "")))
        if not step:
            return dict(result, failed=True, msg="runbook_gate: no step (set step or runbook_step_key)")
        try:
            results, facts = run_task_gates(self._templar, task_vars, step, args["lines"], args["gates"], args["systems"],
                                            check_mode=self._task.check_mode)
        except GateConfigError as e:
            return dict(result, failed=True, msg=to_text(e))
        if VariableLayer is not None:  # set_fact's layer: a plain variable, no top-level-fact deprecation
            self.register_host_variables({}, VariableLayer.CACHEABLE_FACT)
            self.register_host_variables(facts, VariableLayer.EPHEMERAL_FACT)
        blocked = bool(blocking_failures(results))
        result.update(changed=any(item["changed"] for item in results), gates=recorded([], results), blocked=blocked,
                      msg=summary(step, results), ansible_facts=facts)
        if blocked and args["fail_on_blocking"]:
            result["failed"] = True
        return result
