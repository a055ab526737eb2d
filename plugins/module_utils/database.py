# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One connection layer for PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

Modules build on `DatabaseModule`: it merges the shared connection options, opens one
`Connection` and turns the one project exception, `DbopsError`, into `fail_json`.
Everything engine-specific lives in the two `Engine` classes below.
"""

from __future__ import annotations

import datetime
import math
import re
import ssl
import traceback
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError, run_module
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import summarize, without_leading_comments

try:
    import psycopg
except ImportError:
    psycopg = None
    PSYCOPG_IMPORT_ERROR = traceback.format_exc()
else:
    PSYCOPG_IMPORT_ERROR = None

try:
    import pymysql
except ImportError:
    pymysql = None
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()
else:
    PYMYSQL_IMPORT_ERROR = None


SSL_MODES = ["disable", "prefer", "require", "verify-ca", "verify-full"]
APPLICATION = "dbops.runbooks"  # application_name / program_name the server shows for our sessions
_CONCURRENT_INDEX = re.compile(r"^\s*CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                               r"(?P<name>\"[^\"]+\"|[A-Za-z_][A-Za-z0-9_$]*)", re.IGNORECASE)


class StatementError(DbopsError):
    """A statement of a script failed; names the script, the statement and the server's reason."""

    def __init__(self, source, statement, cause, code=None):
        self.source = source
        self.statement = statement
        self.cause = cause
        self.code = code
        super().__init__(
            "%s: statement %d (line %d) failed: %s -- %s"
            % (source, statement.index, statement.line, cause, summarize(statement.text)),
            failed_file=source, failed_statement=statement.index, failed_line=statement.line,
            failed_sql=statement.text, error=cause)


def connection_argument_spec():
    """Options shared by every module that talks to a database (doc fragment `connection`)."""
    return dict(
        engine=dict(type="str", required=True, choices=["postgres", "mysql"],
                    fallback=(env_fallback, ["DBOPS_DB_ENGINE"])),
        login_host=dict(type="str", default="localhost", fallback=(env_fallback, ["DBOPS_DB_HOST"])),
        login_port=dict(type="int", fallback=(env_fallback, ["DBOPS_DB_PORT"])),
        login_user=dict(type="str", fallback=(env_fallback, ["DBOPS_DB_USER"])),
        login_password=dict(type="str", no_log=True, fallback=(env_fallback, ["DBOPS_DB_PASSWORD"])),
        login_db=dict(type="str", fallback=(env_fallback, ["DBOPS_DB_NAME"])),
        login_unix_socket=dict(type="path", fallback=(env_fallback, ["DBOPS_DB_SOCKET"])),
        ssl_mode=dict(type="str", default="prefer", choices=SSL_MODES),
        ca_cert=dict(type="path", aliases=["ssl_rootcert"]),
        client_cert=dict(type="path", aliases=["ssl_cert"]),
        client_key=dict(type="path", aliases=["ssl_key"], no_log=False),
        connect_timeout=dict(type="int", default=10),
    )


