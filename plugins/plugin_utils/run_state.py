# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The state a runbook run left behind: migrations, maintenance and queues, restore point, where to resume.

Pure functions over the modules' `dbops_report` entries (plugins/module_utils/dbops_report.py), used by
the run report (its summary ends with these lines) and by the `runbook_held_state` filter (a step's
failure message can end with them too).
"""

from __future__ import annotations

# What a maintenance_mode toggle means on a host of these inventory groups: (noun, subject, words).
GROUP_ROLES = {
    "app_servers": ("app server", "maintenance", {"enabled": "enabled", "disabled": "disabled"}),
    "queue_workers": ("queue worker", "queue", {"enabled": "paused", "disabled": "running"}),
}
PLAIN_ROLE = ("host", "maintenance", {"enabled": "enabled", "disabled": "disabled"})
# A toggle that scales (maintenance_mode reports replicas): enabled is scaled to 0.
REPLICAS_WORDS = {"enabled": "scaled to 0", "disabled": "running"}
NOT_DONE = ("failed", "rolled_back")


def toggle_role(target_groups):
    """(noun, subject, words) of a toggle on a host of `target_groups`: a known group first, else the first
    group named in the plural, as a singular ("web_nodes" -> "web node"; a role beats a parent group such
    as "starforge"), else the first group, else "host"."""
    groups = [str(group) for group in target_groups or [] if group not in ("all", "ungrouped")]
    for group in groups:
        if group in GROUP_ROLES:
            return GROUP_ROLES[group]
    if groups:
        noun = next((group for group in groups if group.endswith("s")), groups[0]).replace("_", " ")
        return (noun[:-1] if noun.endswith("s") else noun,) + PLAIN_ROLE[1:]
    return PLAIN_ROLE


def toggle_label(entry):
    """'app server academy-app' for a maintenance_mode entry with `target` and `target_groups`."""
    noun = toggle_role(entry.get("target_groups"))[0]
    return "%s %s" % (noun, entry.get("target") or entry.get("host") or "?")


def toggle_held(entry):
    """The state a maintenance_mode entry left: what it set, or (check mode, a read) what it found;
    'unknown' after a failed toggle."""
    if entry.get("failed"):
        return "unknown"
    return entry.get("previous_state") if entry.get("check_mode") else entry.get("state")


def migration_name(migration):
    return "_".join(str(part) for part in (migration.get("version"), migration.get("name")) if part)


def ordered_steps(steps, runbook_steps=None):
    """The steps as dicts in runbook order: every key of `runbook_steps` (sorted by number) with the status
    of its record in `steps`, records of steps not in `runbook_steps` after them; no record = 'not run'."""
    records = dict((str(step["key"]), step) for step in steps or [] if isinstance(step, dict) and step.get("key"))
    merged = []
    definitions = runbook_steps or {}
    for key in sorted(definitions, key=lambda k: (definitions[k] or {}).get("number", 0)):
        record = dict(key=str(key), number=(definitions[key] or {}).get("number"), status="not run")
        record.update(records.pop(str(key), {}))
        merged.append(record)
    merged.extend(records.values())
    return merged


def held_state(entries, steps, runbook_steps=None, restore_point=None):
    """What the run left behind, as a dict with the same facts as `lines`.

    entries: the `dbops_report` dicts of the run in the order the tasks ran (a task's own, each loop item's,
      each of a `dbops_reports` list), of any step. Read: `kind`; `check_mode` and `failed` (a check-mode
      or failed entry changed nothing); migrate_apply `applied` and `rolled_back` (lists of dicts with
      `version`, `name`); maintenance_mode `state`, `previous_state` and, added by the caller, `target`
      (the host the toggle ran on, the delegated host) and `target_groups` (that host's inventory groups,
      which name it: app_servers -> app server, queue_workers -> queue worker with paused/running; a toggle
      that reports `replicas` is shown as scaled to 0 / running);
      db_backup `state` present and `backup_file`, or `state` restored, `database` and `backup_file`; rds_snapshot `state` present or fresh and `snapshot_id`.
      Other kinds and keys are ignored.
    steps: step records in run order, dicts with `key` and optionally `number` and `status` (ok,
      rolled_back, failed, skipped, not run), as the runbook_step role's runbook_step_results holds them.
    runbook_steps: optional `runbook.steps` (step key -> dict with `number`): steps without a record then
      count as 'not run', so the resume tags name every step still to run.
    restore_point: optional runbook_restore_point fact (`snapshot_id` or `backup_file`); it wins over the
      entries.

    Returns dict(migrations=dict(applied=[...], rolled_back=[...]) (migration names), toggles=[dict(target,
    label, subject, state, shown)] (last state per target and subject), restore_point=dict(kind, id) or
    None, resume=dict(key, number, status, tags) or None, lines=[one sentence each]).
    """
    applied, rolled_back, toggles, point, restored = [], [], {}, None, None
    for entry in entries or []:
        if not isinstance(entry, dict):
            continue
        kind, wrote = entry.get("kind"), not entry.get("check_mode") and not entry.get("failed")
        if kind == "migrate_apply" and wrote:
            for name in map(migration_name, entry.get("applied") or []):
                rolled_back = [other for other in rolled_back if other != name]
                applied.append(name)
            for name in map(migration_name, entry.get("rolled_back") or []):
                applied = [other for other in applied if other != name]
                rolled_back.append(name)
        elif kind == "maintenance_mode" and toggle_held(entry):
            noun, subject, words = toggle_role(entry.get("target_groups"))
            if entry.get("replicas") is not None or entry.get("previous_replicas") is not None:
                subject, words = "replicas", REPLICAS_WORDS
            state = toggle_held(entry)
            target = entry.get("target") or entry.get("host") or "?"
            toggles[(target, subject)] = dict(target=target, label="%s %s" % (noun, target), subject=subject,
                                              state=state, shown=words.get(state, state))
        elif kind == "db_backup" and entry.get("state") == "restored" and wrote:
            restored = entry
        elif kind == "db_backup" and entry.get("state", "present") == "present" and entry.get("backup_file"):
            if not entry.get("failed") and not (entry.get("check_mode") and entry.get("changed")):
                point = dict(kind="backup", id=entry["backup_file"])
        elif kind == "rds_snapshot" and entry.get("state") in ("present", "fresh") and entry.get("snapshot_id"):
            if not entry.get("failed") and not (entry.get("check_mode") and entry.get("changed")):
                point = dict(kind="RDS snapshot", id=entry["snapshot_id"])
    restore_point = restore_point or {}
    if restore_point.get("snapshot_id"):
        point = dict(kind="RDS snapshot", id=restore_point["snapshot_id"])
    elif restore_point.get("backup_file"):
        point = dict(kind="backup", id=restore_point["backup_file"])

    ordered = ordered_steps(steps, runbook_steps)
    resume = None
    for position, step in enumerate(ordered):
        if step.get("status") in NOT_DONE:
            resume = dict(key=step["key"], number=step.get("number"), status=step["status"],
                          tags=",".join(later["key"] for later in ordered[position:]))
            break

    lines = []
    if applied or rolled_back:
        lines.append("Migrations applied by this run: %s; rolled back: %s" % (
            ", ".join(applied) or "none", ", ".join(rolled_back) or "none"))
    else:
        lines.append("Migrations: this run applied and rolled back none")
    if restored:
        lines.append("Database %s restored from %s: what this run applied is undone" % (
            restored.get("database", "?"), restored.get("backup_file", "the backup")))
    for toggle in toggles.values():
        lines.append("%s: %s %s" % (toggle["label"], toggle["subject"], toggle["shown"]))
    lines.append("Restore point: %s %s" % (point["kind"], point["id"]) if point else "Restore point: none seen in this run")
    if resume:
        lines.append("Resume at step %s %s after fixing the cause: --tags %s%s" % (
            resume["number"] if resume["number"] is not None else "?", resume["key"], resume["tags"],
            "" if resume["status"] == "rolled_back" else " (its rollback did not complete: check the state first)"))
    return dict(migrations=dict(applied=applied, rolled_back=rolled_back), toggles=list(toggles.values()),
                restore_point=point, resume=resume, lines=lines)
