# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Declarative verification checks, run read-only on one connection.

A check is a dict with exactly one check-type key (its value holds the check's arguments, or
its one main argument as a plain value) and an optional `name`:

    - table_exists: communities
    - columns: {table: communities, names: [slug, visibility]}
    - query: {sql: "SELECT COUNT(*) FROM community_categories", expect: 5, compare: ">="}

Every check asks the engine's `Catalog` (catalog.py), never SQL of its own, except `query`,
`row_count`, `orphans` and `duplicates`, which read the user's tables with quoted identifiers.
"""

from __future__ import annotations

import operator
import os
import time

from ansible.module_utils.common.text.formatters import human_to_bytes

from ansible_collections.dbops.runbooks.plugins.module_utils.catalog import CATALOGS, version_tuple
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, error_text
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import to_jsonable
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import SplitError, first_keyword, split_statements

COMPARISONS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}

READ_ONLY_KEYWORDS = ("select", "with", "show", "describe", "desc", "explain", "values", "table", "(")


class CheckFailure(Exception):
    """A check cannot be evaluated as written (bad arguments); it becomes a failed check."""


class Outcome:
    """What one check found."""

    def __init__(self, ok, observed, expected, message):
        self.ok = bool(ok)
        self.observed = observed
        self.expected = expected
        self.message = message


class CheckContext:
    """The connection, its catalog and the default schema every check runs with."""

    def __init__(self, conn, schema):
        self.conn = conn
        self.engine = conn.engine
        self.catalog = CATALOGS[conn.engine.name](conn)
        self.schema = schema

    def schema_of(self, args):
        return args.get("schema") or self.schema

    def table(self, args):
        """The quoted, schema-qualified table of a check."""
        return self.engine.qualified(self.schema_of(args), args["table"])

    def require_table(self, args):
        if args["table"] not in self.catalog.tables(self.schema_of(args)):
            raise CheckFailure("table %s does not exist" % args["table"])


def bounds_problems(value, args, keys=("min", "max", "equal"), convert=None):
    """Which of the bounds in args the value breaks, as phrases ("below min 5")."""
    broken = {"min": lambda v, limit: v < limit, "max": lambda v, limit: v > limit, "equal": lambda v, limit: v != limit}
    words = {"min": "below min", "max": "above max", "equal": "not equal to"}
    return ["%s %s" % (words[key], args[key]) for key in keys
            if args.get(key) is not None and broken[key](value, convert(args[key]) if convert else args[key])]


def bounds_outcome(value, args, unit, keys=("min", "max", "equal"), convert=None):
    given = {key: args[key] for key in keys if args.get(key) is not None}
    if not given:
        raise CheckFailure("give %s" % " or ".join(keys))
    problems = bounds_problems(value, args, keys, convert)
    return Outcome(not problems, value, given, "%s %s" % (value, unit) + (": " + ", ".join(problems) if problems else ""))


# --- schema ---------------------------------------------------------------------------------

def check_table_exists(ctx, args):
    present = args["table"] in ctx.catalog.tables(ctx.schema_of(args))
    return Outcome(present, present, True, "present" if present else "table %s is missing" % args["table"])


def check_table_absent(ctx, args):
    present = args["table"] in ctx.catalog.tables(ctx.schema_of(args))
    return Outcome(not present, present, False, "absent" if not present else "table %s exists" % args["table"])


def _normalize_default(value):
    if value is None:
        return None
    text = str(value).split("::", 1)[0].strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        text = text[1:-1]
    return None if text.upper() == "NULL" else text


def _type_matches(expected, column):
    """True when the expected type is one of the engine's spellings of the column type."""
    wanted = str(expected).lower().replace(" ", "")
    spellings = {str(column[key]).lower().replace(" ", "") for key in ("data_type", "udt_name", "column_type", "full_type")
                 if column.get(key)}
    full = str(column.get("full_type") or "")
    if column.get("udt_name") and "(" in full:  # PostgreSQL: varchar(10) for character varying(10)
        spellings.add(column["udt_name"].lower() + full[full.index("("):].replace(" ", ""))
    return any(s == wanted or s.startswith(wanted + "(") for s in spellings)


