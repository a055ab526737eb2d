# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration files, the history table, and applying or rolling back in version order.

Layout: `<version>_<name>.up.sql` with an optional `<version>_<name>.down.sql` beside it.
Versions are digit groups joined by `_` and sort as numbers (`2024_12_24_000100`, `0007`).
"""

from __future__ import annotations

import datetime
import getpass
import hashlib
import os
import re
import socket
import time

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, StatementError, error_text
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import SplitError, split_statements

FILE_NAME = re.compile(r"^(?P<version>\d+(?:_\d+)*)_(?P<name>[^.]+)\.(?P<direction>up|down)\.sql$")

APPLIED = "applied"
FAILED = "failed"


class Migration:
    """One migration: its version, name and the up/down files on disk."""

    def __init__(self, version, name, up_path, down_path=None):
        self.version = version
        self.name = name
        self.up_path = up_path
        self.down_path = down_path
        self._up_sql = None

    @property
    def sort_key(self):
        return tuple(int(part) for part in self.version.split("_"))

    @property
    def up_sql(self):
        if self._up_sql is None:
            self._up_sql = read_sql(self.up_path)
        return self._up_sql

    @property
    def checksum(self):
        return hashlib.sha256(self.up_sql.encode("utf-8")).hexdigest()

    def summary(self):
        return dict(version=self.version, name=self.name, file=self.up_path)


def read_sql(path):
    """The text of a SQL file; unreadable or non-UTF-8 files fail naming the file."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as e:
        raise DbopsError("%s: cannot read migration file: %s" % (path, e.strerror))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DbopsError("%s: not valid UTF-8 (byte %d)" % (path, e.start))


def parse_name(path):
    match = FILE_NAME.match(os.path.basename(path))
    if not match:
        raise DbopsError("%s: not a migration file name; expected <version>_<name>.up.sql" % path)
    return match


def load_directory(directory):
    """All migrations of a directory in version order; bad names and duplicates fail first."""
    if not os.path.isdir(directory):
        raise DbopsError("migrations_dir %s: no such directory" % directory)
    try:
        names = sorted(os.listdir(directory))
    except OSError as e:
        raise DbopsError("migrations_dir %s: cannot list: %s" % (directory, e.strerror))
    ups, downs = {}, {}
    for file_name in names:
        if not file_name.endswith(".sql"):
            continue
        match = parse_name(os.path.join(directory, file_name))
        target = ups if match.group("direction") == "up" else downs
        key = (match.group("version"), match.group("name"))
        target[key] = os.path.join(directory, file_name)
    migrations = [Migration(version, name, path, downs.get((version, name)))
                  for (version, name), path in ups.items()]
    orphans = sorted(set(downs) - set(ups))
    if orphans:
        raise DbopsError("%s: down file without an up file" % downs[orphans[0]])
    migrations.sort(key=lambda m: m.sort_key)
    for before, after in zip(migrations, migrations[1:]):
        if before.sort_key == after.sort_key:
            raise DbopsError("duplicate migration version %s: %s and %s"
                             % (after.version, before.up_path, after.up_path))
    return migrations


def load_file(path):
    """One migration from its up file (the `path` option), with its down file if present."""
    match = parse_name(path)
    if match.group("direction") != "up":
        raise DbopsError("path %s: give the .up.sql file of the migration" % path)
    if not os.path.isfile(path):
        raise DbopsError("path %s: no such file" % path)
    down = path[: -len(".up.sql")] + ".down.sql"
    return [Migration(match.group("version"), match.group("name"), path, down if os.path.isfile(down) else None)]


def statements_of(path, sql, engine):
    try:
        return split_statements(sql, engine)
    except SplitError as e:
        raise DbopsError("%s: %s" % (path, e))


