# -*- coding: utf-8 -*-
from __future__ import annotations

import datetime
import json

from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_report import (
    RunReport, cell, delegated_host, parse_downtime, render_json, render_markdown, report_basename)

UTC = datetime.timezone.utc
STARTED = datetime.datetime(2024, 12, 24, 9, 58, 12, tzinfo=UTC)
ENDED = datetime.datetime(2024, 12, 24, 10, 5, 0, tzinfo=UTC)

RUNBOOK = {
    "key": "communities_schema_v1", "plan_key": "communities_data_convergence", "change_request": "MIG-CR-884",
    "required_approvals": ["Compliance"],
    "steps": {
        "preflight-safety-checks": {"number": 1, "title": "Preflight", "owners": ["SRE duty engineer"],
                                    "window_minutes": 15, "expected_minutes": 10},
        "deploy-community-core-schema": {"number": 2, "title": "Core schema", "owners": ["DBA on-call"],
                                         "window_minutes": 15, "expected_minutes": 8},
        "seed-foundation-data": {"number": 6, "title": "Seed", "owners": ["Guild"],
                                 "window_minutes": 10, "expected_minutes": 5},
    },
}
CORE = {"version": "2024_12_24_000000", "name": "create_community_core_tables", "file": "x.up.sql", "statements": 5}


def reported(kind, result, check_mode=False, failed=False, **fields):
    """A module result as the modules return it: its own keys plus the dbops_report they declare."""
    entry = dict(kind=kind, changed=bool(result.get("changed")), check_mode=check_mode, failed=failed, **fields)
    return dict(result, dbops_report=entry)


def step_record(key, number, status="ok", failure=None, gates=None):
    return {"key": key, "number": number, "title": RUNBOOK["steps"][key]["title"], "owners": ["x"],
            "started_at": "2024-12-24T09:58:13.123456", "ended_at": "2024-12-24T09:59:13.5",
            "duration_s": 60.4, "window_s": 900, "expected_s": 480, "status": status,
            "failure": failure or {}, "gates": gates or []}


def new_report(check_mode=False):
    report = RunReport(check_mode=check_mode, started_at=STARTED, playbook="communities_schema_v1.yml")
    for key in ("preflight-safety-checks", "deploy-community-core-schema", "seed-foundation-data"):
        report.plan_step(key, play="Step %s" % key)
    report.set_runbook(RUNBOOK, {"id": "MIG-CR-884", "approvals": ["Compliance"]})
    report.add_target("academy-db", {"engine": "mysql", "login_host": "127.0.0.1", "login_port": 53306,
                                     "login_db": "academy", "login_password": "s3cret-password", "login_user": "dbops"})
    return report


def run_step_one(report, records):
    report.start_play("Step 1", "preflight-safety-checks")
    lag = {"name": "1.2 lag", "check": "replication_lag", "ok": True, "observed": {"lag_seconds": 0},
           "expected": {"max_seconds": 1}, "message": "ok"}
    report.task_result("academy-db", "dbops.runbooks.db_check", "1.2 lag", "ok", reported("db_check", {
        "checks": [dict(lag, sql="SELECT secret")], "invocation": {"module_args": {"login_password": "s3cret-password"}}},
        purpose="verify", checks=[lag]))
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "1.6 plan", "ok", reported(
        "migrate_apply", {}, check_mode=True, pending=[CORE], applied=[], rolled_back=[]))
    report.task_result("academy-db", "dbops.runbooks.db_backup", "1.1 backup", "changed", reported("db_backup", {
        "changed": True}, check_mode=report.check_mode, state="present", backup_file="/b/playbooks/../pre-community-schema-academy-20241224T095812Z.sql.gz",
        sha256="ab", verified=True, msg="backed up academy to /b/playbooks/../pre-community-schema-academy-20241224T095812Z.sql.gz"))
    report.task_result("academy-db", "ansible.builtin.set_fact", "Record", "ok", {"ansible_facts": {
        "runbook_step_results": records,
        "runbook_gate_results": [{"step": "preflight-safety-checks", "line": "1.8", "text": "Sign-off in Jira MIG-310",
                                  "kind": "jira", "status": "open", "comment": "internal"}]}})


