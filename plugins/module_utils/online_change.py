# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Zero-downtime schema changes as phases (module db_online_change), each with its rollback.

expand_contract  expand (nullable column, PostgreSQL CHECK ... NOT VALID, trigger new = f(old)),
                 backfill (db_backfill with the `backfill` arguments returned), enforce (VALIDATE and
                 SET NOT NULL; MySQL ALTER ... ALGORITHM=INPLACE, LOCK=NONE), contract (drop trigger
                 and old column).
shadow_swap      prepare (shadow table with the change, sync triggers), backfill (db_backfill copying
                 rows), verify (counts and checksum in one snapshot), swap (renames in one transaction /
                 one RENAME TABLE), drop_old (after the gate).
A phase whose result is already there reports no change. Every engine difference is in `OnlineSQL`.
"""

from __future__ import annotations

import hashlib

from ansible_collections.dbops.runbooks.plugins.module_utils.backfill import Backfill, literal, with_retries
from ansible_collections.dbops.runbooks.plugins.module_utils.catalog import CATALOGS
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, error_code, error_text

PHASES = {"expand_contract": ("expand", "enforce", "contract"), "shadow_swap": ("prepare", "verify", "swap", "drop_old")}
OLD = "{old}"


def short_name(*parts):
    """An identifier of at most 63 characters (PostgreSQL's limit), stable for the same parts."""
    name = "_".join(parts)
    return name if len(name) <= 63 else name[:54] + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


class OnlineSQL:
    """Statements of each phase; `up`/`down` return lists of statements or of transactions (lists)."""

    retryable = ()
    not_online = ()

    def __init__(self, engine):
        self.engine = engine
        self.q = engine.quote_ident

    def checksum(self, table, columns, key):
        raise NotImplementedError


class PostgresSQL(OnlineSQL):
    retryable = ("55P03", "40P01")

    def expand(self, c):
        t, new = self.q(c.table), self.q(c.new_column)
        return [[
            "ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s" % (t, new, c.new_type),
            "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID" % (t, self.q(c.check), new),
            "CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN NEW.%s := %s; RETURN NEW; END $f$"
            % (self.q(c.function), new, c.expression_for("NEW.")),
            "CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW EXECUTE FUNCTION %s()"
            % (self.q(c.trigger), t, self.q(c.function)),
        ]]

    def unexpand(self, c):
        t = self.q(c.table)
        return [["DROP TRIGGER IF EXISTS %s ON %s" % (self.q(c.trigger), t),
                 "DROP FUNCTION IF EXISTS %s()" % self.q(c.function),
                 "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s" % (t, self.q(c.check)),
                 "ALTER TABLE %s DROP COLUMN IF EXISTS %s" % (t, self.q(c.new_column))]]

    def enforce(self, c):
        t = self.q(c.table)
        # VALIDATE holds SHARE UPDATE EXCLUSIVE (writes go on); SET NOT NULL then uses the valid CHECK, no scan.
        return [["ALTER TABLE %s VALIDATE CONSTRAINT %s" % (t, self.q(c.check))],
                ["ALTER TABLE %s ALTER COLUMN %s SET NOT NULL" % (t, self.q(c.new_column)),
                 "ALTER TABLE %s DROP CONSTRAINT %s" % (t, self.q(c.check))]]

    def unenforce(self, c):
        t, new = self.q(c.table), self.q(c.new_column)
        return [["ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL" % (t, new),
                 "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s" % (t, self.q(c.check)),
                 "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID" % (t, self.q(c.check), new)]]

    def contract(self, c):
        t = self.q(c.table)
        return [["DROP TRIGGER IF EXISTS %s ON %s" % (self.q(c.trigger), t),
                 "DROP FUNCTION IF EXISTS %s()" % self.q(c.function),
                 "ALTER TABLE %s DROP COLUMN IF EXISTS %s" % (t, self.q(c.old_column))]]

    def uncontract(self, c):
        return [self.expand(c)[0][2:]]  # one transaction: nothing to undo unless the column survived

    def sync_triggers(self, c, columns):
        t, s = self.q(c.table), self.q(c.shadow)
        cols = ", ".join(self.q(n) for n in columns)
        new_cols = ", ".join("NEW.%s" % self.q(n) for n in columns)
        keys = ", ".join(self.q(k) for k in c.key)
        updates = ", ".join("%s = EXCLUDED.%s" % (self.q(n), self.q(n)) for n in columns if n not in c.key)
        match_old = " AND ".join("%s = OLD.%s" % (self.q(k), self.q(k)) for k in c.key)
        body = ("BEGIN IF TG_OP IN ('DELETE', 'UPDATE') THEN DELETE FROM %s WHERE %s; END IF;"
                " IF TG_OP IN ('INSERT', 'UPDATE') THEN INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO %s; END IF;"
                " RETURN NULL; END" % (s, match_old, s, cols, new_cols, keys,
                                       "UPDATE SET " + updates if updates else "NOTHING"))
        return ["CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql AS $f$ %s $f$"
                % (self.q(c.function), body),
                "CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION %s()"
                % (self.q(c.trigger), t, self.q(c.function))]

    def prepare(self, c, columns):
        s, t = self.q(c.shadow), self.q(c.table)
        return [["CREATE TABLE %s (LIKE %s INCLUDING ALL)" % (s, t)]
                + ["ALTER TABLE %s %s" % (s, change) for change in c.shadow_changes]
                + self.sync_triggers(c, columns)]

    def unswap_and_sync(self, c, columns):
        return [self.unswap(c)[0] + self.sync_triggers(c, columns)]

    def unprepare(self, c):
        return [["DROP TRIGGER IF EXISTS %s ON %s" % (self.q(c.trigger), self.q(c.table)),
                 "DROP FUNCTION IF EXISTS %s()" % self.q(c.function),
                 "DROP TABLE IF EXISTS %s" % self.q(c.shadow)]]

    def copy_statement(self, c, columns):
        cols = ", ".join(self.q(n) for n in columns)
        return "INSERT INTO %s (%s) SELECT %s FROM {table} WHERE {batch} ON CONFLICT DO NOTHING" % (
            self.q(c.shadow), cols, cols)

    def swap(self, c):
        return [["ALTER TABLE %s RENAME TO %s" % (self.q(c.table), self.q(c.old_table)),
                 "ALTER TABLE %s RENAME TO %s" % (self.q(c.shadow), self.q(c.table)),
                 "DROP TRIGGER IF EXISTS %s ON %s" % (self.q(c.trigger), self.q(c.old_table)),
                 "DROP FUNCTION IF EXISTS %s()" % self.q(c.function)]]

    def unswap(self, c):
        return [["ALTER TABLE %s RENAME TO %s" % (self.q(c.table), self.q(c.shadow)),
                 "ALTER TABLE %s RENAME TO %s" % (self.q(c.old_table), self.q(c.table))]]

    def drop_old(self, c):
        return [["DROP TABLE IF EXISTS %s" % self.q(c.old_table)]]

    def checksum(self, table, columns, key):
        row = "concat_ws('|', %s)" % ", ".join("%s::text" % self.q(n) for n in columns)
        return "SELECT COUNT(*), COALESCE(SUM(('x' || substr(md5(%s), 1, 15))::bit(60)::bigint), 0) FROM %s" % (
            row, self.q(table))

    def trigger_exists(self, conn, name):
        return bool(conn.query_value("SELECT COUNT(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal", (name,)))


class MySQLSQL(OnlineSQL):
    retryable = (1205, 1213)
    not_online = (1845, 1846)  # ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON)

    def _triggers(self, c, events, body_for):
        return ["CREATE TRIGGER %s %s ON %s FOR EACH ROW %s"
                % (self.q(short_name(c.trigger, suffix.lower())), timing, self.q(c.table), body_for(suffix))
                for timing, suffix in events]

    def _drop_triggers(self, c, suffixes):
        return ["DROP TRIGGER IF EXISTS %s" % self.q(short_name(c.trigger, s.lower())) for s in suffixes]

    def expand(self, c):
        body = "SET NEW.%s = %s" % (self.q(c.new_column), c.expression_for("NEW."))
        add = "ALTER TABLE %s ADD COLUMN %s %s NULL, ALGORITHM=INSTANT" % (self.q(c.table), self.q(c.new_column),
                                                                           c.new_type)
        return [add] + self._triggers(c, [("BEFORE INSERT", "ins"), ("BEFORE UPDATE", "upd")], lambda s: body)

    def unexpand(self, c):
        return self._drop_triggers(c, ["ins", "upd"]) + [
            "ALTER TABLE %s DROP COLUMN IF EXISTS %s, ALGORITHM=INSTANT" % (self.q(c.table), self.q(c.new_column))]

    def enforce(self, c):
        return ["ALTER TABLE %s MODIFY %s %s NOT NULL, ALGORITHM=INPLACE, LOCK=NONE"
                % (self.q(c.table), self.q(c.new_column), c.new_type)]

    def unenforce(self, c):
        return ["ALTER TABLE %s MODIFY %s %s NULL, ALGORITHM=INPLACE, LOCK=NONE"
                % (self.q(c.table), self.q(c.new_column), c.new_type)]

    def contract(self, c):
        return self._drop_triggers(c, ["ins", "upd"]) + [
            "ALTER TABLE %s DROP COLUMN IF EXISTS %s, ALGORITHM=INSTANT" % (self.q(c.table), self.q(c.old_column))]

    def uncontract(self, c):
        return self._drop_triggers(c, ["ins", "upd"]) + self.expand(c)[1:]

    def sync_triggers(self, c, columns):
        s = self.q(c.shadow)
        cols = ", ".join(self.q(n) for n in columns)
        new_cols = ", ".join("NEW.%s" % self.q(n) for n in columns)
        updates = ", ".join("%s = VALUES(%s)" % (self.q(n), self.q(n)) for n in columns)
        match_old = " AND ".join("%s = OLD.%s" % (self.q(k), self.q(k)) for k in c.key)
        upsert = "INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE %s" % (s, cols, new_cols, updates)
        bodies = dict(ins=upsert, upd="BEGIN DELETE FROM %s WHERE %s; %s; END" % (s, match_old, upsert),
                      **{"del": "DELETE FROM %s WHERE %s" % (s, match_old)})
        return self._triggers(c, [("AFTER INSERT", "ins"), ("AFTER UPDATE", "upd"), ("AFTER DELETE", "del")],
                              lambda suffix: bodies[suffix])

    def prepare(self, c, columns):
        return (["CREATE TABLE %s LIKE %s" % (self.q(c.shadow), self.q(c.table))]
                + ["ALTER TABLE %s %s" % (self.q(c.shadow), change) for change in c.shadow_changes]
                + self.sync_triggers(c, columns))

    def unswap_and_sync(self, c, columns):
        return self.unswap(c) + self.sync_triggers(c, columns)

    def unprepare(self, c):
        return self._drop_triggers(c, ["ins", "upd", "del"]) + ["DROP TABLE IF EXISTS %s" % self.q(c.shadow)]

    def copy_statement(self, c, columns):
        cols = ", ".join(self.q(n) for n in columns)
        return "INSERT INTO %s (%s) SELECT %s FROM {table} WHERE {batch} ON DUPLICATE KEY UPDATE %s = %s.%s" % (
            self.q(c.shadow), cols, cols, self.q(c.key[0]), self.q(c.shadow), self.q(c.key[0]))

    def swap(self, c):
        # One RENAME TABLE is atomic; the triggers move to the old table, where nothing writes any more.
        return ["RENAME TABLE %s TO %s, %s TO %s" % (self.q(c.table), self.q(c.old_table), self.q(c.shadow),
                                                     self.q(c.table))] + \
            ["DROP TRIGGER IF EXISTS %s" % self.q(short_name(c.trigger, s)) for s in ("ins", "upd", "del")]

    def unswap(self, c):
        return ["RENAME TABLE %s TO %s, %s TO %s" % (self.q(c.table), self.q(c.shadow), self.q(c.old_table),
                                                     self.q(c.table))]

    def drop_old(self, c):
        return ["DROP TABLE IF EXISTS %s" % self.q(c.old_table)]

    def checksum(self, table, columns, key):
        row = "CONCAT_WS('|', %s)" % ", ".join(self.q(n) for n in columns)
        return "SELECT COUNT(*), COALESCE(SUM(CAST(CONV(SUBSTR(MD5(%s), 1, 15), 16, 10) AS UNSIGNED)), 0) FROM %s" % (
            row, self.q(table))

    def trigger_exists(self, conn, name):
        return bool(conn.query_value("SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE()"
                                     " AND trigger_name IN (%s, %s)", (short_name(name, "ins"), short_name(name, "upd"))))


SQLS = {"postgres": PostgresSQL, "mysql": MySQLSQL}


class Change:
    """The names a pattern works with, derived from the module's options."""

    def __init__(self, params, engine):
        self.engine = engine
        self.pattern = params["pattern"]
        self.table = params["table"]
        self.old_column = params.get("old_column")
        self.new_column = params.get("new_column")
        self.new_type = params.get("new_type")
        self.expression = params.get("expression")
        self.shadow = params.get("shadow_table") or short_name(self.table, "new")
        self.old_table = params.get("old_table") or short_name(self.table, "old")
        self.shadow_changes = params.get("shadow_changes") or []
        target = self.new_column if self.pattern == "expand_contract" else "shadow"
        self.trigger = short_name("dbops", self.table, target, "sync")
        self.function = self.trigger
        self.check = short_name(self.table, self.new_column or "", "not_null")
        self.key = []

    def expression_for(self, prefix):
        """The expression with {old} as the quoted old column, after `prefix` (NEW. in a trigger)."""
        return self.expression.replace(OLD, prefix + self.engine.quote_ident(self.old_column))


def validate(params):
    """One line per missing option, before anything runs."""
    needed = {"expand_contract": ("old_column", "new_column", "new_type", "expression"), "shadow_swap": ()}
    missing = [name for name in needed[params["pattern"]] if not params.get(name)]
    if missing:
        raise DbopsError("pattern %s needs %s" % (params["pattern"], ", ".join(missing)))
    if params["phase"] not in PHASES[params["pattern"]] + ("backfill",):
        raise DbopsError("pattern %s has no phase %s (phases: %s)" % (
            params["pattern"], params["phase"], ", ".join(PHASES[params["pattern"]] + ("backfill",))))
    if params["pattern"] == "expand_contract" and OLD not in params["expression"]:
        raise DbopsError("expression must name the old column as %s, for example lower(%s)" % (OLD, OLD))


class OnlineChange:
    def __init__(self, conn, params):
        self.conn = conn
        self.params = params
        self.engine = conn.engine
        self.sql = SQLS[self.engine.name](self.engine)
        self.catalog = CATALOGS[self.engine.name](conn)
        self.schema = conn.current_schema()
        self.change = Change(params, self.engine)
        self.executed = []

    def columns(self, table):
        return CATALOGS[self.engine.name](self.conn).columns(self.schema, table)

    def tables(self):
        return CATALOGS[self.engine.name](self.conn).tables(self.schema)

    def key(self):
        probe = Backfill(self.conn, dict(table=self.change.table, schema=None, checkpoint_table="unused", key=None,
                                         set=None, statement=None, where="1=1", job="key"))
        return probe.resolve_key(self.columns(self.change.table))

    def copied_columns(self):
        source = self.columns(self.change.table)
        shadow = self.columns(self.change.shadow) if self.change.shadow in self.tables() else source
        return [name for name in source if name in shadow]

    # --- state of each phase -------------------------------------------------------------------

    def applied(self, phase):
        c, tables = self.change, self.tables()
        if c.table not in tables:
            raise DbopsError("table %s does not exist" % c.table)
        if c.pattern == "expand_contract":
            columns = self.columns(c.table)
            if phase == "expand":
                return c.new_column in columns
            if phase == "enforce":
                return c.new_column in columns and not columns[c.new_column]["nullable"]
            return c.old_column not in columns
        if phase == "prepare":
            return c.shadow in tables or c.old_table in tables
        if phase == "swap":
            return c.old_table in tables and c.shadow not in tables
        return c.old_table not in tables and c.shadow not in tables

    def needed(self, phase, rollback):
        """Whether the phase (or its rollback) has anything to do; raises where a rollback is impossible."""
        c = self.change
        if rollback and phase == "drop_old":
            raise DbopsError("drop_old has no rollback: the old table is gone; it runs only after the gate")
        if rollback and phase == "contract":
            if self.applied("contract"):
                raise DbopsError("contract cannot be rolled back: column %s is already dropped" % c.old_column)
            return not self.sql.trigger_exists(self.conn, c.trigger)  # MySQL: triggers dropped, column kept
        return self.applied(phase) == rollback

    def plan(self, phase, rollback):
        c = self.change
        if c.pattern == "shadow_swap" and phase in ("prepare", "swap") and (phase == "prepare") != rollback:
            c.key = self.key()
            columns = list(self.columns(c.old_table if phase == "swap" else c.table))
            return self.sql.prepare(c, columns) if phase == "prepare" else self.sql.unswap_and_sync(c, columns)
        return getattr(self.sql, "un" + phase if rollback else phase)(c)

    def backfill_args(self):
        c = self.change
        if c.pattern == "expand_contract":
            return dict(table=c.table, set={c.new_column: c.expression_for("")},
                        where="%s IS NULL" % self.engine.quote_ident(c.new_column))
        c.key = self.key()
        columns = self.copied_columns()
        match = " AND ".join("s.%s = %s.%s" % (self.engine.quote_ident(k), self.engine.quote_ident(c.table),
                                               self.engine.quote_ident(k)) for k in c.key)
        return dict(table=c.table, key=c.key, statement=self.sql.copy_statement(c, columns),
                    where="NOT EXISTS (SELECT 1 FROM %s s WHERE %s)" % (self.engine.quote_ident(c.shadow), match))

    def verify(self):
        """Row counts and checksums of the table and its shadow over the shared columns, in one statement."""
        c = self.change
        columns = self.copied_columns()
        c.key = self.key()
        one, two = (self.sql.checksum(t, columns, c.key) for t in (c.table, c.shadow))
        rows = self.conn.query("SELECT a.*, b.* FROM (%s) a, (%s) b" % (one, two))
        table_rows, table_sum, shadow_rows, shadow_sum = (int(v) for v in rows[0])
        result = dict(rows=table_rows, shadow_rows=shadow_rows, checksum=str(table_sum), shadow_checksum=str(shadow_sum),
                      columns=columns)
        if (table_rows, table_sum) != (shadow_rows, shadow_sum):
            raise DbopsError("verify: %s has %d rows (checksum %s), %s has %d (checksum %s): do not swap"
                             % (c.table, table_rows, table_sum, c.shadow, shadow_rows, shadow_sum), **result)
        return result

    # --- running ---------------------------------------------------------------------------------

    def run(self, steps, phase):
        lock_timeout = self.params["lock_timeout"]
        if self.engine.name == "postgres":
            self.conn.execute("SELECT set_config('lock_timeout', %s, false)", ("%dms" % (lock_timeout * 1000),))
        else:
            self.conn.execute("SET SESSION lock_wait_timeout = %s", (max(int(lock_timeout), 1),))
        for step in steps:
            statements = step if isinstance(step, list) else [step]
            with_retries(lambda s=statements: self._run(s, phase), self.sql.retryable, self.params["lock_retries"],
                         lambda e: None)

    def _run(self, statements, phase):
        transactional = self.engine.transactional_ddl
        try:
            if transactional:
                with self.conn.transaction():
                    for statement in statements:
                        self.conn.execute(literal(statement), [])
            else:
                for statement in statements:
                    self._execute_online(statement)
                    self.executed.append(statement)
        except self.engine.driver().Error as e:
            if error_code(e) in self.sql.retryable:
                raise
            raise DbopsError("%s: %s -- %s" % (phase, error_text(e).split(" LINE ", maxsplit=1)[0], " ".join(statements)[:300]),
                             executed=list(self.executed))
        if transactional:
            self.executed.extend(statements)

    def _execute_online(self, statement):
        """MySQL: ALGORITHM=INSTANT falls back to INPLACE, LOCK=NONE; where neither is allowed, fail clearly."""
        try:
            self.conn.execute(literal(statement), [])
        except self.engine.driver().Error as e:
            if error_code(e) not in self.sql.not_online:
                raise
            if "ALGORITHM=INSTANT" not in statement:
                raise DbopsError("the server cannot run this online (without blocking writes): %s -- %s; run it in a"
                                 " maintenance window or use the shadow_swap pattern" % (error_text(e), statement))
            self._execute_online(statement.replace("ALGORITHM=INSTANT", "ALGORITHM=INPLACE, LOCK=NONE"))


def run_db_online_change(module):
    params = module.params
    validate(params)
    conn = module.connect()
    try:
        online = OnlineChange(conn, params)
        phase, rollback = params["phase"], params["state"] == "rolled_back"
        result = dict(changed=False, pattern=params["pattern"], phase=phase, state=params["state"], statements=[])
        if phase == "backfill":
            ready = online.applied("expand" if params["pattern"] == "expand_contract" else "prepare")
            result.update(ready=ready, backfill=online.backfill_args() if ready else None)
            return result
        if phase == "verify":
            result.update(online.verify())
            return result
        if not online.needed(phase, rollback):
            result["msg"] = "%s: already %s" % (phase, "rolled back" if rollback else "applied")
            return result
        steps = online.plan(phase, rollback)
        result["statements"] = [s for step in steps for s in (step if isinstance(step, list) else [step])]
        result["changed"] = bool(result["statements"])
        if module._diff:
            result["diff"] = dict(prepared=";\n".join(result["statements"]) + ";\n")
        if not module.check_mode:
            online.run(steps, phase)
        result["msg"] = "%s: %s%s" % (phase, "rolled back" if rollback else "applied", " (check mode)"
                                      if module.check_mode else "")
        return result
    finally:
        conn.close()
