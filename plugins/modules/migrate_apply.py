#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: migrate_apply
short_description: Apply or roll back SQL migrations, recorded in a history table
version_added: 0.1.0
description:
  - Applies the pending C(<version>_<name>.up.sql) files of O(migrations_dir) in version order, or the
    one file given by O(path), and records each in a history table (version, name, sha256 checksum,
    status, batch, applied_at, applied_by, execution_ms).
  - Versions are groups of digits joined by C(_) and sort as numbers, so C(2024_12_24_000100),
    C(20190100000004000000) and C(0007) all work.
  - On PostgreSQL each migration runs in its own transaction together with its history row, so a
    failure leaves the database as it was before that migration.
  - MySQL and MariaDB commit DDL implicitly. A failing migration is recorded in the history as
    C(failed) with the number of the failing statement and the server's error, so the record says
    exactly how far it got; roll it back with its down file (O(state=rolled_back)).
  - Every file is read, decoded and split into statements before anything is changed, so a bad
    file fails the run with nothing applied.
  - An applied migration whose file changed since (checksum drift) fails the run before anything
    is applied, naming the file and both checksums.
  - With O(state=rolled_back) runs the C(.down.sql) files of the newest O(steps) migrations (or of
    the migration at O(path)) and removes their history rows.
  - In check mode nothing is written, not even the history table; the result lists what would run.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Reads the history table if it exists; returns the plan. Writes nothing.
  diff_mode:
    support: full
    details: The diff shows the SQL that runs (or would run).
options:
  state:
    description:
      - V(applied) applies pending migrations; V(rolled_back) runs down files.
    type: str
    default: applied
    choices: [applied, rolled_back]
  migrations_dir:
    description:
      - Directory holding C(<version>_<name>.up.sql) and optional C(<version>_<name>.down.sql) files.
      - Files not ending in C(.sql) are ignored; a C(.sql) file with another name fails the run.
      - Exactly one of O(migrations_dir) and O(path) is required.
    type: path
  path:
    description:
      - One C(.up.sql) file, like C(artisan migrate --path). Only this migration is applied or rolled back.
    type: path
  steps:
    description:
      - With O(state=rolled_back) and O(migrations_dir), how many of the newest migrations to roll back.
    type: int
    default: 1
  history_table:
    description:
      - Name of the history table, in the database (MySQL) or current schema (PostgreSQL) of the connection.
    type: str
    default: dbops_schema_history
  out_of_order:
    description:
      - Allow applying a pending migration older than the newest applied one.
    type: bool
    default: false
  applied_by:
    description:
      - Who applies the migrations, recorded in the history. Defaults to C(user@host) of the module's process.
    type: str
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

- name: Apply every pending migration in version order
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: db/migrations
  register: migrate_result

- name: Roll back the last migration with its down file
  dbops.runbooks.migrate_apply:
    engine: postgres
    login_db: app
    migrations_dir: db/migrations
    state: rolled_back
    steps: 1
"""

RETURN = r"""
applied:
  description: Migrations applied by this run, in order.
  returned: always
  type: list
  elements: dict
  sample: [{version: "2024_12_24_000000", name: create_community_core_tables,
            file: migrations/2024_12_24_000000_create_community_core_tables.up.sql,
            execution_ms: 41, statements: 5}]
rolled_back:
  description: Migrations rolled back by this run, in order; C(file) is the down file.
  returned: always
  type: list
  elements: dict
pending:
  description:
    - Migrations that would run (check mode) or that are still pending after the run, with their statement count.
    - With O(state=rolled_back), the migrations that would be rolled back.
  returned: always
  type: list
  elements: dict
batch:
  description: Batch number of this run in the history table (one run is one batch); null when nothing ran.
  returned: always
  type: int
missing_files:
  description: Versions recorded as applied whose files are not among the given files.
  returned: always
  type: list
  elements: str
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
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import run_migrate_apply


def main():
    module = DatabaseModule(
        argument_spec=dict(
            state=dict(type="str", default="applied", choices=["applied", "rolled_back"]),
            migrations_dir=dict(type="path"),
            path=dict(type="path"),
            steps=dict(type="int", default=1),
            history_table=dict(type="str", default="dbops_schema_history"),
            out_of_order=dict(type="bool", default=False),
            applied_by=dict(type="str"),
        ),
        required_one_of=[("migrations_dir", "path")],
        mutually_exclusive=[("migrations_dir", "path")],
        supports_check_mode=True,
    )
    module.run(run_migrate_apply)


if __name__ == "__main__":
    main()
