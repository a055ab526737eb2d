# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rehearsal: prove the pending migrations and their down files on a scratch copy of the schema.

On the target's server: create a scratch database, copy the target's tables (schema only), apply
the pending ups (a snapshot after each), run the downs newest first (each must bring back the
snapshot before its up: a difference is a `down-does-not-restore` finding naming it), apply the
ups again, and drop the scratch database, also when something failed. The target is only read.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

from ansible_collections.dbops.runbooks.plugins.module_utils.database import ENGINES, StatementError, connect, error_text
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.risk import RULES
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import split_statements, summarize

_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


class Scratch:
    """A scratch database on the target's server; one subclass per engine."""

    def __init__(self, conn, params):
        self.conn = conn
        self.params = params

    def ddl(self):
        """Statements that recreate the target's schema (read from the target only)."""
        raise NotImplementedError

    @staticmethod
    def tables(conn):
        """{table: sorted definition lines} of the session's schema, to compare before and after."""
        raise NotImplementedError

    def create(self, name):
        self.conn.execute("CREATE DATABASE %s" % self.conn.engine.quote_ident(name))

    def copy(self, name, ddl):
        scratch = connect(dict(self.params, login_db=name))
        try:
            for statement in ddl:
                scratch.execute(statement)
        except self.conn.engine.driver().Error as e:
            raise DbopsError("rehearse: copying the schema into %s failed (%s) at: %s; the target was not touched"
                             % (name, error_text(e), summarize(statement)))
        finally:
            scratch.close()

    def drop(self, name):
        self.conn.execute("DROP DATABASE IF EXISTS %s" % self.conn.engine.quote_ident(name))


class MySQLScratch(Scratch):
    """MySQL/MariaDB: base tables copied with SHOW CREATE TABLE (views, routines, triggers are not)."""

    @staticmethod
    def _creates(conn):
        rows = conn.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
                          " AND table_type = 'BASE TABLE' ORDER BY table_name")
        return {name: _AUTO_INCREMENT.sub("", conn.query("SHOW CREATE TABLE %s" % conn.engine.quote_ident(name))[0][1])
                for (name,) in rows}

    def ddl(self):
        return ["SET SESSION foreign_key_checks = 0"] + list(self._creates(self.conn).values())

    @staticmethod
    def tables(conn):
        return {name: [line.strip().rstrip(",") for line in create.splitlines()[1:]]
                for name, create in MySQLScratch._creates(conn).items()}

    def create(self, name):
        self.conn.execute("CREATE DATABASE %s CHARACTER SET utf8mb4" % self.conn.engine.quote_ident(name))


class PostgresScratch(Scratch):
    """PostgreSQL: the schema copied with `pg_dump --schema-only` (must be on the host, as new as the server)."""

    SNAPSHOT = """
        SELECT c.relname, 'column ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
               || CASE WHEN a.attidentity <> '' THEN ' IDENTITY' ELSE '' END
          FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
        UNION ALL
        SELECT c.relname, 'constraint ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
          FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema()
        UNION ALL
        SELECT c.relname, 'index ' || pg_get_indexdef(i.oid)
          FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema()
        UNION ALL
        SELECT c.relname, 'table' FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')"""

    def ddl(self):
        binary = shutil.which("pg_dump")
        if binary is None:
            raise DbopsError("rehearse on PostgreSQL needs pg_dump on the host that runs the module; nothing was changed")
        command = [binary, "--schema-only", "--no-owner", "--no-privileges", "--dbname", self.params["login_db"] or "postgres"]
        dump = subprocess.run(command, env=ENGINES["postgres"].tool_environment(self.params, os.environ),  # pylint: disable=ansible-bad-function
                              capture_output=True, check=False)
        if dump.returncode != 0:
            raise DbopsError("rehearse: pg_dump --schema-only failed: %s; nothing was changed"
                             % " ".join(dump.stderr.decode("utf-8", "replace").split()))
        text = "\n".join(line for line in dump.stdout.decode("utf-8").splitlines() if not line.startswith("\\"))
        return [s.text for s in split_statements(text, "postgres")]

    @staticmethod
    def tables(conn):
        found = {}
        for table, line in conn.query(PostgresScratch.SNAPSHOT):
            if line != "table":
                found.setdefault(table, []).append(line)
            else:
                found.setdefault(table, [])
        return {table: sorted(lines) for table, lines in found.items()}


