# -*- coding: utf-8 -*-
from __future__ import annotations

import json
import os
import types

import pytest
import yaml

from ansible import constants as C
from ansible import context
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.playbook.task import Task
from ansible.template import trust_as_template
from ansible.vars.manager import VariableManager

from ansible_collections.dbops.runbooks.plugins.callback import runbook_report

PASSWORD = "pw-never-in-the-report"
TOKEN = "token-never-in-the-report"

PLAYBOOK = """
- name: "Step 1: Preflight (preflight-safety-checks)"
  hosts: database
  gather_facts: false
  vars:
    runbook_step_key: preflight-safety-checks
  tasks:
    - name: Nothing
      ansible.builtin.debug:
- name: "Step 2: Core schema (deploy-community-core-schema)"
  hosts: database
  gather_facts: false
  vars:
    runbook_step_key: deploy-community-core-schema
  tasks:
    - name: Nothing
      ansible.builtin.debug:
"""

VARIABLES = {
    "runbook": {"key": "communities_schema_v1", "plan_key": "communities_data_convergence",
                "change_request": trust_as_template("{{ change_request.id }}"),
                "steps": {"preflight-safety-checks": {"number": 1, "title": "Preflight", "owners": ["SRE"],
                                                      "window_minutes": 15, "expected_minutes": 10},
                          "deploy-community-core-schema": {"number": 2, "title": "Core schema", "owners": ["DBA"],
                                                           "window_minutes": 15, "expected_minutes": 8}}},
    "change_request": {"id": "MIG-CR-884", "approvals": ["Compliance"]},
    "db_host": "db.internal",
    "db_connection": {"engine": "mysql", "login_host": trust_as_template("{{ db_host }}"), "login_port": 3306, "login_user": "migrator",
                      "login_password": PASSWORD, "login_db": "academy"},
}


@pytest.fixture
def callback(tmp_path, monkeypatch):
    options = yaml.safe_load(runbook_report.DOCUMENTATION)["options"]
    C.config.initialize_plugin_configuration_definitions("callback", "dbops.runbooks.runbook_report", options)
    monkeypatch.setattr(context, "CLIARGS", context.CLIARGS.__class__({"check": False}))
    plugin = runbook_report.CallbackModule()
    plugin._load_name = "dbops.runbooks.runbook_report"
    plugin.set_options(direct={"report_dir": str(tmp_path / "reports")})
    return plugin


def load_playbook(tmp_path):
    path = tmp_path / "runbook.yml"
    path.write_text(PLAYBOOK)
    loader = DataLoader()
    inventory_file = tmp_path / "hosts.ini"
    inventory_file.write_text("[database]\nacademy-db\n[app_servers]\nacademy-app\n")
    inventory = InventoryManager(loader=loader, sources=str(inventory_file))
    variables = VariableManager(loader=loader, inventory=inventory)
    variables._extra_vars = VARIABLES
    return Playbook.load(str(path), variable_manager=variables, loader=loader), inventory.get_host("academy-db")


def task(name, action, args, no_log=False):
    new = Task()
    new.name = name
    new.action = action
    new.args = args
    new.no_log = no_log
    return new


def event(host, new_task, result):
    # The callback reads only these three parts of a task result.
    return types.SimpleNamespace(host=host, task=new_task, result=result)


