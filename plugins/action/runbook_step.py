# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook step engine: one task runs a whole phase of a step (see the runbook_step module's docs).

The decisions are in plugin_utils/steps.py; this file runs the modules (db_check, migrate_apply) with
the step's connection, calls the gates and the API smoke tests on the controller, and keeps time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.urls import open_url
from ansible.plugins.action import ActionBase

try:
    from ansible.plugins.action import VariableLayer
except ImportError:  # ansible-core < 2.21: facts come from the result's ansible_facts
    VariableLayer = None

from ansible_collections.dbops.runbooks.plugins.plugin_utils import gates as gate_engine
from ansible_collections.dbops.runbooks.plugins.plugin_utils.gate_runtime import run_task_gates
from ansible_collections.dbops.runbooks.plugins.plugin_utils.migration_folder import read_folder
from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_report import delegated_host, report_entries
from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_state import held_state
from ansible_collections.dbops.runbooks.plugins.plugin_utils import steps as logic

PHASES = ("begin", "migrate", "plan", "apply", "verify", "smoke", "window", "rollback", "fail", "record")
# Facts the step keeps between its tasks (begin -> migrate -> rollback -> record).
STARTED_AT, STARTED_EPOCH, FAILURE, RESULTS, ENTRIES = (
    "runbook_step_started_at", "runbook_step_started_epoch", "runbook_step_failure", "runbook_step_results",
    # Every dbops_report of the run's steps so far, so a failure can say what the run left held.
    "runbook_run_entries")


