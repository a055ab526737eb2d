#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate_apply
short_description: Apply, roll back, baseline or repair SQL migrations, recorded in history and audit tables
version_added: 0.1.0
description:
  - Applies pending migrations in version order, or the one given by O(path), and records each in a
    history table (version, name, sha256 checksum of the script, status, batch, applied_at, applied_by,
    execution_ms, statement count, statements applied so far, and for a failure the failing statement and error), plus an append-only
    audit table of every action (apply, rollback, baseline, repair) with who, when and outcome.
  - Versions are groups of digits joined by C(_) and sort as numbers, so C(2024_12_24_000100),
    C(20190100000004000000) and C(0007) all work.
  - Every file is read, decoded as UTF-8, checked for markers and split into statements before
    anything changes; a bad name, duplicate version, unreadable or non-UTF-8 file, unknown marker or
    unterminated quote fails the run naming the file.
  - One migrator per database. The run takes a session-level lock (PostgreSQL C(pg_try_advisory_lock),
    MySQL C(GET_LOCK)) that dies with the connection, so a killed run never leaves a stale lock; a second
    run waits up to O(lock_wait_timeout) and then fails naming the holder (pid, user, application, client, since).
  - B(PostgreSQL) runs each migration in its own transaction with its history and audit rows (O(transaction_mode)).
    A file whose first lines hold the marker C(-- dbops:no-transaction) runs statement by statement outside a
    transaction, for C(CREATE INDEX CONCURRENTLY); if such a build fails, the INVALID index it leaves is dropped.
  - B(MySQL/MariaDB) commit DDL implicitly, so there each migration runs step by step. A C(running) history row is
    written first and its C(applied_statements) is updated after each statement; a failure at statement k is recorded
    as C(failed) at k with the error; after the file is fixed, a re-run resumes at statement k. A run killed
    mid-migration leaves the C(running) row saying "statements 1..k done"; the next run refuses to guess and says
    which statement was running. Check whether that statement took effect, then resume with O(resume_at_statement)
    (k+1 if it did not, k+2 if it did) or roll it back.
  - The session gets O(lock_timeout) and O(statement_timeout); a statement (step by step) or migration
    (transactional) that hits the lock timeout is retried O(lock_retries) times with jittered backoff.
  - Drift and order are checked before anything is applied. An applied migration whose file changed fails the
    run naming the file and both checksums; applied versions whose files are gone are listed in RV(missing_files);
    a pending migration older than the newest applied one fails unless O(out_of_order=true).
  - In check mode nothing is written (no history table, no lock); the result is the plan (RV(pending)), with the
    SQL in the diff when run with C(--diff).
  - With O(state=applied) the plan carries the risk of each pending migration and statement (rule, line, lock,
    estimate), weighed against the live catalog, when C(pglast)/C(sqlglot) are installed; O(max_risk) and
    O(rehearse) act on it before anything is applied. A run without either does not analyse (the check-mode
    plan does).
  - By default the files are read on the controller and shipped to the module by the action plugin, like
    M(ansible.builtin.copy) does, so a play can target a bastion that reaches the database while the
    migrations stay in the playbook repository. With O(remote_src=true) they are read on the managed host.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.migration_files
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Reads the history table if it exists; returns the plan. Writes nothing and takes no lock.
  diff_mode:
    support: full
    details: The diff shows the SQL that runs (or would run).
