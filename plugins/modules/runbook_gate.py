#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This file only documents the action plugin plugins/action/runbook_gate.py, which runs on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: runbook_gate
short_description: Run a runbook step's gates (flags, HTTP, Prometheus, Slack, PagerDuty, Jira, GitHub, change request, people)
version_added: 0.2.0
description:
  - Runs, in one task, the gates of a runbook step at the given runbook lines, the lines a system
    other than the database (a flag service, an HTTP API, Prometheus, Slack, PagerDuty, Jira, GitHub
    Actions), the change request or a person must answer. Gates are data, O(gates) (by default
    C(runbook_gates[step]) from the play's variables).
  - Each gate's result is V(passed), V(failed), V(open) or V(warning). A gate whose system is not
    configured (a required key missing or empty, for example a vault variable that is not loaded) is
    V(open), never passed silently. A gate that writes (Slack, PagerDuty, Jira, GitHub dispatches,
    non-GET HTTP) is V(open) in check mode with what it would do; read-only gates run in check mode.
  - The systems come from the play's variables (C(flag_service), C(prometheus), C(github),
    C(runbook_notify.slack), C(runbook_notify.pagerduty), C(runbook_notify.jira), and the variable an
    C(http) gate names in C(service)), or from O(systems).
  - Other variables read are C(runbook) (C(change_request), C(required_approvals), C(steps),
    C(maintenance_window_minutes), C(key)), C(change_request) (C(id), C(approvals)),
    C(runbook_step_started_epoch) (C(timing)), each C(confirm) gate's variable, C(runbook_gate_prompt)
    (default V(true)), C(runbook_gate_pagerduty_description), C(runbook_gate_slack_username),
    C(awx_job_id) and C(tower_job_id).
  - A C(confirm) gate whose variable is empty asks at the controller's terminal, except in check mode,
    under AWX (C(awx_job_id) or C(tower_job_id) set) or when C(runbook_gate_prompt) is false; unanswered it is V(open).
  - Every call is made from the controller (under AWX, the execution environment). Tokens go in
    headers only and never appear in the result or its messages.
  - Sets the fact C(runbook_gate_results) to its earlier value plus this task's results, which the
    C(dbops.runbooks.runbook_report) callback reads. When the task fails, facts are not set, so use
    O(fail_on_blocking=false) and fail in a next task to keep the failed results (the role
    C(dbops.runbooks.runbook_gate) does).
  - The kinds, their keys and their systems are in C(docs/communities_schema_v1.md), section Gates.
  - A C(prometheus_baseline) gate reads each of its C(queries) (each C(name), C(query), optional C(max) and
    C(empty_is_zero)) once; it fails when a value is above its C(max), a query fails or has no data. Its
    result has the key C(values) (name to number; in Jinja C(result['values'])), kept in
    C(runbook_gate_results), which persists across plays.
  - A C(prometheus_window) gate samples its C(queries) (each C(name), C(query), C(max), optional C(empty_is_zero),
    C(baseline) and C(max_ratio)) every C(interval) seconds (default V(5)) for C(seconds) (or C(minutes)).
    A value breaches above C(max), or above the newest C(prometheus_baseline) value named C(baseline) times
    C(max_ratio) when that is smaller and the baseline is above 0 (a baseline not recorded only turns the ratio
    off); a failed query breaches too. C(sustain) (default V(3)) breaching samples in a row fail the gate at once;
    otherwise it passes at the end of the window with each query's largest value. The task runs for the whole
    window and prints a progress line per sample. In check mode it takes one sample and judges it.
  - A bad gate (unknown kind, a missing or wrong key such as a C(prometheus) gate without C(query)
    or C(max)) fails the task before any gate runs, naming the step, the line and the key.
extends_documentation_fragment:
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: partial
    details: Read-only gates run; gates that write are reported V(open) with what they would do.
  diff_mode:
    support: none
  action:
    support: full
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
options:
  step:
    description:
      - The step key (a key of C(runbook_gates) and C(runbook.steps)). Defaults to the variable C(runbook_step_key).
    type: str
  lines:
    description:
      - The runbook lines whose gates run, for example V(["1.3", "1.4"]). A line with no gate gives a
        V(open) result of kind C(no_gate). When omitted, every gate of the step runs.
    type: list
    elements: str
  gates:
    description:
      - The step's gates, each with C(line), C(text), C(kind) and the keys of its kind; C(blocking) defaults to V(true).
      - Defaults to C(runbook_gates[step]).
    type: list
    elements: dict
  systems:
    description:
      - Systems by variable name, used instead of the play's variables of that name, for example C(prometheus) with its C(url).
    type: dict
    default: {}
  fail_on_blocking:
    description:
      - Fail the task when a blocking gate failed, naming each failed line and what was observed.
      - V(false) only records; the result's RV(blocked) and RV(msg) say what to fail with.
    type: bool
    default: true
seealso:
  - name: The gates of communities_schema_v1
    description: Kinds, keys, systems and check-mode behaviour (docs/communities_schema_v1.md, section Gates).
    link: https://github.com/dbops/runbooks/blob/main/docs/communities_schema_v1.md#gates
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: "2.2 Gate: Compliance and Product Ops approval on the change request"
  dbops.runbooks.runbook_gate:
    lines: ["2.2"]

- name: "4.7 Gate: feed p95 under 180 ms, against another Prometheus"
  dbops.runbooks.runbook_gate:
    step: apply-feed-indexes-and-partitions
    lines: ["4.7"]
    systems:
      prometheus:
        url: https://prometheus.example.com
        token: "{{ vault_prometheus_token }}"

- name: Record the gates, fail later
  dbops.runbooks.runbook_gate:
    lines: ["7.7", "7.8"]
    fail_on_blocking: false
  register: gates_run

- name: Judge them
  ansible.builtin.assert:
    that: not gates_run.blocked
    fail_msg: "{{ gates_run.msg }}"
"""

RETURN = r"""
gates:
  description: One result per gate run, in the order of O(gates), then lines without a gate.
  returned: always
  type: list
  elements: dict
  contains:
    step:
      description: The step key.
      type: str
    line:
      description: The runbook line.
      type: str
    text:
      description: The gate's text.
      type: str
    kind:
      description: The gate kind (C(no_gate) for a line without a gate).
      type: str
    status:
      description: V(passed), V(failed), V(open) or V(warning).
      type: str
    detail:
      description: What was observed, or why the gate is open.
      type: str
    system:
      description: The system asked (C(flag_service), C(runbook_notify.slack), C(operator), ...).
      type: str
    blocking:
      description: Whether a failure of the gate fails the step.
      type: bool
  sample:
    - step: deploy-community-core-schema
      line: "2.8"
      text: Prometheus alert community_schema_migration_errors stays at 0
      kind: prometheus
      status: passed
      detail: sum(increase(community_schema_migration_errors_total[5m])) = 0, at most 0
      system: prometheus
      blocking: true
blocked:
  description: A blocking gate failed.
  returned: always
  type: bool
msg:
  description: The failed blocking gates with what was observed, or every gate's status in one line.
  returned: always
  type: str
ansible_facts:
  description: The fact the task sets.
  returned: success
  type: dict
  contains:
    runbook_gate_results:
      description: The earlier C(runbook_gate_results), then this task's RV(gates).
      type: list
      elements: dict
"""