def check_columns(ctx, args):
    ctx.require_table(args)
    found = ctx.catalog.columns(ctx.schema_of(args), args["table"])
    problems, observed = [], {}
    for spec in args["names"]:
        spec = spec if isinstance(spec, dict) else dict(name=spec)
        if "name" not in spec:
            raise CheckFailure("each entry of names needs a name")
        column = found.get(spec["name"])
        if column is None:
            problems.append("%s is missing" % spec["name"])
            continue
        observed[spec["name"]] = dict(type=column["full_type"], nullable=bool(column["nullable"]),
                                      default=_normalize_default(column["default"]))
        if spec.get("type") is not None and not _type_matches(spec["type"], column):
            problems.append("%s is %s, expected %s" % (spec["name"], column["full_type"], spec["type"]))
        if spec.get("nullable") is not None and bool(spec["nullable"]) != bool(column["nullable"]):
            problems.append("%s is %s" % (spec["name"], "nullable" if column["nullable"] else "NOT NULL"))
        if "default" in spec and _normalize_default(spec["default"]) != _normalize_default(column["default"]):
            problems.append("%s defaults to %s, expected %s" % (spec["name"], _normalize_default(column["default"]),
                                                                spec["default"]))
    message = "all present" if not problems else "%s: %s" % (args["table"], "; ".join(problems))
    return Outcome(not problems, observed, args["names"], message)


def check_index(ctx, args):
    ctx.require_table(args)
    if not args.get("name") and not args.get("columns"):
        raise CheckFailure("give name or columns")
    indexes = ctx.catalog.indexes(ctx.schema_of(args), args["table"])
    columns = _as_list(args.get("columns"))
    if args.get("name"):
        index = indexes.get(args["name"])
    else:
        index = next((i for i in indexes.values() if i["columns"] == columns), None)
    wanted = args.get("name") or "on (%s)" % ", ".join(columns)
    if index is None:
        return Outcome(False, sorted(indexes), wanted, "index %s missing on %s" % (wanted, args["table"]))
    problems = []
    if columns and index["columns"] != columns:
        problems.append("covers (%s)" % ", ".join(str(c) for c in index["columns"]))
    if args.get("unique") is not None and bool(args["unique"]) != index["unique"]:
        problems.append("is %sunique" % ("" if index["unique"] else "not "))
    if args.get("valid", True) and not index["valid"]:
        problems.append("is INVALID (a failed CREATE INDEX CONCURRENTLY); drop and rebuild it")
    message = "present" if not problems else "index %s %s" % (index["name"], ", ".join(problems))
    return Outcome(not problems, index, wanted, message)


def check_foreign_key(ctx, args):
    ctx.require_table(args)
    if not args.get("name") and not args.get("columns"):
        raise CheckFailure("give name or columns")
    keys = ctx.catalog.foreign_keys(ctx.schema_of(args), args["table"])
    columns = _as_list(args.get("columns"))
    matches = [fk for fk in keys
               if (not args.get("name") or fk["name"] == args["name"])
               and (not columns or fk["columns"] == columns)
               and (not args.get("references") or fk["referenced_table"] == args["references"])
               and (not args.get("referenced_columns") or fk["referenced_columns"] == _as_list(args["referenced_columns"]))]
    wanted = {key: args[key] for key in ("name", "columns", "references", "referenced_columns") if args.get(key)}
    if not matches:
        return Outcome(False, keys, wanted, "no foreign key on %s matches %s" % (args["table"], wanted))
    return Outcome(True, matches[0], wanted, "present (%s)" % matches[0]["name"])


def check_constraint_valid(ctx, args):
    pending = ctx.catalog.unvalidated_constraints(ctx.schema_of(args), args.get("table"))
    message = "all validated" if not pending else "not validated: " + ", ".join(
        "%s.%s (%s)" % (c["table"], c["name"], c["state"]) for c in pending)
    return Outcome(not pending, pending, [], message)