def test_real_run_collects_each_step_and_reports_steps_not_reached():
    report = new_report()
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "2.3 apply", "changed", reported(
        "migrate_apply", {"changed": True}, applied=[dict(CORE, execution_ms=41)], pending=[], rolled_back=[]))
    report.task_result("academy-db", "ansible.builtin.set_fact", "Record", "ok", {"ansible_facts": {
        "runbook_step_results": [step_record("preflight-safety-checks", 1),
                                 step_record("deploy-community-core-schema", 2)]}})
    report.start_play("Summarize the run")
    report.finish(ended_at=ENDED)
    result = report.as_dict()

    assert result["mode"] == "run" and result["outcome"] == "incomplete"
    assert [s["status"] for s in result["steps"]] == ["ok", "ok", "not run"]
    assert [s["number"] for s in result["steps"]] == [1, 2, 6]
    assert result["steps"][2]["window_s"] == 600 and result["steps"][2]["title"] == "Seed"
    first, second = result["steps"][0], result["steps"][1]
    assert first["started_at"] == "2024-12-24T09:58:13+00:00" and first["duration_s"] == 60.4
    assert first["checks"][0]["observed"] == {"lag_seconds": 0} and "sql" not in first["checks"][0]
    assert first["migrations"]["plan"][0]["version"] == "2024_12_24_000000"
    assert first["backups"][0]["verified"] is True
    assert first["gates"] == [{"step": "preflight-safety-checks", "line": "1.8", "text": "Sign-off in Jira MIG-310",
                               "kind": "jira", "status": "open"}]
    assert second["migrations"]["applied"][0]["execution_ms"] == 41
    assert result["targets"] == [{"host": "academy-db", "engine": "mysql", "login_host": "127.0.0.1",
                                  "login_port": 53306, "login_db": "academy"}]
    assert result["change_request"] == {"id": "MIG-CR-884", "approvals": ["Compliance"],
                                        "required_approvals": ["Compliance"]}
    markdown = render_markdown(result)
    assert markdown.startswith("# Run report communities_schema_v1: incomplete")
    assert "| 6 | Seed (`seed-foundation-data`) | Guild | not run |" in markdown
    assert "| 1 | Preflight (`preflight-safety-checks`) | x | ok | 09:58:13Z | 09:59:13Z | 60.4 s |" in markdown
    assert "## Artifact Capture" in markdown
    assert "backup /b/pre-community-schema-academy-20241224T095812Z.sql.gz (taken, step 1, verified by restore)" in markdown
    assert "../" not in markdown and "../" not in render_json(result)
    assert "gate 1.8 Sign-off in Jira MIG-310: open" in markdown


def test_check_mode_is_a_rehearsal_plan():
    report = new_report(check_mode=True)
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "2.3 apply", "changed", reported(
        "migrate_apply", {"changed": True}, check_mode=True, applied=[], pending=[CORE]))
    report.task_result("academy-db", "dbops.runbooks.maintenance_mode", "6.1 down", "changed", reported(
        "maintenance_mode", {"changed": True, "content": {"secret": "********"}}, check_mode=True,
        state="enabled", previous_state="disabled", backend="laravel"))
    report.task_result("academy-db", "dbops.runbooks.rds_snapshot", "snapshot", "changed", reported(
        "rds_snapshot", {"changed": True, "write_calls": [{"operation": "x"}]}, check_mode=True,
        state="present", snapshot_id="pre-community-schema"))
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    step = result["steps"][1]
    assert result["mode"] == "check" and step["migrations"]["plan"][0]["name"] == "create_community_core_tables"
    assert step["maintenance"][0]["check_mode"] is True and "content" not in step["maintenance"][0]
    markdown = render_markdown(result)
    assert markdown.startswith("# Rehearsal plan communities_schema_v1:")
    assert "- Pending migrations (would apply): `2024_12_24_000000_create_community_core_tables`" in markdown
    assert "- host academy-db: maintenance would be enabled (is disabled, laravel backend)" in markdown
    assert "- RDS snapshot (would take): pre-community-schema" in markdown
    assert "- Backup (would write): `/b/pre-community-schema-academy-20241224T095812Z.sql.gz`" in markdown


