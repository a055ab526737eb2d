# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: runbook_held_state
short_description: The state a runbook run left behind, from the modules' dbops_report entries
version_added: 0.1.0
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
description:
  - Says what a run (or a failed step) left behind - migrations applied and rolled back, maintenance on or off
    per app server, queues paused or running per queue worker, the restore point, and the step to resume at
    with C(--tags) - as a dict whose C(lines) end a failure message or a summary.
  - The same function writes the end of the run report's summary (callback P(dbops.runbooks.runbook_report#callback)).
  - Check-mode and failed entries changed nothing; the last toggle per host and subject wins.
options:
  _input:
    description:
      - The C(dbops_report) dicts of the run in the order their tasks ran (a task's own, each loop item's, each of
        a C(dbops_reports) list).
      - Read are C(kind), C(check_mode), C(failed); V(migrate_apply) C(applied) and C(rolled_back); V(maintenance_mode)
        C(state), C(previous_state), C(target) (the host it ran on) and C(target_groups) (that host's inventory groups;
        V(app_servers) reads as app server, V(queue_workers) as queue worker, paused or running); V(db_backup)
        C(backup_file); V(rds_snapshot) C(snapshot_id).
    type: list
    elements: dict
    required: true
  steps:
    description:
      - Step records in run order, dicts with C(key) and optionally C(number) and C(status) (V(ok), V(rolled_back),
        V(failed), V(skipped), V(not run)), as the C(runbook_step) role's C(runbook_step_results) holds them.
    type: list
    elements: dict
    default: []
  runbook_steps:
    description:
      - The runbook's C(steps) (step key to a dict with C(number)); steps without a record count as V(not run), so
        the resume tags name every step still to run.
    type: dict
  restore_point:
    description: The C(runbook_restore_point) fact (C(snapshot_id) or C(backup_file)); it wins over the entries.
    type: dict
"""

EXAMPLES = r"""
- name: Fail the run naming what it left held
  ansible.builtin.fail:
    msg: >-
      {{ runbook_step_key }} failed: {{ cause }}.
      {{ (runbook_reports | dbops.runbooks.runbook_held_state(runbook_step_results, runbook.steps,
          runbook_restore_point | default({}))).lines | join('. ') }}
"""

RETURN = r"""
_value:
  description: What the run left behind.
  type: dict
  contains:
    migrations:
      description: C(applied) and C(rolled_back), the migrations (C(<version>_<name>)) this run applied and kept, and rolled back.
      type: dict
    toggles:
      description: Per host and subject the last state, with C(target), C(label), C(subject), C(state) and C(shown).
      type: list
      elements: dict
    restore_point:
      description: C(kind) (backup or RDS snapshot) and C(id), or null.
      type: dict
    resume:
      description: The first failed or rolled back step (C(key), C(number), C(status)) and the C(tags) to resume with, or null.
      type: dict
    lines:
      description: One sentence per fact above.
      type: list
      elements: str
  sample:
    lines:
      - "Migrations applied by this run: 2024_12_24_000100_create_community_engagement_tables; rolled back:
         2024_12_24_000200_optimize_community_indexes_and_partitions"
      - "queue worker academy-horizon: queue paused"
      - "Restore point: backup /srv/backups/pre-community-schema-academy-20241224T095812Z.sql.gz"
      - "Resume at step 4 apply-feed-indexes-and-partitions after fixing the cause: --tags
         apply-feed-indexes-and-partitions,deploy-supporting-tables"
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.dbops.runbooks.plugins.plugin_utils.run_state import held_state


def runbook_held_state(entries, steps=None, runbook_steps=None, restore_point=None):
    if not isinstance(entries, (list, tuple)):
        raise AnsibleFilterError("runbook_held_state: expects a list of dbops_report dicts, got %s" % type(entries).__name__)
    return held_state(list(entries), list(steps or []), runbook_steps or None, restore_point or None)


class FilterModule:
    def filters(self):
        return {"runbook_held_state": runbook_held_state}