def check_partitions(ctx, args):
    ctx.require_table(args)
    names = ctx.catalog.partitions(ctx.schema_of(args), args["table"])
    if args.get("names") is not None:
        missing = [n for n in _as_list(args["names"]) if n not in names]
        if missing:
            return Outcome(False, names, args["names"], "%s lacks partitions %s" % (args["table"], ", ".join(missing)))
    keys = ("count", "min", "max")
    if not any(args.get(k) is not None for k in keys):
        if args.get("names") is None:
            raise CheckFailure("give count, min, max or names")
        return Outcome(True, names, args["names"], "%d partitions" % len(names))
    outcome = bounds_outcome(len(names), dict(args, equal=args.get("count")), "partitions", ("min", "max", "equal"))
    outcome.observed = names
    return outcome


def check_extension(ctx, args):
    state = args.get("state", "installed")
    if state not in ("installed", "available"):
        raise CheckFailure("state must be installed or available")
    found = ctx.catalog.extension(args["name"])
    ok = found[state]
    word = "extension" if ctx.engine.name == "postgres" else "plugin"
    message = "%s %s is %s" % (word, args["name"], state) if ok else "%s %s is not %s" % (word, args["name"], state)
    return Outcome(ok, found, state, message)


def check_server_version(ctx, args):
    text, version = ctx.catalog.server_version()
    problems = []
    if args.get("min") and version < version_tuple(args["min"]):
        problems.append("older than %s" % args["min"])
    if args.get("max") and version > version_tuple(args["max"]):
        problems.append("newer than %s" % args["max"])
    if not (args.get("min") or args.get("max")):
        raise CheckFailure("give min or max")
    return Outcome(not problems, text, {k: args[k] for k in ("min", "max") if args.get(k)},
                   text + (": " + ", ".join(problems) if problems else ""))


# --- data -----------------------------------------------------------------------------------

def check_row_count(ctx, args):
    ctx.require_table(args)
    sql = "SELECT COUNT(*) FROM %s" % ctx.table(args)
    if args.get("where"):
        sql += " WHERE " + read_only_expression(ctx.engine.name, args["where"])
    return bounds_outcome(ctx.conn.query_value(sql, args.get("params")), args, "rows")


def check_orphans(ctx, args):
    ctx.require_table(args)
    parent = dict(table=args["parent_table"], schema=args.get("parent_schema") or ctx.schema_of(args))
    ctx.require_table(parent)
    q = ctx.engine.quote_ident
    column, parent_column = q(args["column"]), q(args.get("parent_column") or "id")
    count = ctx.conn.query_value(
        "SELECT COUNT(*) FROM %s c WHERE c.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE p.%s = c.%s)"
        % (ctx.table(args), column, ctx.table(parent), parent_column, column))
    outcome = bounds_outcome(count, dict(max=args.get("max", 0)), "orphan rows", ("max",))
    outcome.message = "%d rows of %s.%s have no %s row" % (count, args["table"], args["column"], args["parent_table"]) \
        if not outcome.ok else outcome.message
    return outcome


def check_duplicates(ctx, args):
    ctx.require_table(args)
    columns = _as_list(args["columns"])
    listed = ", ".join(ctx.engine.quote_ident(c) for c in columns)
    rows = ctx.conn.query("SELECT %s, COUNT(*) FROM %s GROUP BY %s HAVING COUNT(*) > 1 ORDER BY COUNT(*) DESC"
                          % (listed, ctx.table(args), listed))
    samples = [dict(zip(columns + ["count"], to_jsonable(list(row)))) for row in rows[:5]]
    limit = args.get("max", 0)
    ok = len(rows) <= limit
    message = "%d duplicated values" % len(rows) if ok else "%d values of (%s) appear more than once, e.g. %s" % (
        len(rows), ", ".join(columns), samples[0])
    return Outcome(ok, dict(duplicated_values=len(rows), samples=samples), dict(max=limit), message)