def rescued_step(report, rollback_ok=True):
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "ansible.builtin.assert", "Fail the step when it ran past its window", "failed",
                       {"failed": True, "msg": "took 2.2s, over its window of 0.0s"}, has_rescue=True)
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "Rollback 1", "changed" if rollback_ok else "failed",
                       reported("migrate_apply", {"changed": True}, state="rolled_back", rolled_back=[CORE])
                       if rollback_ok else reported("migrate_apply", {"failed": True, "msg": "lock"}, failed=True),
                       in_rescue=True)
    if rollback_ok:
        report.task_result("academy-db", "ansible.builtin.set_fact", "Note", "ok", {"ansible_facts": {
            "runbook_step_failure": {"task": "Fail the step when it ran past its window",
                                     "cause": "took 2.2s, over its window of 0.0s",
                                     "rollback": "rolled back by the down-migration"}}}, in_rescue=True)
        report.task_result("academy-db", "ansible.builtin.fail", "Fail the run", "failed", {"msg": "x"}, in_rescue=True)
    report.task_result("academy-db", "ansible.builtin.set_fact", "Record", "ok", {"ansible_facts": {
        "runbook_step_results": [step_record("preflight-safety-checks", 1), step_record(
            "deploy-community-core-schema", 2, status="rolled_back" if rollback_ok else "ok",
            failure={"task": "Fail the step when it ran past its window", "cause": "took 2.2s, over its window of 0.0s",
                     "rollback": "rolled back by the down-migration"} if rollback_ok else {})]}})


def test_a_rolled_back_step_names_the_cause_and_the_rollback():
    report = new_report()
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    rescued_step(report)
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    step = result["steps"][1]
    assert step["status"] == "rolled_back" and result["outcome"] == "rolled back at step 2 deploy-community-core-schema"
    assert step["failure"]["cause"] == "took 2.2s, over its window of 0.0s"
    assert step["rollback"] == {"summary": "rolled back by the down-migration",
                                "tasks": [{"task": "Rollback 1", "status": "changed"}]}
    assert step["migrations"]["rolled_back"][0]["version"] == "2024_12_24_000000"
    markdown = render_markdown(result)
    assert "- Rollback: rolled back by the down-migration; tasks: Rollback 1 (changed)" in markdown
    assert "- Rolled back: `2024_12_24_000000_create_community_core_tables`" in markdown


def test_a_failed_rollback_makes_the_step_failed():
    report = new_report()
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    rescued_step(report, rollback_ok=False)
    report.finish(ended_at=ENDED)
    step = report.as_dict()["steps"][1]
    assert step["status"] == "failed"
    assert step["failure"] == {"task": "Fail the step when it ran past its window",
                               "cause": "took 2.2s, over its window of 0.0s"}
    assert step["rollback"]["summary"] == "rollback failed at Rollback 1"


def test_a_failure_no_rescue_handled_makes_the_step_failed_even_when_recorded_ok():
    report = new_report()
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "dbops.runbooks.db_check", "inner try", "failed", {"msg": "handled"}, has_rescue=True)
    report.task_result("academy-db", "ansible.builtin.set_fact", "Record", "ok", {"ansible_facts": {
        "runbook_step_results": [step_record("preflight-safety-checks", 1), step_record("deploy-community-core-schema", 2)]}})
    report.finish(ended_at=ENDED)
    assert report.as_dict()["steps"][1]["status"] == "ok"
    report.task_result("academy-db", "dbops.runbooks.db_check", "outside", "failed", {"msg": "boom"})
    report.finish(ended_at=ENDED)
    assert report.as_dict()["steps"][1]["status"] == "failed"


