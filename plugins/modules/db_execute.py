#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db_execute
short_description: Run a SQL script or statements in one session (seed data, manual fallbacks)
version_added: 0.1.0
description:
  - Runs the statements of O(file) or O(sql) in order, in one session, so session settings such as
    C(SET FOREIGN_KEY_CHECKS=0) hold for the statements after them.
  - The whole script is split into statements before anything runs; a failure names the script,
    the statement number, its line and the server's error.
  - With O(transaction=true) the statements run in one transaction. PostgreSQL then applies all or
    nothing. MySQL and MariaDB commit DDL implicitly, so there only data changes are all or nothing.
  - For schema changes that must be recorded and rolled back, use M(dbops.runbooks.migrate_apply).
  - Reports C(changed) when a statement changed rows or was not a data statement
    (for example C(CREATE), C(DROP), C(TRUNCATE)). Idempotent seed scripts
    (C(INSERT ... ON DUPLICATE KEY UPDATE) or C(ON CONFLICT)) report no change on a re-run.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Reads and splits the script and returns its statements; runs nothing.
  diff_mode:
    support: full
    details: The diff shows the statements.
options:
  file:
    description:
      - SQL script to run, on the host that runs the module. Exactly one of O(file) and O(sql) is required.
    type: path
  sql:
    description:
      - Statements to run, as one string (separated by C(;)) or a list of statements.
    type: raw
  transaction:
    description:
      - Run all statements in one transaction.
    type: bool
    default: true
seealso:
  - module: dbops.runbooks.migrate_apply
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: Seed categories, levels and points rules (db:seed CommunityFoundationSeeder)
  dbops.runbooks.db_execute:
    engine: mysql
    login_db: academy
    file: seeds/community_foundation.sql

- name: Drop the engagement tables with foreign key checks off (rollback fallback)
  dbops.runbooks.db_execute:
    engine: mysql
    login_db: academy
    transaction: false
    sql:
      - SET FOREIGN_KEY_CHECKS=0
      - DROP TABLE IF EXISTS community_post_likes, community_post_comments, community_posts, community_members
      - SET FOREIGN_KEY_CHECKS=1
"""

RETURN = r"""
source:
  description: The script file, or C(sql) for inline statements.
  returned: always
  type: str
statements:
  description: The statements, one line each, in the order they ran (or would run in check mode).
  returned: always
  type: list
  elements: str
rowcount:
  description: Rows changed by all statements together.
  returned: always
  type: int
failed_statement:
  description: On failure, the number (from 1) of the failing statement.
  returned: failure
  type: int
error:
  description: On failure, the server's error.
  returned: failure
  type: str
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.sql_scripts import run_db_execute


def main():
    module = DatabaseModule(
        argument_spec=dict(
            file=dict(type="path"),
            sql=dict(type="raw"),
            transaction=dict(type="bool", default=True),
        ),
        required_one_of=[("file", "sql")],
        mutually_exclusive=[("file", "sql")],
        supports_check_mode=True,
    )
    module.run(run_db_execute)


if __name__ == "__main__":
    main()
