#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db_backfill
short_description: Update a large table in small, throttled, resumable batches while the application writes
version_added: 0.1.0
description:
  - Updates the rows of O(table) that O(where) selects, O(batch_size) rows at a time, walking a key
    (the primary key, or a unique index on NOT NULL columns, composite allowed) with keyset pagination,
    never C(OFFSET).
  - Each batch runs in its own transaction with O(lock_timeout) and O(statement_timeout); a lock
    timeout or deadlock is retried with jittered backoff up to O(lock_retries) times.
  - The same transaction writes the checkpoint row (job, last key, rows done, status) to
    O(checkpoint_table), so a run that is killed resumes after its last committed batch.
  - O(where) must select only the rows still to do. Before the first batch the statement runs for one
    row in a transaction that is rolled back, and the run fails if O(where) still selects that row (a
    re-run would redo everything). A re-run that finds no rows reports C(changed=false).
  - Between batches the O(throttle) limits are checked; the run pauses while a limit is exceeded and fails
    over a critical one, keeping the checkpoint.
  - O(state=status) reads the checkpoint only (rows done and total, rate, ETA), for watching a run started
    with C(async).
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: >-
      Returns the rows to do and the batch plan. Creates no checkpoint table and commits nothing; the
      one-row probe runs in a transaction that is rolled back.
  diff_mode:
    support: full
    details: The diff shows the batch statement.
options:
  table:
    description: Table to update (for a shadow-table copy, the source table the batches walk).
    type: str
    required: true
  schema:
    description: Schema (PostgreSQL) or database (MySQL) of O(table); defaults to the connection's.
    type: str
  key:
    description:
      - Columns to walk, in index order. Default is the primary key, else the shortest unique index on NOT NULL
        columns. Must be one of those.
    type: list
    elements: str
  set:
    description:
      - Columns to set, as column name to SQL expression (for example V(email_lower) to V(lower(email))).
      - Exactly one of O(set) and O(statement) is needed with O(state=backfilled).
    type: dict
  statement:
    description:
      - A statement template instead of O(set); C({batch}) is replaced with the batch's condition (key range
        and O(where), on columns qualified by O(table)) and C({table}) with the quoted table.
      - For example C(INSERT INTO orders_new (id, total) SELECT id, total FROM {table} WHERE {batch}).
    type: str
  where:
    description:
      - SQL condition selecting the rows still to do, for example C(email_lower IS NULL). Required with
        O(state=backfilled).
    type: str
  job:
    description:
      - Name of the checkpoint row. Defaults to the table and a hash of O(set)/O(statement) and O(where).
    type: str
  checkpoint_table:
    description: The table that holds checkpoints, created on the first real run.
    type: str
    default: dbops_backfill_checkpoint
  state:
    description:
      - V(backfilled) runs (or resumes) the backfill; V(status) reads the checkpoint and writes nothing.
    type: str
    default: backfilled
    choices: [backfilled, status]
  batch_size:
    description: Rows per batch (per transaction).
    type: int
    default: 1000
  pause:
    description: Seconds to sleep between batches.
    type: float
    default: 0
  max_runtime:
    description:
      - Runtime budget in seconds; when it is spent the run stops after its current batch with
        RV(status=paused) and C(complete=false), and a re-run resumes. V(0) means no budget.
    type: float
    default: 0
  lock_timeout:
    description:
      - Seconds a batch waits for a lock before it gives up and is retried. MySQL rounds up to whole seconds
        (C(innodb_lock_wait_timeout)).
    type: float
    default: 1
  statement_timeout:
    description:
      - Seconds a batch statement may run (PostgreSQL C(statement_timeout), MariaDB C(max_statement_time);
        MySQL has no such limit for updates). V(0) means none.
    type: float
    default: 30
  lock_retries:
    description: How many times a batch that hit a lock timeout or deadlock is retried.
    type: int
    default: 10
  throttle:
    description:
      - Limits checked before every batch; over a C(max_*) limit the run pauses (checking every
        O(throttle.interval) seconds), over a C(critical_*) limit it fails with the checkpoint kept.
    type: dict
    suboptions:
      max_replication_lag:
        description:
          - Seconds of replication lag. PostgreSQL reads C(pg_stat_replication) (the worst replica) on a primary;
            MySQL can only see its own lag, so use O(throttle.lag_query) there.
        type: float
      critical_replication_lag:
        description: Seconds of replication lag that fail the run.
        type: float
      lag_query:
        description: A query returning the lag in seconds (for example from a heartbeat table), instead of the default.
        type: str
      max_lock_waiters:
        description: Sessions waiting for a lock (other than this one).
        type: int
      critical_lock_waiters:
        description: Sessions waiting for a lock that fail the run.
        type: int
      max_active_sessions:
        description: Active sessions (PostgreSQL) or C(Threads_running) (MySQL), other than this one.
        type: int
      critical_active_sessions:
        description: Active sessions that fail the run.
        type: int
      interval:
        description: Seconds between checks while paused.
        type: float
        default: 1
