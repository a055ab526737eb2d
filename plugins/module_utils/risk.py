# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Risk analysis of migration scripts with each engine's real grammar, before anything runs.

PostgreSQL statements go through pglast (libpg_query, the server's own parser), MySQL/MariaDB
statements through sqlglot's MySQL dialect. Each engine class turns a parsed statement into rule
hits; the rules themselves (risk, lock, why, safe alternative) are data in `RULES` and documented
in docs/migration-risk-rules.md. Context matters like in squawk: a table created earlier in the
same script takes no lock risk, and `-- dbops:lint-ignore <rule> <reason>` suppresses a rule for
the statement it precedes (or sits in), the reason kept in the result.

`catalog` (optional, a live connection) turns sizes and open transactions into risk and time.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
from collections import namedtuple

from ansible_collections.dbops.runbooks.plugins.module_utils.durations import parse_duration
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import summarize, without_leading_comments


class _Lazy:
    """A parser module imported on first use: sqlglot costs ~160 ms, pglast ~50 ms, and a run needs one."""

    def __init__(self, name):
        self._name = name
        self._module = None

    def __getattr__(self, attr):
        if self._module is None:
            self._module = importlib.import_module(self._name)
        value = getattr(self._module, attr)
        setattr(self, attr, value)  # later lookups are plain attribute reads
        return value


pglast_parser = _Lazy("pglast.parser")
sqlglot = _Lazy("sqlglot")
exp = _Lazy("sqlglot.expressions")
sqlglot_errors = _Lazy("sqlglot.errors")
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # its "falling back to Command" warnings are ours to report

RISKS = ("none", "low", "medium", "high")
PARSER_LIBRARIES = {"postgres": "pglast", "mysql": "sqlglot"}
PARSER_MODULES = {"postgres": "pglast.parser", "mysql": "sqlglot"}

Rule = namedtuple("Rule", "id risk lock why instead counterpart cost")
"""cost: what the statement does to the table's data, for the time estimate and the catalog:
none (catalog only), scan (reads every row), index (builds an index), rewrite (rewrites or copies the table)."""

Hit = namedtuple("Hit", "rule table detail")

_R = Rule
RULES = {rule.id: rule for rule in (
    # --- both engines ------------------------------------------------------------------------
    _R("parse-error", "high", "-", "the engine's grammar rejects the statement, so the server would too",
       "fix the statement; for MySQL syntax sqlglot lacks, suppress with a reason", "squawk: syntax errors", "none"),
    _R("declared-risk-too-low", "medium", "-", "the migration declares a lower risk than its statements carry",
       "raise `-- dbops:risk-level` or make the statements safer", "-", "none"),
    _R("estimate-over-declared", "medium", "-", "the estimated time exceeds the declared `estimated_duration`",
       "split the migration, use an online method, or declare a realistic duration", "-", "none"),
    _R("long-transaction", "high", "-", "a transaction open for long on the table makes the DDL queue behind it and "
       "everything else queue behind the DDL", "wait for it or end it before the window", "-", "none"),
    _R("unanalysed", "low", "-", "the statement parsed, but the rules could not read its tree (a gap in dbops.runbooks)",
       "review the statement by hand; report the gap", "-", "none"),
    _R("down-does-not-restore", "high", "-", "on a scratch copy of the schema, up then down leaves a schema that differs "
       "from the copy", "make the down file undo exactly what the up file does (the differences are listed)", "-", "none"),
    # --- PostgreSQL --------------------------------------------------------------------------
    _R("pg-index-not-concurrent", "high", "SHARE (blocks writes)", "CREATE INDEX blocks inserts, updates and deletes "
       "for the whole build", "CREATE INDEX CONCURRENTLY in a file marked -- dbops:no-transaction",
       "squawk require-concurrent-index-creation; strong_migrations add_index non-concurrently; Atlas PG101", "index"),
    _R("pg-drop-index-not-concurrent", "medium", "ACCESS EXCLUSIVE", "DROP INDEX locks the table against reads and "
       "writes while it waits for running queries", "DROP INDEX CONCURRENTLY in a no-transaction file",
       "squawk require-concurrent-index-deletion; Atlas PG102", "none"),
    _R("pg-reindex-not-concurrent", "high", "SHARE / ACCESS EXCLUSIVE", "REINDEX blocks writes to the table (and reads "
       "through the index) for the whole rebuild", "REINDEX ... CONCURRENTLY in a no-transaction file",
       "squawk require-concurrent-reindex", "index"),
    _R("pg-concurrently-in-transaction", "high", "-", "CONCURRENTLY cannot run inside a transaction block: the "
       "migration fails", "mark the file -- dbops:no-transaction (one concurrent statement per file)",
       "squawk ban-concurrent-index-creation-in-transaction", "none"),
    _R("pg-check-without-not-valid", "high", "ACCESS EXCLUSIVE", "adding a CHECK constraint scans the whole table "
       "while holding the lock", "ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration",
       "squawk constraint-missing-not-valid; strong_migrations add_check_constraint", "scan"),
    _R("pg-foreign-key-without-not-valid", "high", "SHARE ROW EXCLUSIVE (both tables)", "adding a foreign key "
       "validates every row while blocking writes on both tables", "ADD CONSTRAINT ... NOT VALID, then VALIDATE "
       "CONSTRAINT in a later migration", "squawk adding-foreign-key-constraint; strong_migrations add_foreign_key",
       "scan"),
    _R("pg-validate-same-transaction", "medium", "SHARE UPDATE EXCLUSIVE, held with the earlier ACCESS EXCLUSIVE",
       "VALIDATE in the transaction that added the constraint keeps the ADD's stronger lock during the scan",
       "VALIDATE CONSTRAINT in a separate migration", "squawk constraint-missing-not-valid", "scan"),
    _R("pg-unique-in-place", "high", "ACCESS EXCLUSIVE", "ADD UNIQUE builds the index while blocking reads and writes",
       "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX",
       "squawk disallow-unique-constraint", "index"),
    _R("pg-primary-key-in-place", "high", "ACCESS EXCLUSIVE", "ADD PRIMARY KEY builds the index (and may set NOT NULL) "
       "while blocking reads and writes", "CREATE UNIQUE INDEX CONCURRENTLY, then ADD PRIMARY KEY USING INDEX",
       "squawk adding-primary-key-constraint, adding-serial-primary-key-field", "index"),
    _R("pg-set-not-null", "high", "ACCESS EXCLUSIVE", "SET NOT NULL scans the whole table under the lock",
       "ADD CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL (PostgreSQL 12+ skips the scan)",
       "squawk adding-not-nullable-field; strong_migrations change_column_null; Atlas MF104", "scan"),
    _R("pg-not-null-without-default", "high", "ACCESS EXCLUSIVE", "a NOT NULL column without a default fails on a "
       "table that has rows", "add it nullable with a default, backfill, then set NOT NULL",
       "squawk adding-required-field; Atlas MF103", "none"),
    _R("pg-volatile-default", "high", "ACCESS EXCLUSIVE", "a volatile default (random(), clock_timestamp(), serial, "
       "stored generated column) rewrites the whole table under the lock",
       "add the column without the default, set the default, backfill in batches",
       "squawk adding-field-with-default; strong_migrations add_column with default", "rewrite"),
    _R("pg-column-type-change", "high", "ACCESS EXCLUSIVE", "changing a column's type rewrites the table and its "
       "indexes under the lock (except a few binary-compatible changes)", "add a new column, backfill, switch "
       "readers, drop the old one", "squawk changing-column-type; strong_migrations change_column", "rewrite"),
    _R("pg-rename-column", "medium", "ACCESS EXCLUSIVE (brief)", "running application code still uses the old name",
       "add the new column, write both, switch, then drop (or a view)", "squawk renaming-column; "
       "strong_migrations rename_column; Atlas BC102", "none"),
    _R("pg-rename-table", "medium", "ACCESS EXCLUSIVE (brief)", "running application code still uses the old name",
       "create the new table or a view under the new name, switch, then drop", "squawk renaming-table; "
       "strong_migrations rename_table; Atlas BC101", "none"),
    _R("pg-drop-column", "high", "ACCESS EXCLUSIVE (brief)", "the data is gone and running code that selects the "
       "column fails", "stop using the column in the code first, then drop it in a later release",
       "squawk ban-drop-column; strong_migrations remove_column; Atlas DS103", "none"),
    _R("pg-drop-table", "high", "ACCESS EXCLUSIVE", "the table and its data are gone",
       "rename it away or keep it until a backup proves it unused", "squawk ban-drop-table; Atlas DS102", "none"),
    _R("pg-drop-database", "high", "exclusive on the database", "the whole database is gone",
       "do it by hand, outside migrations", "squawk ban-drop-database; Atlas DS101", "none"),
    _R("pg-drop-not-null", "medium", "ACCESS EXCLUSIVE (brief)", "code that relies on the column never being NULL "
       "may break", "make sure every reader handles NULL first", "squawk ban-drop-not-null", "none"),
    _R("pg-truncate-cascade", "high", "ACCESS EXCLUSIVE (every referencing table)", "CASCADE also empties every table "
       "that references this one, recursively", "TRUNCATE the tables you mean by name", "squawk ban-truncate-cascade",
       "none"),
    _R("pg-detach-partition", "high", "ACCESS EXCLUSIVE (parent)", "DETACH PARTITION blocks reads and writes on the "
       "parent table", "DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+) in a no-transaction file",
       "squawk require-concurrent-partition-detach", "none"),
    _R("pg-enum-value-position", "low", "-", "a value appended without BEFORE/AFTER lands at the end of the sort order",
       "say where it goes: ADD VALUE 'x' BEFORE 'y' / AFTER 'y'", "squawk require-enum-value-ordering", "none"),
    _R("pg-identifier-too-long", "medium", "-", "PostgreSQL silently truncates identifiers to 63 bytes, so later "
       "references by the full name miss", "use a name of at most 63 bytes", "squawk identifier-too-long", "none"),
    _R("pg-prefer-bigint", "low", "-", "integer and smallint ids run out; widening later rewrites the table",
       "bigint", "squawk prefer-bigint-over-int, prefer-bigint-over-smallint", "none"),
    _R("pg-prefer-identity", "low", "-", "serial columns hide a sequence with odd ownership and permissions",
       "bigint GENERATED ALWAYS AS IDENTITY", "squawk prefer-identity", "none"),
    _R("pg-prefer-text", "low", "-", "changing a varchar(n) limit later takes an ACCESS EXCLUSIVE lock",
       "text with a CHECK (length(col) <= n) constraint", "squawk prefer-text-field", "none"),
    _R("pg-prefer-timestamptz", "low", "-", "timestamp without time zone loses the zone and breaks across DST",
       "timestamptz", "squawk prefer-timestamptz", "none"),
    # --- MySQL / MariaDB ---------------------------------------------------------------------
    _R("my-table-copy", "high", "table copy (writes blocked)", "ALGORITHM=COPY rebuilds the table row by row while "
       "writes wait", "drop the clause, or ALGORITHM=INPLACE/INSTANT so the server refuses instead of copying; "
       "gh-ost or pt-online-schema-change for big tables", "strong_migrations (MySQL) table rewrite", "rewrite"),
    _R("my-lock-shared", "high", "LOCK=SHARED or EXCLUSIVE", "the clause blocks writes (or reads and writes) for "
       "the whole statement", "LOCK=NONE, so the server refuses when it cannot stay online", "-", "rewrite"),
    _R("my-column-change", "high", "table copy (writes blocked)", "MODIFY/CHANGE COLUMN of the type, charset or "
       "nullability copies the table (only a few changes are INPLACE or INSTANT)", "add ALGORITHM=INPLACE, "
       "LOCK=NONE to prove it stays online, or an online schema change tool", "strong_migrations change_column; "
       "Atlas MF104 (nullable to NOT NULL)", "rewrite"),
    _R("my-convert-charset", "high", "table copy (writes blocked)", "CONVERT TO CHARACTER SET rewrites every text "
       "column of the table", "an online schema change tool (gh-ost, pt-online-schema-change)", "-", "rewrite"),
    _R("my-primary-key-change", "high", "table rebuild", "adding or dropping the primary key rebuilds the clustered "
       "index, i.e. the whole table", "an online schema change tool; plan it as its own window", "-", "rewrite"),
    _R("my-enum-change", "medium", "table copy unless values are only appended", "reordering or removing ENUM/SET "
       "values copies the table; appending at the end is instant", "append new values at the end of the list",
       "strong_migrations change_column (enum)", "rewrite"),
    _R("my-partitioning", "high", "table copy (writes blocked)", "PARTITION BY and REMOVE PARTITIONING copy the "
       "whole table", "partition at creation time, or an online schema change tool", "-", "rewrite"),
    _R("my-partition-maintenance", "medium", "metadata lock; a copy on HASH/KEY tables", "DROP and TRUNCATE PARTITION "
       "delete rows; on HASH and KEY partitioning ADD PARTITION redistributes every row", "archive the partition's "
       "rows first; add RANGE/LIST partitions ahead of time", "-", "rewrite"),
    _R("my-stored-generated-column", "high", "table copy (writes blocked)", "adding a STORED generated column "
       "rebuilds the table", "a VIRTUAL generated column (with an index if needed)",
       "strong_migrations add_column (stored generated)", "rewrite"),
    _R("my-auto-increment-column", "high", "table copy (writes blocked)", "adding an AUTO_INCREMENT column copies the "
       "table to number the rows", "an online schema change tool", "strong_migrations add_column (auto-increment)",
       "rewrite"),
    _R("my-not-null-without-default", "medium", "-", "MySQL fills existing rows with the type's implicit default "
       "('' or 0), which may not mean what the code expects", "give the column an explicit DEFAULT",
       "Atlas MY101; strong_migrations add_column NOT NULL", "none"),
    _R("my-foreign-key", "high", "table copy with foreign_key_checks=1 (SHARED lock)", "adding a foreign key to an "
       "existing table copies it unless foreign_key_checks is off", "SET foreign_key_checks=0 for the statement "
       "(INPLACE, no validation) after checking orphans with db_check", "strong_migrations add_foreign_key",
       "rewrite"),
    _R("my-add-index", "low", "metadata lock at start and end", "the build runs online (INPLACE, LOCK=NONE) but "
       "waits for transactions open on the table", "nothing to change on small tables; watch long transactions",
       "-", "index"),
    _R("my-fulltext-or-spatial-index", "high", "LOCK=SHARED (writes blocked)", "FULLTEXT and SPATIAL indexes are "
       "built without concurrent writes (the first FULLTEXT index rebuilds the table)", "build it off-peak or with "
       "an online schema change tool", "-", "rewrite"),
    _R("my-unique-index", "medium", "metadata lock at start and end", "the build fails when duplicates exist, after "
       "having read the whole table", "check duplicates first (db_check duplicates)", "Atlas MF101", "index"),
    _R("my-rename-column", "medium", "metadata lock (brief)", "running application code still uses the old name",
       "add the new column, write both, switch, then drop", "strong_migrations rename_column; Atlas BC102", "none"),
    _R("my-rename-table", "medium", "metadata lock (brief)", "running application code still uses the old name",
       "create a view or the new table, switch, then drop", "strong_migrations rename_table; Atlas BC101", "none"),
    _R("my-drop-column", "high", "table rebuild (INPLACE)", "the data is gone and running code that selects the "
       "column fails", "stop using the column in the code first, then drop it in a later release",
       "strong_migrations remove_column; Atlas DS103", "rewrite"),
    _R("my-drop-table", "high", "metadata lock", "the table and its data are gone", "rename it away or keep it until "
       "a backup proves it unused", "Atlas DS102", "none"),
    _R("my-drop-database", "high", "metadata lock", "the whole database is gone", "do it by hand, outside migrations",
       "Atlas DS101", "none"),
    _R("my-truncate", "high", "metadata lock", "every row is gone", "DELETE in batches, or keep the data", "-", "none"),
    _R("my-identifier-too-long", "medium", "-", "MySQL rejects identifiers over 64 characters", "use a name of at "
       "most 64 characters", "-", "none"),
    _R("my-unverified-syntax", "low", "-", "sqlglot's MySQL grammar does not cover this statement; it was checked by "
       "its keywords only", "nothing, or report the syntax upstream", "-", "none"),
)}

ENGINE_RULE_PREFIX = {"postgres": "pg-", "mysql": "my-"}
_IGNORE = re.compile(r"--\s*dbops:lint-ignore\b[ \t]*(?P<rest>[^\n]*)")
_META = re.compile(r"^\s*--\s*dbops:(?P<key>risk-level|estimated-duration)[ \t]+(?P<value>\S[^\n]*?)\s*$", re.MULTILINE)


def rules_for(engine):
    """The rules that apply on `engine`: its own and the shared ones."""
    prefix = ENGINE_RULE_PREFIX[engine]
    other = [p for e, p in ENGINE_RULE_PREFIX.items() if e != engine]
    return {rid: rule for rid, rule in RULES.items() if rid.startswith(prefix) or not rid.startswith(tuple(other))}


def risk_rank(level):
    return RISKS.index(level)


def higher(a, b):
    return a if risk_rank(a) >= risk_rank(b) else b


def require_parser(engine):
    """The parser library of `engine`, or one line saying which to install."""
    try:
        importlib.import_module(PARSER_MODULES[engine])
    except ImportError:
        raise DbopsError("risk analysis on %s needs the Python library %s on the host that runs the module"
                         " (pip install %s)" % (engine, PARSER_LIBRARIES[engine], PARSER_LIBRARIES[engine])) from None


class ParseFailure(Exception):
    """The grammar rejected a statement; `offset` is the character position in it, if known."""

    def __init__(self, message, offset=None):
        super().__init__(message)
        self.offset = offset


# --- PostgreSQL --------------------------------------------------------------------------------

_PG_NON_VOLATILE = {"now", "current_timestamp", "current_date", "localtimestamp", "statement_timestamp",
                    "transaction_timestamp", "current_user", "lower", "upper", "coalesce", "to_json", "jsonb_build_object",
                    "json_build_object", "array", "make_interval"}
_PG_SERIAL = {"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"}
_PG_MAX_IDENT = 63
_PG_WORD = re.compile(r'"(?:[^"]|"")+"|(?<![\'$])\b[A-Za-z_][A-Za-z0-9_$]*')


def _names(items):
    return [item.get("String", {}).get("sval", "") for item in items or []]


class PostgresAnalyzer:
    """pglast: the statement's parse tree as libpg_query's JSON, one statement at a time."""

    engine = "postgres"
    concurrent_kinds = ("IndexStmt", "DropStmt", "ReindexStmt", "AlterTableStmt")

    def parse(self, text):
        try:
            stmts = json.loads(pglast_parser.parse_sql_json(text))["stmts"]
        except pglast_parser.ParseError as e:
            offset = e.args[1] if len(e.args) > 1 and isinstance(e.args[1], int) else None
            raise ParseFailure(e.args[0] if e.args else str(e), offset)
        if not stmts:
            return None
        (kind, node), = stmts[0]["stmt"].items()
        code = re.sub(r"'(?:[^']|'')*'|--[^\n]*|/\*.*?\*/", " ", text, flags=re.S)
        long_names = [name for name in _PG_WORD.findall(code) if len(name.strip('"').encode("utf-8")) > _PG_MAX_IDENT]
        return kind, node, long_names

    def hits(self, parsed, ctx):
        kind, node, long_names = parsed
        for name in long_names:  # the parser has already truncated them
            yield Hit("pg-identifier-too-long", None, "%s (%d bytes)" % (name, len(name.strip('"').encode("utf-8"))))
        handler = getattr(self, "_" + kind, None)
        if handler is not None:
            yield from handler(node, ctx)

    def _CreateStmt(self, node, ctx):
        table = node["relation"]["relname"]
        ctx.created.add(table)
        for element in node.get("tableElts", []):
            if "ColumnDef" in element:
                yield from self._column_types(table, element["ColumnDef"])

    def _IndexStmt(self, node, ctx):
        table = node["relation"]["relname"]
        if node.get("concurrent"):
            if ctx.transactional:
                yield Hit("pg-concurrently-in-transaction", table, "CREATE INDEX CONCURRENTLY")
        elif table not in ctx.created:
            yield Hit("pg-index-not-concurrent", table, "index %s" % node.get("idxname", "(unnamed)"))

    def _DropStmt(self, node, ctx):
        kind = node.get("removeType")
        objects = [".".join(_names(o.get("List", {}).get("items"))) for o in node.get("objects", [])]
        if kind == "OBJECT_INDEX":
            if node.get("concurrent"):
                if ctx.transactional:
                    yield Hit("pg-concurrently-in-transaction", None, "DROP INDEX CONCURRENTLY")
            else:
                for name in objects:
                    yield Hit("pg-drop-index-not-concurrent", None, "index %s" % name)
        elif kind == "OBJECT_TABLE":
            for name in objects:
                if name.split(".")[-1] not in ctx.created:
                    yield Hit("pg-drop-table", name.split(".")[-1], "table %s" % name)

    def _DropdbStmt(self, node, ctx):
        yield Hit("pg-drop-database", None, "database %s" % node.get("dbname"))

    def _ReindexStmt(self, node, ctx):
        concurrent = any(p.get("DefElem", {}).get("defname") == "concurrently" for p in node.get("params", []))
        table = (node.get("relation") or {}).get("relname")
        if concurrent:
            if ctx.transactional:
                yield Hit("pg-concurrently-in-transaction", table, "REINDEX CONCURRENTLY")
        elif table not in ctx.created:
            yield Hit("pg-reindex-not-concurrent", table, node.get("kind", "").replace("REINDEX_OBJECT_", "").lower())

    def _TruncateStmt(self, node, ctx):
        if node.get("behavior") == "DROP_CASCADE":
            yield Hit("pg-truncate-cascade", node["relations"][0]["RangeVar"]["relname"], "TRUNCATE ... CASCADE")

    def _AlterEnumStmt(self, node, ctx):
        if node.get("newVal") and not node.get("newValNeighbor"):
            yield Hit("pg-enum-value-position", None, "value %r of type %s" % (node["newVal"], ".".join(_names(node.get("typeName")))))

    def _RenameStmt(self, node, ctx):
        table = (node.get("relation") or {}).get("relname")
        if table in ctx.created:
            return
        if node.get("renameType") == "OBJECT_COLUMN":
            yield Hit("pg-rename-column", table, "%s.%s to %s" % (table, node.get("subname"), node.get("newname")))
        elif node.get("renameType") == "OBJECT_TABLE":
            yield Hit("pg-rename-table", table, "%s to %s" % (table, node.get("newname")))

    def _AlterTableStmt(self, node, ctx):
        table = node["relation"]["relname"]
        existing = table not in ctx.created
        for cmd in node.get("cmds", []):
            cmd = cmd["AlterTableCmd"]
            subtype = cmd["subtype"]
            definition = cmd.get("def", {})
            if subtype == "AT_AddColumn":
                column = definition["ColumnDef"]
                yield from self._column_types(table, column)
                if existing:
                    yield from self._added_column(table, column)
            elif subtype == "AT_AddConstraint":
                yield from self._constraint(table, definition["Constraint"], existing, ctx)
            elif subtype == "AT_ValidateConstraint" and (table, cmd.get("name")) in ctx.not_valid and ctx.transactional:
                yield Hit("pg-validate-same-transaction", table, "constraint %s" % cmd.get("name"))
            elif not existing:
                continue
            elif subtype == "AT_SetNotNull":
                yield Hit("pg-set-not-null", table, "%s.%s" % (table, cmd.get("name")))
            elif subtype == "AT_DropNotNull":
                yield Hit("pg-drop-not-null", table, "%s.%s" % (table, cmd.get("name")))
            elif subtype == "AT_AlterColumnType":
                yield Hit("pg-column-type-change", table, "%s.%s" % (table, cmd.get("name")))
            elif subtype == "AT_DropColumn":
                yield Hit("pg-drop-column", table, "%s.%s" % (table, cmd.get("name")))
            elif subtype == "AT_DetachPartition":
                if definition.get("PartitionCmd", {}).get("concurrent"):
                    if ctx.transactional:
                        yield Hit("pg-concurrently-in-transaction", table, "DETACH PARTITION CONCURRENTLY")
                else:
                    yield Hit("pg-detach-partition", table, "partition %s" % definition.get("PartitionCmd", {}).get("name", {}).get("relname"))

    def _constraint(self, table, constraint, existing, ctx):
        kind = constraint.get("contype")
        name = constraint.get("conname")
        if constraint.get("skip_validation"):
            ctx.not_valid.add((table, name))
            return
        if not existing:
            return
        if kind == "CONSTR_CHECK":
            yield Hit("pg-check-without-not-valid", table, "constraint %s" % (name or "(unnamed)"))
        elif kind == "CONSTR_FOREIGN":
            yield Hit("pg-foreign-key-without-not-valid", table, "%s references %s" % (table, constraint["pktable"]["relname"]))
        elif kind == "CONSTR_UNIQUE" and not constraint.get("indexname"):
            yield Hit("pg-unique-in-place", table, "constraint %s" % (name or "(unnamed)"))
        elif kind == "CONSTR_PRIMARY" and not constraint.get("indexname"):
            yield Hit("pg-primary-key-in-place", table, "primary key of %s" % table)

    def _added_column(self, table, column):
        constraints = [c["Constraint"] for c in column.get("constraints", [])]
        kinds = {c["contype"] for c in constraints}
        type_name = _names(column["typeName"]["names"])[-1]
        label = "%s.%s" % (table, column["colname"])
        if "CONSTR_NOTNULL" in kinds and "CONSTR_DEFAULT" not in kinds and "CONSTR_IDENTITY" not in kinds \
                and type_name not in _PG_SERIAL:
            yield Hit("pg-not-null-without-default", table, label)
        for c in constraints:
            if c["contype"] == "CONSTR_DEFAULT" and _pg_volatile(c.get("raw_expr", {})):
                yield Hit("pg-volatile-default", table, label + " default is volatile")
            elif c["contype"] == "CONSTR_GENERATED":
                yield Hit("pg-volatile-default", table, label + " is a stored generated column")
            elif c["contype"] in ("CONSTR_PRIMARY", "CONSTR_UNIQUE"):
                yield Hit("pg-primary-key-in-place" if c["contype"] == "CONSTR_PRIMARY" else "pg-unique-in-place",
                          table, label)
            elif c["contype"] == "CONSTR_FOREIGN" and not c.get("skip_validation"):
                yield Hit("pg-foreign-key-without-not-valid", table, label + " references %s" % c["pktable"]["relname"])
        if type_name in _PG_SERIAL:
            yield Hit("pg-volatile-default", table, label + " is %s (nextval default)" % type_name)

    def _column_types(self, table, column):
        names = _names(column["typeName"]["names"])
        type_name = names[-1]
        label = "%s.%s" % (table, column["colname"])
        if type_name in ("int4", "int2"):
            yield Hit("pg-prefer-bigint", table, "%s is %s" % (label, {"int4": "integer", "int2": "smallint"}[type_name]))
        elif type_name in _PG_SERIAL:
            yield Hit("pg-prefer-identity", table, "%s is %s" % (label, type_name))
        elif type_name == "varchar" and column["typeName"].get("typmods"):
            yield Hit("pg-prefer-text", table, "%s is varchar(n)" % label)
        elif type_name == "timestamp":
            yield Hit("pg-prefer-timestamptz", table, "%s is timestamp without time zone" % label)


def _pg_volatile(expr):
    """True when a default expression calls a function outside a short list of non-volatile ones."""
    if "FuncCall" in expr:
        name = _names(expr["FuncCall"]["funcname"])[-1].lower()
        return name not in _PG_NON_VOLATILE or any(_pg_volatile(a) for a in expr["FuncCall"].get("args", []))
    if "TypeCast" in expr:
        return _pg_volatile(expr["TypeCast"].get("arg", {}))
    return False


# --- MySQL / MariaDB ---------------------------------------------------------------------------

_MY_MAX_IDENT = 64
_MY_TOKEN_RULES = (  # keyword sequences sqlglot leaves to its Command fallback
    (("REMOVE", "PARTITIONING"), "my-partitioning"),
    (("PARTITION", "BY"), "my-partitioning"),
    (("COALESCE", "PARTITION"), "my-partitioning"),
    (("REORGANIZE", "PARTITION"), "my-partitioning"),
    (("CONVERT", "TO"), "my-convert-charset"),
    (("ADD", "PARTITION"), "my-partition-maintenance"),
    (("DROP", "PARTITION"), "my-partition-maintenance"),
    (("TRUNCATE", "PARTITION"), "my-partition-maintenance"),
)


class MySQLAnalyzer:
    """sqlglot's MySQL dialect; what it leaves to its Command fallback is read keyword by keyword."""

    engine = "mysql"

    def parse(self, text):
        try:
            parsed = sqlglot.parse_one(text, read="mysql")
            return _Keywords(text) if isinstance(parsed, exp.Command) else parsed
        except (sqlglot_errors.ParseError, sqlglot_errors.TokenError) as e:
            if _words(text)[:2] == ["ALTER", "TABLE"] and "PARTITION" in _words(text):
                return _Keywords(text)  # ADD/DROP/TRUNCATE PARTITION: valid MySQL sqlglot rejects
            errors = getattr(e, "errors", None) or [{}]
            message = errors[0].get("description") or str(e).split("\n", maxsplit=1)[0]
            return self._raise(text, message, errors[0])

    @staticmethod
    def _raise(text, message, error):
        line, col = error.get("line"), error.get("col")
        offset = None
        if line:
            lines = text.split("\n")
            offset = sum(len(x) + 1 for x in lines[:line - 1]) + max((col or 1) - 1, 0)
        raise ParseFailure(message, offset)

    def hits(self, parsed, ctx):
        if isinstance(parsed, _Keywords):
            return self._keywords(parsed, ctx)
        if isinstance(parsed, exp.Create):
            return self._create(parsed, ctx)
        if isinstance(parsed, exp.Alter):
            return self._alter(parsed, ctx)
        if isinstance(parsed, exp.Drop):
            return self._drop(parsed, ctx)
        if isinstance(parsed, exp.TruncateTable):
            return [Hit("my-truncate", t.name, "table %s" % t.name) for t in parsed.expressions if t.name not in ctx.created]
        return []

    def _create(self, node, ctx):
        kind = node.args.get("kind")
        if kind == "TABLE":
            table = node.this.this.name if isinstance(node.this, exp.Schema) else node.this.name
            ctx.created.add(table)
            names = [table] + [c.name for c in node.find_all(exp.ColumnDef)] + \
                    [c.name for c in node.find_all(exp.Constraint)] + [i.name for i in node.find_all(exp.IndexColumnConstraint)]
            return list(self._identifiers(table, names))
        if kind == "INDEX":
            index = node.this
            table = index.args["table"].name
            hits = list(self._identifiers(table, [index.name]))
            if table not in ctx.created:
                hits.append(Hit("my-unique-index" if node.args.get("unique") else "my-add-index", table, "index %s" % index.name))
            return hits
        return []

    def _alter(self, node, ctx):
        table = node.this.name
        if table in ctx.created:
            return []
        options = {type(o).__name__: o.this.name.upper() for o in node.args.get("options") or [] if o.this is not None}
        hits = []
        if options.get("AlgorithmProperty") == "COPY":
            hits.append(Hit("my-table-copy", table, "ALGORITHM=COPY"))
        if options.get("LockProperty") in ("SHARED", "EXCLUSIVE"):
            hits.append(Hit("my-lock-shared", table, "LOCK=%s" % options["LockProperty"]))
        for action in node.args.get("actions") or []:
            hits.extend(self._action(table, action))
        guarded = options.get("AlgorithmProperty") in ("INPLACE", "INSTANT") or options.get("LockProperty") == "NONE"
        return [_guarded(h) if guarded and RULES[h.rule].cost == "rewrite" and h.rule not in ("my-table-copy", "my-lock-shared")
                else h for h in hits]

    def _action(self, table, action):
        if isinstance(action, exp.ColumnDef):
            return self._added_column(table, action)
        if isinstance(action, exp.ModifyColumn):
            column = action.this
            hits = [Hit("my-column-change", table, "%s.%s" % (table, column.name))]
            if column.args.get("kind") is not None and column.args["kind"].this in (exp.DataType.Type.ENUM, exp.DataType.Type.SET):
                hits = [Hit("my-enum-change", table, "%s.%s" % (table, column.name))]
            if action.args.get("rename_from") is not None:
                hits.append(Hit("my-rename-column", table, "%s.%s to %s" % (table, action.args["rename_from"].name, column.name)))
            return hits
        if isinstance(action, exp.RenameColumn):
            return [Hit("my-rename-column", table, "%s.%s to %s" % (table, action.this.name, action.args["to"].name))]
        if isinstance(action, exp.AlterRename):
            return [Hit("my-rename-table", table, "%s to %s" % (table, action.this.name))]
        if isinstance(action, exp.DropPrimaryKey):
            return [Hit("my-primary-key-change", table, "DROP PRIMARY KEY")]
        if isinstance(action, exp.Drop) and action.args.get("kind") == "COLUMN":
            return [Hit("my-drop-column", table, "%s.%s" % (table, t.name)) for t in action.args.get("tables") or []]
        if isinstance(action, exp.AddConstraint):
            return [hit for e in action.expressions for hit in self._added_constraint(table, e)]
        return []

    def _added_column(self, table, column):
        label = "%s.%s" % (table, column.name)
        kinds = [c.args.get("kind") for c in column.args.get("constraints") or []]
        hits = list(self._identifiers(table, [column.name]))
        if any(isinstance(k, exp.ComputedColumnConstraint) and k.args.get("persisted") for k in kinds):
            hits.append(Hit("my-stored-generated-column", table, label))
        if any(isinstance(k, exp.AutoIncrementColumnConstraint) for k in kinds):
            hits.append(Hit("my-auto-increment-column", table, label))
        if any(isinstance(k, exp.PrimaryKeyColumnConstraint) for k in kinds):
            hits.append(Hit("my-primary-key-change", table, label + " PRIMARY KEY"))
        not_null = any(isinstance(k, exp.NotNullColumnConstraint) and not k.args.get("allow_null") for k in kinds)
        has_default = any(isinstance(k, (exp.DefaultColumnConstraint, exp.AutoIncrementColumnConstraint, exp.ComputedColumnConstraint)) for k in kinds)
        if not_null and not has_default:
            hits.append(Hit("my-not-null-without-default", table, label))
        return hits

    def _added_constraint(self, table, constraint):
        inner = constraint.expressions[0] if isinstance(constraint, exp.Constraint) and constraint.expressions else constraint
        name = constraint.name if isinstance(constraint, exp.Constraint) else getattr(inner, "name", "")
        hits = list(self._identifiers(table, [name]))
        if isinstance(inner, exp.ForeignKey):
            hits.append(Hit("my-foreign-key", table, "%s references %s" % (table, inner.args["reference"].find(exp.Table).name)))
        elif isinstance(inner, exp.PrimaryKey):
            hits.append(Hit("my-primary-key-change", table, "ADD PRIMARY KEY"))
        elif isinstance(inner, exp.UniqueColumnConstraint):
            hits.append(Hit("my-unique-index", table, "unique index %s" % (inner.this.name if inner.this is not None else "")))
        elif isinstance(inner, exp.IndexColumnConstraint):
            kind = (inner.args.get("kind") or "").upper()
            rule = "my-fulltext-or-spatial-index" if kind in ("FULLTEXT", "SPATIAL") else "my-add-index"
            hits.append(Hit(rule, table, "%sindex %s" % (kind.lower() + " " if kind else "", inner.name)))
        return hits

    def _drop(self, node, ctx):
        kind = node.args.get("kind")
        names = [t.name for t in node.args.get("tables") or []]
        if kind == "TABLE":
            return [Hit("my-drop-table", name, "table %s" % name) for name in names if name not in ctx.created]
        if kind in ("DATABASE", "SCHEMA"):
            return [Hit("my-drop-database", None, "database %s" % name) for name in names]
        return []

    def _keywords(self, parsed, ctx):
        words = parsed.words
        if words[:2] == ["RENAME", "TABLE"]:
            return [Hit("my-rename-table", parsed.name(2), " ".join(parsed.raw[2:5]))]
        if words[:2] == ["CREATE", "TABLE"]:
            ctx.created.add(parsed.name(2))
            return []
        if words[:1] == ["CREATE"] and "INDEX" in words[:3]:
            table = parsed.after("ON")
            if table in ctx.created:
                return []
            rule = "my-fulltext-or-spatial-index" if words[1] in ("FULLTEXT", "SPATIAL") else (
                "my-unique-index" if words[1] == "UNIQUE" else "my-add-index")
            return [Hit(rule, table, "index on %s" % table)]
        if words[:2] != ["ALTER", "TABLE"]:
            return [Hit("my-unverified-syntax", None, words[0].lower() if words else "")]
        table = parsed.name(2)
        if table in ctx.created:
            return []
        hits = [Hit(rule, table, " ".join(seq).lower()) for seq, rule in _MY_TOKEN_RULES if parsed.has(seq)]
        if parsed.has(("ALGORITHM", "=", "COPY")):
            hits.append(Hit("my-table-copy", table, "ALGORITHM=COPY"))
        return hits or [Hit("my-unverified-syntax", table, "ALTER TABLE %s" % table)]

    @staticmethod
    def _identifiers(table, names):
        for name in names:
            if name and len(name) > _MY_MAX_IDENT:
                yield Hit("my-identifier-too-long", table, "%s (%d characters)" % (name, len(name)))


def _guarded(hit):
    return hit._replace(detail=hit.detail + " (guarded by ALGORITHM/LOCK: the server refuses rather than copy)",
                        rule=hit.rule + "!guarded")


_NAME = r"(?:`(?:[^`]|``)*`|[A-Za-z0-9_$]+)"
_KEYWORD_TOKEN = re.compile(
    _NAME + r"(?:\." + _NAME + r")*"  # a name, qualified or not
    r"|'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"|--[^\n]*|#[^\n]*|/\*.*?\*/"  # strings and comments (dropped)
    r"|=", re.S)


class _Keywords:
    """A statement as words (strings and comments skipped), for what sqlglot cannot parse."""

    def __init__(self, text):
        self.raw = [t for t in _KEYWORD_TOKEN.findall(text) if not t.startswith(("'", '"', "--", "#", "/*"))]
        self.words = [t.upper() for t in self.raw]

    def has(self, sequence):
        n = len(sequence)
        return any(tuple(self.words[i:i + n]) == sequence for i in range(len(self.words) - n + 1))

    def name(self, index):
        return _unquoted_last(self.raw[index]) if len(self.raw) > index else None

    def after(self, word):
        return self.name(self.words.index(word) + 1) if word in self.words else None


def _unquoted_last(name):
    """`db`.`t` or db.t -> t"""
    return re.split(r"\.(?=`|[A-Za-z0-9_$])", name)[-1].strip("`")


def _words(text):
    return _Keywords(text).words


ANALYZERS = {"postgres": PostgresAnalyzer, "mysql": MySQLAnalyzer}


# --- scripts and migrations ----------------------------------------------------------------------

class Context:
    """What the statements before this one in the same script established."""

    def __init__(self, transactional):
        self.transactional = transactional
        self.created = set()
        self.not_valid = set()


def declared(text):
    """`-- dbops:risk-level <low|medium|high>` and `-- dbops:estimated-duration <5m>` from a script."""
    found = {m.group("key"): m.group("value").strip() for m in _META.finditer(text)}
    level = found.get("risk-level", "").lower() or None
    return level, found.get("estimated-duration")


def suppressions(text, display, engine, first_line=1):
    """{line: [(rule, reason)]} from `-- dbops:lint-ignore <rule> <reason>` comments; bad ones raise."""
    known = rules_for(engine)
    found = {}
    for match in _IGNORE.finditer(text):
        line = first_line + text.count("\n", 0, match.start())
        parts = match.group("rest").split(None, 1)
        if not parts:
            raise DbopsError("%s:%d: dbops:lint-ignore needs a rule and a reason" % (display, line))
        rule = parts[0]
        if rule not in known:
            raise DbopsError("%s:%d: dbops:lint-ignore names unknown rule %r (%s rules: see docs/migration-risk-rules.md)"
                             % (display, line, rule, engine))
        if len(parts) < 2 or not parts[1].strip():
            raise DbopsError("%s:%d: dbops:lint-ignore %s needs a reason" % (display, line, rule))
        found.setdefault(line, []).append((rule, parts[1].strip()))
    return found


def lint_script(script, engine, analyzer=None):
    """Findings of one script (a migration_files.Script): (findings, suppressed, parse_errors)."""
    analyzer = analyzer or ANALYZERS[engine]()
    ctx = Context(transactional=engine == "postgres" and script.transactional)
    ignores = suppressions(script.text, script.display, engine)
    ignore_lines = sorted(ignores)
    findings, suppressed, errors = [], [], []
    previous_end = 0
    for statement in script.statements:
        code_line = _code_line(statement, engine)
        end_line = statement.line + statement.text.count("\n")
        wanted = {}
        for line in ignore_lines:
            if previous_end < line <= end_line:
                for rule, reason in ignores[line]:
                    wanted[rule] = reason
        previous_end = end_line
        try:
            parsed = _parse(analyzer, statement.text)
        except ParseFailure as e:
            line = statement.line + (statement.text.count("\n", 0, e.offset) if e.offset is not None else 0)
            error = dict(file=script.display, line=line, statement=statement.index, message=str(e),
                         rule="parse-error", risk="high", sql=summarize(without_leading_comments(statement.text, engine)))
            if "parse-error" in wanted:
                suppressed.append(dict(error, reason=wanted["parse-error"]))
                parsed = _fallback(analyzer, statement.text)
                if parsed is None:
                    continue
            else:
                errors.append(error)
                continue
        if parsed is None:
            continue
        try:
            hits = list(analyzer.hits(parsed, ctx))
        except (AttributeError, KeyError, TypeError, IndexError, ValueError) as e:  # a tree shape the rules do not know
            hits = [Hit("unanalysed", None, "%s: %s" % (type(e).__name__, e))]
        for hit in hits:
            rule_id, guard = (hit.rule.split("!") + [""])[:2]
            rule = RULES[rule_id]
            finding = dict(rule=rule_id, risk="low" if guard else rule.risk, lock=rule.lock, file=script.display,
                           line=code_line, statement=statement.index, table=hit.table, detail=hit.detail,
                           sql=summarize(without_leading_comments(statement.text, engine)))
            if rule_id in wanted:
                suppressed.append(dict(finding, reason=wanted[rule_id]))
            else:
                findings.append(finding)
    return findings, suppressed, errors


def _parse(analyzer, text):
    """The parsed statement; a parser's own failure (sqlglot raises more than ParseError) counts as a syntax error."""
    try:
        return analyzer.parse(text)
    except ParseFailure:
        raise
    except Exception as e:  # pylint: disable=broad-exception-caught
        raise ParseFailure("%s: %s" % (type(e).__name__, e))


def _fallback(analyzer, text):
    """After a suppressed parse error: MySQL still reads the keywords; PostgreSQL has nothing to go on."""
    return _Keywords(text) if analyzer.engine == "mysql" else None


def _code_line(statement, engine):
    """Line of the statement's first code character (its leading comments skipped)."""
    code = without_leading_comments(statement.text, engine)
    return statement.line + statement.text[: len(statement.text) - len(code)].count("\n")


def lint_migrations(migrations, engine, include_down=False, catalog=None):
    """Risk of each migration: its findings, the highest risk, estimates and what it declares.

    Returns dict(migrations=[...], findings=[...], suppressed=[...], parse_errors=[...], risk=...).
    """
    require_parser(engine)
    analyzer = ANALYZERS[engine]()
    report = dict(migrations=[], findings=[], suppressed=[], parse_errors=[], risk="none")
    for migration in migrations:
        scripts = [migration.up] + ([migration.down] if include_down and migration.down is not None else [])
        entry = assess_migration(migration, scripts, engine, analyzer, catalog)
        report["migrations"].append(entry)
        for key in ("findings", "suppressed", "parse_errors"):
            report[key].extend(entry.pop("_" + key))
        report["risk"] = higher(report["risk"], entry["risk"])
    return report


def assess_migration(migration, scripts, engine, analyzer, catalog=None):
    """One migration's risk entry (the lists under `_findings` etc. for the caller to collect)."""
    findings, suppressed, errors = [], [], []
    for script in scripts:
        f, s, e = lint_script(script, engine, analyzer)
        findings.extend(f)
        suppressed.extend(s)
        errors.extend(e)
    entry = dict(version=migration.version, name=migration.name, file=migration.up.display)
    if catalog is not None:
        catalog.adjust(findings, migration.up.display)
        entry["estimate_seconds"] = catalog.estimate(findings, migration.up.statements)
    declared_risk, declared_duration = declared(migration.up.text)
    risk = "none"
    for item in findings + errors:
        risk = higher(risk, item["risk"])
    if declared_risk in RISKS and risk_rank(declared_risk) < risk_rank(risk):
        findings.append(_migration_finding("declared-risk-too-low", migration,
                                           "declared %s, detected %s" % (declared_risk, risk)))
    elif declared_risk is not None and declared_risk not in RISKS:
        raise DbopsError("%s: dbops:risk-level must be one of %s, got %r" % (migration.up.display, ", ".join(RISKS[1:]), declared_risk))
    if declared_duration is not None:
        seconds = parse_duration(declared_duration, "%s: dbops:estimated-duration" % migration.up.display)
        entry["declared_duration_seconds"] = seconds
        if entry.get("estimate_seconds") is not None and entry["estimate_seconds"] > seconds:
            findings.append(_migration_finding("estimate-over-declared", migration, "estimated %.1fs, declared %ss"
                                               % (entry["estimate_seconds"], seconds)))
    entry.update(risk=risk, declared_risk=declared_risk, findings=len(findings), rules=sorted({f["rule"] for f in findings}),
                 _findings=findings, _suppressed=suppressed, _parse_errors=errors)
    return entry


def _migration_finding(rule_id, migration, detail):
    rule = RULES[rule_id]
    return dict(rule=rule_id, risk=rule.risk, lock=rule.lock, file=migration.up.display, line=1, statement=None,
                table=None, detail=detail, sql="")


def explain(rule_id):
    """The documented text of a rule, for --diff and messages."""
    rule = RULES[rule_id]
    return "%s (%s, lock: %s): %s. Instead: %s. Elsewhere: %s." % (
        rule.id, rule.risk, rule.lock, rule.why, rule.instead, rule.counterpart)


def above(findings, max_risk):
    """Findings whose risk is above `max_risk`, highest first."""
    limit = risk_rank(max_risk)
    return sorted((f for f in findings if risk_rank(f["risk"]) > limit), key=lambda f: -risk_rank(f["risk"]))


def describe(finding):
    return "%s:%s: %s (%s, lock %s) %s" % (finding["file"], finding["line"], finding["rule"], finding["risk"],
                                           finding["lock"], finding["detail"] or "")
