# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One connection layer for PostgreSQL (psycopg 3) and MySQL/MariaDB (PyMySQL).

Modules build on `DatabaseModule`: it merges the shared connection options, opens one
`Connection` and turns the one project exception, `DbopsError`, into `fail_json`.
Everything engine-specific lives in the two `Engine` classes below.
"""

from __future__ import annotations

import ssl
import traceback
from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError, run_module
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import summarize

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
    """What differs between the two engines; one instance per engine."""

    name = ""
    default_port = 0
    driver_name = ""
    ident_quote = '"'
    transactional_ddl = False
    current_schema_sql = ""

    def driver(self):
        raise NotImplementedError

    def import_error(self):
        raise NotImplementedError

    def connect(self, params):
        raise NotImplementedError

    def quote_ident(self, name):
        """Quote one identifier; identifiers are data, never pasted into SQL unquoted."""
        if not isinstance(name, str) or not name or "\x00" in name:
            raise DbopsError("invalid identifier %r" % (name,))
        q = self.ident_quote
        return q + name.replace(q, q + q) + q

    def qualified(self, *parts):
        return ".".join(self.quote_ident(part) for part in parts if part)


class PostgresEngine(Engine):
    name = "postgres"
    default_port = 5432
    driver_name = "psycopg"
    ident_quote = '"'
    transactional_ddl = True
    current_schema_sql = "SELECT current_schema()"

    def driver(self):
        return psycopg

    def import_error(self):
        return PSYCOPG_IMPORT_ERROR

    def connect(self, params):
        kwargs = dict(
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
            application_name="dbops.runbooks",
            autocommit=True,
        )
        return psycopg.connect(**{k: v for k, v in kwargs.items() if v is not None})


class MySQLEngine(Engine):
    name = "mysql"
    default_port = 3306
    driver_name = "PyMySQL"
    ident_quote = "`"
    transactional_ddl = False
    current_schema_sql = "SELECT DATABASE()"

    def driver(self):
        return pymysql

    def import_error(self):
        return PYMYSQL_IMPORT_ERROR

    def connect(self, params):
        kwargs = dict(
            host=params["login_host"],
            port=params["login_port"] or self.default_port,
            user=params["login_user"],
            password=params["login_password"] or "",
            database=params["login_db"],
            unix_socket=params["login_unix_socket"],
            connect_timeout=params["connect_timeout"],
            charset="utf8mb4",
            autocommit=True,
            program_name="dbops.runbooks",
        )
        context = self._ssl_context(params)
        if context is not None:
            kwargs["ssl"] = context
        elif params["ssl_mode"] == "disable":
            kwargs["ssl_disabled"] = True
        return pymysql.connect(**{k: v for k, v in kwargs.items() if v is not None})

    @staticmethod
    def _ssl_context(params):
        """PyMySQL takes an SSLContext; build one that matches the libpq-style ssl_mode."""
        mode = params["ssl_mode"]
        if mode in ("disable", "prefer") and not params["ca_cert"]:
            return None
        context = ssl.create_default_context(cafile=params["ca_cert"])
        context.check_hostname = mode == "verify-full"
        if mode in ("prefer", "require"):
            context.verify_mode = ssl.CERT_NONE
        if params["client_cert"]:
            context.load_cert_chain(params["client_cert"], params["client_key"])
        return context


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