class Engine:
    """What differs between the two engines; one instance per engine.

    `settings(params)` is the one mapping of the connection options to this engine's client settings: the driver
    connects with it, and the command-line tools (pg_dump, mariadb-dump, ...) get the same values through
    `tool_environment` (libpq variables) or `option_file_text` (a MySQL option file).
    """

    name = ""
    default_port = 0
    driver_name = ""
    ident_quote = '"'
    transactional_ddl = False
    current_schema_sql = ""
    timestamp_type = ""  # history and audit times, UTC
    identity_type = ""
    lock_timeout_errors = ()  # SQLSTATE or error numbers of "lock wait timed out"
    writable_ctes = False  # WITH x AS (INSERT ...) INSERT ...: two writes in one statement

    def driver(self):
        raise NotImplementedError

    def import_error(self):
        raise NotImplementedError

    def settings(self, params):
        raise NotImplementedError

    def connect(self, params):
        raise NotImplementedError

    def tool_environment(self, params, base):
        """Environment for the engine's command-line tools (the password among it, never on the command line)."""
        return dict(base)

    def option_file_text(self, params, mariadb=True):
        """Text of a private option file for the command-line tools, or None when they take none."""
        return None

    def quote_ident(self, name):
        """Quote one identifier; identifiers are data, never pasted into SQL unquoted."""
        if not isinstance(name, str) or not name or "\x00" in name:
            raise DbopsError("invalid identifier %r" % (name,))
        q = self.ident_quote
        return q + name.replace(q, q + q) + q

    def qualified(self, *parts):
        return ".".join(self.quote_ident(part) for part in parts if part)

    def utc_now(self):
        """Now, as this engine's timestamp column takes it."""
        return datetime.datetime.now(datetime.timezone.utc)

    def upsert_sql(self, table, columns, key):
        """INSERT of one row that replaces the row of the same `key`: one round trip instead of DELETE + INSERT."""
        raise NotImplementedError

    # -- the migrator lock: session-level, dies with the connection
    def lock_key(self, digest):
        raise NotImplementedError

    def try_lock(self, conn, key):
        raise NotImplementedError

    def unlock(self, conn, key):
        raise NotImplementedError

    def lock_holder(self, conn, key):
        """[{pid, user, application, address, since}] of the session holding the lock."""
        raise NotImplementedError

    def set_session_timeouts(self, conn, lock_timeout, statement_timeout):
        raise NotImplementedError

    def clean_up_failed_statement(self, conn, sql):
        """Undo what a failed statement leaves behind outside a transaction (nothing on most engines)."""

    # -- who blocks a statement that timed out on a lock
    def blocking_sessions(self, conn, tables):
        """Sessions that hold a lock on one of `tables` or an open transaction, right after a lock timeout:
        [{pid, user, client, application, state, idle_in_transaction, state_seconds, transaction_seconds, statement}]."""
        raise NotImplementedError

    def terminate(self, conn, pid):
        raise NotImplementedError


