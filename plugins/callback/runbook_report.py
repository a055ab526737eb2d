# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: runbook_report
type: notification
short_description: Write a JSON and a Markdown report of a runbook run
version_added: 0.1.0
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
description:
  - Collects what a runbook run did, step by step, and writes it at the end of the run as
    C(<runbook key>-<UTC start time>[-check].json) and C(.md) in O(report_dir), plus copies named
    C(latest.json) and C(latest.md) that always hold the last run.
  - A step is a play whose vars hold C(runbook_step_key); its number, title, owners, window and expected
    runtime come from the C(runbook) variable (for example C(playbooks/vars/communities_schema_v1.yml)).
    Steps the playbook holds but the run never reached are reported as C(not run).
  - Per step the report holds the status (C(ok), C(rolled_back), C(failed), C(skipped) or C(not run)), start,
    end and duration against the window and the expected runtime (the C(runbook_step) role's
    C(runbook_step_results) and C(runbook_step_timing) facts), the failed task and its cause, the rollback
    that ran, the P(dbops.runbooks.db_check#module) checks with their observed values, the migrations
    P(dbops.runbooks.migrate_apply#module) planned, applied and rolled back, the snapshots and backups
    (P(dbops.runbooks.rds_snapshot#module), P(dbops.runbooks.db_backup#module)), the maintenance toggles
    (P(dbops.runbooks.maintenance_mode#module)), the smoke tests and the gates (the C(runbook_gate_results) fact).
  - The run part holds the runbook and plan keys, the change request and its approvals, the target (inventory
    host, engine, database host, port and name), check mode or real run, start and end, the downtime measured
    by the C(downtime_probe) role (or read from O(downtime_file)) and the runbook's Artifact Capture table
    filled from the run.
  - Of a task's result it reads only the C(dbops_report) key the modules above return (for a loop, each item's;
    a task that runs many things may return a list of them as C(dbops_reports)), the smoke test items and
    the runbook facts. A toggle delegated to another host is named after that host and its inventory group
    (C(app_servers) - app server, C(queue_workers) - queue worker, paused or running).
  - The checks of a P(dbops.runbooks.db_check#module) task with C(purpose=decide) are shown as decisions, apart
    from the verifications, so a red C(no) only ever means a check failed.
  - The summary ends with the state the run left behind - migrations applied and rolled back, maintenance and
    queues per host, the restore point and, after a failed step, the C(--tags) to resume with.
  - The report never holds a secret. It copies only what the modules declare in C(dbops_report) and named
    keys of the runbook facts, never a task's arguments (they hold C(login_password)), drops keys named like
    a secret, and ignores the results of tasks with C(no_log).
  - In check mode (C(--check)) the report is written too, with the suffix C(-check), as the rehearsal plan -
    pending migrations per step, the snapshot or backup that would be taken, the maintenance toggles that
    would happen, the gates still open. It is a file on the controller, not a change to any target; set
    O(write_in_check_mode=false) to write nothing in check mode.
requirements:
  - Enable it with C(ANSIBLE_CALLBACKS_ENABLED=dbops.runbooks.runbook_report) (or C(callbacks_enabled) in ansible.cfg).
options:
  report_dir:
    description: Folder the reports are written to; created when missing.
    type: path
    default: ~/.ansible/runbook_reports
    env:
      - name: DBOPS_RUNBOOK_REPORT_DIR
    ini:
      - section: callback_runbook_report
        key: report_dir
  write_in_check_mode:
    description: Whether a check mode run (the rehearsal) writes its report.
    type: bool
    default: true
    env:
      - name: DBOPS_RUNBOOK_REPORT_CHECK_MODE
    ini:
      - section: callback_runbook_report
        key: write_in_check_mode
  downtime_file:
    description:
      - A report of C(downtime_poller.py) (its text or C(--json) output) to include when the run itself did not
        measure downtime with the C(downtime_probe) role.
      - Read only when it was written after the run started, so an old measurement never enters the report.
    type: path
    env:
      - name: DBOPS_RUNBOOK_REPORT_DOWNTIME_FILE
    ini:
      - section: callback_runbook_report
        key: downtime_file
notes:
  - Only plays with C(runbook_step_key) are steps; a playbook without any writes no report.
  - A report that cannot be written is a warning, never a failed run.
"""

import datetime
import os
import tempfile

from ansible import context
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.callback import CallbackBase
from ansible.template import Templar

from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_report import (
    RunReport, render_json, render_markdown, report_basename)


def _task_of(result):
    return getattr(result, "task", None) or result._task


def _host_of(result):
    return getattr(result, "host", None) or result._host


def _result_of(result):
    data = getattr(result, "result", None)
    return data if isinstance(data, dict) else result._result


def _in_rescue(task):
    """Whether the task runs in a rescue section (of its own block or of any block around it)."""
    node, parent = task, getattr(task, "_parent", None)
    while parent is not None:
        uuid = getattr(node, "_uuid", None)
        if uuid and any(getattr(entry, "_uuid", None) == uuid for entry in getattr(parent, "rescue", None) or []):
            return True
        node, parent = parent, getattr(parent, "_parent", None)
    return False


def _has_rescue(task):
    """Whether a rescue section handles the task's failure: it is in the block part of a block with a rescue."""
    node, parent = task, getattr(task, "_parent", None)
    while parent is not None:
        uuid = getattr(node, "_uuid", None)
        if (uuid and getattr(parent, "rescue", None)
                and any(getattr(entry, "_uuid", None) == uuid for entry in getattr(parent, "block", None) or [])):
            return True
        node, parent = parent, getattr(parent, "_parent", None)
    return False


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "dbops.runbooks.runbook_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = None
        self.rescue_tasks = {}
        self.hosts_seen = set()

    def v2_playbook_on_start(self, playbook):
        self.report = RunReport(check_mode=bool(context.CLIARGS.get("check")),
                                playbook=os.path.basename(getattr(playbook, "_file_name", "") or ""))
        for play in playbook.get_plays():
            step_key = (play.vars or {}).get("runbook_step_key")
            if step_key:
                self.report.plan_step(to_text(step_key), play=play.get_name())

    def v2_playbook_on_play_start(self, play):
        if self.report is None:
            return
        step_key = (play.vars or {}).get("runbook_step_key")
        self.report.start_play(play.get_name(), to_text(step_key) if step_key else None)
        if step_key:
            self._read_runbook_vars(play)

    def _read_runbook_vars(self, play):
        """The runbook, the change request and each host's target from the variables (named keys only)."""
        try:
            manager = play.get_variable_manager()
            hosts = manager._inventory.get_hosts(play.hosts)
            if not self.report.host_groups:
                # The groups name the target of a delegated toggle (app server, queue worker).
                self.report.set_host_groups(dict((name, [group.name for group in host.get_groups()])
                                                 for name, host in manager._inventory.hosts.items()))
        except Exception as e:  # the report must never break a run
            self._display.vvv("runbook_report: cannot read the play's variables: %s" % to_text(e))
            return
        for host in hosts:
            if host.get_name() in self.hosts_seen:
                continue
            self.hosts_seen.add(host.get_name())
            try:
                variables = manager.get_vars(play=play, host=host)
                templar = Templar(loader=play._loader, variables=variables)
                if not self.report.runbook:
                    self.report.set_runbook(templar.template(variables.get("runbook") or {}),
                                            templar.template(variables.get("change_request") or {}))
                connection = variables.get("db_connection") or {}
                # Template only the keys the report keeps: never the password.
                self.report.add_target(host.get_name(), dict(
                    (key, templar.template(connection[key]))
                    for key in ("engine", "login_host", "login_port", "login_db") if key in connection))
            except Exception as e:
                self.report.add_target(host.get_name())
                self._display.vvv("runbook_report: cannot read the variables of %s: %s" % (host.get_name(), to_text(e)))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.rescue_tasks[task._uuid] = (_in_rescue(task), _has_rescue(task))

    def v2_playbook_on_handler_task_start(self, task):
        self.rescue_tasks[task._uuid] = (False, False)

    def _record(self, result, status):
        if self.report is None:
            return
        task = _task_of(result)
        data = _result_of(result)
        hidden = bool(task.no_log) or data.get("_ansible_no_log") or "censored" in data
        if hidden:
            # No result of a no_log task is kept: only that it ran and how it ended.
            data = {"msg": "output hidden (no_log)"} if status == "failed" else {}
        in_rescue, has_rescue = self.rescue_tasks.get(task._uuid) or (_in_rescue(task), _has_rescue(task))
        # task.action as written (FQCN in this collection); resolved_action warns when sampled after a loop.
        action = getattr(task, "_resolved_action", None) or task.action
        self.report.task_result(_host_of(result).get_name(), action, task.get_name(), status, data,
                                in_rescue=in_rescue, has_rescue=has_rescue)

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if _result_of(result).get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "failed")

    def v2_playbook_on_stats(self, stats):
        if self.report is None or not self.report.steps:
            return
        report = self.report
        downtime_file = self.get_option("downtime_file")
        if downtime_file and report.downtime is None:
            self._read_downtime_file(downtime_file)
        host_stats = dict((host, stats.summarize(host)) for host in sorted(stats.processed))
        report.finish(stats=host_stats)
        if report.check_mode and not self.get_option("write_in_check_mode"):
            self._display.display("runbook_report: check mode, no report written (write_in_check_mode=false)")
            return
        document = report.as_dict()
        report_dir = self.get_option("report_dir")
        name = report_basename(document["runbook"]["key"], report.started_at, report.check_mode)
        try:
            os.makedirs(report_dir, exist_ok=True)
            for suffix, text in ((".json", render_json(document)), (".md", render_markdown(document))):
                _write(os.path.join(report_dir, name + suffix), text)
                _write(os.path.join(report_dir, "latest" + suffix), text)
        except OSError as e:
            self._display.warning("runbook_report: cannot write the report to %s: %s" % (report_dir, to_text(e)))
            return
        self._display.display("runbook_report: %s" % os.path.join(report_dir, name + ".md"))

    def _read_downtime_file(self, path):
        try:
            written = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
            if written < self.report.started_at:
                self._display.vv("runbook_report: %s predates the run, not included" % path)
                return
            with open(path, encoding="utf-8") as handle:
                self.report.use_downtime_file(path, handle.read())
        except OSError as e:
            self._display.vv("runbook_report: no downtime file %s: %s" % (path, to_text(e)))


def _write(path, text):
    """Write the whole file or nothing: a reader never sees half a report."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".runbook_report-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