def test_a_step_that_began_without_a_record_failed_and_a_step_without_tasks_was_skipped():
    report = new_report()
    report.start_play("Step 1", "preflight-safety-checks")
    report.task_result("academy-db", "dbops.runbooks.db_check", "1.0", "failed", {"msg": "cannot connect to 127.0.0.1:53306"})
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "2.3", "skipped", {"skip_reason": "tags"})
    report.finish(ended_at=ENDED)
    steps = report.as_dict()["steps"]
    assert [s["status"] for s in steps] == ["failed", "skipped", "not run"]
    assert steps[0]["failure"] == {"task": "1.0", "cause": "cannot connect to 127.0.0.1:53306"}


def test_smoke_tests_and_downtime_from_the_run():
    report = new_report()
    report.start_play("Step 6", "seed-foundation-data")
    report.task_result("academy-db", "dbops.runbooks.runbook_step", "6.4-6.6 Verify", "ok", {"dbops_reports": [
        {"kind": "smoke_test", "line": "6.5", "name": "categories", "path": "/api/v1/communities/categories",
         "ok": True, "msg": "6.5 categories: 5 item(s)", "changed": False, "check_mode": False, "failed": False}]})
    report.task_result("academy-db", "ansible.builtin.set_fact", "Keep", "ok", {"ansible_facts": {"downtime_probe_report": {
        "url": "http://127.0.0.1:58080/health", "polls": 40, "downtime_s": 1.25, "errors": 0,
        "windows": [{"start": "a", "end": "b", "duration_s": 1.25}]}}})
    report.use_downtime_file("build/downtime.txt", "downtime: total 9.000 s of 503; 0 error(s)")
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    assert result["steps"][2]["smoke_tests"] == [{"line": "6.5", "name": "categories", "ok": True,
                                                  "path": "/api/v1/communities/categories",
                                                  "msg": "6.5 categories: 5 item(s)"}]
    assert result["downtime"]["downtime_s"] == 1.25 and result["downtime"]["source"] == "downtime_probe role"
    rows = dict((row["artifact"], row["location"]) for row in result["artifacts"])
    assert rows["Smoke test reports"] == "this report, step 6: 1 of 1 passed"
    assert rows["Measured downtime"] == "1.25 s of 503 (downtime_probe role)"


def test_downtime_file_text_and_json():
    text = ("downtime: GET http://x/health, 71 polls every 0.1 s from a to b\ndowntime: no 503 seen\n"
            "downtime: total 0.300 s of 503; 2 error(s) (neither 200 nor 503)\n")
    assert parse_downtime(text)["downtime_s"] == 0.3 and parse_downtime(text)["errors"] == 2
    assert parse_downtime(json.dumps({"downtime_s": 1.5, "url": "u", "error_samples": []})) == {"downtime_s": 1.5, "url": "u"}
    assert parse_downtime("  ") is None


def test_names_and_cells():
    assert report_basename("communities_schema_v1", STARTED, False) == "communities_schema_v1-20241224T095812Z"
    assert report_basename("a b/c", STARTED, True) == "a_b_c-20241224T095812Z-check"
    assert cell("a | b\nc") == "a \\| b c"
    assert cell({"b": 1, "a": [1]}) == '{"a": [1], "b": 1}'
    assert cell("x" * 10, 5) == "xxxx…"


def test_no_secret_reaches_the_report():
    report = new_report()
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    for text in (render_json(result), render_markdown(result)):
        assert "s3cret-password" not in text and "login_password" not in text and "SELECT secret" not in text


def item(entry_result, delegated=None, **loop_vars):
    """One loop item as a looped task's `results` holds it."""
    result = dict(entry_result, **loop_vars)
    if delegated:
        result["_ansible_delegated_vars"] = {"ansible_delegated_host": delegated, "ansible_connection": "local"}
    return result


def looped(*items):
    return {"changed": any(i.get("changed") for i in items), "msg": "All items completed", "results": list(items)}


def toggle(state, previous, backend="laravel", changed=None, check_mode=False):
    changed = state != previous if changed is None else changed
    return reported("maintenance_mode", {"changed": changed}, check_mode=check_mode, state=state,
                    previous_state=previous, backend=backend)


def seed_step(report):
    report.set_host_groups({"academy-app": ["all", "app_servers"], "academy-app-2": ["app_servers"],
                            "academy-horizon": ["queue_workers"], "academy-db": ["database"]})
    report.start_play("Step 6", "seed-foundation-data")