class PostgresEngine(Engine):
    name = "postgres"
    default_port = 5432
    driver_name = "psycopg"
    ident_quote = '"'
    transactional_ddl = True
    current_schema_sql = "SELECT current_schema()"
    timestamp_type = "TIMESTAMPTZ"
    identity_type = "BIGINT GENERATED ALWAYS AS IDENTITY"
    lock_timeout_errors = ("55P03",)
    writable_ctes = True
    # libpq connection keyword -> the environment variable libpq reads it from (the database goes on the command line)
    LIBPQ_ENVIRONMENT = dict(host="PGHOST", port="PGPORT", user="PGUSER", password="PGPASSWORD", sslmode="PGSSLMODE",
                             sslrootcert="PGSSLROOTCERT", sslcert="PGSSLCERT", sslkey="PGSSLKEY",
                             connect_timeout="PGCONNECT_TIMEOUT", application_name="PGAPPNAME")

    def driver(self):
        return psycopg

    def import_error(self):
        return PSYCOPG_IMPORT_ERROR

    def settings(self, params):
        """libpq connection keywords."""
        return dict(
            host=params["login_unix_socket"] or params["login_host"],
            port=params["login_port"] or self.default_port,
            user=params["login_user"],
            password=params["login_password"],
            dbname=params["login_db"] or "postgres",
            connect_timeout=params["connect_timeout"],
            sslmode=params["ssl_mode"],
            sslrootcert=params["ca_cert"],
            sslcert=params["client_cert"],
            sslkey=params["client_key"],
            application_name=APPLICATION,
        )

    def connect(self, params):
        return psycopg.connect(autocommit=True, **{k: v for k, v in self.settings(params).items() if v is not None})

    def tool_environment(self, params, base):
        env = dict(base)
        settings = self.settings(params)
        for keyword, variable in self.LIBPQ_ENVIRONMENT.items():
            value = settings[keyword]
            if value is None or value == "":
                env.pop(variable, None)  # a stale PGPASSWORD of the caller must not apply
            else:
                env[variable] = str(value)
        return env

    def upsert_sql(self, table, columns, key):
        return "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s" % (
            table, ", ".join(columns), ", ".join(["%s"] * len(columns)), key,
            ", ".join("%s = EXCLUDED.%s" % (c, c) for c in columns if c != key))

    def lock_key(self, digest):
        return int.from_bytes(digest[:8], "big", signed=True)  # advisory lock key

    def try_lock(self, conn, key):
        return bool(conn.query_value("SELECT pg_try_advisory_lock(%s)", (key,)))

    def unlock(self, conn, key):
        conn.query_value("SELECT pg_advisory_unlock(%s)", (key,))

    def lock_holder(self, conn, key):
        return conn.query_dicts(
            "SELECT a.pid, a.usename AS user, a.application_name AS application, a.client_addr::text AS address,"
            " a.backend_start AS since FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1",
            ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF))

    def set_session_timeouts(self, conn, lock_timeout, statement_timeout):
        conn.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                     ("%dms" % (lock_timeout * 1000), "%dms" % (statement_timeout * 1000)))

    def clean_up_failed_statement(self, conn, sql):
        """A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind; drop it."""
        match = _CONCURRENT_INDEX.match(without_leading_comments(sql, self.name))
        if not match:
            return
        name = match.group("name").strip('"')
        try:
            invalid = conn.query_value(
                "SELECT COUNT(*) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
                " WHERE i.relname = %s AND NOT x.indisvalid AND pg_table_is_visible(i.oid)", (name,))
            if invalid:
                conn.execute("DROP INDEX CONCURRENTLY IF EXISTS %s" % self.quote_ident(name))
        except psycopg.Error:
            pass  # the failure being reported matters more; db_check index valid=true will flag it

    def blocking_sessions(self, conn, tables):
        rows = conn.query_dicts(
            "SELECT a.pid, a.usename AS user, COALESCE(host(a.client_addr), 'local') AS client,"
            " a.application_name AS application, a.state, a.state LIKE 'idle in transaction%%' AS idle_in_transaction,"
            " EXTRACT(EPOCH FROM now() - a.state_change)::float AS state_seconds,"
            " EXTRACT(EPOCH FROM now() - a.xact_start)::float AS transaction_seconds, a.query AS statement,"
            " string_agg(DISTINCT c.relname || ' (' || l.mode || ')', ', ') AS locks"
            " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation"
            " WHERE l.granted AND l.locktype = 'relation' AND l.pid <> pg_backend_pid()"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND c.relname = ANY(%s) AND pg_table_is_visible(c.oid)"
            " GROUP BY a.pid, a.usename, a.client_addr, a.application_name, a.state, a.state_change, a.xact_start, a.query"
            " ORDER BY a.xact_start", (list(tables),))
        return rows

    def terminate(self, conn, pid):
        return bool(conn.query_value("SELECT pg_terminate_backend(%s)", (pid,)))


