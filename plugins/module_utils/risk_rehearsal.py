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
import time

from ansible_collections.dbops.runbooks.plugins.module_utils.database import StatementError, connect, error_text
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.risk import RULES

_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


class MySQLScratch:
    """Scratch databases on MySQL/MariaDB: tables copied with SHOW CREATE TABLE."""

    def __init__(self, conn):
        self.conn = conn

    @staticmethod
    def tables(conn):
        """{table: CREATE TABLE} of the session's database, base tables only (views, routines, triggers are not copied)."""
        rows = conn.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
                          " AND table_type = 'BASE TABLE' ORDER BY table_name")
        return {name: _AUTO_INCREMENT.sub("", conn.query("SHOW CREATE TABLE %s" % conn.engine.quote_ident(name))[0][1])
                for (name,) in rows}

    def create(self, name):
        self.conn.execute("CREATE DATABASE %s CHARACTER SET utf8mb4" % self.conn.engine.quote_ident(name))

    def copy(self, scratch, tables):
        scratch.execute("SET SESSION foreign_key_checks = 0")
        for statement in tables.values():
            scratch.execute(statement)
        scratch.execute("SET SESSION foreign_key_checks = 1")

    def drop(self, name):
        self.conn.execute("DROP DATABASE IF EXISTS %s" % self.conn.engine.quote_ident(name))


SCRATCH = {"mysql": MySQLScratch}


def rehearse(conn, params, migrations):
    """Rehearse `migrations` (pending, in order) on a scratch copy; returns timings and findings."""
    engine = conn.engine.name
    if engine not in SCRATCH:
        raise DbopsError("rehearse: not available on %s yet (MySQL/MariaDB only); nothing was changed" % engine)
    scratch_type = SCRATCH[engine](conn)
    name = "dbops_rehearsal_%d_%s" % (os.getpid(), os.urandom(3).hex())
    started = time.monotonic()
    source = scratch_type.tables(conn)
    try:
        scratch_type.create(name)
    except conn.engine.driver().Error as e:
        raise DbopsError("rehearse: cannot create the scratch database %s on %s (%s); the target was not touched"
                         % (name, conn.target, error_text(e)))
    report = dict(database=name, tables_copied=len(source), migrations=[], findings=[])
    scratch = None
    try:
        scratch = connect(dict(params, login_db=name))
        scratch_type.copy(scratch, source)
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
    """What differs between two {table: CREATE TABLE} snapshots, one line per difference."""
    differences = ["table %s is missing" % t for t in sorted(set(before) - set(after))]
    differences += ["table %s is left over" % t for t in sorted(set(after) - set(before))]
    for table in sorted(set(before) & set(after)):
        old, new = _lines(before[table]), _lines(after[table])
        if old != new:
            differences.append("table %s: %s" % (table, ", ".join(
                ["lost %s" % line for line in old if line not in new] + ["gained %s" % line for line in new if line not in old])))
    return differences


def _lines(create):
    return [line.strip().rstrip(",") for line in create.splitlines()[1:]]


def _finding(display, detail, line=1, differences=None):
    rule = RULES["down-does-not-restore"]
    finding = dict(rule=rule.id, risk=rule.risk, lock=rule.lock, file=display, line=line, statement=None, table=None,
                   detail=detail, sql="")
    if differences is not None:
        finding["differences"] = differences
    return finding


def _ms(started):
    return int((time.monotonic() - started) * 1000)
