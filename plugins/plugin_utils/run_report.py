# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run report of a runbook: what each step did, collected from task results, as JSON and Markdown.

The runbook_report callback feeds a RunReport with plain data (action, task name, the task's result)
and writes what render_json and render_markdown return. Of a module's result only its `dbops_report`
key is read (the fields the module itself declares, plugins/module_utils/dbops_report.py): a task's
own, each loop item's, and each of a `dbops_reports` list (a task that runs many things). Module
arguments (login_password) never reach the report; the callback drops results of no_log tasks before
they get here, and keys named like a secret are dropped from whatever is copied.
"""

from __future__ import annotations

import datetime
import json
import os
import posixpath
import re

from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_state import held_state, toggle_held, toggle_role

REPORT_VERSION = 1

# Keys of a dbops_report never copied, whatever a module puts there (defence in depth).
SECRET_KEY_RE = re.compile(r"password|passwd|secret|token|invocation|authorization", re.I)
# A path with ./ or ../ in it, inside any text ("backed up academy to /srv/playbooks/../backups/x.sql.gz").
DOTTED_PATH_RE = re.compile(r"(?<![\w:/])/[^\s'\"|,;()]*/\.\.?/[^\s'\"|,;()]*")
# What a step section shows of a snapshot or backup entry.
SNAPSHOT_SHOWN = ("snapshot_id", "snapshot_arn", "status", "create_time", "age", "max_age_seconds", "source", "region",
                  "storage", "state", "msg")
BACKUP_SHOWN = ("backup_file", "manifest_file", "size_bytes", "sha256", "created_at", "age_seconds", "database", "engine",
                "tool", "verified", "state", "msg")
GATE_KEYS = ("step", "line", "text", "kind", "status", "detail", "observed", "issue", "url")
DOWNTIME_KEYS = ("url", "interval_s", "started_at", "ended_at", "polls", "by_status", "windows", "downtime_s",
                 "first_503", "last_503", "errors")
TARGET_KEYS = ("engine", "login_host", "login_port", "login_db")

# Tasks of a rescue that are bookkeeping, not the rollback itself.
BOOKKEEPING_ACTIONS = frozenset(("set_fact", "fail", "debug", "assert", "include_role", "include_tasks", "import_role",
                                 "import_tasks", "meta"))

STATUS_ORDER = ("ok", "rolled_back", "failed", "skipped", "not run")
DOWNTIME_TEXT_RE = re.compile(r"total ([0-9.]+) s of 503; (\d+) error")


def plain(value):
    """The value as plain JSON types (results carry tagged str/dict subclasses and odd scalars)."""
    if isinstance(value, dict):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return str(value)


def pick(mapping, keys):
    """Only `keys` of `mapping`, as plain data; missing keys are left out."""
    if not isinstance(mapping, dict):
        return {}
    return dict((k, plain(mapping[k])) for k in keys if k in mapping)


def scrubbed(value):
    """The value without keys named like a secret, at any depth."""
    if isinstance(value, dict):
        return dict((k, scrubbed(v)) for k, v in value.items() if not SECRET_KEY_RE.search(str(k)))
    if isinstance(value, list):
        return [scrubbed(v) for v in value]
    return value


def normalised_paths(value):
    """Every string of the value with its paths normalised (playbooks/../.stack -> .stack)."""
    if isinstance(value, dict):
        return dict((k, normalised_paths(v)) for k, v in value.items())
    if isinstance(value, list):
        return [normalised_paths(v) for v in value]
    if isinstance(value, str) and "/." in value:
        return DOTTED_PATH_RE.sub(lambda found: posixpath.normpath(found.group(0)), value)
    return value


def report_entries(result):
    """The dbops_report dicts of a task result with the result (or loop item) each came from:
    the result's own, each of its `dbops_reports`, then each loop item's, in order."""
    if not isinstance(result, dict):
        return []
    found = []
    if isinstance(result.get("dbops_report"), dict):
        found.append((result["dbops_report"], result))
    found.extend((entry, result) for entry in result.get("dbops_reports") or [] if isinstance(entry, dict))
    for item in result.get("results") or []:
        if isinstance(item, dict) and not item.get("_ansible_no_log") and "censored" not in item:
            found.extend(report_entries(item))
    return found


def delegated_host(result, hosts=()):
    """The host a delegated task result ran on: Ansible's delegated vars (live results), else, for a registered
    loop item (which has none), its loop variable when that names one of the inventory `hosts`."""
    delegated = result.get("_ansible_delegated_vars")
    if isinstance(delegated, dict):
        return delegated.get("ansible_delegated_host")
    item = result.get(result.get("ansible_loop_var") or "item")
    return item if isinstance(item, str) and item in hosts else None


def short_action(action):
    """migrate_apply for dbops.runbooks.migrate_apply, set_fact for ansible.builtin.set_fact."""
    return str(action or "").rsplit(".", 1)[-1]


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds") if moment else None


def parse_iso(text):
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)


def report_basename(runbook_key, started_at, check_mode):
    """<runbook key>-<UTC timestamp>[-check], the name of both report files."""
    stamp = started_at.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    key = re.sub(r"[^A-Za-z0-9_.-]+", "_", runbook_key or "runbook")
    return "%s-%s%s" % (key, stamp, "-check" if check_mode else "")


def parse_downtime(text):
    """A downtime_poller.py report (its JSON or its text lines) as a downtime section."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        loaded = json.loads(text)
    except ValueError:
        loaded = None
    if isinstance(loaded, dict):
        return pick(loaded, DOWNTIME_KEYS)
    found = DOWNTIME_TEXT_RE.search(text)
    section = dict(lines=[line for line in text.splitlines() if line.strip()])
    if found:
        section.update(downtime_s=float(found.group(1)), errors=int(found.group(2)))
    return section


def new_step(key, number=None, title=None, play=None):
    return dict(
        number=number, key=key, title=title, owners=[], play=play,
        status="not run", started_at=None, ended_at=None, duration_s=None, window_s=None, expected_s=None,
        over_expected=False, over_window=False,
        failure={}, rollback=dict(summary=None, tasks=[]), failed_tasks=[],
        checks=[], decisions=[], migrations=dict(plan=[], applied=[], rolled_back=[]),
        snapshots=[], backups=[], maintenance=[], gates=[], smoke_tests=[], risk_findings=[],
        tasks_run=0,
    )


class RunReport:
    """Collects one run. Feed it in event order; call finish(), then render_json/render_markdown."""

    def __init__(self, check_mode=False, started_at=None, playbook=None):
        self.check_mode = bool(check_mode)
        self.started_at = started_at or utc_now()
        self.ended_at = None
        self.playbook = playbook
        self.runbook = {}
        self.runbook_steps = {}
        self.change_request = {}
        self.targets = {}
        self.steps = {}
        self.current = None
        self.step_facts = {}      # host -> latest runbook_step_results
        self.gate_facts = {}      # host -> latest runbook_gate_results
        self.restore_point = None
        self.downtime = None
        self.stats = {}
        self.host_groups = {}     # inventory host -> its group names (names the target of a toggle)
        self.entries = []         # every dbops_report recorded in a step, in run order, annotated

    # -- what the run is -------------------------------------------------------------------------

    def plan_step(self, key, play=None):
        """A step play of the playbook (known before it runs, so a step never reached says 'not run')."""
        if key not in self.steps:
            self.steps[key] = new_step(key, play=play)
        return self.steps[key]

    def set_runbook(self, runbook, change_request=None):
        """The runbook definition (runbook var) and the change request var; only named keys are kept."""
        if isinstance(runbook, dict) and runbook:
            self.runbook = pick(runbook, ("key", "plan_key", "phase", "change_request", "maintenance_window_minutes",
                                          "owners", "approvers", "channels", "restore_point", "required_approvals"))
            steps = runbook.get("steps")
            if isinstance(steps, dict):
                for key, definition in steps.items():
                    self.runbook_steps[str(key)] = pick(definition, ("number", "title", "owners", "window_minutes",
                                                                     "expected_minutes"))
        if isinstance(change_request, dict) and change_request:
            self.change_request = pick(change_request, ("id", "approvals"))

    def add_target(self, host, db_connection=None):
        """An inventory host and what it connects to: engine, host, port, database, never credentials."""
        target = self.targets.setdefault(str(host), dict(host=str(host)))
        target.update(pick(db_connection or {}, TARGET_KEYS))

    def set_host_groups(self, host_groups):
        """Inventory hosts and their group names, e.g. {"academy-app": ["app_servers"]}."""
        for host, groups in (host_groups or {}).items():
            self.host_groups[str(host)] = [str(group) for group in groups]

    def start_play(self, name, step_key=None):
        """A play starts; a play with runbook_step_key is that step (anything else is outside the steps)."""
        self.current = self.plan_step(step_key, play=name) if step_key else None
        if self.current is not None:
            self.current["play"] = self.current["play"] or name
            self.current["_started"] = True

    # -- what ran --------------------------------------------------------------------------------

    def task_result(self, host, action, task_name, status, result, in_rescue=False, has_rescue=False):
        """One task's outcome on one host. status: ok, changed, failed, ignored, skipped.

        in_rescue: the task runs in a rescue section (a rollback); has_rescue: a rescue section handles
        its failure (it runs in the block part of a block with a rescue). Whether a module ran in check
        mode (a plan) its dbops_report says."""
        result = result if isinstance(result, dict) else {}
        facts = result.get("ansible_facts")
        if isinstance(facts, dict):
            self._facts(host, facts)
        step = self.current
        if step is None:
            return
        if status != "skipped":
            step["tasks_run"] += 1
            step["started_at"] = step["started_at"] or iso(utc_now())
            step["ended_at"] = iso(utc_now())
        action = short_action(action)
        if status == "failed":
            step["failed_tasks"].append(dict(host=str(host), task=task_name, msg=plain(result.get("msg", "")),
                                             rescued=bool(has_rescue)))
        if in_rescue and status in ("ok", "changed", "failed") and action not in BOOKKEEPING_ACTIONS:
            step["rollback"]["tasks"].append(dict(task=task_name, status=status))
        if status == "skipped":
            return
        for entry, source in report_entries(result):
            self._record_entry(step, str(host), task_name, entry, source, in_rescue)

    def _record_entry(self, step, host, task_name, entry, source, in_rescue):
        """One dbops_report: kept for the held state, and shown in its step's section."""
        entry = scrubbed(plain(entry))
        target = delegated_host(source) or host
        entry.update(step=step["key"], task=task_name, host=host, target=target,
                     target_groups=self.host_groups.get(target, []), rescue=bool(in_rescue),
                     # changed as the task reported it (changed_when: false makes a check-mode toggle a read)
                     task_changed=bool(source.get("changed", entry.get("changed"))))
        self.entries.append(entry)
        kind, would = entry.get("kind"), bool(entry.get("check_mode"))
        shown = dict(task=task_name, changed=bool(entry.get("changed")), check_mode=would)
        if kind == "db_check":
            section = step["decisions"] if entry.get("purpose") == "decide" else step["checks"]
            for check in entry.get("checks") or []:
                section.append(dict(check, task=task_name) if isinstance(check, dict) else dict(task=task_name))
        elif kind == "migrate_apply":
            plan = step["migrations"]
            for key in ("applied", "rolled_back"):
                plan[key].extend(entry.get(key) or [])
            if would and entry.get("pending"):
                # The plan: the latest pending list a read-only run saw in this step.
                plan["plan"] = list(entry["pending"])
            # The risk analysis of the plan (migrate_apply's check-mode plan, or max_risk): one row per finding.
            seen = {(f.get("file"), f.get("line"), f.get("rule")) for f in step["risk_findings"]}
            step["risk_findings"].extend(f for f in entry.get("risk_findings") or []
                                         if (f.get("file"), f.get("line"), f.get("rule")) not in seen)
        elif kind == "rds_snapshot" and (entry.get("snapshot_id") or entry.get("storage")):
            step["snapshots"].append(dict(pick(entry, SNAPSHOT_SHOWN), **shown))
        elif kind == "db_backup":
            step["backups"].append(dict(pick(entry, BACKUP_SHOWN), **shown))
        elif kind == "smoke_test":
            step["smoke_tests"].append(pick(entry, ("line", "name", "path", "ok", "msg")))
        elif kind == "maintenance_mode":
            noun, subject, words = toggle_role(entry["target_groups"])
            toggle = dict(pick(entry, ("state", "previous_state", "backend", "msg", "previous_replicas", "replicas")),
                          target=target, label="%s %s" % (noun, target), subject=subject, held=toggle_held(entry),
                          read=bool(would and entry.get("changed") and not entry["task_changed"]),
                          failed=bool(entry.get("failed")))
            toggle.update(words=dict((state, words.get(state, state)) for state in ("enabled", "disabled")), **shown)
            step["maintenance"].append(toggle)

    def _facts(self, host, facts):
        if isinstance(facts.get("runbook_step_results"), list):
            self.step_facts[str(host)] = plain(facts["runbook_step_results"])
        if isinstance(facts.get("runbook_gate_results"), list):
            self.gate_facts[str(host)] = plain(facts["runbook_gate_results"])
        if isinstance(facts.get("runbook_step_timing"), dict) and self.current is not None:
            timing = plain(facts["runbook_step_timing"])
            for key in ("window_s", "expected_s"):
                if timing.get(key) is not None:
                    self.current[key] = float(timing[key])
            if timing.get("elapsed_s") is not None:
                self.current["duration_s"] = float(timing["elapsed_s"])
        if isinstance(facts.get("runbook_step_failure"), dict) and facts["runbook_step_failure"] and self.current is not None:
            self.current["failure"] = pick(facts["runbook_step_failure"], ("task", "cause", "rollback"))
        if isinstance(facts.get("runbook_restore_point"), dict):
            self.restore_point = pick(facts["runbook_restore_point"], ("method", "snapshot_id", "db_instance_identifier",
                                                                       "backup_file", "taken_now"))
        if isinstance(facts.get("downtime_probe_report"), dict):
            self.downtime = pick(facts["downtime_probe_report"], DOWNTIME_KEYS)
            self.downtime["source"] = "downtime_probe role"

    def use_downtime_file(self, path, text):
        """The demo's external poller output, when the run itself did not measure downtime."""
        if self.downtime is None:
            section = parse_downtime(text)
            if section is not None:
                section["source"] = str(path)
                self.downtime = section

    # -- the result ------------------------------------------------------------------------------

    def finish(self, ended_at=None, stats=None):
        self.ended_at = ended_at or utc_now()
        self.stats = plain(stats or {})
        records = {}
        for host_records in self.step_facts.values():
            for record in host_records:
                if isinstance(record, dict) and record.get("key"):
                    records[record["key"]] = record
        gates = [gate for host_gates in self.gate_facts.values() for gate in host_gates if isinstance(gate, dict)]
        for key in list(self.steps):
            self._finish_step(self.steps[key], records.get(key), gates)

    def _finish_step(self, step, record, gates):
        definition = self.runbook_steps.get(step["key"], {})
        step["number"] = definition.get("number", step["number"])
        step["title"] = definition.get("title", step["title"])
        step["owners"] = definition.get("owners", step["owners"])
        if definition.get("window_minutes") is not None and step["window_s"] is None:
            step["window_s"] = float(definition["window_minutes"]) * 60
        if definition.get("expected_minutes") is not None and step["expected_s"] is None:
            step["expected_s"] = float(definition["expected_minutes"]) * 60
        step["gates"] = [pick(gate, GATE_KEYS) for gate in gates if gate.get("step") == step["key"]]
        rollback_failures = [task for task in step["rollback"]["tasks"] if task["status"] == "failed"]
        unrescued = [task for task in step["failed_tasks"] if not task["rescued"]]
        if record:
            for key in ("number", "title", "owners"):
                if record.get(key) is not None:
                    step[key] = record[key]
            for key in ("started_at", "ended_at"):
                moment = parse_iso(record.get(key))
                if moment is not None:
                    step[key] = iso(moment)
            for key in ("duration_s", "window_s", "expected_s"):
                if record.get(key) is not None:
                    step[key] = float(record[key])
            if record.get("failure"):
                step["failure"] = pick(record["failure"], ("task", "cause", "rollback"))
            if record.get("gates"):
                step["gates"] = [pick(gate, GATE_KEYS) for gate in record["gates"]]
            step["status"] = record.get("status") or "ok"
            # A failure no rescue handled (or a rollback that failed) never reaches runbook_step's fail
            # tasks, but its always section still records the step, as ok.
            if step["status"] == "ok" and unrescued:
                step["status"] = "failed"
        elif step["tasks_run"]:
            step["status"] = "failed"
        elif step.get("_started"):
            step["status"] = "skipped"
        if step["status"] in ("failed", "rolled_back") and not step["failure"] and step["failed_tasks"]:
            first = step["failed_tasks"][0]
            step["failure"] = dict(task=first["task"], cause=first["msg"])
        step["rollback"]["summary"] = step["failure"].get("rollback") if step["failure"] else None
        if rollback_failures and step["status"] == "failed" and not step["rollback"]["summary"]:
            step["rollback"]["summary"] = "rollback failed at %s" % rollback_failures[0]["task"]
        if step["duration_s"] is None and step["started_at"] and step["ended_at"]:
            start, end = parse_iso(step["started_at"]), parse_iso(step["ended_at"])
            if start and end:
                step["duration_s"] = round((end - start).total_seconds(), 1)
        if step["duration_s"] is not None:
            step["over_expected"] = step["expected_s"] is not None and step["duration_s"] > step["expected_s"]
            step["over_window"] = step["window_s"] is not None and step["duration_s"] > step["window_s"]

    def outcome(self):
        steps = self.ordered_steps()
        for status in ("failed", "rolled_back"):
            bad = [step for step in steps if step["status"] == status]
            if bad:
                verb = "rehearsal failed" if self.check_mode else "failed" if status == "failed" else "rolled back"
                return "%s at step %s %s" % (verb, bad[0]["number"] if bad[0]["number"] is not None else "?", bad[0]["key"])
        if any(step["status"] == "not run" for step in steps):
            return "incomplete"
        outcome = "rehearsed" if self.check_mode else "ok"
        skipped = sum(1 for step in steps if step["status"] == "skipped")
        return "%s, %d step(s) skipped" % (outcome, skipped) if skipped else outcome

    def ordered_steps(self):
        def order(step):
            number = step.get("number")
            return (0, number) if isinstance(number, (int, float)) else (1, 0)
        return sorted(self.steps.values(), key=order)

    def as_dict(self):
        steps = []
        for step in self.ordered_steps():
            steps.append(dict((k, v) for k, v in step.items() if not k.startswith("_") and k != "tasks_run"))
        duration = None
        if self.ended_at:
            duration = round((self.ended_at - self.started_at).total_seconds(), 1)
        report = dict(
            report_version=REPORT_VERSION,
            runbook=dict(key=self.runbook.get("key"), plan_key=self.runbook.get("plan_key"),
                         phase=self.runbook.get("phase"),
                         maintenance_window_minutes=self.runbook.get("maintenance_window_minutes")),
            change_request=dict(id=self.change_request.get("id") or self.runbook.get("change_request"),
                                approvals=self.change_request.get("approvals", []),
                                required_approvals=self.runbook.get("required_approvals", [])),
            mode="check" if self.check_mode else "run",
            check_mode=self.check_mode,
            playbook=self.playbook,
            targets=[self.targets[host] for host in sorted(self.targets)],
            started_at=iso(self.started_at),
            ended_at=iso(self.ended_at),
            duration_s=duration,
            outcome=self.outcome(),
            steps=steps,
            restore_point=self.restore_point,
            downtime=self.downtime,
            stats=self.stats,
        )
        report["held_state"] = held_state(self.entries, steps, restore_point=self.restore_point)
        report["artifacts"] = artifacts(report)
        return normalised_paths(plain(report))


# -- rendering -------------------------------------------------------------------------------------

def artifacts(report):
    """The runbook's Artifact Capture table, filled from the run: (artifact, where it is)."""
    steps = report["steps"]
    would = report["check_mode"]
    rows = []

    planned = ["step %s: %s" % (s["number"], ", ".join(m.get("version", "?") for m in s["migrations"]["plan"]))
               for s in steps if s["migrations"]["plan"]]
    applied = ["step %s: %s" % (s["number"], ", ".join(m.get("version", "?") for m in s["migrations"]["applied"]))
               for s in steps if s["migrations"]["applied"]]
    location = "this report, %s" % ("; ".join(planned) if planned else "no pending migration seen")
    if applied:
        location += "; applied %s" % "; ".join(applied)
    rows.append(("Migration plan output", location))

    points = []
    for step in steps:
        for snap in step["snapshots"]:
            if snap.get("snapshot_id"):
                verb = "would take" if snap.get("check_mode") and snap.get("changed") else (
                    "taken" if snap.get("changed") else "found")
                points.append("RDS snapshot %s (%s, step %s%s)" % (
                    snap["snapshot_id"], verb, step["number"], ", " + snap["status"] if snap.get("status") else ""))
        for backup in step["backups"]:
            if backup.get("backup_file"):
                verb = "would write" if backup.get("check_mode") and backup.get("changed") else (
                    "taken" if backup.get("changed") else "reused")
                points.append("backup %s (%s, step %s%s)" % (
                    backup["backup_file"], verb, step["number"], ", verified by restore" if backup.get("verified") else ""))
    restore_point = report.get("restore_point") or {}
    named = restore_point.get("snapshot_id") or restore_point.get("backup_file")
    if named and not any(named in point for point in points):
        points.append("restore point %s (%s)" % (named, "taken in this run" if restore_point.get("taken_now") else "taken earlier"))
    rows.append(("RDS snapshot confirmations / restore point", "; ".join(points) or "none in this run"))

    smoke = []
    for step in steps:
        if step["smoke_tests"]:
            passed = sum(1 for test in step["smoke_tests"] if test.get("ok"))
            smoke.append("this report, step %s: %d of %d passed" % (step["number"], passed, len(step["smoke_tests"])))
        for gate in step["gates"]:
            if gate.get("kind") == "github_workflow":
                smoke.append("gate %s %s: %s" % (gate.get("line"), gate.get("text"), gate.get("status")))
    if not smoke:
        smoke.append("not run in check mode" if would else "none in this run")
    rows.append(("Smoke test reports", "; ".join(smoke)))

    sign_off = []
    change_request = report["change_request"]
    if change_request.get("id"):
        sign_off.append("change request %s approvals: %s" % (
            change_request["id"], ", ".join(change_request.get("approvals") or []) or "none"))
    for step in steps:
        for gate in step["gates"]:
            if gate.get("kind") in ("jira", "change_request", "confirm"):
                sign_off.append("gate %s %s: %s" % (gate.get("line"), gate.get("text"), gate.get("status")))
    rows.append(("Sign-off approvals / Jira issues", "; ".join(sign_off) or "none in this run"))

    downtime = report.get("downtime")
    if downtime:
        rows.append(("Measured downtime", "%s s of 503 (%s)" % (downtime.get("downtime_s", "?"), downtime.get("source"))))
    else:
        rows.append(("Measured downtime", "not measured in this run"))
    return [dict(artifact=artifact, location=location) for artifact, location in rows]


def render_json(report):
    return json.dumps(report, indent=2, sort_keys=False) + "\n"


def cell(value, limit=0):
    """A Markdown table cell: one line, pipes escaped, long values cut."""
    if value is None:
        text = ""
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    text = " ".join(text.split()).replace("|", "\\|")
    if limit and len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def clock(text, day):
    """The time of an ISO timestamp (HH:MM:SSZ) when it falls on `day`, the whole timestamp otherwise."""
    moment = parse_iso(text)
    if moment is None:
        return cell(text)
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime("%H:%M:%SZ") if moment.strftime("%Y-%m-%d") == day else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def seconds(value):
    if value is None:
        return ""
    value = float(value)
    if value < 120:
        return "%.1f s" % value
    return "%dm %02ds" % (value // 60, value % 60)


def table(header, rows):
    lines = ["| %s |" % " | ".join(header), "| %s |" % " | ".join(["---"] * len(header))]
    lines.extend("| %s |" % " | ".join(row) for row in rows)
    return lines


def render_markdown(report):
    """The report as Markdown: header, steps table, per-step details, Artifact Capture."""
    runbook = report["runbook"]
    would = report["check_mode"]
    lines = ["# %s %s: %s" % ("Rehearsal plan" if would else "Run report", runbook.get("key") or "runbook",
                              report["outcome"]), ""]
    if would:
        lines += ["Check mode (`--check`): nothing was changed on the target. The steps below say what a real run "
                  "would do: migrations pending, backups and snapshots that would be taken, maintenance toggles, "
                  "gates still open.", ""]
    targets = "; ".join(
        "%s: %s %s:%s/%s" % (t.get("host"), t.get("engine", "?"), t.get("login_host", "?"), t.get("login_port", "?"),
                             t.get("login_db", "?")) if t.get("engine") else t.get("host")
        for t in report["targets"]) or "unknown"
    change_request = report["change_request"]
    lines += table(["Field", "Value"], [
        ["Runbook", cell(runbook.get("key"))],
        ["Plan", cell(runbook.get("plan_key"))],
        ["Change request", cell("%s (approvals: %s)" % (
            change_request.get("id") or "none", ", ".join(change_request.get("approvals") or []) or "none"))],
        ["Target", cell(targets)],
        ["Mode", "check mode (rehearsal)" if would else "real run"],
        ["Started", cell(report["started_at"])],
        ["Ended", cell(report["ended_at"])],
        ["Duration", seconds(report["duration_s"])],
        ["Outcome", cell(report["outcome"])],
    ])
    day = (report["started_at"] or "")[:10]
    lines += ["", "## Steps", "", "Times are UTC on %s." % (day or "the run's day"), ""]
    lines += table(["#", "Step", "Owners", "Status", "Start", "End", "Duration", "Expected", "Window"], [
        [cell(s["number"]), "%s (`%s`)" % (cell(s["title"]), s["key"]), cell(", ".join(s["owners"] or [])),
         cell(s["status"]), clock(s["started_at"], day), clock(s["ended_at"], day),
         seconds(s["duration_s"]) + (" (over window)" if s["over_window"] else " (over expected)" if s["over_expected"] else ""),
         seconds(s["expected_s"]), seconds(s["window_s"])]
        for s in report["steps"]])
    held = report.get("held_state") or {}
    if held.get("lines"):
        lines += ["", "## State left behind", ""]
        if would:
            lines += ["Check mode changed nothing: this is the state the rehearsal found.", ""]
        lines += ["- %s" % cell(line) for line in held["lines"]]
    for step in report["steps"]:
        lines += [""] + step_details(step, would)
    lines += ["", "## Measured downtime", ""]
    lines += downtime_lines(report.get("downtime"))
    lines += ["", "## Artifact Capture", ""]
    lines += table(["Artifact", "Location"], [[cell(row["artifact"]), cell(row["location"])] for row in report["artifacts"]])
    return "\n".join(lines) + "\n"


def step_details(step, would):
    lines = ["## Step %s: %s (`%s`)" % (cell(step["number"]), cell(step["title"]), step["key"]), ""]
    lines.append("- Status: **%s**" % step["status"])
    if step["failure"]:
        lines.append("- Failed at: %s - %s" % (cell(step["failure"].get("task")), cell(step["failure"].get("cause"))))
    if step["rollback"]["summary"] or step["rollback"]["tasks"]:
        ran = ", ".join("%s (%s)" % (cell(t["task"]), t["status"]) for t in step["rollback"]["tasks"])
        lines.append("- Rollback: %s%s" % (cell(step["rollback"]["summary"] or ""), ("; tasks: " + ran) if ran else ""))
    migrations = step["migrations"]
    if migrations["plan"]:
        lines.append("- %s: %s" % ("Pending migrations (would apply)" if would else "Migration plan",
                                   ", ".join("`%s_%s`" % (m.get("version"), m.get("name")) for m in migrations["plan"])))
    if migrations["applied"]:
        lines.append("- Applied: %s" % ", ".join("`%s_%s` (%s ms)" % (m.get("version"), m.get("name"), m.get("execution_ms", "?"))
                                                 for m in migrations["applied"]))
    if migrations["rolled_back"]:
        lines.append("- Rolled back: %s" % ", ".join("`%s_%s`" % (m.get("version"), m.get("name"))
                                                     for m in migrations["rolled_back"]))
    for snap in step["snapshots"]:
        verb = "would take" if snap.get("check_mode") and snap.get("changed") else "took" if snap.get("changed") else "checked"
        storage = snap.get("storage") or {}
        lines.append("- RDS snapshot (%s): %s%s%s" % (
            verb, cell(snap.get("snapshot_id") or "-"), " - " + cell(snap["msg"]) if snap.get("msg") else "",
            " (free storage %s%%)" % storage["free_pct"] if storage.get("free_pct") is not None else ""))
    for backup in step["backups"]:
        verb = "would write" if backup.get("check_mode") and backup.get("changed") else "took" if backup.get("changed") else "reused"
        lines.append("- Backup (%s): `%s`%s%s" % (
            verb, cell(backup.get("backup_file")), " sha256 %s" % backup["sha256"] if backup.get("sha256") else "",
            ", verified by restore" if backup.get("verified") else ""))
    lines.extend("- %s" % toggle_line(toggle) for toggle in step["maintenance"])
    if step["checks"]:
        lines += ["", "Checks (verifications; a failed one is marked in bold):", ""]
        lines += table(["Check", "OK", "Observed", "Expected"], [
            [cell(c.get("name")), "yes" if c.get("ok") else "**no**", cell(c.get("observed"), 120), cell(c.get("expected"), 80)]
            for c in step["checks"]])
    if step.get("decisions"):
        lines += ["", "Decisions (reads the step decided on; no is an answer, not a failure):", ""]
        lines += table(["Read", "Answer", "Observed", "Expected"], [
            [cell(c.get("name")), "yes" if c.get("ok") else "no", cell(c.get("observed"), 120), cell(c.get("expected"), 80)]
            for c in step["decisions"]])
    if step.get("risk_findings"):
        lines += ["", "Risk findings of the migration plan (docs/migration-risk-rules.md):", ""]
        lines += table(["File:line", "Rule", "Risk", "Lock", "Estimate"], [
            ["%s:%s" % (cell(os.path.basename(f.get("file") or "")), f.get("line", "")), cell(f.get("rule")),
             "**%s**" % f["risk"] if f.get("risk") == "high" else cell(f.get("risk")), cell(f.get("lock")),
             "%s s" % f["estimate_seconds"] if f.get("estimate_seconds") is not None else ""]
            for f in step["risk_findings"]])
    if step["smoke_tests"]:
        lines += ["", "Smoke tests:", ""]
        lines += table(["Line", "Test", "OK", "Result"], [
            [cell(t.get("line")), cell(t.get("name")), "yes" if t.get("ok") else "**no**", cell(t.get("msg"), 160)]
            for t in step["smoke_tests"]])
    if step["gates"]:
        lines += ["", "Gates:", ""]
        lines += table(["Line", "Gate", "Kind", "Status"], [
            [cell(g.get("line")), cell(g.get("text")), cell(g.get("kind")), cell(g.get("status"))] for g in step["gates"]])
    return lines


def toggle_line(toggle):
    """'app server academy-app: maintenance enabled (was disabled, laravel backend)', and its would/read forms."""
    words = toggle.get("words") or {}
    state, before = (words.get(toggle.get(key), toggle.get(key)) for key in ("state", "previous_state"))
    backend = "%s backend" % toggle.get("backend") if toggle.get("backend") else "backend unknown"
    if toggle.get("failed"):
        what = "failed to set %s (was %s, %s)" % (state, before, backend)
    elif toggle.get("read"):
        what = "found %s (read, %s)" % (before, backend)
    elif toggle.get("check_mode") and toggle.get("changed"):
        what = "would be %s (is %s, %s)" % (state, before, backend)
    elif toggle.get("changed"):
        what = "%s (was %s, %s)" % (state, before, backend)
    else:
        what = "already %s (%s)" % (state, backend)
    return "%s: %s %s" % (cell(toggle.get("label")), toggle.get("subject") or "maintenance", cell(what))


def downtime_lines(downtime):
    if not downtime:
        return ["Not measured in this run (no downtime_probe report, no downtime file written during the run)."]
    if downtime.get("lines"):
        return ["Source: %s" % downtime.get("source"), "", "```"] + list(downtime["lines"]) + ["```"]
    lines = ["Source: %s; %s s of 503 over %s polls of %s; %s error(s)." % (
        downtime.get("source"), downtime.get("downtime_s"), downtime.get("polls"), downtime.get("url"),
        downtime.get("errors"))]
    for window in downtime.get("windows") or []:
        lines.append("- 503 from %s to %s (%s s)" % (window.get("start"), window.get("end"), window.get("duration_s")))
    return lines