options:
  state:
    description:
      - V(applied) applies pending migrations up to O(target) (default all).
      - V(rolled_back) runs down scripts, newest first, of the last O(steps) migrations, of O(batch), or of every
        migration newer than O(target); refuses before changing anything when a down script is missing.
      - V(baseline) records migrations up to O(target) as applied without running them, to adopt an existing
        database; with O(baseline_from) it takes the applied versions from another tool's table.
      - V(repair) removes C(failed) and C(running) rows and realigns the checksums of changed applied files.
      - V(forgotten) removes the history row of one migration, named by O(path) or O(version), whatever its status,
        and writes an audit row (action C(forget), outcome C(forgotten)); the schema is not touched. It is what a
        runbook's manual fallback does after dropping the migration's tables by hand. Already absent is C(changed=false).
      - With V(rolled_back), a migration that failed without applying any statement (its first one failed, or it ran in
        a transaction) has nothing to undo; its failed history row is cleared (audited) and its down file does not run
        (its C(method) in RV(rolled_back) is V(history_only)). For one that failed or was interrupted after statements
        1..k (step by step), the result and message say so before its down file runs.
    type: str
    default: applied
    choices: [applied, rolled_back, baseline, repair, forgotten]
  version:
    description:
      - With O(state=forgotten), the version whose history row to remove (its file need not exist any more).
        Instead of O(path); with both, they must name the same migration.
    type: str
  dialect:
    description:
      - With O(layout=flat), the dialect word of this engine's files. By default every alias of the engine counts
        (C(postgres), C(postgresql), C(pg) on PostgreSQL; C(mysql), C(mariadb) on MySQL/MariaDB), and two files
        of one migration with different aliases fail. Set it to take only that word's files and leave the other
        aliases' files out.
    type: str
    choices: [postgres, postgresql, pg, mysql, mariadb]
  target:
    description:
      - With O(state=applied) or O(state=baseline), the newest version to apply or record.
      - With O(state=rolled_back), roll back every migration newer than this version.
    type: str
  steps:
    description:
      - With O(state=rolled_back), how many of the newest migrations to roll back (when neither O(batch) nor O(target) is given).
    type: int
    default: 1
  batch:
    description:
      - With O(state=rolled_back), roll back every migration of this batch number, or of the V(last) batch.
    type: str
  baseline_from:
    description:
      - With O(state=baseline), import the applied versions from another tool's history table in the same
        database, which is only read, never changed. V(laravel) - C(migrations), by C(<version>_<name>).
        V(golang_migrate) - C(schema_migrations), every version up to the recorded one; a dirty version fails.
        V(node_pg_migrate) - C(pgmigrations), by C(<version>_<name>) (the file name without C(.sql)).
        V(prisma) - C(_prisma_migrations), rows with C(finished_at) and no C(rolled_back_at), by folder name; a
        row with neither fails naming it, and a C(migration.sql) whose sha256 is not the row's checksum fails as
        drift. V(flyway) - C(flyway_schema_history), by version compared as numbers (C(V1.2__x.sql) is
        C(1_2_x)), with a C(BASELINE) row covering every older version; a row with C(success) false fails naming it.
      - Everything is checked before anything is recorded; a missing table fails naming it.
        See docs/adopting-migration-tools.md for switching over and back.
    type: str
    choices: [laravel, golang_migrate, node_pg_migrate, prisma, flyway]
  baseline_table:
    description:
      - With O(baseline_from), the other tool's table when it is not the default name (node-pg-migrate's
        C(--migrations-table), Flyway's C(table)), as C(name) or C(schema.name).
    type: str
  resume_at_statement:
    description:
      - With O(state=applied), the statement number at which to resume the one migration the history shows as
        interrupted (C(running)) or failed, step by step; statements before it are not run again. The error of an
        interrupted run names the statement that was running and the two numbers to choose from. One more than the
        file's statement count records the migration as applied without running anything.
    type: int
  transaction_mode:
    description:
      - PostgreSQL only. V(per_migration) runs each migration in its own transaction; V(all) runs every pending
        migration in one transaction (all or nothing); V(none) runs statement by statement like MySQL.
      - Files marked C(-- dbops:no-transaction) always run outside a transaction.
    type: str
    default: per_migration
    choices: [per_migration, all, none]
  lock_timeout:
    description:
      - Seconds a statement may wait for a table lock before it fails (PostgreSQL C(lock_timeout), MySQL
        C(lock_wait_timeout) and C(innodb_lock_wait_timeout)). Short by default, so a migration queued behind a long
        transaction does not stall the application's queries behind it.
    type: float
    default: 5
  lock_retries:
    description:
      - How many times to retry after a lock timeout, with jittered exponential backoff.
      - After each lock timeout the sessions in the way are looked up and named in the error and in
        RV(blocking_sessions), with the attempts made (C(4 attempts over 26 s)). PostgreSQL - sessions holding a lock
        on a table the statement names (C(pg_locks), C(pg_stat_activity)). MySQL/MariaDB - holders of metadata locks on
        those tables (C(performance_schema.metadata_locks), where its MDL instrument is enabled) and sessions with an
        open InnoDB transaction (C(information_schema.innodb_trx) with the processlist); row-lock waits
        (C(sys.innodb_lock_waits)) end with the timeout, so they cannot be read after it.
    type: int
    default: 3
  terminate_blockers:
    description:
      - Off by default. Runbook wording "kill the blocking query if necessary", as an explicit opt-in. After a lock
        timeout, terminate the sessions in the way that are B(idle in a transaction) for at least O(terminate_blockers.idle_for)
        seconds (and, with O(terminate_blockers.users), only those users' sessions), then try the statement again at once.
        Active sessions are never terminated. Each one terminated is named in RV(terminated_sessions).
      - PostgreSQL uses C(pg_terminate_backend) (the migrator needs C(pg_signal_backend) or the same role);
        MySQL/MariaDB C(KILL) (on Amazon RDS the migrator needs the privilege to kill other users' sessions).
    type: dict
    suboptions:
      idle_for:
        description: Seconds a session must have been idle in its transaction before it may be terminated.
        type: float
        required: true
      users:
        description: Terminate only sessions of these users.
        type: list
        elements: str
  statement_timeout:
    description:
      - Seconds a statement may run (PostgreSQL C(statement_timeout), MariaDB C(max_statement_time)); V(0) is no limit.
    type: float
    default: 0
  lock_wait_timeout:
    description:
      - Seconds to wait for another migrator's lock on this database before failing with the holder's details.
    type: float
    default: 60
  history_table:
    description:
      - Name of the history table.
    type: str
    default: dbops_schema_history
  history_schema:
    description:
      - Schema (PostgreSQL) or database (MySQL) of the history and audit tables; default the connection's current one.
    type: str
  audit_table:
    description:
      - Name of the audit table; defaults to O(history_table) with C(_audit) appended.
    type: str
  out_of_order:
    description:
      - Allow applying a pending migration older than the newest applied one.
    type: bool
    default: false
  applied_by:
    description:
      - Who applies the migrations, recorded in the history and audit. Defaults to C(user@host) of the module's process.
    type: str
  max_risk:
    description:
      - With O(state=applied), fail before anything is applied when a pending statement's risk is above this level
        (V(medium) stops on C(high)), naming file, line and rule. Risk comes from M(dbops.runbooks.migrate_lint)'s
        rules weighed against the live catalog (C(docs/migration-risk-rules.md)); needs C(pglast) or C(sqlglot).
    type: str
    choices: [none, low, medium, high]
  rehearse:
    description:
      - With O(state=applied), rehearse the pending migrations first on a scratch copy of the target's tables
        (schema only, a scratch database on the same server, dropped afterwards) - ups, downs newest first (each must
        restore the schema exactly, else a C(down-does-not-restore) finding names the differences), ups again.
        Allowed in check mode, since it never writes to the target. Needs the right to create and drop databases;
        on PostgreSQL also C(pg_dump) (as new as the server) on the host that runs the module, for the schema copy.
    type: bool
    default: false
  long_transaction_seconds:
    description:
      - A transaction open longer than this on a table a pending statement locks is a C(long-transaction) finding.
    type: int
    default: 60
seealso:
  - module: dbops.runbooks.db_check
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Apply the community core schema migration (artisan migrate --path)
  dbops.runbooks.migrate_apply:
    engine: mysql
    login_host: db.internal
    login_user: migrator
    login_password: "{{ vault_db_password }}"
    login_db: academy
    path: migrations/2024_12_24_000000_create_community_core_tables.up.sql

- name: Apply every pending migration in version order, each in its own transaction
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: db/migrations
    lock_timeout: 2
    lock_retries: 5
  register: migrate_result

- name: Roll back the last batch with its down files
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: db/migrations
    state: rolled_back
    batch: last

- name: Adopt a database migrated by node-pg-migrate (its pgmigrations table is only read)
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: migrations
    layout: node_pg_migrate
    state: baseline
    baseline_from: node_pg_migrate

- name: Apply Ory Hydra's migrations (popx dialect files) on PostgreSQL
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: hydra
    migrations_dir: persistence/sql/migrations

- name: "Fallback after dropping the tables by hand: forget the migration's history row (audited)"
  dbops.runbooks.migrate_apply:
    engine: mysql
    login_db: academy
    path: migrations/2024_12_24_000000_create_community_core_tables.up.sql
    state: forgotten

- name: "After a crash: statement 3 of the interrupted migration did take effect, so resume at statement 4"
  dbops.runbooks.migrate_apply:
    engine: mysql
    login_db: academy
    path: migrations/2024_12_24_000200_apply_feed_indexes_and_partitions.up.sql
    resume_at_statement: 4

- name: On a lock timeout, terminate application sessions idle in a transaction for over 60 s, then retry
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: db/migrations
    terminate_blockers:
      idle_for: 60
      users: [app]

- name: Adopt a database migrated by Laravel
  dbops.runbooks.migrate_apply:
    engine: mysql
    login_db: academy
    migrations_dir: migrations
    state: baseline
    baseline_from: laravel
"""

RETURN = r"""
applied:
  description:
    - Migrations applied by this run, in order, with C(execution_ms), C(statements) and C(transaction).
    - When a migration fails, the ones this run applied before it (committed), so a C(rescue) can roll them back.
  returned: always
  type: list
  elements: dict
  sample: [{version: "2024_12_24_000000", name: create_community_core_tables,
            file: migrations/2024_12_24_000000_create_community_core_tables.up.sql,
            execution_ms: 41, statements: 5, transaction: false}]
rolled_back:
  description:
    - Migrations rolled back by this run, in order; C(file) is the down script (null when none ran).
    - C(method) is V(down) (its down file ran) or V(history_only) (it had applied nothing; only its failed history
      row was cleared). C(applied_statements) is how many statements of its up file were in the database (null when
      unknown, for an interrupted run recorded before this was tracked); C(msg) says it in words.
  returned: always
  type: list
  elements: dict
  sample: [{version: "2024_12_24_000200", name: apply_feed_indexes_and_partitions, method: history_only,
            applied_statements: 0, file: null, statements: 0,
            msg: "2024_12_24_000200_apply_feed_indexes_and_partitions applied nothing: cleared its failed history row"}]
forgotten:
  description: With O(state=forgotten), the history row removed (C(version), C(name), C(status)); empty when absent.
  returned: when O(state=forgotten)
  type: list
  elements: dict
blocking_sessions:
  description:
    - On a lock timeout (failure), the sessions in the way, each with C(pid), C(user), C(client), C(application),
      C(state), C(idle_in_transaction), C(state_seconds), C(transaction_seconds), C(statement) (current or last) and
      C(locks); with C(lock_attempts) and C(lock_wait_seconds) next to it.
  returned: failure on a lock timeout
  type: list
  elements: dict
terminated_sessions:
  description: Sessions ended by O(terminate_blockers) in this run, as in RV(blocking_sessions), with C(terminated_because).
  returned: when O(state=applied) ran
  type: list
  elements: dict
msg:
  description: With O(state=rolled_back) or O(state=forgotten), what was done (or would be, in check mode), in words.
  returned: when O(state=rolled_back) or O(state=forgotten)
  type: str
baselined:
  description: Migrations recorded as applied without running (O(state=baseline)).
  returned: always
  type: list
  elements: dict
pending:
  description:
    - The plan, in order - in check mode what would run, after a run what is still pending (empty).
    - Each entry has C(file), C(statements), C(transaction) (whether it runs in one transaction) and, for a
      migration that failed step by step, C(resume_from_statement).
    - With O(state=applied), each entry also has C(down) - whether the migration has a down script, so that it
      can be rolled back by O(state=rolled_back).
  returned: always
  type: list
  elements: dict
findings:
  description: Drift (C(drift)), order (C(out_of_order)) and interrupted-run (C(interrupted)) findings.
  returned: always
  type: dict
risk_findings:
  description:
    - With O(state=applied), the risk findings of the pending migrations (see M(dbops.runbooks.migrate_lint)'s
      RV(dbops.runbooks.migrate_lint#module:findings)), and the rehearsal's C(down-does-not-restore) findings. Each
      plan entry in RV(pending) also has C(risk), C(estimate_seconds) and C(risk_statements), and with C(--diff)
      C(risk_rules) (the rules' text).
  returned: when O(state=applied)
  type: list
  elements: dict
rehearsal:
  description: With O(rehearse), the scratch database used, C(tables_copied), per migration C(up_ms), C(down_ms) and
    C(reup_ms), C(findings), C(total_ms) and whether it was C(dropped).
  returned: when O(rehearse) and something is pending
  type: dict
batch:
  description:
    - Batch number of this run (one run is one batch); null when nothing ran.
    - Also returned when a migration fails, so a C(rescue) can roll back O(batch=<this batch>).
  returned: always
  type: int
history:
  description: The history rows after the run, in version order.
  returned: when something ran
  type: list
  elements: dict
ignored_files:
  description: Dialect files of other dialects that the V(flat) layout left out (see O(dialect)).
  returned: always
  type: list
  elements: str
  sample: [20150101000001000000_networks.cockroach.up.sql]
missing_files:
  description: Versions recorded as applied whose files are not among the given files.
  returned: always
  type: list
  elements: str
repair:
  description: With O(state=repair), the versions cleared and the checksums realigned.
  returned: when O(state=repair)
  type: dict
history_table:
  description: The history table used.
  returned: always
  type: str
  sample: dbops_schema_history
failed_file:
  description: On failure, the file whose statement failed.
  returned: failure
  type: str
failed_statement:
  description: On failure, the number (from 1) of the failing statement in RV(failed_file).
  returned: failure
  type: int
failed_sql:
  description: On failure, the failing statement.
  returned: failure
  type: str
error:
  description: On failure, the server's error for the failing statement.
  returned: failure
  type: str
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(migrate_apply)), C(changed), C(check_mode), C(failed), C(state), C(applied), C(rolled_back),
      C(baselined) and C(pending) (version, name, file, statements, execution_ms, ...), C(batch),
      C(history_table), on failure C(failed_file) and C(failed_statement), and C(msg).
  returned: always
  type: dict
  sample: {kind: migrate_apply, changed: true, check_mode: false, failed: false, state: applied, batch: 3,
    applied: [{version: '2024_12_24_000000', name: create_community_core_tables, execution_ms: 41, statements:
    5}], rolled_back: [], pending: []}
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import migration_files_argument_spec
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import run_migrate_apply


def main():
    module = DatabaseModule(
        argument_spec=dict(
            migration_files_argument_spec(),
            state=dict(type="str", default="applied", choices=["applied", "rolled_back", "baseline", "repair", "forgotten"]),
            version=dict(type="str"),
            dialect=dict(type="str", choices=["postgres", "postgresql", "pg", "mysql", "mariadb"]),
            target=dict(type="str"),
            steps=dict(type="int", default=1),
            batch=dict(type="str"),
            baseline_from=dict(type="str", choices=["laravel", "golang_migrate", "node_pg_migrate", "prisma", "flyway"]),
            baseline_table=dict(type="str"),
            resume_at_statement=dict(type="int"),
            transaction_mode=dict(type="str", default="per_migration", choices=["per_migration", "all", "none"]),
            lock_timeout=dict(type="float", default=5),
            lock_retries=dict(type="int", default=3),
            terminate_blockers=dict(type="dict", options=dict(
                idle_for=dict(type="float", required=True),
                users=dict(type="list", elements="str"),
            )),
            statement_timeout=dict(type="float", default=0),
            lock_wait_timeout=dict(type="float", default=60),
            history_table=dict(type="str", default="dbops_schema_history"),
            history_schema=dict(type="str"),
            audit_table=dict(type="str"),
            out_of_order=dict(type="bool", default=False),
            applied_by=dict(type="str"),
            max_risk=dict(type="str", choices=["none", "low", "medium", "high"]),
            rehearse=dict(type="bool", default=False),
            long_transaction_seconds=dict(type="int", default=60),
        ),
        required_one_of=[("migrations_dir", "path")],
        mutually_exclusive=[("migrations_dir", "path")],
        supports_check_mode=True,
    )
    module.run(reported("migrate_apply", run_migrate_apply))


if __name__ == "__main__":
    main()