class History:
    """The history table: one row per migration that ran, applied or failed."""

    COLUMNS = ("version", "name", "checksum", "status", "batch", "applied_at", "applied_by",
               "execution_ms", "statements", "failed_statement", "error")

    def __init__(self, conn, table):
        self.conn = conn
        self.table = table
        self.quoted = conn.engine.quote_ident(table)

    def exists(self):
        return bool(self.conn.query_value(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (self.conn.current_schema(), self.table)))

    def rows(self):
        """History rows by version, as dicts; empty when the table does not exist yet."""
        if not self.exists():
            return {}
        rows = self.conn.query("SELECT %s FROM %s" % (", ".join(self.COLUMNS), self.quoted))
        return {row[0]: dict(zip(self.COLUMNS, row)) for row in rows}

    def create(self):
        stamp = "TIMESTAMPTZ" if self.conn.engine.name == "postgres" else "DATETIME(6)"
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS %s ("
            " version VARCHAR(191) NOT NULL PRIMARY KEY,"
            " name VARCHAR(255) NOT NULL,"
            " checksum CHAR(64) NOT NULL,"
            " status VARCHAR(16) NOT NULL,"
            " batch INTEGER NOT NULL,"
            " applied_at %s NOT NULL,"
            " applied_by VARCHAR(255),"
            " execution_ms INTEGER,"
            " statements INTEGER,"
            " failed_statement INTEGER,"
            " error TEXT)" % (self.quoted, stamp))

    def record(self, migration, status, batch, applied_by, execution_ms, statements,
               failed_statement=None, error=None):
        self.remove(migration.version)
        self.conn.execute(
            "INSERT INTO %s (%s) VALUES (%s)" % (self.quoted, ", ".join(self.COLUMNS), ", ".join(["%s"] * len(self.COLUMNS))),
            (migration.version, migration.name, migration.checksum, status, batch, self._now(), applied_by,
             execution_ms, statements, failed_statement, error))

    def _now(self):
        now = datetime.datetime.now(datetime.timezone.utc)
        # DATETIME(6) on MySQL has no zone: the table holds UTC.
        return now if self.conn.engine.name == "postgres" else now.replace(tzinfo=None)

    def remove(self, version):
        self.conn.execute("DELETE FROM %s WHERE version = %%s" % self.quoted, (version,))


def default_operator():
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry inside some containers
        user = "unknown"
    return "%s@%s" % (user, socket.gethostname())