class PhaseFailed(Exception):
    """A phase of the step failed: `label` names it the way the failure message quotes it."""

    def __init__(self, label, msg, **details):
        super().__init__(msg)
        self.label = label
        self.details = details


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        self.vars = task_vars or {}
        self.args = dict(self._task.args)
        phase = self.args.get("phase", "migrate")
        if phase not in PHASES:
            return dict(result, failed=True, msg="phase must be one of %s, got %r" % (", ".join(PHASES), phase))
        self.key = self.args.get("step") or self._var("runbook_step_key")
        self.runbook = self.args.get("runbook") or self._var("runbook") or {}
        self.lines = []       # what the task output says, in order
        self.reports = []     # dbops_report entries of the modules run, for the run report
        self.out = dict(changed=False)
        self.facts = {}       # variables the phase sets for the step's later tasks
        try:
            self.step = logic.step_definition(self.runbook, self.key)
            getattr(self, "_phase_" + phase)()
        except logic.StepError as e:
            self.out.update(failed=True, msg=str(e))
        except PhaseFailed as e:
            self.out.update(e.details, failed=True, msg=str(e), failed_phase=e.label)
        finally:
            self._cleanup()
        if self.facts:
            self.out["ansible_facts"] = self.facts
            if VariableLayer is not None:  # set_fact's layer: plain variables, no top-level-fact deprecation
                self.register_host_variables({}, VariableLayer.CACHEABLE_FACT)
                self.register_host_variables(self.facts, VariableLayer.EPHEMERAL_FACT)
        result.update(self.out)
        if self.lines:
            result["lines"] = self.lines
        if self.reports:
            result["dbops_reports"] = self.reports
        result["_ansible_verbose_always"] = True
        return result

    def _var(self, name, default=None):
        """A task variable, templated (the step's data refers to other variables, e.g. runbook.history_table)."""
        if name not in self.vars:
            return default
        value = self._templar.template(self.vars[name])
        return default if value is None else value

    def _cleanup(self):
        tmpdir = getattr(self._connection._shell, "tmpdir", None)
        if tmpdir:
            self._remove_tmp_path(tmpdir)

    # --- phases -------------------------------------------------------------------------------

    def _phase_begin(self):
        self.facts.update({
            STARTED_AT: logic.utc_now().isoformat(), STARTED_EPOCH: time.time(), FAILURE: {},
            RESULTS: self.vars.get(RESULTS) or [],
        })

    def _phase_migrate(self):
        self._phase_plan()
        self._phase_apply()

    def _phase_plan(self):
        """Plan the step's migrations, run the before-checks and the gates the step puts before its change."""
        versions = logic.step_versions(self.step)
        plan = self._module("dbops.runbooks.migrate_apply", self._migrate_args(target=versions[-1]),
                            "Plan the migrations of step %s" % self.key, check_mode=True)
        mine, earlier = logic.split_plan(plan.get("pending", []), versions)
        self.out.update(pending=mine, earlier_pending=earlier)
        self.lines.append("plan: %s pending (%s)%s" % (
            len(mine), ", ".join("%s_%s" % (p["version"], p.get("name", "")) for p in mine) or "none",
            "; earlier steps pending: %s" % ", ".join(p["version"] for p in earlier) if earlier else ""))
        if earlier and not self._task.check_mode:
            raise PhaseFailed("Plan the migrations of step %s" % self.key,
                              "applying up to %s would also apply %s, which belong to earlier steps; run those steps first"
                              % (versions[-1], ", ".join(p["version"] for p in earlier)))
        # A --check rehearsal of the whole runbook has not created the earlier steps' tables.
        if mine and not (self._task.check_mode and earlier):
            self._checks("before", "Check before step %s" % self.key)
        self._gates(self.args.get("gates_before") or [])

    def _phase_apply(self):
        """Apply the step's migrations, verify, smoke-test, run the gates after the change, keep the time box."""
        versions = logic.step_versions(self.step)
        label = "Apply the migrations of step %s" % self.key
        if "pending" not in self.out:  # phase apply alone: the plan is the registered result of phase plan
            self.out["pending"] = (self.args.get("plan") or {}).get("pending", [])
        self.out["apply_ran"] = True
        applied = self._module("dbops.runbooks.migrate_apply", self._migrate_args(target=versions[-1]), label,
                               keep=("applied", "batch", "diff"))
        self.out["changed"] = bool(applied.get("changed"))
        if self._task.check_mode:
            self.lines.append("would apply %d statement(s)" % sum(p.get("statements", 0) for p in applied.get("pending", [])))
        elif applied.get("changed"):
            done = applied.get("applied", [])
            self.lines.append("applied in batch %s: %s (%d statement(s) in %d ms)" % (
                applied.get("batch"), ", ".join(m["version"] for m in done), sum(m.get("statements", 0) for m in done),
                sum(m.get("execution_ms", 0) for m in done)))
        else:
            self.lines.append("already applied, nothing to do")
        self._verify(smoke=bool(applied.get("changed")))

    def _phase_verify(self):
        """The step's after-checks, smoke tests, gates after the change and time box, each where asked for."""
        self._verify(checks=self.args.get("run_checks", True), smoke=self.args.get("run_smoke", True),
                     window=self.args.get("hold_window", True))

    def _verify(self, checks=True, smoke=True, window=True):
        if not self._task.check_mode:
            if checks:
                self._checks("after", "Verify step %s" % self.key)
            if smoke:
                self._smoke()
        self._gates(self.args.get("gates_after") or [])
        if window:
            self._phase_window()

    def _phase_smoke(self):
        self._smoke()

    def _phase_window(self):
        started = self.vars.get(STARTED_EPOCH)
        if started is None:
            raise logic.StepError("step %s: its start was not recorded (phase begin)" % self.key)
        override = (self._var("runbook_step_window_seconds", {})).get(self.key)
        timing, warning, failure = logic.time_box(self.step, time.time() - float(started), override)
        self.out["timing"] = timing
        if warning:
            self.lines.append(warning)
        if failure:
            raise PhaseFailed("Time box of step %s" % self.key, "%s %s" % (self.key, failure), timing=timing)

    def _phase_rollback(self):
        """Take back what the step's migrate/apply task changed in this run: its migrations, newest first.

        Never fails: a failed down-migration is returned (`down_failed`) for the step's own fallback.
        """
        outcome = self.args.get("outcome") or {}
        first = dict(task=(outcome.get("failed_phase") or self._failed_task_name()),
                     cause=to_text(self.vars.get("ansible_failed_result", {}).get("msg", "unknown")))
        self.out["first_failure"] = first
        todo = []
        if not self._task.check_mode and outcome.get("apply_ran") and (outcome.get("changed") or outcome.get("failed")):
            todo = [str(p["version"]) for p in outcome.get("pending", [])][::-1]
        rolled_back, down_error = [], None
        for version in todo:
            try:
                done = self._module("dbops.runbooks.migrate_apply",
                                    self._migrate_args(path=self._migration_file(version), state="rolled_back"),
                                    "Roll back %s" % version)
            except PhaseFailed as e:
                down_error = str(e)
                break
            rolled_back += done.get("rolled_back", [])
        self.out.update(rolled_back=[entry["version"] for entry in rolled_back], down_failed=down_error is not None, down_error=down_error,
                        summary=logic.rollback_summary(rolled_back, down_error, first_failure=first),
                        changed=bool(rolled_back))
        self.lines.append(self.out["summary"])

    def _phase_fail(self):
        """Note how the step failed and was rolled back (the last task of a rescue); phase record then stops the run.

        A failed task's variables are not kept, so this phase succeeds and the record fails instead.
        """
        rollback = self.args.get("rollback") or {}
        first = rollback.get("first_failure") or dict(
            task=self._failed_task_name(), cause=to_text(self.vars.get("ansible_failed_result", {}).get("msg", "unknown")))
        summary = self.args.get("summary") or rollback.get("summary") or logic.NOTHING_TO_ROLL_BACK
        failure = dict(task=first["task"], cause=first["cause"], rollback=summary)
        self.facts[FAILURE] = failure
        self.out.update(step_failure=failure, msg=logic.failure_message(self.key, failure))

    def _phase_record(self):
        """Append the step's record to runbook_step_results (the run report reads it); fail the run when the
        step failed and phase fail noted its rollback."""
        failed_task = self.vars.get("ansible_failed_task")
        failure = dict(self.vars.get(FAILURE) or {})
        unhandled = {}
        if failed_task and not failure:
            unhandled = dict(task=self._failed_task_name(),
                             cause=to_text(self.vars.get("ansible_failed_result", {}).get("msg", "unknown")),
                             rollback="the rollback failed: the step is in an unknown state")
        record = logic.step_record(
            self.key, self.step, self.vars.get(STARTED_AT), self.vars.get(STARTED_EPOCH, time.time()), time.time(),
            (self._var("runbook_step_window_seconds", {})).get(self.key), failure,
            unhandled, self.vars.get("runbook_gate_results") or [])
        records = list(self.vars.get(RESULTS) or []) + [record]
        entries = self._run_entries()
        self.facts.update({RESULTS: records, ENTRIES: entries})
        self.out["step"] = dict(key=record["key"], status=record["status"], duration_s=record["duration_s"])
        if failure:  # the step failed and its rescue rolled it back: the run stops here, naming why and what is held
            held = held_state(entries, records, self.runbook.get("steps"), self._var("runbook_restore_point"))
            self.out.update(failed=True, msg=logic.failure_message(self.key, failure, held["lines"]), held=held)

    # --- parts ----------------------------------------------------------------------------------

    def _run_entries(self):
        """The run's dbops_report entries so far, plus those of this step's registered `results` (any task's:
        a runbook_step phase, a maintenance_mode loop), each toggle named by the host it ran on and its groups."""
        entries = list(self.vars.get(ENTRIES) or [])
        me = self.vars.get("inventory_hostname")
        hostvars = self.vars.get("hostvars") or {}
        for result in self.args.get("results") or []:
            for entry, source in report_entries(result if isinstance(result, dict) else {}):
                target = delegated_host(source, hostvars) or me
                groups = list((hostvars.get(target) or {}).get("group_names") or []) if target else []
                entries.append(dict(entry, step=self.key, target=target, target_groups=groups))
        return entries

    def _failed_task_name(self):
        """The failed part of the step: a runbook_step phase's own label, or the failed task's name."""
        phase = (self.vars.get("ansible_failed_result") or {}).get("failed_phase")
        if phase:
            return to_text(phase)
        task = self.vars.get("ansible_failed_task") or {}
        return to_text(task.get("name", "") if isinstance(task, dict) else getattr(task, "name", ""))

    def _database(self):
        database = self.args.get("database")
        if not isinstance(database, dict) or not database:
            raise logic.StepError("step %s: database (the connection options) is required" % self.key)
        return database

    def _migrations_dir(self):
        folder = self.args.get("migrations_dir")
        if not folder:
            raise logic.StepError("step %s: migrations_dir is required" % self.key)
        if not os.path.isdir(folder):
            raise PhaseFailed("Plan the migrations of step %s" % self.key,
                              "migrations_dir %s: no such directory (on the controller)" % folder)
        return folder

    def _migration_file(self, version):
        name = next(m["name"] for m in self.step["migrations"] if str(m["version"]) == version)
        return os.path.join(self._migrations_dir(), "%s_%s.up.sql" % (version, name))

    def _migrate_args(self, **args):
        folder = self._migrations_dir()
        args.setdefault("migrations_dir", None)
        if args.get("path"):
            args.pop("migrations_dir")
        else:
            args["migrations_dir"] = folder
        args.update(self._database(), history_table=self.args.get("history_table") or self.runbook.get("history_table"),
                    _files=read_folder(folder))
        return args

    @contextlib.contextmanager
    def _check_mode(self, check_mode):
        saved = self._task.check_mode
        if check_mode is not None:
            self._task.check_mode = check_mode
        try:
            yield
        finally:
            self._task.check_mode = saved

    def _module(self, name, args, label, check_mode=None, keep=()):
        """Run a module with the step's connection; its failure fails the phase named `label`."""
        with self._check_mode(check_mode):
            res = self._execute_module(module_name=name, module_args=args, task_vars=self.vars)
        res.pop("invocation", None)
        if res.get("dbops_report"):
            self.reports.append(res["dbops_report"])
        for key in keep:
            if key in res:
                self.out[key] = res[key]
        if res.get("failed"):
            raise PhaseFailed(label, to_text(res.get("msg", "%s failed" % name)),
                              **{k: res[k] for k in keep if k in res})
        return res

    def _checks(self, when, label):
        checks = ((self.args.get("checks") or self._var("runbook_checks", {}).get(self.key) or {}).get(when)) or []
        if not checks:
            return
        res = self._module("dbops.runbooks.db_check", dict(self._database(), checks=checks), label,
                           keep=("failed_checks",))
        self.out.setdefault("checks", {})[when] = res.get("checks", [])
        self.lines.append("%s: %s" % (when, res.get("msg", "")))

    def _gates(self, lines):
        """The step's gates at `lines`, run in-process (plugin_utils/gates.py); a blocking failure fails the phase."""
        if not lines:
            return
        try:
            results, facts = run_task_gates(self._templar, self.vars, self.key, lines, check_mode=bool(self._task.check_mode))
        except gate_engine.GateConfigError as e:
            raise logic.StepError(to_text(e))
        self.vars.update(facts)  # the next gates of this task see these results
        self.facts.update(facts)
        self.out["changed"] = self.out["changed"] or any(item["changed"] for item in results)
        self.out.setdefault("gates", []).extend(gate_engine.recorded([], results))
        self.lines.append(gate_engine.summary(self.key, results))
        if gate_engine.blocking_failures(results):
            raise PhaseFailed("Gates %s of step %s" % (", ".join(lines), self.key), gate_engine.summary(self.key, results))

    def _smoke(self):
        tests = self.args.get("smoke_tests")
        if tests is None:
            tests = self._var("runbook_smoke_tests", {}).get(self.key) or []
        api = self.args.get("api") or self._var("academy_api", {})
        failures = []
        for test in tests:
            url = "%s%s" % (api.get("url", ""), test["path"])
            headers = {"Authorization": "Bearer %s" % api.get("token", "")} if test.get("auth") else {}
            status, payload, error = None, None, ""
            try:
                answer = open_url(url, headers=headers, timeout=float(api.get("timeout", 10)), validate_certs=True)
                status, body = answer.getcode(), answer.read()
            except HTTPError as e:
                status, body, error = e.code, e.read(), to_text(e.reason)
            except (URLError, OSError, ValueError) as e:
                body, error = b"", "Request failed: %s" % to_text(getattr(e, "reason", e))
            try:
                payload = json.loads(to_text(body)) if body else None
            except ValueError:
                payload = None
            ok, message = logic.smoke_verdict(test, status, payload, url, error)
            self.lines.append(message)
            entry = dict(line=test.get("line"), name=test.get("name"), path=test.get("path"), ok=ok, msg=message)
            self.out.setdefault("smoke_tests", []).append(entry)
            self.reports.append(dict(entry, kind="smoke_test", changed=False, check_mode=False, failed=not ok))
            if not ok:
                failures.append(message)
        if failures:
            raise PhaseFailed("Check the smoke tests of step %s" % self.key, "; ".join(failures))
