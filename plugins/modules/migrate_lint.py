#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate_lint
short_description: Lint migration files for lock and data risks with each engine's real grammar (no database needed)
version_added: 0.2.0
description:
  - Reads a migrations folder the way M(dbops.runbooks.migrate_apply) does (same layouts, same files shipped from
    the controller) and parses every statement with the engine's grammar, C(pglast) (libpg_query, PostgreSQL's own
    parser) or C(sqlglot)'s MySQL dialect. A statement the grammar rejects fails the task naming file, line and the
    parser's message.
  - Each statement is checked against the rules documented in C(docs/migration-risk-rules.md) (rule id, risk
    C(low)/C(medium)/C(high), the lock it takes, why, the safe alternative and the squawk, Atlas or
    strong_migrations rule it corresponds to).
  - Context counts. A table created earlier in the same migration takes no lock risk. In PostgreSQL files without
    C(-- dbops:no-transaction), C(CONCURRENTLY) is a finding because it cannot run in a transaction.
  - A comment C(-- dbops:lint-ignore <rule> <reason>) before a statement (or inside it) suppresses that rule there;
    the reason is returned in RV(suppressed). An unknown rule or a missing reason fails the task.
  - A migration may declare C(-- dbops:risk-level <low|medium|high>) and C(-- dbops:estimated-duration <5m>) in its
    up file. A declared risk lower than the detected one is a finding, and so is an estimate (with O(catalog))
    longer than the declared duration.
  - Missing C(lock_timeout)/C(statement_timeout) is not flagged, because M(dbops.runbooks.migrate_apply) sets both for
    every session it opens.
  - Without O(catalog) no database is contacted, so it fits a CI job. With O(catalog=true) the connection options
    are used to read table sizes and open transactions, which raise or lower risks and give time estimates.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.migration_files
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Reads only; the same result in check mode.
  diff_mode:
    support: full
    details: Adds RV(rules), the text of every rule that was hit.
requirements:
  - pglast (PostgreSQL) or sqlglot (MySQL/MariaDB) on the host that runs the module
options:
  include_down:
    description:
      - Lint the down files too (they drop what the up files created, so expect C(drop) findings there).
    type: bool
    default: false
  max_risk:
    description:
      - Fail when a finding is above this level (V(medium) fails on C(high) findings); the result still lists them all.
    type: str
    choices: [none, low, medium, high]
  catalog:
    description:
      - Connect with the connection options and weigh each finding against the live catalog (sizes, open transactions).
    type: bool
    default: false
  long_transaction_seconds:
    description:
      - With O(catalog), a transaction open longer than this on a table a statement locks is a C(long-transaction) finding.
    type: int
    default: 60
seealso:
  - module: dbops.runbooks.migrate_apply
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Lint the migrations in CI, failing on anything high
  dbops.runbooks.migrate_lint:
    engine: mysql
    migrations_dir: migrations
    max_risk: medium

- name: Weigh the pending work against production's sizes and open transactions
  dbops.runbooks.migrate_lint:
    engine: postgres
    login_host: db.internal
    login_db: app
    migrations_dir: db/migrations
    catalog: true
  register: lint_result
"""

RETURN = r"""
findings:
  description:
    - Every finding, in file and statement order, with C(rule), C(risk), C(lock), C(file), C(line), C(statement),
      C(table), C(detail) and C(sql) (one line); with O(catalog) also C(rows), C(bytes) and C(estimate_seconds).
  returned: always
  type: list
  elements: dict
  sample: [{rule: my-partitioning, risk: high, lock: table copy (writes blocked), line: 7, statement: 2,
            file: migrations/2024_12_24_000200_optimize_community_indexes_and_partitions.up.sql,
            table: community_posts, detail: partition by, sql: ALTER TABLE community_posts PARTITION BY HASH (id) PARTITIONS 16}]
migrations:
  description:
    - Per migration C(version), C(name), C(file), C(risk) (highest finding, C(none) without any), C(findings) (count),
      C(rules), C(declared_risk), and with O(catalog) C(estimate_seconds) (and C(declared_duration_seconds) when declared).
  returned: always
  type: list
  elements: dict
risk:
  description: The highest risk of all migrations.
  returned: always
  type: str
  sample: high
suppressed:
  description: Findings suppressed by C(-- dbops:lint-ignore), each with its C(reason).
  returned: always
  type: list
  elements: dict
parse_errors:
  description: Statements the grammar rejected, with C(file), C(line), C(statement) and the parser's C(message).
  returned: always
  type: list
  elements: dict
rules:
  description: With C(--diff), the text of every rule that was hit (risk, lock, why, instead, counterpart).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dbops.runbooks.plugins.module_utils.database import connection_argument_spec
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import run_module
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import migration_files_argument_spec
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_lint import run_migrate_lint


def main():
    spec = connection_argument_spec()
    spec.update(migration_files_argument_spec())
    spec.update(
        include_down=dict(type="bool", default=False),
        max_risk=dict(type="str", choices=["none", "low", "medium", "high"]),
        catalog=dict(type="bool", default=False),
        long_transaction_seconds=dict(type="int", default=60),
    )
    module = AnsibleModule(argument_spec=spec, required_one_of=[("migrations_dir", "path")],
                           mutually_exclusive=[("migrations_dir", "path")], supports_check_mode=True)
    run_module(module, run_migrate_lint)


if __name__ == "__main__":
    main()