class Migrator:
    """Plans and runs migrations against one connection."""

    def __init__(self, conn, migrations, history_table, applied_by=None, out_of_order=False):
        self.conn = conn
        self.engine = conn.engine.name
        self.migrations = migrations
        self.history = History(conn, history_table)
        self.applied_by = applied_by or default_operator()
        self.out_of_order = out_of_order
        self.rows = self.history.rows()

    def applied_versions(self):
        return {v for v, row in self.rows.items() if row["status"] == APPLIED}

    def pending(self):
        """Migrations still to run, after the drift and order checks."""
        applied = self.applied_versions()
        drifted = [m for m in self.migrations
                   if m.version in applied and self.rows[m.version]["checksum"] != m.checksum]
        if drifted:
            m = drifted[0]
            raise DbopsError(
                "%s changed after it was applied (history checksum %s, file checksum %s); "
                "restore the file or repair the history before migrating"
                % (m.up_path, self.rows[m.version]["checksum"], m.checksum),
                drifted=[d.summary() for d in drifted])
        pending = [m for m in self.migrations if m.version not in applied]
        if pending and applied and not self.out_of_order:
            newest = max((m for m in self.migrations if m.version in applied), key=lambda m: m.sort_key, default=None)
            early = [m for m in pending if newest is not None and m.sort_key < newest.sort_key]
            if early:
                raise DbopsError(
                    "%s is older than the newest applied migration %s; set out_of_order=true to apply it"
                    % (early[0].up_path, newest.version))
        return pending

    def missing_files(self):
        known = {m.version for m in self.migrations}
        return sorted(v for v in self.applied_versions() if v not in known)

    def next_batch(self):
        return max([row["batch"] or 0 for row in self.rows.values()] + [0]) + 1

    def apply(self, migrations):
        """Apply in order; stops at the first failure, which is recorded with its statement."""
        parsed = [(m, statements_of(m.up_path, m.up_sql, self.engine)) for m in migrations]
        self.history.create()
        batch = self.next_batch()
        applied = []
        for migration, statements in parsed:
            applied.append(self._apply_one(migration, statements, batch))
        return applied, batch

    def _apply_one(self, migration, statements, batch):
        started = time.monotonic()
        try:
            if self.conn.engine.transactional_ddl:
                with self.conn.transaction():
                    self.conn.run_statements(statements, migration.up_path)
                    self._record(migration, APPLIED, batch, started, statements)
            else:
                self.conn.run_statements(statements, migration.up_path)
                with self.conn.transaction():
                    self._record(migration, APPLIED, batch, started, statements)
        except StatementError as e:
            try:
                with self.conn.transaction():
                    self._record(migration, FAILED, batch, started, statements,
                                 failed_statement=e.statement.index, error=e.cause)
            except self.conn.engine.driver().Error as record_error:
                # The session may be gone (killed, server restart): report the statement that failed.
                e.details["history_not_recorded"] = error_text(record_error)
            raise
        return dict(migration.summary(), execution_ms=_ms_since(started), statements=len(statements))

    def _record(self, migration, status, batch, started, statements, **failure):
        self.history.record(migration, status, batch, self.applied_by, _ms_since(started), len(statements), **failure)

    def rollback_candidates(self, steps, only=None):
        """The newest `steps` migrations that ran (applied or failed part-way), newest first."""
        by_version = {m.version: m for m in self.migrations}
        rows = [row for row in self.rows.values() if row["status"] in (APPLIED, FAILED)]
        if only is not None:
            rows = [row for row in rows if row["version"] in only]
        rows.sort(key=lambda row: (row["batch"] or 0, tuple(int(p) for p in row["version"].split("_"))), reverse=True)
        chosen = []
        for row in rows[:steps]:
            migration = by_version.get(row["version"])
            if migration is None:
                raise DbopsError("cannot roll back %s_%s: its migration file is not in the given files"
                                 % (row["version"], row["name"]))
            if migration.down_path is None:
                raise DbopsError("cannot roll back %s: no down file (%s)"
                                 % (migration.up_path, migration.up_path[: -len(".up.sql")] + ".down.sql"))
            chosen.append(migration)
        return chosen

    def rollback(self, migrations):
        """Run the down files in the given order; each removes its history row when it succeeds."""
        parsed = [(m, statements_of(m.down_path, read_sql(m.down_path), self.engine)) for m in migrations]
        done = []
        for migration, statements in parsed:
            started = time.monotonic()
            if self.conn.engine.transactional_ddl:
                with self.conn.transaction():
                    self.conn.run_statements(statements, migration.down_path)
                    self.history.remove(migration.version)
            else:
                self.conn.run_statements(statements, migration.down_path)
                self.history.remove(migration.version)
            done.append(dict(migration.summary(), file=migration.down_path,
                             execution_ms=_ms_since(started), statements=len(statements)))
        return done


def _ms_since(started):
    return int((time.monotonic() - started) * 1000)


def run_migrate_apply(module):
    """The migrate_apply module: read and validate every file, then plan, then apply or roll back."""
    params = module.params
    if params["path"]:
        migrations = load_file(params["path"])
    else:
        migrations = load_directory(params["migrations_dir"])
    for migration in migrations:
        migration.up_sql  # read and decode every file before touching the database
    if params["steps"] < 1:
        raise DbopsError("steps must be 1 or more, got %d" % params["steps"])

    conn = module.connect()
    try:
        migrator = Migrator(conn, migrations, params["history_table"], params["applied_by"], params["out_of_order"])
        result = dict(changed=False, applied=[], rolled_back=[], pending=[], batch=None,
                      missing_files=[] if params["path"] else migrator.missing_files(),
                      history_table=params["history_table"])
        if params["state"] == "applied":
            todo = migrator.pending()
            files = [(m.up_path, m.up_sql) for m in todo]
        else:
            only = {m.version for m in migrations} if params["path"] else None
            todo = migrator.rollback_candidates(params["steps"], only)
            files = [(m.down_path, read_sql(m.down_path)) for m in todo]
        result["pending"] = [dict(m.summary(), statements=len(statements_of(path, sql, conn.engine.name)))
                             for m, (path, sql) in zip(todo, files)]
        result["changed"] = bool(todo)
        if module._diff and todo:
            result["diff"] = dict(prepared="".join("-- %s\n%s\n" % (path, sql.rstrip()) for path, sql in files))
        if module.check_mode or not todo:
            return result
        if params["state"] == "applied":
            result["applied"], result["batch"] = migrator.apply(todo)
        else:
            result["rolled_back"] = migrator.rollback(todo)
        result["pending"] = []
        return result
    finally:
        conn.close()