def check_query(ctx, args):
    sql = read_only_sql(ctx.engine.name, args["sql"])
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
    return Outcome(ok, observed, "%s %s" % (compare, expected), "ok" if ok else "got %r" % (observed,))


# --- health ---------------------------------------------------------------------------------

def check_replication_lag(ctx, args):
    state = ctx.catalog.replication()
    limit = args.get("max_seconds", 1)
    problems = []
    lag = state["lag_seconds"]
    if state["role"] == "replica" and lag is None:
        problems.append("replication is not running")
    elif lag is not None and lag >= limit:
        problems.append("lag %.1fs is not below %ss" % (lag, limit))
    if len(state["replicas"]) < args.get("min_replicas", 0):
        problems.append("%d replicas connected, expected at least %d" % (len(state["replicas"]), args["min_replicas"]))
    queue = state.get("group_replication_queue")
    if args.get("max_queue") is not None and queue is not None and queue > args["max_queue"]:
        problems.append("group replication queue %d above %d" % (queue, args["max_queue"]))
    described = "%s, lag %ss, %d replicas" % (state["role"], lag, len(state["replicas"]))
    return Outcome(not problems, state, dict(max_seconds=limit), described + (": " + "; ".join(problems) if problems else ""))


def _sessions_outcome(sessions, args, what):
    limit = args.get("max_count", 0)
    ok = len(sessions) <= limit
    if ok:
        return Outcome(True, sessions, dict(max_count=limit), "%d %s" % (len(sessions), what))
    shown = "; ".join(_describe_session(s) for s in sessions[:5])
    return Outcome(False, sessions, dict(max_count=limit), "%d %s: %s" % (len(sessions), what, shown))


def _describe_session(session):
    text = "pid %s (%ss)" % (session["pid"], session.get("age_seconds", session.get("wait_seconds")))
    if session.get("blocking_pid") is not None:
        text += " blocked by pid %s" % session["blocking_pid"]
    if session.get("query"):
        text += " %s" % " ".join(str(session["query"]).split())[:80]
    return text


def check_long_running(ctx, args):
    seconds = args.get("seconds", 60)
    return _sessions_outcome(ctx.catalog.long_running(seconds), args, "sessions running for %ss or more" % seconds)


def check_blocking_locks(ctx, args):
    blocked = [s for s in ctx.catalog.blocked_sessions() if (s["wait_seconds"] or 0) >= args.get("min_wait_seconds", 0)]
    return _sessions_outcome(blocked, args, "blocked sessions")


def check_connections(ctx, args):
    used, limit = ctx.catalog.connections()
    pct = round(100.0 * used / limit, 1) if limit else 0.0
    problems = []
    if args.get("max_pct") is not None and pct > args["max_pct"]:
        problems.append("%.1f%% of max_connections is above %s%%" % (pct, args["max_pct"]))
    if args.get("max_count") is not None and used > args["max_count"]:
        problems.append("%d connections is above %d" % (used, args["max_count"]))
    if args.get("max_pct") is None and args.get("max_count") is None:
        raise CheckFailure("give max_pct or max_count")
    return Outcome(not problems, dict(connections=used, max_connections=limit, pct=pct),
                   {k: args[k] for k in ("max_pct", "max_count") if args.get(k) is not None},
                   "%d of %d connections (%.1f%%)" % (used, limit, pct) + (": " + "; ".join(problems) if problems else ""))


def check_database_size(ctx, args):
    size = int(ctx.catalog.database_size(ctx.schema_of(args)) or 0)
    return bounds_outcome(size, args, "bytes", ("min", "max"), convert=human_to_bytes)


