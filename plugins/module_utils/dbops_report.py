# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The `dbops_report` result key: what a module tells the run report, picked by name.

Each module wraps its logic with `reported(kind, logic)`; the result (and a failure's details) then
carries `dbops_report`, a dict with `kind`, `changed`, `check_mode`, `failed` and the fields of
REPORT_FIELDS[kind]. The runbook_report callback copies that one key and nothing else of a result,
so a module decides what reaches the report and never sends its arguments (`login_password`).
"""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError

MIGRATION_FIELDS = ("version", "name", "file", "statements", "execution_ms", "transaction", "resume_from_statement",
                    "resumed_from_statement", "lock_retries")
CHECK_FIELDS = ("name", "check", "ok", "observed", "expected", "message")
SYNC_FIELDS = ("key", "dest", "size", "reason")
RISK_FIELDS = ("file", "line", "rule", "risk", "lock", "table", "estimate_seconds", "detail")
STORAGE_FIELDS = ("allocated_gib", "free_gib", "free_pct", "min_free_pct", "ok", "measured_at")

# Per kind: the result keys copied; a key mapped to a tuple is a list of dicts (or a dict) cut to those keys.
REPORT_FIELDS = {
    "db_check": dict(purpose=None, checks=CHECK_FIELDS, failed_checks=None, attempts=None, msg=None),
    "migrate_apply": dict(state=None, applied=MIGRATION_FIELDS, rolled_back=MIGRATION_FIELDS, risk_findings=RISK_FIELDS,
                          baselined=MIGRATION_FIELDS, pending=MIGRATION_FIELDS, batch=None, history_table=None,
                          failed_file=None, failed_statement=None, msg=None),
    "maintenance_mode": dict(state=None, previous_state=None, backend=None, previous_replicas=None, replicas=None,
                             msg=None),
    "db_backup": dict(state=None, backup_file=None, manifest_file=None, size_bytes=None, sha256=None, created_at=None,
                      age_seconds=None, database=None, engine=None, tool=None, verified=None, target_db=None, msg=None),
    "rds_snapshot": dict(state=None, snapshot_id=None, snapshot_arn=None, status=None, create_time=None, age=None,
                         max_age_seconds=None, source=None, region=None, storage=STORAGE_FIELDS,
                         target_identifier=None, restored_from=None, msg=None),
    "s3_sync": dict(bucket=None, prefix=None, dest=None, downloaded=SYNC_FIELDS, would_download=SYNC_FIELDS,
                    unchanged=None, msg=None),
}


def _cut(value, fields):
    if isinstance(value, dict):
        return dict((key, value[key]) for key in fields if key in value)
    if isinstance(value, (list, tuple)):
        return [_cut(item, fields) for item in value]
    return value


def report_entry(kind, result, params, check_mode, failed=False):
    """The `dbops_report` of one module result: `kind`, outcome flags and the kind's named fields."""
    entry = dict(kind=kind, changed=bool(result.get("changed")), check_mode=bool(check_mode), failed=bool(failed))
    for key, fields in REPORT_FIELDS[kind].items():
        if result.get(key) is not None:
            entry[key] = _cut(result[key], fields) if fields else result[key]
    if "state" in REPORT_FIELDS[kind] and "state" not in entry and params.get("state"):
        entry["state"] = params["state"]
    if kind == "db_check":
        entry.setdefault("purpose", params.get("purpose") or "verify")
    if kind == "db_backup" and "verified" not in entry and isinstance(result.get("verify"), dict):
        entry["verified"] = result["verify"].get("ok")
    return entry


def reported(kind, logic):
    """`logic` whose result, or failure, also carries its `dbops_report`."""
    def logic_with_report(module):
        try:
            result = logic(module)
        except DbopsError as e:
            e.details["dbops_report"] = report_entry(kind, dict(e.details, msg=str(e)), module.params,
                                                     module.check_mode, failed=True)
            raise
        result["dbops_report"] = report_entry(kind, result, module.params, module.check_mode)
        return result
    return logic_with_report
