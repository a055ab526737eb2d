#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module's work is done by its action plugin (plugins/action/runbook_step.py) on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: runbook_step
short_description: Run a whole phase of a runbook step in one task (plan, checks, gates, migrate, verify, smoke, time box)
version_added: 0.2.0
description:
  - The step engine of the collection's runbooks. A step is data (C(runbook.steps[key]) with its migrations,
    C(runbook_checks[key]) with its C(before) and C(after) checks, C(runbook_gates[key]),
    C(runbook_smoke_tests[key])); this action runs the common shape of a step with one task per phase, so a
    step costs a handful of tasks instead of dozens.
  - O(phase=begin) records the start of the step. O(phase=migrate) plans the step's migrations (a
    C(migrate_apply) check-mode plan up to the step's newest migration), runs the C(before) checks when
    something is pending, the gates at O(gates_before), applies the migrations, runs the C(after) checks, the
    API smoke tests (only right after a change), the gates at O(gates_after), and holds the step to its window.
    O(phase=plan) and O(phase=apply) are its two halves, for a step that does something of its own between them.
  - O(phase=rollback) runs in a C(rescue) with O(outcome) set to the registered result of the C(migrate) or
    C(apply) task. It rolls back, newest first, the step's migrations that this run applied or that failed in
    this run, and never fails; a failed down-migration is returned as RV(down_failed) so the step's own
    fallback can run. O(phase=fail), the last task of the C(rescue), notes the step's failure (the task that
    failed, the cause and the rollback). O(phase=record) (in C(always)) appends the step's record to
    C(runbook_step_results), which the M(dbops.runbooks.runbook_report) callback reads, and then fails the run
    with the noted failure, naming the step, the cause and the rollback (a failed task's variables are not kept,
    so the record, not the rescue, stops the run).
  - O(phase=verify) runs the C(after) checks, the smoke tests, the gates at O(gates_after) and the time box of a
    step that changes something other than migrations (O(run_checks), O(run_smoke), O(hold_window) leave parts
    out). O(phase=smoke) and O(phase=window) run the smoke tests or the time box alone.
  - In check mode nothing is written; the plan shows what would be applied.
extends_documentation_fragment:
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Plans and reads only; migrations and write gates are not run.
  diff_mode:
    support: full
    details: With O(phase=migrate) or O(phase=apply), the diff shows the SQL that would run.
options:
  phase:
    description: The phase of the step to run.
    type: str
    choices: [begin, migrate, plan, apply, verify, smoke, window, rollback, fail, record]
    default: migrate
  step:
    description: The key of the step in C(runbook.steps). Defaults to the variable C(runbook_step_key).
    type: str
  runbook:
    description: The runbook definition. Defaults to the variable C(runbook).
    type: dict
  database:
    description:
      - The connection options of the step's database (the C(dbops.runbooks.database) action group's options,
        for example the inventory's C(db_connection)). Required by O(phase=migrate), O(phase=plan),
        O(phase=apply) and O(phase=rollback).
    type: dict
  migrations_dir:
    description: The folder of the migration files on the controller.
    type: path
  history_table:
    description: The history table. Defaults to C(runbook.history_table).
    type: str
  checks:
    description:
      - The step's checks, C(before) and C(after) lists of M(dbops.runbooks.db_check) checks.
        Defaults to C(runbook_checks[step]).
    type: dict
  gates_before:
    description: Runbook lines of the step's gates (C(runbook_gates[step])) to run before the change.
    type: list
    elements: str
  gates_after:
    description: Runbook lines of the step's gates to run after the change and its verification.
    type: list
    elements: str
  run_checks:
    description: With O(phase=verify), run the step's C(after) checks.
    type: bool
    default: true
  run_smoke:
    description: With O(phase=verify), run the step's smoke tests.
    type: bool
    default: true
  hold_window:
    description: With O(phase=verify), hold the step to its window.
    type: bool
    default: true
  smoke_tests:
    description:
      - The step's API smoke tests (each C(line), C(name), C(path), C(auth), C(status), C(min_items)).
        Defaults to C(runbook_smoke_tests[step]).
    type: list
    elements: dict
  api:
    description: The API the smoke tests call (C(url), C(token), C(timeout)). Defaults to C(academy_api).
    type: dict
  plan:
    description: With O(phase=apply), the registered result of the step's O(phase=plan) task.
    type: dict
  outcome:
    description: With O(phase=rollback), the registered result of the step's C(migrate) or C(apply) task.
    type: dict
  rollback:
    description: With O(phase=fail), the registered result of the O(phase=rollback) task.
    type: dict
  summary:
    description: With O(phase=fail), the words of the rollback when the step's own fallback ran.
    type: str
  results:
    description:
      - With O(phase=record), the registered results of the step's tasks (its C(runbook_step) phases, its
        M(dbops.runbooks.maintenance_mode) loops, ...). Their C(dbops_report) entries are added to the run's
        (variable C(runbook_run_entries)), so that a failed step's message ends with what the run left held -
        migrations applied and rolled back, maintenance and queues per host, the restore point, and the
        C(--tags) to resume at.
    type: list
    elements: dict
