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
      - The checks. Each item is a dict with exactly one check type key and an optional C(name).
      - V(table_exists) and V(table_absent) take a table name, or a dict with C(table) and optional C(schema).
      - V(columns) takes C(table) and C(names), the columns that must be present.
      - V(index) takes C(table) and C(name), the index that must be present.
      - V(row_count) takes C(table) (or a table name) and any of C(min), C(max), C(equal).
      - V(query) takes C(sql) (one read-only statement), C(expect), optional C(compare)
        (one of C(==), C(!=), C(<), C(<=), C(>), C(>=); default C(==)) and optional C(params) for C(%s) placeholders.
        The first column of the first row is compared.
      - Every check also takes C(schema); the default is O(schema).
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
  description: Names of the checks that failed.
  returned: always
  type: list
  elements: str
msg:
  description: One line naming every failing check, or how many passed.
  returned: always
  type: str
  sample: "1 of 4 checks failed: index community_categories.community_categories_slug_unique: index missing"
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.checks import run_db_check
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule


def main():
    module = DatabaseModule(
        argument_spec=dict(
            checks=dict(type="list", elements="dict", required=True),
            schema=dict(type="str"),
            fail_on_error=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    module.run(run_db_check)


if __name__ == "__main__":
    main()
