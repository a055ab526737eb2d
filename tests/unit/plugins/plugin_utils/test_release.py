# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.plugin_utils import release


@pytest.mark.parametrize("step, kwargs, scenario, down, restore", [
    ("migrate", dict(applied=["1"]), "S1", True, False),
    ("migrate", dict(applied=[]), "S1", True, False),  # the failed row of this run's batch is cleared
    ("verify", dict(applied=[]), "S2", False, False),
    ("verify", dict(applied=["1", "2"]), "S2", True, False),
    ("monitor", dict(applied=["1"]), "S2", True, False),
    ("verify", dict(applied=["1"], integrity_failed=True, restore_point="b.pgdump"), "S3", False, True),
    ("migrate", dict(applied=["1", "2"], irreversible=["2_drop_column"], restore_point="b.pgdump"), "S3", False, True),
])
def test_rollback_scenario_follows_the_decision_flow(step, kwargs, scenario, down, restore):
    plan = release.rollback_scenario(step, **kwargs)
    assert (plan["scenario"], plan["down"], plan["restore"]) == (scenario, down, restore)


def test_rollback_scenario_without_a_restore_point_says_so_and_downs_what_it_can():
    plan = release.rollback_scenario("verify", applied=["1"], integrity_failed=True)
    assert plan["scenario"] == "S3" and not plan["restore"] and plan["down"]
    assert "no restore point was taken in this run" in plan["why"]


def test_rollback_scenario_before_the_migration_is_none():
    assert release.rollback_scenario("backup")["scenario"] == "none"


def test_deployments_before_keeps_the_first_reading():
    first = {"results": [{"deployment": "api", "previous_state": "disabled"},
                         {"deployment": "worker", "previous_replicas": 3}]}
    before = release.deployments_before({}, first)
    again = {"results": [{"deployment": "worker", "previous_replicas": 0}, {"deployment": "api", "previous_replicas": 2},
                         {"deployment": "x", "skipped": True}]}
    assert release.deployments_before(before, again) == {
        "api": {"maintenance": "disabled", "replicas": 2}, "worker": {"replicas": 3}}


def test_row_count_checks_skip_the_runbooks_tables():
    tables = [{"table": "public.users", "rows": 4}, {"table": "public.dbops_schema_history", "rows": 8}]
    assert release.row_count_checks(tables) == [
        {"name": "rows of public.users as in the backup", "row_count": {"table": "users", "equal": 4, "schema": "public"}}]
    assert release.row_count_checks(tables, exact=False)[0]["row_count"]["min"] == 4


def test_scale_backend_fills_in_the_replicas():
    backend = {"http": {"disable_body": {"replicas": "{replicas}"}, "url": "u"},
               "command": {"disable_command": "kubectl scale --replicas={replicas} deployment/api"}}
    assert release.scale_backend(backend, 3) == {
        "http": {"disable_body": {"replicas": 3}, "url": "u"},
        "command": {"disable_command": "kubectl scale --replicas=3 deployment/api"}}


def test_hosts_having_reads_dotted_keys():
    hosts = [{"inventory_hostname": "a", "restart": {"url": "u"}}, {"inventory_hostname": "b", "restart": {}}]
    assert release.hosts_having(hosts, "restart.url") == ["a"]
    assert release.hosts_having(hosts, "restart.url", False) == ["b"]


def test_rollback_words_name_the_scenario_and_what_failed():
    plan = release.rollback_scenario("verify", applied=["9"])
    words = release.rollback_words(plan, {"down": {"rolled_back": [{"version": "9"}]}, "resume": {"changed": True}})
    assert words == ("S2 (problems after the migration): step verify failed after the migration; rolled back by down"
                     " migrations of 9, newest first; traffic and workers back as before the run")
    broken = release.rollback_words(plan, {"down": {"failed": True, "msg": "no down"}})
    assert "rollback FAILED at down: no down; finish it by hand" in broken
    restored = release.rollback_words(release.rollback_scenario("verify", ["9"], integrity_failed=True, restore_point="b"),
                                      {"restore": {"backup_file": "b", "database": "sf", "matches": False}})
    assert "rollback FAILED at restore: the restored tables differ" in restored
    unstopped = release.rollback_words(plan, {"stop": {"failed": True, "msg": "the API did not answer"}})
    assert "rollback NOT run: the API did not answer, so the database is as the failure left it" in unstopped


def test_deployments_before_takes_the_reading_of_a_toggle_that_failed():
    results = {"results": [{"deployment": "api", "previous_state": "disabled", "failed": True},
                           {"deployment": "worker", "failed": True, "msg": "no answer"}]}
    assert release.deployments_before({}, results) == {"api": {"maintenance": "disabled"}}


def test_release_timing_measures_the_downtime_between_stop_and_resume():
    records = [
        {"key": "preflight", "started_at": "2026-12-01T10:00:00+00:00", "ended_at": "2026-12-01T10:00:05+00:00"},
        {"key": "stop-traffic", "started_at": "2026-12-01T10:00:10+00:00", "ended_at": "2026-12-01T10:00:11+00:00"},
        {"key": "resume", "started_at": "2026-12-01T10:00:20+00:00", "ended_at": "2026-12-01T10:00:25+00:00"},
    ]
    assert release.release_timing(records) == {"duration_s": 25.0, "downtime_s": 15.0}
    assert release.release_timing([]) == {"duration_s": 0.0, "downtime_s": 0.0}