notes:
  - The step's window can be overridden per step key with the variable C(runbook_step_window_seconds), for
    rehearsals and tests.
  - The connection options are passed to the modules the step runs; the password is never returned.
seealso:
  - module: dbops.runbooks.migrate_apply
  - module: dbops.runbooks.db_check
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Deploy the core schema, or roll it back
  block:
    - name: Open the step
      dbops.runbooks.runbook_step:
        phase: begin

    - name: "2.1-2.8 Plan, check, approve, migrate, verify and smoke-test the core schema"
      dbops.runbooks.runbook_step:
        database: "{{ db_connection }}"
        migrations_dir: "{{ academy_app_dir }}/migrations"
        gates_before: ["2.2"]
        gates_after: ["2.8"]
      register: step_run
  rescue:
    - name: "Rollback 1: down-migration of what this run applied"
      dbops.runbooks.runbook_step:
        phase: rollback
        database: "{{ db_connection }}"
        migrations_dir: "{{ academy_app_dir }}/migrations"
        outcome: "{{ step_run | default({}) }}"
      register: step_rollback

    - name: Note how the step failed and was rolled back
      dbops.runbooks.runbook_step:
        phase: fail
        rollback: "{{ step_rollback }}"
  always:
    - name: Record the step, and stop the run naming the step, the cause and the rollback if it failed
      dbops.runbooks.runbook_step:
        phase: record
"""

RETURN = r"""
lines:
  description: What the phase did, line by line (the plan, checks, gates, smoke tests, time box).
  returned: always
  type: list
  elements: str
failed_checks:
  description: Names of the checks that failed (the rescue can tell a failed verification from other failures).
  returned: when checks failed
  type: list
  elements: str
pending:
  description: The step's pending migrations at plan time (phase migrate, plan, apply).
  returned: when planned
  type: list
  elements: dict
applied:
  description: The migrations applied (phase migrate, apply).
  returned: when applied
  type: list
  elements: dict
apply_ran:
  description: Whether the apply part ran (so a rollback knows whether there is anything to take back).
  returned: phase migrate, apply
  type: bool
failed_phase:
  description: The part of the phase that failed, as the failure message quotes it.
  returned: on failure
  type: str
step_failure:
  description: With O(phase=fail), the step's failure (C(task), C(cause), C(rollback)) that O(phase=record) records.
  returned: phase fail
  type: dict
held:
  description: With O(phase=record) of a failed step, what the run left behind (see the run report's State left behind).
  returned: phase record, when the step failed
  type: dict
rolled_back:
  description: Versions the rollback took back, newest first.
  returned: phase rollback
  type: list
  elements: str
down_failed:
  description: Whether a down-migration failed (the step's fallback should run).
  returned: phase rollback
  type: bool
summary:
  description: The words of the rollback.
  returned: phase rollback
  type: str
timing:
  description: Elapsed, expected and window seconds of the step.
  returned: phase migrate, apply, window
  type: dict
dbops_reports:
  description: The run-report entries of the modules the phase ran.
  returned: when modules ran
  type: list
  elements: dict
"""
