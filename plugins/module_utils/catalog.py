# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the server says about itself, one method per question, one class per engine.

Checks ask a `Catalog` and never write SQL of their own, so every engine difference lives here.
Identifiers are always bound as parameters or quoted by the engine.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def version_tuple(text):
    """(major, minor, patch) from a version string such as '10.11.19-MariaDB' or '15.4'."""
    match = _VERSION.search(str(text))
    if not match:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


class Catalog:
    """Engine-neutral questions; the subclasses hold the SQL."""

    def __init__(self, conn):
        self.conn = conn
        self.engine = conn.engine
        self._tables = {}
        self._columns = {}
        self._indexes = {}

    def rows(self, sql, params=None, keys=None):
        rows = self.conn.query(sql, params)
        return [dict(zip(keys, row)) for row in rows] if keys else rows

    def tables(self, schema):
        """Names of the base tables and views of a schema (cached for the call)."""
        if schema not in self._tables:
            self._tables[schema] = {row[0] for row in self.conn.query(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))}
        return self._tables[schema]

    def columns(self, schema, table):
        """Columns of a table: name, type (as the engine spells it, several ways), nullable, default."""
        key = (schema, table)
        if key not in self._columns:
            self._columns[key] = {row["name"]: row for row in self.rows(self.COLUMNS_SQL, key, self.COLUMN_KEYS)}
        return self._columns[key]

    def indexes(self, schema, table):
        """Indexes of a table: name, ordered columns, unique, valid."""
        key = (schema, table)
        if key not in self._indexes:
            found = {}
            for row in self.rows(self.INDEXES_SQL, key, ("name", "column", "unique", "valid")):
                index = found.setdefault(row["name"], dict(name=row["name"], columns=[], unique=bool(row["unique"]),
                                                           valid=bool(row["valid"])))
                index["columns"].append(row["column"])
            self._indexes[key] = found
        return self._indexes[key]

    def foreign_keys(self, schema, table):
        found = {}
        for row in self.rows(self.FOREIGN_KEYS_SQL, (schema, table),
                             ("name", "column", "referenced_table", "referenced_column")):
            fk = found.setdefault(row["name"], dict(name=row["name"], columns=[], referenced_columns=[],
                                                    referenced_table=row["referenced_table"]))
            fk["columns"].append(row["column"])
            fk["referenced_columns"].append(row["referenced_column"])
        return list(found.values())

    def partitions(self, schema, table):
        return [row[0] for row in self.conn.query(self.PARTITIONS_SQL, (schema, table))]

    def relation_size(self, schema, table):
        raise NotImplementedError

    def database_size(self, schema):
        raise NotImplementedError

    def data_directory(self):
        raise NotImplementedError