def check_free_storage(ctx, args):
    """Free space of the filesystem holding `path` (default: the server's data directory) on the host
    the module runs on, which must be the database server (for RDS, rds_snapshot's headroom does this)."""
    path = args.get("path") or ctx.catalog.data_directory()
    try:
        stat = os.statvfs(path)
    except OSError as e:
        raise CheckFailure("cannot read the filesystem of %s on this host (%s); run the check on the database "
                           "server or give path" % (path, e.strerror or e))
    pct = round(100.0 * stat.f_bavail / stat.f_blocks, 1) if stat.f_blocks else 0.0
    free = stat.f_bavail * stat.f_frsize
    ok = pct >= float(args["min_pct"])
    return Outcome(ok, dict(path=path, free_pct=pct, free_bytes=free), dict(min_pct=args["min_pct"]),
                   "%.1f%% free on the filesystem of %s%s" % (pct, path, "" if ok else ": below %s%%" % args["min_pct"]))


def check_table_size(ctx, args):
    ctx.require_table(args)
    size = int(ctx.catalog.relation_size(ctx.schema_of(args), args["table"]) or 0)
    return bounds_outcome(size, args, "bytes", ("min", "max"), convert=human_to_bytes)


# --- registry and parsing -------------------------------------------------------------------

class Check:
    """One check type: its function, its arguments and which argument a plain value fills."""

    def __init__(self, run, required=(), optional=(), shorthand=None):
        self.run = run
        self.required = required
        self.allowed = set(required) | set(optional) | {"schema"}
        self.shorthand = shorthand


TABLE = dict(required=("table",), shorthand="table")
CHECKS = {
    "table_exists": Check(check_table_exists, **TABLE),
    "table_absent": Check(check_table_absent, **TABLE),
    "columns": Check(check_columns, ("table", "names")),
    "index": Check(check_index, ("table",), ("name", "columns", "unique", "valid")),
    "foreign_key": Check(check_foreign_key, ("table",), ("name", "columns", "references", "referenced_columns")),
    "constraint_valid": Check(check_constraint_valid, (), ("table",), shorthand="table"),
    "partitions": Check(check_partitions, ("table",), ("count", "min", "max", "names")),
    "extension": Check(check_extension, ("name",), ("state",), shorthand="name"),
    "plugin": Check(check_extension, ("name",), ("state",), shorthand="name"),
    "server_version": Check(check_server_version, (), ("min", "max"), shorthand="min"),
    "row_count": Check(check_row_count, ("table",), ("min", "max", "equal", "where", "params"), shorthand="table"),
    "orphans": Check(check_orphans, ("table", "column", "parent_table"), ("parent_column", "parent_schema", "max")),
    "duplicates": Check(check_duplicates, ("table", "columns"), ("max",)),
    "query": Check(check_query, ("sql",), ("expect", "compare", "params")),
    "replication_lag": Check(check_replication_lag, (), ("max_seconds", "min_replicas", "max_queue"),
                             shorthand="max_seconds"),
    "long_running": Check(check_long_running, (), ("seconds", "max_count"), shorthand="seconds"),
    "blocking_locks": Check(check_blocking_locks, (), ("max_count", "min_wait_seconds"), shorthand="max_count"),
    "connections": Check(check_connections, (), ("max_pct", "max_count"), shorthand="max_pct"),
    "database_size": Check(check_database_size, (), ("min", "max"), shorthand="max"),
    "table_size": Check(check_table_size, ("table",), ("min", "max")),
    "free_storage": Check(check_free_storage, ("min_pct",), ("path",), shorthand="min_pct"),
}
CHECKS["extension_or_plugin"] = CHECKS["extension"]


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


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
    spec = CHECKS[kind]
    args = item[kind]
    if args is None:
        args = {}
    if not isinstance(args, dict):
        if spec.shorthand is None:
            raise DbopsError("%s (%s): arguments must be a dict" % (where, kind))
        args = {spec.shorthand: args}
    bad = sorted(set(args) - spec.allowed)
    if bad:
        raise DbopsError("%s (%s): unknown argument %s; allowed: %s" % (where, kind, ", ".join(bad), ", ".join(sorted(spec.allowed))))
    missing = [key for key in spec.required if args.get(key) in (None, "", [])]
    if missing:
        raise DbopsError("%s (%s): missing argument %s" % (where, kind, ", ".join(missing)))
    return kind, args, item.get("name") or default_name(kind, args)


