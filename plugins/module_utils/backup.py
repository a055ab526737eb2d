# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logical backups with the engines' own tools, proven by restoring them.

PostgreSQL: `pg_dump --format=custom` and `pg_restore`. MySQL/MariaDB: `mariadb-dump`/`mysqldump
--single-transaction`, gzip-compressed, and `mariadb`/`mysql`. Dumps and restores stream through
fixed-size chunks; passwords reach the tools through their environment (PostgreSQL) or a private
option file (MySQL), never the command line.

Each backup `<prefix>-<yyyymmddThhmmssZ>.<pgdump|sql.gz>` has a manifest `<backup>.json` with its
size, sha256 and per-table row counts and checksums; a restore is proven by comparing those.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.dbops.runbooks.plugins.module_utils.database import ENGINES, DbopsError, connect, scrub
from ansible_collections.dbops.runbooks.plugins.module_utils.durations import (
    age_seconds,
    format_duration,
    parse_duration,
    utc_now,
)

CHUNK = 1024 * 1024
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MANIFEST_FORMAT = 1


# -- names, retention and manifests (pure) ---------------------------------------------------------

def backup_name(prefix, engine, now, seq=0):
    """`<prefix>-<UTC stamp>[-<seq>].<ext>`; seq only separates backups taken in the same second."""
    stem = "%s-%s" % (prefix, now.astimezone(datetime.timezone.utc).strftime(STAMP_FORMAT))
    return "%s%s.%s" % (stem, "-%d" % seq if seq else "", DUMPS[engine].extension)


def parse_backup_name(name, prefix, engine):
    """(created, seq) of a backup file name of this prefix and engine, or None."""
    pattern = r"^%s-(\d{8}T\d{6}Z)(?:-(\d+))?\.%s$" % (re.escape(prefix), re.escape(DUMPS[engine].extension))
    match = re.match(pattern, name)
    if not match:
        return None
    created = datetime.datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=datetime.timezone.utc)
    return created, int(match.group(2) or 0)