notes:
  - Watch a long run by starting it with C(async) and C(poll=0) and calling the module with O(state=status) and
    the same O(job) (or the same O(table), O(set) and O(where)) every interval; docs/zero-downtime.md shows the pattern.
  - On MySQL the reported rows are the rows the server changed (a row already holding the value counts zero).
seealso:
  - module: dbops.runbooks.db_check
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Backfill email_lower in batches of 1000, throttled on lag and lock waiters
  dbops.runbooks.db_backfill:
    engine: postgres
    login_db: wakala
    table: users
    set:
      email_lower: lower(email)
    where: email_lower IS NULL
    throttle:
      max_replication_lag: 5
      critical_replication_lag: 60
      max_lock_waiters: 5

- name: Copy rows into the shadow table (seed 004), resumable
  dbops.runbooks.db_backfill:
    engine: postgres
    table: contacts
    statement: >-
      INSERT INTO contacts_new (id, phone, name, tenant_id)
      SELECT id, phone, name, tenant_id FROM {table} WHERE {batch} ON CONFLICT (id) DO NOTHING
    where: NOT EXISTS (SELECT 1 FROM contacts_new n WHERE n.id = contacts.id)

- name: Start a long backfill in the background
  dbops.runbooks.db_backfill:
    engine: mysql
    table: messages
    set: {analytics_processed: "0"}
    where: analytics_processed IS NULL
    job: messages-analytics
  async: 86400
  poll: 0

- name: Read its progress
  dbops.runbooks.db_backfill:
    engine: mysql
    table: messages
    job: messages-analytics
    state: status
  register: progress
"""

RETURN = r"""
job:
  description: Name of the checkpoint row.
  returned: always
  type: str
status:
  description: >-
    V(done), V(paused) (runtime budget spent), V(planned) (check mode); with O(state=status) also V(running),
    V(failed) or V(absent).
  returned: always
  type: str
complete:
  description: Whether no row is left to do.
  returned: when O(state=backfilled)
  type: bool
plan:
  description: Key, batch size, rows to do, batches planned, the checkpoint key it resumes from, the statement.
  returned: when O(state=backfilled)
  type: dict
rows_done:
  description: Rows updated by this job so far (including the runs it resumed).
  returned: always
  type: int
rows_total:
  description: Rows done plus rows still to do when the run started.
  returned: always
  type: int
rows_remaining:
  description: Rows O(where) still selects after the run.
  returned: when O(state=backfilled)
  type: int
batches:
  description: Batches committed.
  returned: always
  type: int
rows_per_second:
  description: Rows done per second of the job's running time.
  returned: always
  type: float
throttled_seconds:
  description: Seconds spent paused by O(throttle).
  returned: always
  type: float
eta_seconds:
  description: Seconds left at the current rate (null before the first batch).
  returned: always
  type: float
lock_retries:
  description: Batches retried after a lock timeout or deadlock.
  returned: always
  type: int
session_alive:
  description: With O(state=status), whether the session that runs the job is still connected.
  returned: when O(state=status)
  type: bool
msg:
  description: One line with the outcome and the progress.
  returned: always
  type: str
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.backfill import run_db_backfill
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule

THROTTLE_OPTIONS = dict(
    max_replication_lag=dict(type="float"), critical_replication_lag=dict(type="float"), lag_query=dict(type="str"),
    max_lock_waiters=dict(type="int"), critical_lock_waiters=dict(type="int"),
    max_active_sessions=dict(type="int"), critical_active_sessions=dict(type="int"),
    interval=dict(type="float", default=1),
)


def main():
    module = DatabaseModule(
        argument_spec=dict(
            table=dict(type="str", required=True),
            schema=dict(type="str"),
            key=dict(type="list", elements="str", no_log=False),
            set=dict(type="dict"),
            statement=dict(type="str"),
            where=dict(type="str"),
            job=dict(type="str"),
            checkpoint_table=dict(type="str", default="dbops_backfill_checkpoint"),
            state=dict(type="str", default="backfilled", choices=["backfilled", "status"]),
            batch_size=dict(type="int", default=1000),
            pause=dict(type="float", default=0),
            max_runtime=dict(type="float", default=0),
            lock_timeout=dict(type="float", default=1),
            statement_timeout=dict(type="float", default=30),
            lock_retries=dict(type="int", default=10),
            throttle=dict(type="dict", options=THROTTLE_OPTIONS),
        ),
        mutually_exclusive=[("set", "statement")],
        required_if=[("state", "backfilled", ("set", "statement"), True), ("state", "backfilled", ("where",))],
        supports_check_mode=True,
    )
    if module.params["batch_size"] < 1:
        module.fail_json(msg="batch_size must be at least 1")
    module.run(run_db_backfill)


if __name__ == "__main__":
    main()