class MySQLEngine(Engine):
    name = "mysql"
    default_port = 3306
    driver_name = "PyMySQL"
    ident_quote = "`"
    transactional_ddl = False
    current_schema_sql = "SELECT DATABASE()"
    timestamp_type = "DATETIME(6)"
    identity_type = "BIGINT AUTO_INCREMENT"
    lock_timeout_errors = (1205,)
    SSL_MODES = dict(disable="DISABLED", prefer="PREFERRED", require="REQUIRED",
                     **{"verify-ca": "VERIFY_CA", "verify-full": "VERIFY_IDENTITY"})  # MySQL client's --ssl-mode

    def driver(self):
        return pymysql

    def import_error(self):
        return PYMYSQL_IMPORT_ERROR

    def settings(self, params):
        """Client settings by their option-file names (PyMySQL takes the same values)."""
        return dict(
            host=params["login_host"],
            port=params["login_port"] or self.default_port,
            socket=params["login_unix_socket"],
            user=params["login_user"],
            password=params["login_password"],
            database=params["login_db"],
            connect_timeout=params["connect_timeout"],
            ssl_mode=params["ssl_mode"],
            ssl_ca=params["ca_cert"],
            ssl_cert=params["client_cert"],
            ssl_key=params["client_key"],
        )

    def connect(self, params):
        settings = self.settings(params)
        kwargs = dict(
            host=settings["host"], port=settings["port"], user=settings["user"], password=settings["password"] or "",
            database=settings["database"], unix_socket=settings["socket"], connect_timeout=settings["connect_timeout"],
            charset="utf8mb4", autocommit=True, program_name=APPLICATION,
        )
        context = self._ssl_context(settings)
        if context is not None:
            kwargs["ssl"] = context
        elif settings["ssl_mode"] == "disable":
            kwargs["ssl_disabled"] = True
        return pymysql.connect(**{k: v for k, v in kwargs.items() if v is not None})

    @staticmethod
    def _ssl_context(settings):
        """PyMySQL takes an SSLContext; build one that matches the libpq-style ssl_mode."""
        mode = settings["ssl_mode"]
        if mode in ("disable", "prefer") and not settings["ssl_ca"]:
            return None
        context = ssl.create_default_context(cafile=settings["ssl_ca"])
        context.check_hostname = mode == "verify-full"
        if mode in ("prefer", "require"):
            context.verify_mode = ssl.CERT_NONE
        if settings["ssl_cert"]:
            context.load_cert_chain(settings["ssl_cert"], settings["ssl_key"])
        return context

    def option_file_text(self, params, mariadb=True):
        """`[client]` settings for mariadb/mysql and their dump tools, the password among them."""
        settings = self.settings(params)
        lines = ["[client]"]
        if settings["socket"]:
            lines.append("socket=%s" % option_value(settings["socket"]))
        else:
            lines.append("host=%s" % option_value(settings["host"]))
            lines.append("port=%d" % settings["port"])
        for option in ("user", "password"):
            if settings[option]:
                lines.append("%s=%s" % (option, option_value(settings[option])))
        lines.append("default-character-set=utf8mb4")
        mode = settings["ssl_mode"]
        if not mariadb:
            lines.append("ssl-mode=%s" % self.SSL_MODES[mode])
        elif mode == "disable":
            lines.append("skip-ssl")
        elif mode in ("require", "verify-ca", "verify-full") or settings["ssl_ca"]:
            lines.append("ssl")
            if mode in ("verify-ca", "verify-full"):
                lines.append("ssl-verify-server-cert")
        for option in ("ssl_ca", "ssl_cert", "ssl_key"):
            if settings[option]:
                lines.append("%s=%s" % (option.replace("_", "-"), option_value(settings[option])))
        return "\n".join(lines) + "\n"

    def utc_now(self):
        return super().utc_now().replace(tzinfo=None)  # DATETIME(6) holds UTC

    def upsert_sql(self, table, columns, key):
        return "INSERT INTO %s (%s) VALUES (%s) ON DUPLICATE KEY UPDATE %s" % (
            table, ", ".join(columns), ", ".join(["%s"] * len(columns)),
            ", ".join("%s = VALUES(%s)" % (c, c) for c in columns if c != key))

    def lock_key(self, digest):
        return "dbops:" + digest.hex()[:40]  # GET_LOCK names hold 64 characters at most

    def try_lock(self, conn, key):
        return conn.query_value("SELECT GET_LOCK(%s, 0)", (key,)) == 1

    def unlock(self, conn, key):
        conn.query_value("SELECT RELEASE_LOCK(%s)", (key,))

    def lock_holder(self, conn, key):
        return conn.query_dicts(
            "SELECT id AS pid, user, host AS address, COALESCE((SELECT MAX(attr_value)"
            " FROM performance_schema.session_connect_attrs WHERE processlist_id = id AND attr_name = 'program_name'),"
            " '(unknown)') AS application,"
            " NOW() - INTERVAL time SECOND AS since FROM information_schema.processlist WHERE id = IS_USED_LOCK(%s)",
            (key,))

    def set_session_timeouts(self, conn, lock_timeout, statement_timeout):
        seconds = max(int(math.ceil(lock_timeout)), 1)  # whole seconds here
        conn.execute("SET SESSION lock_wait_timeout = %s, SESSION innodb_lock_wait_timeout = %s", (seconds, seconds))
        if statement_timeout and "mariadb" in str(conn.server_version()).lower():
            conn.execute("SET SESSION max_statement_time = %s", (statement_timeout,))

    def blocking_sessions(self, conn, tables):
        """Holders of metadata locks on `tables` (performance_schema, where its MDL instrument is on) and sessions
        with an open InnoDB transaction; the row-lock waits of sys.innodb_lock_waits end with the timeout."""
        holders = []
        if tables:
            try:
                holders = [row[0] for row in conn.query(
                    "SELECT DISTINCT t.processlist_id FROM performance_schema.metadata_locks m"
                    " JOIN performance_schema.threads t ON t.thread_id = m.owner_thread_id"
                    " WHERE m.object_type = 'TABLE' AND m.lock_status = 'GRANTED' AND m.object_schema = DATABASE()"
                    " AND m.object_name IN (%s)" % ", ".join(["%s"] * len(tables)), tuple(tables))]
            except pymysql.Error:
                holders = []  # performance_schema off or not readable: the open transactions still show
        rows = conn.query_dicts(
            "SELECT p.id AS pid, p.user, p.host AS client, p.command, p.state, p.time AS state_seconds,"
            " COALESCE(p.info, x.trx_query) AS statement, x.trx_started IS NOT NULL AS in_transaction,"
            " TIMESTAMPDIFF(SECOND, x.trx_started, NOW()) AS transaction_seconds"
            " FROM information_schema.processlist p LEFT JOIN information_schema.innodb_trx x ON x.trx_mysql_thread_id = p.id"
            " WHERE p.id <> CONNECTION_ID() AND (x.trx_id IS NOT NULL%s) ORDER BY x.trx_started"
            % (" OR p.id IN (%s)" % ", ".join(["%s"] * len(holders)) if holders else ""), tuple(holders))
        for row in rows:
            row["idle_in_transaction"] = bool(row["in_transaction"]) and row["command"] == "Sleep"
            row["state"] = "idle in transaction" if row["idle_in_transaction"] else (row["state"] or row["command"])
            row["application"] = None
            row["locks"] = "metadata lock" if row["pid"] in holders else "open transaction"
            for key in ("in_transaction", "command"):
                row.pop(key)
        return rows

    def terminate(self, conn, pid):
        conn.execute("KILL %d" % int(pid))  # Amazon RDS: CALL mysql.rds_kill(id) where KILL is not granted
        return True