class PostgresCatalog(Catalog):
    COLUMN_KEYS = ("name", "data_type", "udt_name", "full_type", "nullable", "default")
    COLUMNS_SQL = """
        SELECT a.attname, c.data_type, c.udt_name, format_type(a.atttypid, a.atttypmod),
               NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
          FROM pg_attribute a
          JOIN pg_class t ON t.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN information_schema.columns c
            ON c.table_schema = n.nspname AND c.table_name = t.relname AND c.column_name = a.attname
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = %s AND t.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"""
    INDEXES_SQL = """
        SELECT i.relname, a.attname, x.indisunique, x.indisvalid
          FROM pg_index x
          JOIN pg_class t ON t.oid = x.indrelid
          JOIN pg_class i ON i.oid = x.indexrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, position)
          LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
         WHERE n.nspname = %s AND t.relname = %s
         ORDER BY i.relname, k.position"""
    FOREIGN_KEYS_SQL = """
        SELECT c.conname, a.attname, r.relname, ra.attname
          FROM pg_constraint c
          JOIN pg_class t ON t.oid = c.conrelid
          JOIN pg_namespace n ON n.oid = t.relnamespace
          JOIN pg_class r ON r.oid = c.confrelid
          CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, refnum, position)
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
          JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = k.refnum
         WHERE c.contype = 'f' AND n.nspname = %s AND t.relname = %s
         ORDER BY c.conname, k.position"""
    PARTITIONS_SQL = """
        SELECT c.relname
          FROM pg_inherits h
          JOIN pg_class c ON c.oid = h.inhrelid
          JOIN pg_class p ON p.oid = h.inhparent
          JOIN pg_namespace n ON n.oid = p.relnamespace
         WHERE n.nspname = %s AND p.relname = %s AND p.relkind = 'p'
         ORDER BY c.relname"""

    def unvalidated_constraints(self, schema, table=None):
        return self.rows("""
            SELECT t.relname, c.conname, 'NOT VALID'
              FROM pg_constraint c
              JOIN pg_class t ON t.oid = c.conrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE NOT c.convalidated AND n.nspname = %s AND (%s::text IS NULL OR t.relname = %s)
             ORDER BY 1, 2""", (schema, table, table), ("table", "name", "state"))

    def extension(self, name):
        row = self.conn.query(
            "SELECT default_version, installed_version FROM pg_available_extensions WHERE name = %s", (name,))
        if not row:
            return dict(available=False, installed=False, version=None)
        return dict(available=True, installed=row[0][1] is not None, version=row[0][1] or row[0][0])

    def server_version(self):
        text = self.conn.query_value("SHOW server_version")
        return "PostgreSQL " + text, version_tuple(text)

    def replication(self):
        if self.conn.query_value("SELECT pg_is_in_recovery()"):
            lag = self.conn.query_value("""
                SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                            ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END""")
            return dict(role="replica", lag_seconds=lag, replicas=[])
        replicas = self.rows("""
            SELECT application_name, client_addr::text, state,
                   COALESCE(EXTRACT(EPOCH FROM replay_lag), 0)
              FROM pg_stat_replication""", keys=("name", "address", "state", "lag_seconds"))
        lag = max([r["lag_seconds"] for r in replicas] + [0])
        return dict(role="primary", lag_seconds=lag, replicas=replicas)

    def long_running(self, seconds):
        return self.rows("""
            SELECT pid, usename, state,
                   EXTRACT(EPOCH FROM now() - COALESCE(xact_start, query_start))::int AS age,
                   left(query, 200)
              FROM pg_stat_activity
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
               AND state <> 'idle' AND COALESCE(xact_start, query_start) < now() - make_interval(secs => %s)
             ORDER BY age DESC""", (seconds,), ("pid", "user", "state", "age_seconds", "query"))

    def blocked_sessions(self):
        return self.rows("""
            SELECT w.pid, left(w.query, 200), b.pid, left(b.query, 200),
                   EXTRACT(EPOCH FROM now() - w.query_start)::int
              FROM pg_stat_activity w
              CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocker(pid)
              JOIN pg_stat_activity b ON b.pid = blocker.pid
             ORDER BY 5 DESC""", keys=("pid", "query", "blocking_pid", "blocking_query", "wait_seconds"))

    def connections(self):
        used = self.conn.query_value("SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")
        return used, int(self.conn.query_value("SHOW max_connections"))

    def relation_size(self, schema, table):
        return self.conn.query_value("SELECT pg_total_relation_size(%s::regclass)",
                                     (self.engine.qualified(schema, table),))

    def database_size(self, schema):
        return self.conn.query_value("SELECT pg_database_size(current_database())")

    def data_directory(self):
        return self.conn.query_value("SELECT current_setting('data_directory')")


