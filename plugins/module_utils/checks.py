# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative verification checks, run read-only on one connection.

A check is a dict with exactly one check-type key (its value is the check's arguments, or
a table name for the table checks) and an optional `name`:

    - table_exists: communities
    - columns: {table: communities, names: [slug, visibility]}
    - query: {sql: "SELECT COUNT(*) FROM community_categories", expect: 5, compare: ">="}
"""

from __future__ import annotations

import operator

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, error_text, to_jsonable
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import SplitError, first_keyword, split_statements

COMPARISONS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt,
    "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}

READ_ONLY_KEYWORDS = ("select", "with", "show", "describe", "desc", "explain", "values", "table", "(")


class CheckFailure(Exception):
    """Raised by a check body when it cannot evaluate (bad arguments); becomes a failed check."""


class CheckContext:
    """The connection and default schema every check runs with."""

    def __init__(self, conn, schema):
        self.conn = conn
        self.engine = conn.engine
        self.schema = schema

    def schema_of(self, args):
        return args.get("schema") or self.schema

    def table_present(self, args):
        return bool(self.conn.query_value(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (self.schema_of(args), required(args, "table"))))

    def columns_of(self, args):
        rows = self.conn.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema_of(args), required(args, "table")))
        return [row[0] for row in rows]

    def indexes_of(self, args):
        if self.engine.name == "postgres":
            sql = "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s"
        else:
            sql = ("SELECT DISTINCT index_name FROM information_schema.statistics"
                   " WHERE table_schema = %s AND table_name = %s")
        return [row[0] for row in self.conn.query(sql, (self.schema_of(args), required(args, "table")))]


def required(args, key):
    value = args.get(key)
    if value in (None, "", []):
        raise CheckFailure("missing argument '%s'" % key)
    return value


def check_table_exists(ctx, args):
    present = ctx.table_present(args)
    return present, present, True, "present" if present else "table %s is missing" % args["table"]


def check_table_absent(ctx, args):
    present = ctx.table_present(args)
    return not present, present, False, "absent" if not present else "table %s exists" % args["table"]


def check_columns(ctx, args):
    wanted = required(args, "names")
    found = ctx.columns_of(args)
    missing = [name for name in wanted if name not in found]
    message = "all present" if not missing else "%s lacks %s" % (args["table"], ", ".join(missing))
    return not missing, [name for name in wanted if name in found], wanted, message


def check_index(ctx, args):
    name = required(args, "name")
    found = ctx.indexes_of(args)
    ok = name in found
    return ok, found, name, "present" if ok else "index %s missing on %s" % (name, args["table"])


def check_row_count(ctx, args):
    table = ctx.engine.qualified(args.get("schema"), required(args, "table"))
    count = ctx.conn.query_value("SELECT COUNT(*) FROM %s" % table)
    bounds = {key: args[key] for key in ("min", "max", "equal") if args.get(key) is not None}
    if not bounds:
        raise CheckFailure("give min, max or equal")
    problems = []
    if "min" in bounds and count < bounds["min"]:
        problems.append("below min %s" % bounds["min"])
    if "max" in bounds and count > bounds["max"]:
        problems.append("above max %s" % bounds["max"])
    if "equal" in bounds and count != bounds["equal"]:
        problems.append("not equal to %s" % bounds["equal"])
    message = "%d rows" % count + (": " + ", ".join(problems) if problems else "")
    return not problems, count, bounds, message


def check_query(ctx, args):
    sql = read_only_sql(ctx.engine.name, required(args, "sql"))
    compare = args.get("compare", "==")
    if compare not in COMPARISONS:
        raise CheckFailure("compare must be one of %s" % ", ".join(COMPARISONS))
    if "expect" not in args:
        raise CheckFailure("missing argument 'expect'")
    expected = args["expect"]
    observed = to_jsonable(ctx.conn.query_value(sql, args.get("params")))
    try:
        ok = COMPARISONS[compare](observed, expected)
    except TypeError:
        ok = COMPARISONS[compare](str(observed), str(expected))
    return ok, observed, "%s %s" % (compare, expected), "got %r" % (observed,) if not ok else "ok"


def read_only_sql(engine, sql):
    """Refuse anything but one reading statement (the session is read-only as well)."""
    try:
        statements = split_statements(sql, engine)
    except SplitError as e:
        raise CheckFailure(str(e))
    if len(statements) != 1:
        raise CheckFailure("sql must be exactly one statement, got %d" % len(statements))
    text = statements[0].text
    first = first_keyword(text, engine)
    if first not in READ_ONLY_KEYWORDS:
        raise CheckFailure("sql must be a read-only statement (SELECT, WITH, SHOW, ...), not %s" % first.upper())
    return text


CHECKS = {
    "table_exists": check_table_exists,
    "table_absent": check_table_absent,
    "columns": check_columns,
    "index": check_index,
    "row_count": check_row_count,
    "query": check_query,
}

TABLE_SHORTHAND = ("table_exists", "table_absent", "row_count")


def parse_check(position, item):
    """(check type, arguments, display name) of one list item; bad items fail before any query."""
    where = "checks[%d]" % position
    if not isinstance(item, dict):
        raise DbopsError("%s: each check is a dict with one check type key, got %r" % (where, item))
    kinds = [key for key in item if key in CHECKS]
    unknown = [key for key in item if key not in CHECKS and key != "name"]
    if unknown:
        raise DbopsError("%s: unknown check type %s; known: %s" % (where, ", ".join(sorted(unknown)), ", ".join(CHECKS)))
    if len(kinds) != 1:
        raise DbopsError("%s: give exactly one check type, got %s" % (where, ", ".join(kinds) or "none"))
    kind = kinds[0]
    args = item[kind]
    if isinstance(args, str) and kind in TABLE_SHORTHAND:
        args = dict(table=args)
    if not isinstance(args, dict):
        raise DbopsError("%s: arguments of %s must be a dict" % (where, kind))
    name = item.get("name") or default_name(kind, args)
    return kind, args, name


def default_name(kind, args):
    if kind == "query":
        return "query %s" % " ".join(str(args.get("sql", "")).split())[:60]
    if kind == "index":
        return "index %s.%s" % (args.get("table"), args.get("name"))
    return "%s %s" % (kind, args.get("table"))


def parse_checks(checks):
    return [parse_check(position, item) for position, item in enumerate(checks)]


def run_checks(conn, parsed, schema=None):
    """Evaluate parsed checks in one read-only session; returns one result dict per check."""
    ctx = CheckContext(conn, schema or conn.current_schema())
    if conn.engine.name == "postgres":
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    else:
        conn.execute("SET SESSION TRANSACTION READ ONLY")
    results = []
    for kind, args, name in parsed:
        conn.execute("START TRANSACTION READ ONLY")
        try:
            ok, observed, expected, message = CHECKS[kind](ctx, args)
        except CheckFailure as e:
            ok, observed, expected, message = False, None, None, "invalid check: %s" % e
        except conn.engine.driver().Error as e:
            ok, observed, expected, message = False, None, None, "query failed: %s" % error_text(e)
        finally:
            conn.rollback_quietly()
        results.append(dict(name=name, check=kind, ok=bool(ok), observed=to_jsonable(observed),
                            expected=to_jsonable(expected), message=message))
    return results


def summarize_results(results):
    failed = [r for r in results if not r["ok"]]
    if not failed:
        return "all %d checks passed" % len(results)
    return "%d of %d checks failed: %s" % (
        len(failed), len(results), "; ".join("%s: %s" % (r["name"], r["message"]) for r in failed))


def run_db_check(module):
    """The db_check module: run all checks on one connection; fail listing each failed check."""
    parsed = parse_checks(module.params["checks"])
    conn = module.connect()
    try:
        results = run_checks(conn, parsed, module.params["schema"])
    finally:
        conn.close()
    failed = [r["name"] for r in results if not r["ok"]]
    message = summarize_results(results)
    if failed and module.params["fail_on_error"]:
        raise DbopsError(message, changed=False, checks=results, failed_checks=failed)
    return dict(changed=False, checks=results, failed_checks=failed, msg=message)
