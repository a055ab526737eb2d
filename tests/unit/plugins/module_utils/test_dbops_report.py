# -*- coding: utf-8 -*-
from __future__ import annotations

import types

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.checks import summarize_results
from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import REPORT_FIELDS, reported
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError


def module(check_mode=False, **params):
    return types.SimpleNamespace(check_mode=check_mode, params=dict(login_password="pw-secret", **params))


def test_the_result_carries_only_the_named_fields():
    logic = reported("migrate_apply", lambda m: dict(
        changed=True, applied=[{"version": "1", "name": "core", "execution_ms": 4, "sql": "SELECT 1"}],
        history=[{"version": "1"}], invocation={"module_args": {"login_password": "pw-secret"}}))
    entry = logic(module(state="applied"))["dbops_report"]
    assert entry == {"kind": "migrate_apply", "changed": True, "check_mode": False, "failed": False,
                     "state": "applied", "applied": [{"version": "1", "name": "core", "execution_ms": 4}]}


def test_a_failure_carries_its_entry_in_the_details():
    def failing(m):
        raise DbopsError("2 of 2 checks failed", checks=[{"name": "a", "ok": False}], failed_checks=["a"])
    with pytest.raises(DbopsError) as raised:
        reported("db_check", failing)(module(check_mode=True))
    entry = raised.value.details["dbops_report"]
    assert entry["failed"] and entry["check_mode"] and entry["purpose"] == "verify"
    assert entry["msg"] == "2 of 2 checks failed" and entry["failed_checks"] == ["a"]


def test_backup_verification_and_maintenance_fields():
    backup = reported("db_backup", lambda m: dict(changed=False, backup_file="/b/x.sql.gz", verify={"ok": True}))
    assert backup(module(state="present"))["dbops_report"]["verified"] is True
    toggle = reported("maintenance_mode", lambda m: dict(changed=True, state="enabled", previous_state="disabled",
                                                         backend="laravel", content={"secret": "********"}))
    entry = toggle(module(state="enabled", secret="s"))["dbops_report"]
    assert entry == {"kind": "maintenance_mode", "changed": True, "check_mode": False, "failed": False,
                     "state": "enabled", "previous_state": "disabled", "backend": "laravel"}
    assert set(REPORT_FIELDS) == {"db_check", "migrate_apply", "maintenance_mode", "db_backup", "rds_snapshot", "s3_sync"}


def test_decision_reads_are_answers():
    results = [{"name": "a", "ok": True, "message": "ok"}, {"name": "seeded", "ok": False, "message": "0 rows: below min 1"}]
    assert summarize_results(results, "decide") == "2 decision reads: 1 yes, 1 no; no: seeded (0 rows: below min 1)"
    assert summarize_results(results[:1], "decide") == "1 decision read: 1 yes, 0 no"