class MySQLCatalog(Catalog):
    COLUMN_KEYS = ("name", "data_type", "column_type", "full_type", "nullable", "default")
    COLUMNS_SQL = """
        SELECT column_name, data_type, column_type, column_type, is_nullable = 'YES', column_default
          FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"""
    INDEXES_SQL = """
        SELECT index_name, column_name, non_unique = 0, 1
          FROM information_schema.statistics WHERE table_schema = %s AND table_name = %s
         ORDER BY index_name, seq_in_index"""
    FOREIGN_KEYS_SQL = """
        SELECT constraint_name, column_name, referenced_table_name, referenced_column_name
          FROM information_schema.key_column_usage
         WHERE table_schema = %s AND table_name = %s AND referenced_table_name IS NOT NULL
         ORDER BY constraint_name, ordinal_position"""
    PARTITIONS_SQL = """
        SELECT partition_name FROM information_schema.partitions
         WHERE table_schema = %s AND table_name = %s AND partition_name IS NOT NULL
         ORDER BY partition_ordinal_position"""

    def is_mariadb(self):
        return "mariadb" in str(self.conn.query_value("SELECT VERSION()")).lower()

    def unvalidated_constraints(self, schema, table=None):
        """MySQL 8 can hold CHECK constraints NOT ENFORCED; MariaDB has no such state."""
        has_enforced = self.conn.query_value(
            "SELECT COUNT(*) FROM information_schema.columns"
            " WHERE table_schema = 'information_schema' AND table_name = 'TABLE_CONSTRAINTS' AND column_name = 'ENFORCED'")
        if not has_enforced:
            return []
        return self.rows("""
            SELECT table_name, constraint_name, 'NOT ENFORCED' FROM information_schema.table_constraints
             WHERE enforced = 'NO' AND table_schema = %s AND (%s IS NULL OR table_name = %s)
             ORDER BY 1, 2""", (schema, table, table), ("table", "name", "state"))

    def extension(self, name):
        row = self.conn.query(
            "SELECT plugin_status, plugin_version FROM information_schema.plugins WHERE plugin_name = %s", (name,))
        if not row and name == "partition" and not self.is_mariadb() and self.server_version()[1] >= (8,):
            # MySQL 8 partitions natively in InnoDB; there is no plugin to look for.
            return dict(available=True, installed=True, version="native")
        if not row:
            return dict(available=False, installed=False, version=None)
        return dict(available=True, installed=row[0][0] == "ACTIVE", version=row[0][1])

    def server_version(self):
        text = self.conn.query_value("SELECT VERSION()")
        flavor = "MariaDB" if "mariadb" in text.lower() else "MySQL"
        return "%s %s" % (flavor, text), version_tuple(text)

    def replication(self):
        status = self._replica_status()
        queue = self._group_replication_queue()
        if status is None:
            return dict(role="primary", lag_seconds=0, replicas=[], group_replication_queue=queue)
        lag = status.get("Seconds_Behind_Source", status.get("Seconds_Behind_Master"))
        running = status.get("Replica_SQL_Running", status.get("Slave_SQL_Running"))
        return dict(role="replica", lag_seconds=lag, sql_thread=running, group_replication_queue=queue, replicas=[])

    def _replica_status(self):
        """SHOW REPLICA STATUS as a dict (SHOW SLAVE STATUS on older servers); None on a primary."""
        for statement in ("SHOW REPLICA STATUS", "SHOW SLAVE STATUS"):
            try:
                rows = self.conn.query_dicts(statement)
            except self.engine.driver().Error:
                continue
            return rows[0] if rows else None
        return None

    def _group_replication_queue(self):
        present = self.conn.query_value(
            "SELECT COUNT(*) FROM information_schema.tables"
            " WHERE table_schema = 'performance_schema' AND table_name = 'replication_group_member_stats'")
        if not present:
            return None
        return self.conn.query_value(
            "SELECT COALESCE(SUM(count_transactions_in_queue), 0) FROM performance_schema.replication_group_member_stats")

    def long_running(self, seconds):
        statements = self.rows("""
            SELECT id, user, command, time, LEFT(info, 200) FROM information_schema.processlist
             WHERE id <> CONNECTION_ID() AND command NOT IN ('Sleep', 'Daemon', 'Binlog Dump') AND time >= %s""",
                               (seconds,), ("pid", "user", "state", "age_seconds", "query"))
        seen = {row["pid"] for row in statements}
        transactions = self.rows("""
            SELECT trx_mysql_thread_id, 'transaction', TIMESTAMPDIFF(SECOND, trx_started, NOW()),
                   LEFT(trx_query, 200)
              FROM information_schema.innodb_trx
             WHERE trx_mysql_thread_id <> CONNECTION_ID() AND trx_started <= NOW() - INTERVAL %s SECOND""",
                                 (seconds,), ("pid", "state", "age_seconds", "query"))
        return statements + [dict(row, user=None) for row in transactions if row["pid"] not in seen]

    def blocked_sessions(self):
        row_locks = self.rows("""
            SELECT waiting_pid, LEFT(waiting_query, 200), blocking_pid, LEFT(blocking_query, 200), wait_age_secs
              FROM sys.innodb_lock_waits ORDER BY wait_age_secs DESC""",
                              keys=("pid", "query", "blocking_pid", "blocking_query", "wait_seconds"))
        waiting = {row["pid"] for row in row_locks}
        metadata = self.rows("""
            SELECT id, LEFT(info, 200), NULL, NULL, time FROM information_schema.processlist
             WHERE state LIKE 'Waiting for%metadata lock' AND id <> CONNECTION_ID()""",
                             keys=("pid", "query", "blocking_pid", "blocking_query", "wait_seconds"))
        return row_locks + [row for row in metadata if row["pid"] not in waiting]

    def connections(self):
        used = self.conn.query_value("SELECT COUNT(*) FROM information_schema.processlist")
        return used, int(self.conn.query_value("SELECT @@max_connections"))

    def relation_size(self, schema, table):
        return self.conn.query_value(
            "SELECT data_length + index_length FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
            (schema, table))

    def database_size(self, schema):
        return self.conn.query_value(
            "SELECT COALESCE(SUM(data_length + index_length), 0) FROM information_schema.tables WHERE table_schema = %s",
            (schema,))

    def data_directory(self):
        return self.conn.query_value("SELECT @@datadir")


CATALOGS = {"postgres": PostgresCatalog, "mysql": MySQLCatalog}