def list_backups(directory, prefix, engine):
    """Backups of this prefix and engine in `directory`, oldest first."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in os.listdir(directory):
        parsed = parse_backup_name(name, prefix, engine)
        if parsed:
            found.append(dict(name=name, path=os.path.join(directory, name), created=parsed[0], seq=parsed[1]))
    return sorted(found, key=lambda backup: (backup["created"], backup["seq"]))


def expired(backups, keep):
    """The backups beyond the newest `keep` (oldest first); none when keep is unset."""
    if not keep:
        return []
    return backups[:-keep] if len(backups) > keep else []


def manifest_path(backup_path):
    return backup_path + ".json"


def read_manifest(backup_path):
    path = manifest_path(backup_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as e:
        raise DbopsError("cannot read the manifest %s: %s" % (path, e))


def compare_tables(expected, observed):
    """Differences between two per-table statistics lists, one line each."""
    before = {entry["table"]: entry for entry in expected}
    after = {entry["table"]: entry for entry in observed}
    differences = []
    for table in sorted(set(before) | set(after)):
        if table not in after:
            differences.append("%s: missing after restore" % table)
        elif table not in before:
            differences.append("%s: not in the backup" % table)
        elif before[table]["rows"] != after[table]["rows"]:
            differences.append("%s: %s rows, expected %s" % (table, after[table]["rows"], before[table]["rows"]))
        elif before[table]["checksum"] != after[table]["checksum"]:
            differences.append("%s: same %s rows but different content" % (table, before[table]["rows"]))
    return differences


# -- table statistics ---------------------------------------------------------------------------------

def pg_stats_sql(qualified):
    """Row count and an order-independent sum of 60-bit row hashes (exact, as numeric)."""
    return ("SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)::text "
            "FROM %s AS t" % qualified)


def mysql_stats_sql(qualified, quoted_columns):
    """Row count and an order-independent sum of 60-bit row hashes; QUOTE() keeps NULL distinct from 'NULL'."""
    row = "CONCAT_WS('|', %s)" % ", ".join("CAST(QUOTE(%s) AS BINARY)" % column for column in quoted_columns)
    return ("SELECT COUNT(*), CAST(COALESCE(SUM(CAST(CONV(LEFT(MD5(%s), 15), 16, 10) AS UNSIGNED)), 0) AS CHAR) "
            "FROM %s" % (row, qualified))


def table_stats(conn, database):
    """[{table, rows, checksum}] for every base table of `database`, sorted by table name."""
    return DUMPS[conn.engine.name].table_stats(conn, database)


# -- what differs between the engines' tools and databases ---------------------------------------------

class PostgresDumps:
    """pg_dump --format=custom and pg_restore; the credentials in libpq's environment variables."""

    extension = "pgdump"
    dump_tools = ("pg_dump",)
    restore_tools = ("pg_restore",)
    takes_option_file = False

    @staticmethod
    def dump_command(tools, database, snapshot=None):
        command = [tools.dump, "--format=custom", "--compress=6", "--no-password", "--dbname=%s" % database]
        return command + (["--snapshot=%s" % snapshot] if snapshot else [])

    @staticmethod
    def restore_command(tools, database, path):
        return [tools.restore, "--no-password", "--exit-on-error", "--single-transaction", "--dbname=%s" % database, path]

    @staticmethod
    def copy_dump(stdout, writer):
        shutil.copyfileobj(stdout, writer, CHUNK)  # the custom format is compressed already

    restore_reads_stdin = False

    @staticmethod
    def consistent_dump(conn, tools, database, partial):
        """(tables, size, sha256): pg_dump reads the snapshot exported here, so the statistics match the dump."""
        conn.execute("START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.query_value("SELECT pg_export_snapshot()")
        tables = table_stats(conn, database)
        size, digest = tools.run_dump(database, partial, snapshot)
        conn.execute("ROLLBACK")
        return tables, size, digest

    @staticmethod
    def table_stats(conn, database):
        stats = []
        tables = conn.query(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%' "
            "ORDER BY 1, 2")
        for schema, table in tables:
            rows, checksum = conn.query(pg_stats_sql(conn.engine.qualified(schema, table)))[0]
            stats.append(dict(table="%s.%s" % (schema, table), rows=int(rows), checksum=str(checksum)))
        return stats

    @staticmethod
    def admin_database(params):
        return params["maintenance_db"]  # PostgreSQL cannot drop the database it is connected to

    exists_sql = "SELECT count(*) FROM pg_database WHERE datname = %s"

    def object_count(self, server, database):
        with closing(server.admin()) as admin:
            if not server.exists(admin, database):
                return 0
        with closing(server.connect(database)) as conn:
            return int(conn.query_value(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%%'"))

    @staticmethod
    def settings_of(conn, database):
        rows = conn.query("SELECT pg_encoding_to_char(encoding), datcollate, datctype, pg_get_userbyid(datdba) "
                          "FROM pg_database WHERE datname = %s", (database,))
        return dict(zip(("encoding", "collate", "ctype", "owner"), rows[0])) if rows else {}

    @staticmethod
    def create_sql(conn, database, settings):
        sql = "CREATE DATABASE %s TEMPLATE template0" % conn.engine.quote_ident(database)
        if settings:
            sql += " ENCODING %s LC_COLLATE %s LC_CTYPE %s" % tuple(
                literal(settings[key]) for key in ("encoding", "collate", "ctype"))
            if settings["owner"] != conn.query_value("SELECT current_user"):
                sql += " OWNER %s" % conn.engine.quote_ident(settings["owner"])
        return sql

    drop_suffix = " WITH (FORCE)"  # sessions still connected to it do not stop the drop


class MySQLDumps:
    """mariadb-dump/mysqldump --single-transaction, gzip-compressed, and mariadb/mysql; a private option file."""

    extension = "sql.gz"
    dump_tools = ("mariadb-dump", "mysqldump")
    restore_tools = ("mariadb", "mysql")
    takes_option_file = True

    @staticmethod
    def dump_command(tools, database, snapshot=None):
        return [tools.dump, "--defaults-file=%s" % tools.option_file, "--single-transaction", "--quick",
                "--routines", "--triggers", "--hex-blob", "--no-tablespaces", "--default-character-set=utf8mb4",
                "--", database]

    @staticmethod
    def restore_command(tools, database, path):
        return [tools.restore, "--defaults-file=%s" % tools.option_file, "--batch", "--database=%s" % database]

    @staticmethod
    def copy_dump(stdout, writer):
        with gzip.GzipFile(filename="", mode="wb", fileobj=writer, mtime=0) as compressed:
            shutil.copyfileobj(stdout, compressed, CHUNK)

    restore_reads_stdin = True

    @staticmethod
    def consistent_dump(conn, tools, database, partial):
        """(tables, size, sha256): statistics in one consistent snapshot, then --single-transaction dumps."""
        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        tables = table_stats(conn, database)
        conn.execute("ROLLBACK")
        size, digest = tools.run_dump(database, partial)
        return tables, size, digest

    @staticmethod
    def table_stats(conn, database):
        columns = {}
        for table, column in conn.query(
                "SELECT c.table_name, c.column_name FROM information_schema.columns c "
                "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
                "WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE' ORDER BY c.table_name, c.ordinal_position",
                (database,)):
            columns.setdefault(table, []).append(conn.engine.quote_ident(column))
        stats = []
        for table in sorted(columns):
            rows, checksum = conn.query(mysql_stats_sql(conn.engine.qualified(database, table), columns[table]))[0]
            stats.append(dict(table=table, rows=int(rows), checksum=str(checksum)))
        return stats

    @staticmethod
    def admin_database(params):
        return None

    exists_sql = "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = %s"

    def object_count(self, server, database):
        with closing(server.admin()) as conn:
            return int(conn.query_value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s",
                                        (database,)))

    @staticmethod
    def settings_of(conn, database):
        rows = conn.query("SELECT default_character_set_name, default_collation_name "
                          "FROM information_schema.schemata WHERE schema_name = %s", (database,))
        return dict(zip(("charset", "collation"), rows[0])) if rows else {}

    @staticmethod
    def create_sql(conn, database, settings):
        sql = "CREATE DATABASE %s" % conn.engine.quote_ident(database)
        if settings:
            sql += " CHARACTER SET %s COLLATE %s" % (literal(settings["charset"]), literal(settings["collation"]))
        return sql

    drop_suffix = ""


DUMPS = {"postgres": PostgresDumps(), "mysql": MySQLDumps()}


# -- streaming ----------------------------------------------------------------------------------------

class HashingWriter:
    """A binary file that counts and hashes what passes through it."""

    def __init__(self, handle):
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, chunk):
        self.sha256.update(chunk)
        self.size += len(chunk)
        return self.handle.write(chunk)

    def flush(self):
        self.handle.flush()


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def last_lines(text, count=3):
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:]) or "no error output"