SCRATCH = {"mysql": MySQLScratch, "postgres": PostgresScratch}


def rehearse(conn, params, migrations):
    """Rehearse `migrations` (pending, in order) on a scratch copy; returns timings and findings."""
    scratch_type = SCRATCH[conn.engine.name](conn, params)
    name = "dbops_rehearsal_%d_%s" % (os.getpid(), os.urandom(3).hex())
    started = time.monotonic()
    source = scratch_type.tables(conn)
    ddl = scratch_type.ddl()
    try:
        scratch_type.create(name)
    except conn.engine.driver().Error as e:
        raise DbopsError("rehearse: cannot create the scratch database %s on %s (%s); the target was not touched"
                         % (name, conn.target, error_text(e)))
    report = dict(database=name, tables_copied=len(source), migrations=[], findings=[])
    scratch = None
    try:
        scratch_type.copy(name, ddl)
        scratch = connect(dict(params, login_db=name))
        _run(scratch_type, scratch, migrations, report)
    finally:
        if scratch is not None:
            scratch.close()
        try:
            scratch_type.drop(name)
            report["dropped"] = True
        except conn.engine.driver().Error as e:  # the original error matters more; say what is left
            report["dropped"] = False
            report["drop_error"] = error_text(e)
    report["total_ms"] = _ms(started)
    return report


def _run(scratch_type, scratch, migrations, report):
    snapshots = [scratch_type.tables(scratch)]
    timings = {m.version: dict(version=m.version, name=m.name) for m in migrations}
    for migration in migrations:
        timings[migration.version]["up_ms"] = _timed(scratch, migration.up, "up")
        snapshots.append(scratch_type.tables(scratch))
    for index in range(len(migrations) - 1, -1, -1):
        migration = migrations[index]
        if migration.down is None:
            report["findings"].append(_finding(migration.up.display, "no down file: the rehearsal stops here"))
            break
        try:
            timings[migration.version]["down_ms"] = _timed(scratch, migration.down, "down", raise_error=False)
        except StatementError as e:
            report["findings"].append(_finding(migration.down.display, "the down file fails at statement %d (line %d): %s"
                                               % (e.statement.index, e.statement.line, e.cause), e.statement.line))
            break
        differences = compare(snapshots[index], scratch_type.tables(scratch))
        if differences:
            report["findings"].append(_finding(migration.down.display, "; ".join(differences), differences=differences))
            break
    else:
        for migration in migrations:
            timings[migration.version]["reup_ms"] = _timed(scratch, migration.up, "up again")
    report["migrations"] = list(timings.values())


def _timed(scratch, script, what, raise_error=True):
    started = time.monotonic()
    try:
        scratch.run_statements(script.statements, script.display)
    except StatementError as e:
        if not raise_error:
            raise
        raise DbopsError("rehearse: %s of %s fails on the scratch copy at statement %d (line %d): %s; the target was"
                         " not touched" % (what, script.display, e.statement.index, e.statement.line, e.cause),
                         failed_file=script.display, failed_statement=e.statement.index, error=e.cause)
    return _ms(started)


def compare(before, after):
    """What differs between two {table: definition lines} snapshots, one line per difference."""
    differences = ["table %s is missing" % t for t in sorted(set(before) - set(after))]
    differences += ["table %s is left over" % t for t in sorted(set(after) - set(before))]
    for table in sorted(set(before) & set(after)):
        old, new = before[table], after[table]
        if old != new:
            differences.append("table %s: %s" % (table, ", ".join(
                ["lost %s" % line for line in old if line not in new] + ["gained %s" % line for line in new if line not in old])))
    return differences


def _finding(display, detail, line=1, differences=None):
    rule = RULES["down-does-not-restore"]
    finding = dict(rule=rule.id, risk=rule.risk, lock=rule.lock, file=display, line=line, statement=None, table=None,
                   detail=detail, sql="")
    if differences is not None:
        finding["differences"] = differences
    return finding


def _ms(started):
    return int((time.monotonic() - started) * 1000)
