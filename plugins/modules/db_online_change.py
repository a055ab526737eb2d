#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db_online_change
short_description: Run one phase of an expand/contract or shadow-table change, or roll it back
version_added: 0.1.0
description:
  - Zero-downtime schema changes as phases that a playbook runs one at a time (each with its rollback in a
    rescue); C(playbooks/patterns/) holds the two patterns as playbooks.
  - V(expand_contract) phases. C(expand) adds O(new_column) as nullable, on PostgreSQL with a
    C(CHECK (new IS NOT NULL) NOT VALID), and a trigger keeping new = O(expression) of the old column on every
    insert and update. C(backfill) returns the RV(backfill) arguments for M(dbops.runbooks.db_backfill).
    C(enforce) runs C(VALIDATE CONSTRAINT) and C(SET NOT NULL) (PostgreSQL) or
    C(MODIFY ... NOT NULL, ALGORITHM=INPLACE, LOCK=NONE) (MySQL). C(contract) drops the trigger and O(old_column).
  - V(shadow_swap) phases. C(prepare) creates O(shadow_table) like O(table) with O(shadow_changes) and triggers
    copying every insert, update and delete. C(backfill) returns the copy's db_backfill arguments. C(verify)
    compares row counts and checksums of both tables in one statement (one snapshot) and fails if they differ.
    C(swap) renames O(table) to O(old_table) and the shadow to O(table) in one transaction (PostgreSQL) or one
    C(RENAME TABLE) (MySQL). C(drop_old) drops the old table, after the gate.
  - A phase already done reports no change; O(state=rolled_back) undoes a phase (C(drop_old) and a finished
    C(contract) cannot be undone and say so).
  - DDL runs with O(lock_timeout) and is retried O(lock_retries) times, so it never queues the application's
    queries behind it for long. On MySQL C(ALGORITHM=INSTANT) falls back to C(INPLACE, LOCK=NONE); where the
    server allows neither, the phase fails naming the statement.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Returns the statements of the phase; runs nothing.
  diff_mode:
    support: full
    details: The diff shows the statements.
options:
  pattern:
    description: Which pattern the phase belongs to.
    type: str
    required: true
    choices: [expand_contract, shadow_swap]
  phase:
    description:
      - V(expand), V(backfill), V(enforce), V(contract) for V(expand_contract);
        V(prepare), V(backfill), V(verify), V(swap), V(drop_old) for V(shadow_swap).
    type: str
    required: true
  state:
    description: V(applied) runs the phase, V(rolled_back) undoes it.
    type: str
    default: applied
    choices: [applied, rolled_back]
  table:
    description: The table that changes.
    type: str
    required: true
  old_column:
    description: (expand_contract) The column the application uses now.
    type: str
  new_column:
    description: (expand_contract) The column that replaces it.
    type: str
  new_type:
    description: (expand_contract) SQL type of O(new_column), for example C(VARCHAR(255)).
    type: str
  expression:
    description: (expand_contract) SQL giving the new value from the old one, naming the old column as C({old}).
    type: str
  shadow_table:
    description: (shadow_swap) Name of the shadow table; default O(table) with C(_new).
    type: str
  old_table:
    description: (shadow_swap) Name the original table gets at the swap; default O(table) with C(_old).
    type: str
  shadow_changes:
    description: (shadow_swap) C(ALTER TABLE) clauses applied to the shadow, for example C(ADD COLUMN metadata JSONB).
    type: list
    elements: str
  lock_timeout:
    description: Seconds a DDL statement waits for its lock before it is retried (MySQL rounds up to whole seconds).
    type: float
    default: 2
  lock_retries:
    description: How many times a DDL statement that hit the lock timeout is retried, with jittered backoff.
    type: int
    default: 10
notes:
  - The MySQL swap leaves the sync triggers on the old table and drops them right after the C(RENAME TABLE);
    nothing copies writes back to the old table after the swap, so a rollback of the swap loses the writes made
    since. Keep the gate between swap and C(drop_old) short.
seealso:
  - module: dbops.runbooks.db_backfill
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Expand (add users.email_norm, kept equal to lower(email) by a trigger)
  dbops.runbooks.db_online_change:
    engine: postgres
    pattern: expand_contract
    phase: expand
    table: users
    old_column: email
    new_column: email_norm
    new_type: VARCHAR(255)
    expression: lower({old})

- name: Swap contacts and contacts_new in one transaction
  dbops.runbooks.db_online_change:
    engine: postgres
    pattern: shadow_swap
    phase: swap
    table: contacts
"""

RETURN = r"""
statements:
  description: The statements the phase ran (or would run in check mode).
  returned: always
  type: list
  elements: str
backfill:
  description: With O(phase=backfill), the arguments for M(dbops.runbooks.db_backfill) (table, set or statement, where, key).
  returned: when O(phase=backfill)
  type: dict
ready:
  description: >-
    With O(phase=backfill), whether the phase before it (expand, prepare) is applied; a check-mode rehearsal
    skips the backfill when it is not.
  returned: when O(phase=backfill)
  type: bool
rows:
  description: With O(phase=verify), rows of O(table); RV(shadow_rows), RV(checksum), RV(shadow_checksum) next to it.
  returned: when O(phase=verify)
  type: int
shadow_rows:
  description: With O(phase=verify), rows of the shadow table.
  returned: when O(phase=verify)
  type: int
checksum:
  description: With O(phase=verify), the checksum of O(table) over the shared columns.
  returned: when O(phase=verify)
  type: str
shadow_checksum:
  description: With O(phase=verify), the checksum of the shadow table.
  returned: when O(phase=verify)
  type: str
msg:
  description: What happened.
  returned: always
  type: str
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.online_change import run_db_online_change


def main():
    module = DatabaseModule(
        argument_spec=dict(
            pattern=dict(type="str", required=True, choices=["expand_contract", "shadow_swap"]),
            phase=dict(type="str", required=True),
            state=dict(type="str", default="applied", choices=["applied", "rolled_back"]),
            table=dict(type="str", required=True),
            old_column=dict(type="str"),
            new_column=dict(type="str"),
            new_type=dict(type="str"),
            expression=dict(type="str"),
            shadow_table=dict(type="str"),
            old_table=dict(type="str"),
            shadow_changes=dict(type="list", elements="str"),
            lock_timeout=dict(type="float", default=2),
            lock_retries=dict(type="int", default=10),
        ),
        supports_check_mode=True,
    )
    module.run(run_db_online_change)


if __name__ == "__main__":
    main()
