#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db_check
short_description: Verify schema and data with a list of read-only checks in one call
version_added: 0.1.0
description:
  - Runs every check in O(checks) on one connection and reports each with what it observed and expected.
  - Fails with one message naming every failing check, unless O(fail_on_error=false).
  - Read-only by construction; the session is set read-only, each check runs in a read-only
    transaction, and a V(query) check must be a single reading statement. It never reports C(changed).
  - Runs unchanged in check mode.
  - One call runs every check on one connection in one transaction, so a list of 50 checks costs one
    task, not 50. Bad check arguments fail the task before any query, naming the check's position.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same checks in check mode.
  diff_mode:
    support: none
options:
  checks:
    description:
      - The checks. Each item is a dict with exactly one check type key, whose value holds the
        check's arguments (or its main argument as a plain value, shown in brackets), and an optional C(name).
      - Every check also takes C(schema); the default is O(schema). Sizes take bytes or strings such as C(10GB).
      - "Schema checks:"
      - V(table_exists), V(table_absent) [C(table)].
      - V(columns) - C(table), C(names) (list of column names, or of dicts with C(name) and optional
        C(type), C(nullable), C(default)). A type matches the engine's spelling with or without length,
        for example C(varchar) or C(varchar(160)); on PostgreSQL also C(character varying).
      - V(index) - C(table), C(name) or C(columns) (ordered), optional C(unique) and C(valid) (default V(true);
        PostgreSQL marks an index invalid after a failed C(CREATE INDEX CONCURRENTLY)).
      - V(foreign_key) - C(table), C(name) or C(columns), optional C(references) (referenced table,
        may be the table itself) and C(referenced_columns).
      - V(constraint_valid) [C(table), optional] - no constraint left C(NOT VALID) (PostgreSQL) or
        C(NOT ENFORCED) (MySQL 8). MariaDB has no unvalidated constraints, so it always passes there.
      - V(partitions) - C(table), C(count), C(min), C(max) and/or C(names). MySQL partitions from
        C(information_schema.PARTITIONS), PostgreSQL declarative partitions of a partitioned table.
      - V(extension), V(plugin) or V(extension_or_plugin) [C(name)], optional C(state) (V(installed) or V(available)) -
        a PostgreSQL extension (C(pg_available_extensions)) or an active MySQL/MariaDB plugin.
        MySQL 8 partitions natively, so V(partition) counts as installed there.
      - V(server_version) [C(min)], optional C(max), as dotted versions.
      - "Data checks:"
      - V(row_count) [C(table)] - C(min), C(max), C(equal), optional C(where) (an SQL expression) with C(params).
      - V(orphans) - C(table), C(column), C(parent_table), optional C(parent_column) (default C(id)),
        C(parent_schema) and C(max) (default 0) - child rows whose non-null C(column) has no parent row.
      - V(duplicates) - C(table), C(columns), optional C(max) (default 0) - values appearing more than once.
      - V(query) - C(sql) (one read-only statement), C(expect), optional C(compare) (one of C(==), C(!=), C(<),
        C(<=), C(>), C(>=), C(in), C(not in); default C(==)) and C(params) for C(%s) placeholders.
        The first column of the first row is compared.
      - "Health checks:"
      - V(replication_lag) [C(max_seconds), default 1] - lag must be below it. PostgreSQL primary from
        C(pg_stat_replication), replica from the last replay time; MySQL/MariaDB replica from
        C(SHOW REPLICA STATUS). Optional C(min_replicas), and C(max_queue) for MySQL group replication
        (C(performance_schema.replication_group_member_stats)).
      - V(long_running) [C(seconds), default 60] - queries or open transactions at least that old,
        optional C(max_count) (default 0). Reports pid, user, age and query.
      - V(blocking_locks) [C(max_count), default 0] - sessions waiting for a lock, with the blocking pid
        (MySQL/MariaDB C(sys.innodb_lock_waits) and metadata lock waits); optional C(min_wait_seconds).
      - V(connections) [C(max_pct)] and/or C(max_count) - connections in use against C(max_connections).
      - V(database_size) [C(max)], C(min); V(table_size) - C(table), C(min), C(max).
      - V(free_storage) [C(min_pct)], optional C(path) - free space, in percent, of the filesystem holding C(path)
        (default the server's data directory), read on the host the module runs on; so run it on the database
        server (for RDS use M(dbops.runbooks.rds_snapshot)'s O(dbops.runbooks.rds_snapshot#module:min_free_storage_pct)).
    type: list
    elements: dict
    required: true
  schema:
    description:
      - Default schema (PostgreSQL) or database (MySQL) of the checks. Defaults to the connection's current one.
    type: str
  fail_on_error:
    description:
      - Fail the task when a check fails. With V(false) the results are returned for a report.
    type: bool
    default: true
  purpose:
    description:
      - What the checks are for. V(verify) checks prove the step did what it should; a check that is not ok
        is a failure (the task fails unless O(fail_on_error=false)).
      - V(decide) checks are reads a playbook takes a decision on (is there anything to seed?); a check that is
        not ok is an answer (no), not a failure, so the task never fails on it and RV(msg) and the run report
        show the answers apart from the verifications. RV(failed_checks) still names the checks that said no.
    type: str
    choices: [verify, decide]
    default: verify
  wait_for:
    description:
      - Retry all checks until every one passes or O(wait_for.timeout) seconds have passed, for example
        until replication lag is below a second or no long-running locks remain.
      - Each attempt runs in a new read-only transaction, so it sees the current state.
    type: dict
    suboptions:
      timeout:
        description: Seconds to keep trying.
        type: int
        default: 60
      interval:
        description: Seconds between attempts.
        type: float
        default: 2
seealso:
  - module: dbops.runbooks.migrate_apply
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Validate the community core schema (DESCRIBE, SHOW INDEX, information_schema)
  dbops.runbooks.db_check:
    engine: mysql
    login_db: academy
    checks:
      - table_exists: communities
      - columns: {table: communities, names: [slug, visibility, join_policy]}
      - index: {table: community_categories, name: community_categories_slug_unique}
      - row_count: {table: community_categories, min: 5}
      - name: core tables present
        query:
          sql: SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'communities'
          expect: 1
          compare: ">="

- name: Wait until replication has caught up and no migration lock is held
  dbops.runbooks.db_check:
    engine: postgres
    login_db: app
    wait_for:
      timeout: 120
    checks:
      - replication_lag: 1
      - blocking_locks: 0
      - long_running: {seconds: 300}

- name: Integrity of the partitioned feed (orphans, duplicates, partitions)
  dbops.runbooks.db_check:
    engine: mysql
    login_db: academy
    checks:
      - partitions: {table: community_posts, count: 16}
      - orphans: {table: community_post_comments, column: post_id, parent_table: community_posts}
      - duplicates: {table: community_categories, columns: [slug]}
      - foreign_key: {table: community_post_comments, columns: [parent_id], references: community_post_comments}

- name: Read whether the categories are seeded yet (an answer, not a failure)
  dbops.runbooks.db_check:
    engine: mysql
    login_db: academy
    purpose: decide
    checks:
      - name: seeded categories
        row_count: {table: community_categories, min: 1}
  register: seeded
"""

RETURN = r"""
checks:
  description: Every check with its outcome, in the order given.
  returned: always
  type: list
  elements: dict
  sample: [{name: "columns communities", check: columns, ok: true,
            observed: [slug, visibility, join_policy], expected: [slug, visibility, join_policy],
            message: all present}]
failed_checks:
  description: Names of the checks that failed (with O(purpose=decide), that answered no).
  returned: always
  type: list
  elements: str
purpose:
  description: The O(purpose) the checks ran with.
  returned: always
  type: str
  sample: verify
attempts:
  description: How many times the checks ran (more than 1 only with O(wait_for)).
  returned: always
  type: int
msg:
  description: One line naming every failing check, or how many passed; with O(purpose=decide), the answers.
  returned: always
  type: str
  sample: "1 of 4 checks failed: index community_categories.community_categories_slug_unique: index missing"
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(db_check)), C(changed), C(check_mode), C(failed), C(purpose), C(checks) (name, check, ok,
      observed, expected, message), C(failed_checks), C(attempts) and C(msg).
  returned: always
  type: dict
  sample: {kind: db_check, changed: false, check_mode: false, failed: false, purpose: decide, attempts: 1,
    failed_checks: [seeded categories], checks: [{name: seeded categories, check: row_count, ok: false,
    observed: 0, expected: {min: 1}, message: '0 rows: below min 1'}], msg: '1 decision read: 0 yes, 1 no'}
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.checks import run_db_check
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported


def main():
    module = DatabaseModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True),
            schema=dict(type="str"),
            fail_on_error=dict(type="bool", default=True),
            purpose=dict(type="str", default="verify", choices=["verify", "decide"]),
            wait_for=dict(type="dict", options=dict(
                timeout=dict(type="int", default=60),
                interval=dict(type="float", default=2),
            )),
        ),
        supports_check_mode=True,
    )
    module.run(reported("db_check", run_db_check))


if __name__ == "__main__":
    main()
