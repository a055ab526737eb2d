# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a SQL script (seed data, a runbook's manual fallback) in one session."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import DiskSource
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import (
    SplitError, first_keyword, split_statements, summarize)

DATA_KEYWORDS = ("insert", "update", "delete", "replace", "merge", "select", "with", "set", "show")


def load_script(params, engine):
    """(source name, statements) from `sql` or `file`; split before anything runs."""
    if params["file"]:
        source = params["file"]
        try:
            text = DiskSource("").read(source).decode("utf-8")
        except UnicodeDecodeError as e:
            raise DbopsError("%s: not valid UTF-8 (byte %d)" % (source, e.start))
    else:
        sql = params["sql"]
        source, text = "sql", sql if isinstance(sql, str) else ";\n".join(sql)
    try:
        statements = split_statements(text, engine)
    except SplitError as e:
        raise DbopsError("%s: %s" % (source, e))
    if not statements:
        raise DbopsError("%s: no SQL statement to run" % source)
    return source, statements


def changes_schema(statement, engine):
    return first_keyword(statement.text, engine) not in DATA_KEYWORDS


def run_db_execute(module):
    """The db_execute module: all statements or none (where the engine allows), one session."""
    params = module.params
    source, statements = load_script(params, params["engine"])
    result = dict(changed=True, source=source, statements=[summarize(s.text) for s in statements], rowcount=0)
    if module._diff:
        result["diff"] = dict(prepared=";\n".join(s.text for s in statements) + ";\n")
    if module.check_mode:
        return result
    conn = module.connect()
    try:
        if params["transaction"]:
            with conn.transaction():
                result["rowcount"] = conn.run_statements(statements, source)
        else:
            result["rowcount"] = conn.run_statements(statements, source)
    finally:
        conn.close()
    result["changed"] = result["rowcount"] > 0 or any(changes_schema(s, params["engine"]) for s in statements)
    return result