class Tools:
    """The engine's dump and restore programs with their credentials, for one run of the module.

    The programs run through subprocess, not `run_command`: `run_command` keeps a program's output
    in memory, and a dump must stream from the program to the file (and back for a restore).
    """

    def __init__(self, module, params):
        self.module = module
        self.params = params
        self.engine = ENGINES[params["engine"]]
        self.kind = DUMPS[params["engine"]]
        self.dump = self.find(module, self.kind.dump_tools)
        self.restore = self.find(module, self.kind.restore_tools)
        self.private_dir = None
        self.option_file = None

    @staticmethod
    def find(module, names):
        for name in names:
            path = module.get_bin_path(name)
            if path:
                return path
        raise DbopsError("%s not found on the PATH of the host that runs the module" % " or ".join(names))

    def __enter__(self):
        if self.kind.takes_option_file:
            self.private_dir = tempfile.mkdtemp(prefix="dbops-backup-")
            self.option_file = os.path.join(self.private_dir, "client.cnf")
            descriptor = os.open(self.option_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(self.engine.option_file_text(self.params, self.is_mariadb()))
        return self

    def __exit__(self, *exc):
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)

    def is_mariadb(self):
        if os.path.basename(self.dump).startswith("mariadb"):
            return True
        return "mariadb" in self.tool_version().lower()

    def environment(self):
        return self.engine.tool_environment(self.params, os.environ)

    def tool_version(self):
        return self.module.run_command([self.dump, "--version"])[1].strip()

    def run_dump(self, database, destination, snapshot=None):
        """Stream the dump into `destination` (gzip for MySQL); returns (size, sha256) of the file."""
        command = self.kind.dump_command(self, database, snapshot)
        with tempfile.TemporaryFile() as errors, open(destination, "wb") as raw:
            writer = HashingWriter(raw)
            process = subprocess.Popen(  # pylint: disable=ansible-bad-function
                command, stdout=subprocess.PIPE, stderr=errors, env=self.environment())
            try:
                self.kind.copy_dump(process.stdout, writer)
            finally:
                process.stdout.close()
                code = process.wait()
            if code != 0:
                errors.seek(0)
                raise DbopsError("%s of %s failed (exit %d): %s" % (
                    os.path.basename(self.dump), database, code,
                    scrub(last_lines(errors.read().decode("utf-8", "replace")), self.params)))
        return writer.size, writer.sha256.hexdigest()

    def run_restore(self, database, path):
        """Stream the backup at `path` into `database`."""
        command = self.kind.restore_command(self, database, path)
        with tempfile.TemporaryFile() as errors:
            if not self.kind.restore_reads_stdin:
                code = subprocess.run(  # pylint: disable=ansible-bad-function
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
                    env=self.environment(), check=False).returncode
            else:
                process = subprocess.Popen(  # pylint: disable=ansible-bad-function
                    command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors,
                    env=self.environment())
                try:
                    with gzip.open(path, "rb") as source:
                        shutil.copyfileobj(source, process.stdin, CHUNK)
                except BrokenPipeError:
                    pass  # the client stopped reading; its exit code and error output say why
                except (OSError, EOFError) as e:
                    process.kill()
                    process.wait()
                    raise DbopsError("cannot read backup %s: %s" % (path, e))
                finally:
                    try:
                        process.stdin.close()
                    except BrokenPipeError:
                        pass
                code = process.wait()
            if code != 0:
                errors.seek(0)
                raise DbopsError("%s of %s into %s failed (exit %d): %s" % (
                    os.path.basename(self.restore), os.path.basename(path), database, code,
                    scrub(last_lines(errors.read().decode("utf-8", "replace")), self.params)))