def test_looped_toggles_name_each_host_and_its_role():
    report = new_report()
    seed_step(report)
    report.task_result("academy-db", "dbops.runbooks.maintenance_mode", "6.1 down", "changed", looped(
        item(toggle("enabled", "disabled"), "academy-app", app_server="academy-app"),
        item(toggle("enabled", "enabled"), "academy-app-2", app_server="academy-app-2"),
        {"skipped": True, "app_server": "academy-app-3"}))
    report.task_result("academy-db", "dbops.runbooks.maintenance_mode", "6.1 pause", "changed", looped(
        item(toggle("enabled", "disabled", backend="http"), "academy-horizon", queue_worker="academy-horizon")))
    # A check-mode read (changed_when: false) says what it found, not what it would do.
    report.task_result("academy-db", "dbops.runbooks.maintenance_mode", "7.1 read", "ok", looped(
        item(dict(toggle("disabled", "enabled", check_mode=True), changed=False), "academy-horizon")))
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    markdown = render_markdown(result)
    assert "- app server academy-app: maintenance enabled (was disabled, laravel backend)" in markdown
    assert "- app server academy-app-2: maintenance already enabled (laravel backend)" in markdown
    assert "- queue worker academy-horizon: queue paused (was running, http backend)" in markdown
    assert "- queue worker academy-horizon: queue found paused (read, laravel backend)" in markdown
    assert "(was ,  backend)" not in markdown and len(result["steps"][2]["maintenance"]) == 4
    held = result["held_state"]["lines"]
    assert "app server academy-app: maintenance enabled" in held and "queue worker academy-horizon: queue paused" in held


def test_looped_checks_migrations_and_backups_are_read_per_item():
    report = new_report()
    seed_step(report)
    check = {"name": "seeded", "check": "row_count", "ok": False, "observed": 0, "expected": {"min": 1}, "message": "0 rows"}
    verify = {"name": "6.4 rows", "check": "row_count", "ok": True, "observed": 7, "expected": {"min": 5}, "message": "7"}
    report.task_result("academy-db", "dbops.runbooks.db_check", "6.2 read", "ok", looped(
        item(reported("db_check", {}, purpose="decide", checks=[check]), table="a"),
        item(reported("db_check", {}, purpose="verify", checks=[verify]), table="b")))
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "6.x apply", "changed", looped(
        item(reported("migrate_apply", {"changed": True}, state="applied", applied=[CORE]), path="a"),
        item(reported("migrate_apply", {"changed": False}, state="applied", applied=[]), path="b")))
    report.task_result("academy-db", "dbops.runbooks.db_backup", "6.x backup", "changed", looped(
        item(reported("db_backup", {"changed": True}, state="present", backup_file="/x/./a.sql.gz", verified=True),
             "academy-db")))
    report.finish(ended_at=ENDED)
    step = report.as_dict()["steps"][2]
    assert [c["name"] for c in step["decisions"]] == ["seeded"] and [c["name"] for c in step["checks"]] == ["6.4 rows"]
    assert step["migrations"]["applied"][0]["version"] == CORE["version"]
    assert step["backups"][0]["backup_file"] == "/x/a.sql.gz" and step["backups"][0]["verified"] is True


def test_decisions_are_shown_apart_and_never_as_a_failure():
    report = new_report()
    seed_step(report)
    seeded = {"name": "6.2 seeded: community_categories has rows", "check": "row_count", "ok": False, "observed": 0,
              "expected": {"min": 1}, "message": "0 rows: below min 1"}
    report.task_result("academy-db", "dbops.runbooks.db_check", "6.2 read", "ok", reported(
        "db_check", {}, purpose="decide", checks=[seeded]))
    report.finish(ended_at=ENDED)
    markdown = render_markdown(report.as_dict())
    assert "Decisions (reads the step decided on; no is an answer, not a failure):" in markdown
    assert "| 6.2 seeded: community_categories has rows | no | 0 |" in markdown
    assert "**no**" not in markdown and "Checks (verifications" not in markdown