def test_a_password_in_args_or_vars_never_reaches_the_report(callback, tmp_path):
    playbook, host = load_playbook(tmp_path)
    plays = playbook.get_plays()
    callback.v2_playbook_on_start(playbook)
    callback.v2_playbook_on_play_start(plays[0])

    apply = task("1.6 Plan", "dbops.runbooks.migrate_apply", {"path": "m.up.sql", "login_password": PASSWORD})
    apply.check_mode = True
    callback.v2_playbook_on_task_start(apply, False)
    callback.v2_runner_on_ok(event(host, apply, {
        "changed": False, "pending": [{"version": "2024_12_24_000000", "name": "core"}], "applied": [],
        "invocation": {"module_args": {"login_password": PASSWORD}},
        "dbops_report": {"kind": "migrate_apply", "changed": True, "check_mode": True,
                         "pending": [{"version": "2024_12_24_000000", "name": "core"}], "applied": []}}))

    # A no_log task's report entry is dropped with the rest of its result.
    hidden = task("Toggle with a token", "dbops.runbooks.maintenance_mode", {"token": TOKEN}, no_log=True)
    callback.v2_playbook_on_task_start(hidden, False)
    callback.v2_runner_on_ok(event(host, hidden, {"changed": True, "dbops_report": {
        "kind": "maintenance_mode", "state": "enabled", "previous_state": "disabled", "backend": TOKEN}}))

    # A looped toggle delegated to an app server is named after it (the groups come from the inventory).
    down = task("6.1 down", "dbops.runbooks.maintenance_mode", {"state": "enabled"})
    callback.v2_playbook_on_task_start(down, False)
    callback.v2_runner_on_ok(event(host, down, {"changed": True, "results": [{
        "changed": True, "_ansible_delegated_vars": {"ansible_delegated_host": "academy-app"}, "app_server": "academy-app",
        "dbops_report": {"kind": "maintenance_mode", "changed": True, "check_mode": False, "state": "enabled",
                         "previous_state": "disabled", "backend": "laravel"}}]}))

    smoke = task("Call the Academy API", "ansible.builtin.uri", {"headers": {"Authorization": "Bearer " + TOKEN}},
                 no_log=True)
    callback.v2_playbook_on_task_start(smoke, False)
    callback.v2_runner_on_ok(event(host, smoke, {"json": {"token": TOKEN}, "ansible_facts": {
        "downtime_probe_report": {"url": TOKEN}}}))
    callback.v2_runner_on_failed(event(host, smoke, {"msg": TOKEN}))

    record = task("Record", "ansible.builtin.set_fact", {"runbook_step_results": "{{ x }}"})
    callback.v2_runner_on_ok(event(host, record, {"ansible_facts": {"runbook_step_results": [
        {"key": "preflight-safety-checks", "number": 1, "status": "ok", "started_at": "2024-12-24T09:58:13",
         "ended_at": "2024-12-24T09:59:13", "duration_s": 60.0, "failure": {}}]}}))
    callback.v2_playbook_on_stats(types.SimpleNamespace(processed={"academy-db": 1},
                                                        summarize=lambda name: {"ok": 3, "failures": 1}))

    folder = tmp_path / "reports"
    names = sorted(os.listdir(folder))
    assert len(names) == 4 and "latest.json" in names and "latest.md" in names
    assert any(name.startswith("communities_schema_v1-") and name.endswith("Z.md") for name in names)
    for name in names:
        text = (folder / name).read_text()
        assert PASSWORD not in text and TOKEN not in text and "login_password" not in text
    report = json.loads((folder / "latest.json").read_text())
    assert report["targets"] == [{"host": "academy-db", "engine": "mysql", "login_host": "db.internal",
                                  "login_port": 3306, "login_db": "academy"}]
    assert report["change_request"]["id"] == "MIG-CR-884"
    assert [step["status"] for step in report["steps"]] == ["failed", "not run"]
    assert report["steps"][0]["failure"]["cause"] == "output hidden (no_log)"
    assert report["steps"][0]["migrations"]["plan"] == [{"version": "2024_12_24_000000", "name": "core"}]
    assert report["downtime"] is None
    assert [toggle["label"] for toggle in report["steps"][0]["maintenance"]] == ["app server academy-app"]
    assert "app server academy-app: maintenance enabled" in report["held_state"]["lines"]


def test_no_report_in_check_mode_when_disabled(callback, tmp_path, monkeypatch):
    monkeypatch.setattr(context, "CLIARGS", context.CLIARGS.__class__({"check": True}))
    callback.set_options(direct={"report_dir": str(tmp_path / "reports"), "write_in_check_mode": False})
    playbook = load_playbook(tmp_path)[0]
    callback.v2_playbook_on_start(playbook)
    callback.v2_playbook_on_play_start(playbook.get_plays()[0])
    callback.v2_playbook_on_stats(types.SimpleNamespace(processed={}, summarize=lambda name: {}))
    assert not (tmp_path / "reports").exists()


def test_rescue_tasks_are_found_through_their_blocks(tmp_path):
    path = tmp_path / "rescue.yml"
    path.write_text("""
- hosts: all
  gather_facts: false
  tasks:
    - block:
        - name: Do
          ansible.builtin.debug:
      rescue:
        - block:
            - name: Rollback 1
              ansible.builtin.debug:
          rescue:
            - name: Rollback 2
              ansible.builtin.debug:
""")
    loader = DataLoader()
    variables = VariableManager(loader=loader, inventory=InventoryManager(loader=loader, sources="academy-db,"))
    play = Playbook.load(str(path), variable_manager=variables, loader=loader).get_plays()[0]
    outer = play.compile()[1]  # after the implicit flush_handlers block
    inner = outer.rescue[0]
    assert not runbook_report._in_rescue(outer.block[0]) and runbook_report._has_rescue(outer.block[0])
    assert runbook_report._in_rescue(inner.block[0]) and runbook_report._has_rescue(inner.block[0])
    assert runbook_report._in_rescue(inner.rescue[0]) and not runbook_report._has_rescue(inner.rescue[0])