# -- databases: create, drop, inspect -------------------------------------------------------------------

class Server:
    """Database-level operations on the server of the connection options."""

    def __init__(self, params):
        self.params = params
        self.kind = DUMPS[params["engine"]]

    def connect(self, database):
        return connect(dict(self.params, login_db=database))

    def admin(self):
        """A session outside the databases we create or drop."""
        return self.connect(self.kind.admin_database(self.params))

    def exists(self, conn, database):
        return bool(conn.query_value(self.kind.exists_sql, (database,)))

    def object_count(self, database):
        """Tables, views and sequences in `database` (0 when empty or missing)."""
        return self.kind.object_count(self, database)

    def settings_of(self, conn, database):
        """What a recreated database keeps: encoding and collation (and owner on PostgreSQL)."""
        return self.kind.settings_of(conn, database)

    def create(self, conn, database, settings):
        conn.execute(self.kind.create_sql(conn, database, settings))

    def drop(self, conn, database):
        conn.execute("DROP DATABASE IF EXISTS %s%s" % (conn.engine.quote_ident(database), self.kind.drop_suffix))

    def stats(self, database):
        with closing(self.connect(database)) as conn:
            return table_stats(conn, database)


def literal(value):
    return "'%s'" % str(value).replace("'", "''")


class closing:
    """Close a `Connection` at the end of a with block."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


# -- the module's states ----------------------------------------------------------------------------------

class Backups:
    """The logic of db_backup for one database on one server."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.engine = self.params["engine"]
        self.server = Server(self.params)
        self.backup_dir = self.params["backup_dir"]

    def ensure(self):
        if self.params["keep"] is not None and self.params["keep"] < 1:
            raise DbopsError("keep must be 1 or more (the backup just taken is always kept)")
        if self.params["state"] == "restored":
            return self.ensure_restored()
        return self.ensure_present()

    # -- state=present

    def ensure_present(self):
        database = self.params["login_db"]
        if not database:
            raise DbopsError("login_db names the database to back up")
        prefix = self.params["prefix"] or database
        tools = Tools(self.module, self.params)
        with closing(self.server.connect(database)):
            pass  # reachable with these credentials, in check mode too
        backups = list_backups(self.backup_dir, prefix, self.engine)
        max_age = parse_duration(self.params["max_age"], "max_age") if self.params["max_age"] else None
        if max_age and backups and age_seconds(backups[-1]["created"]) < max_age:
            return self.reuse(backups, max_age)
        name = self.free_name(prefix, backups)
        path = os.path.join(self.backup_dir, name)
        result = dict(changed=True, database=database, engine=self.engine, backup_file=path,
                      manifest_file=manifest_path(path), tool=os.path.basename(tools.dump))
        if self.check_mode:
            result.update(deleted_backups=[b["path"] for b in expired(backups + [dict(path=path)], self.params["keep"])],
                          msg="would back up %s to %s" % (database, path))
            return result
        with tools:
            manifest = self.take(tools, database, path)
            result.update(size_bytes=manifest["size_bytes"], sha256=manifest["sha256"], created_at=manifest["created_at"],
                          tables=manifest["tables"])
            if self.params["verify"] == "restore":
                result["verify"] = self.verify(tools, database, path, manifest)
        backups = list_backups(self.backup_dir, prefix, self.engine)
        result["deleted_backups"] = self.remove(expired(backups, self.params["keep"]))
        result["msg"] = "backed up %s to %s (%d bytes, %d tables%s)" % (
            database, path, manifest["size_bytes"], len(manifest["tables"]),
            ", verified by restore" if "verify" in result else "")
        return result

    def free_name(self, prefix, backups):
        now = utc_now()
        taken = {backup["name"] for backup in backups}
        seq = 0
        while backup_name(prefix, self.engine, now, seq) in taken:
            seq += 1
        return backup_name(prefix, self.engine, now, seq)

    def reuse(self, backups, max_age):
        """A fresh backup exists: prove its file is intact and report it unchanged."""
        newest = backups[-1]
        manifest = read_manifest(newest["path"])
        if manifest is None:
            raise DbopsError("backup %s has no manifest %s; it cannot be trusted as the fresh backup"
                             % (newest["path"], manifest_path(newest["path"])))
        digest = file_sha256(newest["path"])
        if digest != manifest["sha256"]:
            raise DbopsError("backup %s is corrupt: its sha256 %s differs from the manifest's %s"
                             % (newest["path"], digest, manifest["sha256"]))
        age = age_seconds(newest["created"])
        to_remove = expired(backups, self.params["keep"])
        deleted = [b["path"] for b in to_remove] if self.check_mode else self.remove(to_remove)
        return dict(changed=bool(deleted), database=manifest["database"], engine=self.engine,
                    backup_file=newest["path"], manifest_file=manifest_path(newest["path"]),
                    size_bytes=manifest["size_bytes"], sha256=digest, created_at=manifest["created_at"],
                    tables=manifest["tables"], verify=manifest.get("verify"), age_seconds=int(age),
                    deleted_backups=deleted, tool=manifest.get("tool"),
                    msg="backup %s is %s old, younger than max_age %s; not taking another"
                        % (newest["name"], format_duration(age), format_duration(max_age)))

    def take(self, tools, database, path):
        """Dump `database` to `path` with its manifest; the per-table statistics describe the same data."""
        if not os.path.isdir(self.backup_dir):
            os.makedirs(self.backup_dir, mode=0o700)
        partial = path + ".partial"
        created_at = utc_now()
        try:
            with closing(self.server.connect(database)) as conn:
                tables, size, digest = tools.kind.consistent_dump(conn, tools, database, partial)
                server_version = conn.server_version()
            os.chmod(partial, 0o600)
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.remove(partial)
        manifest = dict(format=MANIFEST_FORMAT, engine=self.engine, database=database,
                        file=os.path.basename(path), created_at=created_at.isoformat(), size_bytes=size, sha256=digest,
                        tool=os.path.basename(tools.dump), tool_version=tools.tool_version(),
                        server_version=server_version, tables=tables, verify=None)
        self.write_manifest(path, manifest)
        return manifest

    @staticmethod
    def write_manifest(path, manifest):
        target = manifest_path(path)
        descriptor = os.open(target + ".partial", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(manifest, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(target + ".partial", target)

    def verify(self, tools, database, path, manifest):
        """Restore into the scratch database, compare every table with the source, drop the scratch."""
        scratch = self.params["scratch_db"] or "%s_dbops_verify" % database
        if scratch == database:
            raise DbopsError("scratch_db must differ from the database backed up (%s)" % database)
        if len(scratch) > 63:
            raise DbopsError("scratch_db %s is longer than 63 characters; choose a shorter scratch_db" % scratch)
        if self.server.object_count(scratch):
            raise DbopsError("scratch database %s exists and is not empty; drop it or choose another scratch_db"
                             % scratch)
        with closing(self.server.admin()) as admin:
            settings = self.server.settings_of(admin, database)
            self.server.drop(admin, scratch)
            self.server.create(admin, scratch, settings)
            try:
                tools.run_restore(scratch, path)
                restored = self.server.stats(scratch)
            finally:
                self.server.drop(admin, scratch)
        differences = compare_tables(manifest["tables"], restored)
        outcome = dict(method="restore", scratch_db=scratch, ok=not differences, differences=differences,
                       at=utc_now().isoformat(), tables=len(restored))
        manifest["verify"] = outcome
        self.write_manifest(path, manifest)
        if differences:
            raise DbopsError("backup %s does not restore to the data of %s: %s"
                             % (os.path.basename(path), database, "; ".join(differences)),
                             backup_file=path, verify=outcome)
        return outcome

    def remove(self, backups):
        removed = []
        for backup in backups:
            for path in (backup["path"], manifest_path(backup["path"])):
                if os.path.exists(path):
                    os.remove(path)
            removed.append(backup["path"])
        return removed

    # -- state=restored

    def choose_backup(self, target):
        if self.params["backup_file"]:
            path = self.params["backup_file"]
            if not os.path.isfile(path):
                raise DbopsError("backup_file %s does not exist" % path)
            return path
        prefix = self.params["prefix"] or target
        backups = list_backups(self.backup_dir, prefix, self.engine)
        if not backups:
            raise DbopsError("no %s backup named %s-<time>.%s in %s"
                             % (self.engine, prefix, DUMPS[self.engine].extension, self.backup_dir))
        return backups[-1]["path"]

    def ensure_restored(self):
        target = self.params["target_db"] or self.params["login_db"]
        if not target:
            raise DbopsError("target_db (or login_db) names the database to restore into")
        path = self.choose_backup(target)
        manifest = read_manifest(path)
        if manifest is not None:
            if manifest.get("engine") != self.engine:
                raise DbopsError("backup %s is a %s backup; the target is %s" % (path, manifest.get("engine"), self.engine))
            digest = file_sha256(path)
            if digest != manifest["sha256"]:
                raise DbopsError("backup %s is corrupt: its sha256 %s differs from the manifest's %s"
                                 % (path, digest, manifest["sha256"]))
        tools = Tools(self.module, self.params)
        objects = self.server.object_count(target)
        result = dict(database=target, engine=self.engine, backup_file=path, sha256=(manifest or {}).get("sha256"),
                      replaced_objects=objects)
        if manifest is not None and objects and compare_tables(manifest["tables"], self.server.stats(target)) == []:
            result.update(changed=False, verified=True, tables=manifest["tables"],
                          msg="%s already holds the data of backup %s" % (target, os.path.basename(path)))
            return result
        if objects and not self.params["overwrite"]:
            raise DbopsError("database %s is not empty (%d tables, views or sequences); set overwrite=true to replace "
                             "it with backup %s" % (target, objects, os.path.basename(path)))
        result["changed"] = True
        if self.check_mode:
            result["msg"] = "would %s %s from %s" % ("replace" if objects else "restore", target, os.path.basename(path))
            return result
        with tools, closing(self.server.admin()) as admin:
            settings = self.server.settings_of(admin, target)
            if objects or not self.server.exists(admin, target):
                self.server.drop(admin, target)
                self.server.create(admin, target, settings)
            tools.run_restore(target, path)
        restored = self.server.stats(target)
        result["tables"] = restored
        if manifest is None:
            result.update(verified=False, msg="restored %s from %s (no manifest: not verified)" % (target, os.path.basename(path)))
            return result
        differences = compare_tables(manifest["tables"], restored)
        if differences:
            raise DbopsError("restored %s from %s but it differs from the backup: %s"
                             % (target, os.path.basename(path), "; ".join(differences)), differences=differences)
        result.update(verified=True, msg="restored %s from %s; %d tables match the backup row for row"
                      % (target, os.path.basename(path), len(restored)))
        return result


def run_db_backup(module):
    return Backups(module).ensure()
