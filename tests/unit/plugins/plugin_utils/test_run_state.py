# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dbops.runbooks.plugins.filter.runbook_held_state import FilterModule
from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_state import held_state, toggle_role

ENGAGEMENT = {"version": "2024_12_24_000100", "name": "engagement"}
FEED = {"version": "2024_12_24_000200", "name": "feed"}
RUNBOOK_STEPS = {"deploy-engagement-layer-schema": {"number": 3}, "apply-feed-indexes-and-partitions": {"number": 4},
                 "deploy-supporting-tables": {"number": 5}}


def step_four_failed():
    """Step 3 paused the queue and applied its migration; step 4 applied and rolled back its own."""
    return [
        {"kind": "db_backup", "state": "present", "backup_file": "/b/pre.sql.gz", "changed": True, "check_mode": False},
        {"kind": "maintenance_mode", "state": "enabled", "previous_state": "disabled", "changed": True,
         "target": "academy-horizon", "target_groups": ["queue_workers"]},
        {"kind": "migrate_apply", "applied": [ENGAGEMENT], "check_mode": False},
        {"kind": "migrate_apply", "applied": [FEED], "check_mode": False},
        {"kind": "db_check", "checks": [{"name": "4.6", "ok": False}]},
        {"kind": "migrate_apply", "rolled_back": [FEED], "check_mode": False},
    ]


def test_a_failed_step_leaves_the_queue_paused_and_says_where_to_resume():
    steps = [{"key": "deploy-engagement-layer-schema", "number": 3, "status": "ok"},
             {"key": "apply-feed-indexes-and-partitions", "number": 4, "status": "rolled_back"}]
    state = held_state(step_four_failed(), steps, RUNBOOK_STEPS)
    assert state["migrations"] == {"applied": ["2024_12_24_000100_engagement"], "rolled_back": ["2024_12_24_000200_feed"]}
    assert state["toggles"] == [{"target": "academy-horizon", "label": "queue worker academy-horizon", "subject": "queue",
                                 "state": "enabled", "shown": "paused"}]
    assert state["restore_point"] == {"kind": "backup", "id": "/b/pre.sql.gz"}
    assert state["lines"] == [
        "Migrations applied by this run: 2024_12_24_000100_engagement; rolled back: 2024_12_24_000200_feed",
        "queue worker academy-horizon: queue paused",
        "Restore point: backup /b/pre.sql.gz",
        "Resume at step 4 apply-feed-indexes-and-partitions after fixing the cause: "
        "--tags apply-feed-indexes-and-partitions,deploy-supporting-tables"]


def test_check_mode_and_failed_entries_change_nothing():
    entries = [
        {"kind": "migrate_apply", "applied": [FEED], "check_mode": True},
        {"kind": "maintenance_mode", "state": "enabled", "previous_state": "disabled", "check_mode": True,
         "target": "academy-app", "target_groups": ["app_servers"]},
        {"kind": "maintenance_mode", "state": "enabled", "previous_state": "disabled", "failed": True, "target": "web1"},
        {"kind": "db_backup", "state": "present", "backup_file": "/b/new.sql.gz", "changed": True, "check_mode": True},
        {"kind": "rds_snapshot", "state": "fresh", "snapshot_id": "rds:academy-1", "changed": False, "check_mode": True},
    ]
    state = held_state(entries, [{"key": "a", "status": "failed", "number": 1}])
    assert state["migrations"] == {"applied": [], "rolled_back": []}
    assert [t["shown"] for t in state["toggles"]] == ["disabled", "unknown"]
    assert state["restore_point"] == {"kind": "RDS snapshot", "id": "rds:academy-1"}
    assert state["lines"][0] == "Migrations: this run applied and rolled back none"
    assert state["lines"][-1].endswith("--tags a (its rollback did not complete: check the state first)")
    assert held_state([], [], restore_point={"snapshot_id": "pre"})["restore_point"] == {"kind": "RDS snapshot", "id": "pre"}
    assert held_state([], [{"key": "a", "status": "ok"}])["resume"] is None


def test_roles_from_inventory_groups():
    assert toggle_role(["all", "app_servers"])[:2] == ("app server", "maintenance")
    assert toggle_role(["queue_workers"])[2]["disabled"] == "running"
    assert toggle_role(["web_nodes"])[:2] == ("web node", "maintenance")
    assert toggle_role([])[0] == "host"


def test_the_filter():
    held = FilterModule().filters()["runbook_held_state"]
    steps = [{"key": "apply-feed-indexes-and-partitions", "number": 4, "status": "rolled_back"}]
    assert held(step_four_failed(), steps, RUNBOOK_STEPS)["resume"]["tags"] == (
        "apply-feed-indexes-and-partitions,deploy-supporting-tables")
    with pytest.raises(AnsibleFilterError, match="expects a list of dbops_report dicts"):
        held("nope")


def test_scaled_deployments_and_a_restore_are_named():
    entries = [
        {"kind": "migrate_apply", "applied": [FEED], "check_mode": False},
        {"kind": "maintenance_mode", "state": "disabled", "previous_state": "enabled", "check_mode": False,
         "target": "sf-api", "target_groups": ["starforge", "starforge_deployments"]},
        {"kind": "maintenance_mode", "state": "enabled", "previous_state": "disabled", "previous_replicas": 2,
         "replicas": 0, "check_mode": False, "target": "sf-api", "target_groups": ["starforge", "starforge_deployments"]},
        {"kind": "db_backup", "state": "restored", "database": "starforge", "backup_file": "/b/pre.pgdump",
         "check_mode": False},
    ]
    lines = held_state(entries, [])["lines"]
    assert "starforge deployment sf-api: maintenance disabled" in lines
    assert "starforge deployment sf-api: replicas scaled to 0" in lines
    assert "Database starforge restored from /b/pre.pgdump: what this run applied is undone" in lines