def option_value(value):
    """A value for a MySQL option file: double-quoted, backslashes and quotes escaped."""
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


ENGINES = {engine.name: engine for engine in (PostgresEngine(), MySQLEngine())}


class Connection:
    """One session on one server: runs SQL and owns the transaction boundaries.

    The session is in autocommit mode; `transaction()` and `read_only()` open explicit
    transactions so both engines behave the same way.
    """

    def __init__(self, engine, raw, target):
        self.engine = engine
        self.raw = raw
        self.target = target

    def query(self, sql, params=None):
        """Rows of a read as tuples."""
        with self._cursor(sql) as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []

    def query_dicts(self, sql, params=None):
        """Rows of a read as dicts keyed by column name."""
        with self._cursor(sql) as cursor:
            cursor.execute(sql, params)
            if not cursor.description:
                return []
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def query_value(self, sql, params=None):
        rows = self.query(sql, params)
        return rows[0][0] if rows else None

    def execute(self, sql, params=None):
        """Run one statement; returns its row count (-1 or 0 where the engine reports none)."""
        with self._cursor(sql) as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def run_statements(self, statements, source):
        """Run split statements in order; a failure raises `StatementError` naming the statement.

        Returns the total of the row counts the statements reported.
        """
        affected = 0
        for statement in statements:
            try:
                affected += max(self.execute(statement.text), 0)
            except self.engine.driver().Error as e:
                raise StatementError(source, statement, error_text(e), error_code(e))
        return affected

    @contextmanager
    def _cursor(self, sql):
        try:
            cursor = self.raw.cursor()
        except self.engine.driver().Error as e:
            raise DbopsError("%s: lost the connection: %s" % (self.target, error_text(e)))
        try:
            yield cursor
        finally:
            cursor.close()

    @contextmanager
    def transaction(self, read_only=False):
        """BEGIN … COMMIT, or ROLLBACK when the body raises."""
        self.execute("START TRANSACTION READ ONLY" if read_only else "START TRANSACTION")
        try:
            yield self
        except BaseException:
            self.rollback_quietly()
            raise
        self.execute("ROLLBACK" if read_only else "COMMIT")

    def rollback_quietly(self):
        try:
            self.execute("ROLLBACK")
        except Exception:  # the original error is the one worth reporting
            pass

    def current_schema(self):
        return self.query_value(self.engine.current_schema_sql)

    def server_version(self):
        return self.query_value("SELECT version()")

    def close(self):
        try:
            self.raw.close()
        except Exception:  # closing a broken connection must not hide the real error
            pass