def test_a_fat_task_reports_a_list_and_secrets_in_entries_are_dropped():
    report = new_report()
    seed_step(report)
    report.task_result("academy-db", "dbops.runbooks.runbook_step_engine", "Step 6", "changed", {"changed": True, "dbops_reports": [
        {"kind": "migrate_apply", "changed": True, "check_mode": False, "applied": [CORE], "login_password": "s3cret-password"},
        {"kind": "maintenance_mode", "changed": True, "check_mode": False, "state": "enabled", "previous_state": "disabled",
         "backend": "laravel", "headers": {"Authorization": "Bearer s3cret-password"}}]})
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    assert result["steps"][2]["migrations"]["applied"][0]["version"] == CORE["version"]
    assert "s3cret-password" not in render_json(result) + render_markdown(result)
    assert "database academy-db: maintenance enabled" in result["held_state"]["lines"]


def test_a_failed_run_ends_its_summary_with_what_it_left_held():
    report = new_report()
    report.set_host_groups({"academy-horizon": ["queue_workers"]})
    run_step_one(report, [step_record("preflight-safety-checks", 1)])
    report.start_play("Step 2", "deploy-community-core-schema")
    report.task_result("academy-db", "dbops.runbooks.maintenance_mode", "3.2 pause", "changed", looped(
        item(toggle("enabled", "disabled", backend="http"), "academy-horizon")))
    report.task_result("academy-db", "dbops.runbooks.migrate_apply", "2.3 apply", "changed", reported(
        "migrate_apply", {"changed": True}, state="applied", applied=[CORE]))
    report.task_result("academy-db", "ansible.builtin.set_fact", "Record", "ok", {"ansible_facts": {
        "runbook_step_results": [step_record("preflight-safety-checks", 1),
                                 step_record("deploy-community-core-schema", 2, status="rolled_back",
                                             failure={"task": "x", "cause": "y", "rollback": "z"})]}})
    report.finish(ended_at=ENDED)
    result = report.as_dict()
    assert result["held_state"]["resume"]["tags"] == "deploy-community-core-schema,seed-foundation-data"
    markdown = render_markdown(result)
    summary = markdown[markdown.index("## State left behind"):markdown.index("## Step 1")]
    assert "- Migrations applied by this run: 2024_12_24_000000_create_community_core_tables; rolled back: none" in summary
    assert "- queue worker academy-horizon: queue paused" in summary
    assert "- Restore point: backup /b/pre-community-schema-academy-20241224T095812Z.sql.gz" in summary
    assert ("- Resume at step 2 deploy-community-core-schema after fixing the cause: "
            "--tags deploy-community-core-schema,seed-foundation-data") in summary


def test_risk_findings_of_the_plan_are_in_their_step():
    report = new_report(check_mode=True)
    report.start_play("Step 2", "deploy-community-core-schema")
    finding = {"file": "/m/0002_x.up.sql", "line": 4, "rule": "my-add-index", "risk": "high", "lock": "metadata lock",
               "estimate_seconds": 0.1, "table": "posts"}
    entry = {"kind": "migrate_apply", "check_mode": True, "changed": True, "pending": [{"version": "0002"}],
             "risk_findings": [finding]}
    for _twice in range(2):  # a plan and the apply's own plan: one row per finding
        report.task_result("academy-db", "dbops.runbooks.runbook_step", "2.3", "changed", {"dbops_reports": [entry]})
    report.finish(ended_at=ENDED)
    step = report.as_dict()["steps"][1]
    assert [f["rule"] for f in step["risk_findings"]] == ["my-add-index"]
    assert "| 0002_x.up.sql:4 | my-add-index | **high** | metadata lock | 0.1 s |" in render_markdown(report.as_dict())


def test_delegated_host_of_a_registered_loop_item_is_its_host_loop_variable():
    assert delegated_host({"_ansible_delegated_vars": {"ansible_delegated_host": "app-1"}}) == "app-1"
    assert delegated_host({"ansible_loop_var": "deployment", "deployment": "sf-api"}, ["sf-api"]) == "sf-api"
    assert delegated_host({"ansible_loop_var": "item", "item": "not-a-host"}, ["sf-api"]) is None