def parse_checks(checks):
    return [parse_check(position, item) for position, item in enumerate(checks)]


def default_name(kind, args):
    if kind == "query":
        return "query %s" % " ".join(str(args.get("sql", "")).split())[:60]
    subject = args.get("table") or args.get("name")
    if kind in ("index", "foreign_key") and args.get("name"):
        subject = "%s.%s" % (args["table"], args["name"])
    elif kind in ("index", "foreign_key"):
        subject = "%s(%s)" % (args["table"], ", ".join(str(c) for c in _as_list(args.get("columns"))))
    return "%s %s" % (kind, subject) if subject else kind


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


def read_only_expression(engine, expression):
    """A WHERE expression is SQL by nature; it must not end the statement and start another."""
    try:
        pieces = split_statements("SELECT 1 WHERE %s" % expression, engine)
    except SplitError as e:
        raise CheckFailure("where: %s" % e)
    if len(pieces) != 1:
        raise CheckFailure("where must be one expression, without ';'")
    return expression


# --- running --------------------------------------------------------------------------------

def run_checks(conn, parsed, schema=None):
    """Evaluate parsed checks in one read-only transaction; returns one result dict per check."""
    ctx = CheckContext(conn, schema or conn.current_schema())
    conn.execute("START TRANSACTION READ ONLY")
    results = []
    for kind, args, name in parsed:
        try:
            outcome = CHECKS[kind].run(ctx, args)
        except CheckFailure as e:
            outcome = Outcome(False, None, None, "cannot check: %s" % e)
        except conn.engine.driver().Error as e:
            outcome = Outcome(False, None, None, "query failed: %s" % error_text(e))
            conn.rollback_quietly()  # PostgreSQL aborts the transaction on an error
            conn.execute("START TRANSACTION READ ONLY")
        results.append(dict(name=name, check=kind, ok=outcome.ok, observed=to_jsonable(outcome.observed),
                            expected=to_jsonable(outcome.expected), message=outcome.message))
    conn.rollback_quietly()
    return results


def summarize_results(results, purpose="verify"):
    failed = [r for r in results if not r["ok"]]
    if purpose == "decide":
        return "%d decision read%s: %d yes, %d no%s" % (
            len(results), "" if len(results) == 1 else "s", len(results) - len(failed), len(failed),
            "".join("; no: %s (%s)" % (r["name"], r["message"]) for r in failed))
    if not failed:
        return "all %d checks passed" % len(results)
    return "%d of %d checks failed: %s" % (
        len(failed), len(results), "; ".join("%s: %s" % (r["name"], r["message"]) for r in failed))


def make_session_read_only(conn):
    if conn.engine.name == "postgres":
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    else:
        conn.execute("SET SESSION TRANSACTION READ ONLY")


def run_db_check(module):
    """The db_check module: all checks on one connection, retried until they pass with wait_for."""
    params = module.params
    parsed = parse_checks(params["checks"])
    wait = params["wait_for"] or {}
    deadline = time.monotonic() + (wait.get("timeout") or 0)
    attempts = 0
    conn = module.connect()
    try:
        make_session_read_only(conn)
        while True:
            attempts += 1
            results = run_checks(conn, parsed, params["schema"])
            if all(r["ok"] for r in results) or time.monotonic() + wait.get("interval", 1) > deadline:
                break
            time.sleep(wait.get("interval", 1))
    finally:
        conn.close()
    failed = [r["name"] for r in results if not r["ok"]]
    purpose = params.get("purpose") or "verify"
    message = summarize_results(results, purpose)
    if wait:
        message += " (after %d attempts)" % attempts
    result = dict(changed=False, checks=results, failed_checks=failed, attempts=attempts, purpose=purpose)
    # A decision read that says no is an answer, not a failure.
    if failed and params["fail_on_error"] and purpose == "verify":
        raise DbopsError(message, **result)
    return dict(result, msg=message)