def error_text(exc):
    """A driver error as one line, without the driver's class noise."""
    text = str(exc).strip()
    if pymysql is not None and isinstance(exc, pymysql.Error) and len(exc.args) == 2:
        text = "(%s) %s" % exc.args
    return " ".join(text.split())


def error_code(exc):
    """SQLSTATE (psycopg) or error number (PyMySQL) of a driver error, for retry decisions."""
    if exc.args and isinstance(exc.args[0], int):  # PyMySQL: (errno, message)
        return exc.args[0]
    return getattr(exc, "sqlstate", None)


def describe_target(params):
    engine = ENGINES[params["engine"]]
    where = params["login_unix_socket"] or "%s:%s" % (params["login_host"], params["login_port"] or engine.default_port)
    user = params["login_user"] or "(default user)"
    return "%s at %s as %s" % (engine.name, where, user)


def check_not_negative(params, names):
    """Numbers that cannot be negative fail with one line, before anything connects (same on both engines)."""
    for name in names:
        value = params.get(name)
        if value is not None and value < 0:
            raise DbopsError("%s must be 0 or more, got %s" % (name, value))


def connect(params):
    """Open a `Connection`; failures name engine, host:port, user and cause, never the password."""
    check_not_negative(params, ("connect_timeout", "login_port"))
    engine = ENGINES[params["engine"]]
    target = describe_target(params)
    try:
        raw = engine.connect(params)
    except engine.driver().Error as e:
        raise DbopsError("cannot connect to %s: %s" % (target, scrub(error_text(e), params)))
    except (OSError, ssl.SSLError) as e:
        raise DbopsError("cannot connect to %s: %s" % (target, scrub(str(e), params)))
    return Connection(engine, raw, target)


def scrub(text, params):
    """Belt and braces: a password never reaches a message, whatever the driver put there."""
    password = params.get("login_password")
    return text.replace(password, "********") if password else text


class DatabaseModule(AnsibleModule):
    """AnsibleModule with the shared connection options and one error edge."""

    def __init__(self, argument_spec, **kwargs):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, **kwargs)

    def require_driver(self):
        engine = ENGINES[self.params["engine"]]
        if engine.driver() is None:
            self.fail_json(msg=missing_required_lib(engine.driver_name), exception=engine.import_error())

    def connect(self):
        return connect(self.params)

    def run(self, logic):
        """Call `logic(module)` and report its result; a server error outside a named statement
        (lost connection, missing privilege) is reported naming the target, not as a traceback."""
        self.require_driver()
        driver_error = ENGINES[self.params["engine"]].driver().Error

        def guarded(module):
            try:
                return logic(module)
            except driver_error as e:
                raise DbopsError(scrub("%s: %s" % (describe_target(self.params), error_text(e)), self.params))

        run_module(self, guarded)
