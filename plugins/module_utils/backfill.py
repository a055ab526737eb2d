# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throttled, resumable batched backfill (module db_backfill).

How a run goes:
  plan        the key (primary key or a unique NOT NULL key), the statement, the rows still to do
              (`where`), the checkpoint of an earlier run; bad input fails here, before any batch.
  probe       the statement runs for the first row still to do inside a transaction that is rolled
              back: a `where` that still selects the row afterwards (a re-run would redo it) fails.
  batches     keyset pagination: the next `batch_size` keys after the last one done (never OFFSET),
              then the statement for that key range and the checkpoint row in one transaction, with
              lock and statement timeouts; lock timeouts and deadlocks are retried with jittered backoff.
  throttle    between batches: replication lag, sessions waiting for locks and active sessions
              (Threads_running on MySQL); paused while over a limit, failed over a critical one.
Every engine difference is in the `Dialect` classes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import random
import time

from ansible_collections.dbops.runbooks.plugins.module_utils.catalog import CATALOGS
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, error_code, error_text

BATCH = "{batch}"
TABLE = "{table}"
RUNNING, PAUSED, DONE, FAILED = "running", "paused", "done", "failed"
THROTTLES = ("replication_lag", "lock_waiters", "active_sessions")


class Dialect:
    """SQL that differs between PostgreSQL and MySQL/MariaDB for a backfill."""

    retryable = ()
    checkpoint_ddl = ""

    def __init__(self, conn):
        self.conn = conn
        self.engine = conn.engine

    def after(self, columns, values):
        """Condition: key tuple strictly after `values`."""
        raise NotImplementedError

    def up_to(self, columns, values):
        """Condition: key tuple at or before `values`."""
        raise NotImplementedError

    def set_timeouts(self, lock_timeout, statement_timeout):
        raise NotImplementedError

    def session_id(self):
        raise NotImplementedError

    def session_alive(self, session_id):
        raise NotImplementedError

    def lock_waiters(self):
        raise NotImplementedError

    def active_sessions(self):
        raise NotImplementedError

    def upsert_checkpoint(self, table, row):
        raise NotImplementedError

    def replication_lag(self):
        return CATALOGS[self.engine.name](self.conn).replication()["lag_seconds"] or 0


class PostgresDialect(Dialect):
    retryable = ("55P03", "40P01", "40001")  # lock_not_available, deadlock_detected, serialization_failure
    checkpoint_ddl = """CREATE TABLE IF NOT EXISTS %s (
        job VARCHAR(190) PRIMARY KEY, table_name VARCHAR(190) NOT NULL, status VARCHAR(16) NOT NULL,
        last_key TEXT, rows_done BIGINT NOT NULL DEFAULT 0, rows_total BIGINT, batches INTEGER NOT NULL DEFAULT 0,
        elapsed_seconds DOUBLE PRECISION NOT NULL DEFAULT 0, throttled_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
        lock_retries INTEGER NOT NULL DEFAULT 0, session_id BIGINT, error TEXT,
        started_at TIMESTAMPTZ, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"""

    def after(self, columns, values):
        return "(%s) > (%s)" % (", ".join(columns), ", ".join(["%s"] * len(columns))), list(values)

    def up_to(self, columns, values):
        return "(%s) <= (%s)" % (", ".join(columns), ", ".join(["%s"] * len(columns))), list(values)

    def set_timeouts(self, lock_timeout, statement_timeout):
        self.conn.execute("SELECT set_config('lock_timeout', %s, false), set_config('statement_timeout', %s, false)",
                          ("%dms" % (lock_timeout * 1000), "%dms" % (statement_timeout * 1000)))

    def session_id(self):
        return self.conn.query_value("SELECT pg_backend_pid()")

    def session_alive(self, session_id):
        return bool(self.conn.query_value("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = %s", (session_id,)))

    def lock_waiters(self):
        return self.conn.query_value(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()")

    def active_sessions(self):
        return self.conn.query_value(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE state = 'active' AND backend_type = 'client backend'"
            " AND pid <> pg_backend_pid()")

    def upsert_checkpoint(self, table, row):
        names = list(row)
        self.conn.execute(
            "INSERT INTO %s (%s, updated_at) VALUES (%s, now()) ON CONFLICT (job) DO UPDATE SET %s, updated_at = now()"
            % (table, ", ".join(names), ", ".join(["%s"] * len(names)),
               ", ".join("%s = EXCLUDED.%s" % (n, n) for n in names if n != "job")), [row[n] for n in names])


class MySQLDialect(Dialect):
    retryable = (1205, 1213)  # lock wait timeout, deadlock
    checkpoint_ddl = """CREATE TABLE IF NOT EXISTS %s (
        job VARCHAR(190) PRIMARY KEY, table_name VARCHAR(190) NOT NULL, status VARCHAR(16) NOT NULL,
        last_key TEXT, rows_done BIGINT NOT NULL DEFAULT 0, rows_total BIGINT, batches INTEGER NOT NULL DEFAULT 0,
        elapsed_seconds DOUBLE NOT NULL DEFAULT 0, throttled_seconds DOUBLE NOT NULL DEFAULT 0,
        lock_retries INTEGER NOT NULL DEFAULT 0, session_id BIGINT, error TEXT,
        started_at DATETIME(6), updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB"""

    # Row constructors compared with < > do not use an index range on every MySQL/MariaDB version;
    # the expanded OR form does.
    def after(self, columns, values):
        return _lexicographic(columns, values, ">", inclusive=False)

    def up_to(self, columns, values):
        return _lexicographic(columns, values, "<", inclusive=True)

    def set_timeouts(self, lock_timeout, statement_timeout):
        seconds = max(int(math.ceil(lock_timeout)), 1)
        self.conn.execute("SET SESSION innodb_lock_wait_timeout = %s, SESSION lock_wait_timeout = %s",
                          (seconds, seconds))
        if statement_timeout and "mariadb" in str(self.conn.server_version()).lower():
            self.conn.execute("SET SESSION max_statement_time = %s", (statement_timeout,))

    def session_id(self):
        return self.conn.query_value("SELECT CONNECTION_ID()")

    def session_alive(self, session_id):
        return bool(self.conn.query_value("SELECT COUNT(*) FROM information_schema.processlist WHERE id = %s",
                                          (session_id,)))

    def lock_waiters(self):
        return self.conn.query_value(
            "SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'"
            " AND trx_mysql_thread_id <> CONNECTION_ID()")

    def active_sessions(self):
        rows = self.conn.query("SHOW GLOBAL STATUS LIKE 'Threads_running'")
        return max(int(rows[0][1]) - 1, 0) if rows else 0  # without this session

    def upsert_checkpoint(self, table, row):
        names = list(row)
        self.conn.execute(
            "INSERT INTO %s (%s, updated_at) VALUES (%s, UTC_TIMESTAMP(6)) ON DUPLICATE KEY UPDATE %s,"
            " updated_at = UTC_TIMESTAMP(6)"
            % (table, ", ".join(names), ", ".join(["%s"] * len(names)),
               ", ".join("%s = VALUES(%s)" % (n, n) for n in names if n != "job")), [row[n] for n in names])


DIALECTS = {"postgres": PostgresDialect, "mysql": MySQLDialect}


def _lexicographic(columns, values, op, inclusive):
    """(a, b) op (x, y) as a > x OR (a = x AND b > y) [OR (a = x AND b = y)]."""
    terms, params = [], []
    for i, column in enumerate(columns):
        parts = ["%s = %%s" % c for c in columns[:i]] + ["%s %s %%s" % (column, op)]
        terms.append("(" + " AND ".join(parts) + ")")
        params.extend(list(values[:i + 1]))
    if inclusive:
        terms.append("(" + " AND ".join("%s = %%s" % c for c in columns) + ")")
        params.extend(values)
    return "(" + " OR ".join(terms) + ")", params


def server_reason(exc):
    """The server's error without PostgreSQL's LINE/caret context (the statement is named next to it)."""
    return error_text(exc).split(" LINE ", maxsplit=1)[0]


def literal(sql):
    """User SQL goes into statements that bind parameters, so its own % signs are doubled."""
    return str(sql).replace("%", "%%")


def backoff(attempt, base=0.2, cap=5.0):
    """Seconds to wait before retry `attempt` (0-based): exponential, capped, full jitter around it."""
    return min(base * 2 ** attempt, cap) * random.uniform(0.5, 1.5)


def with_retries(work, retryable, retries, on_retry, sleep=time.sleep):
    """Run work(); a driver error whose code is in `retryable` is retried `retries` times with backoff."""
    for attempt in range(retries + 1):
        try:
            return work()
        except Exception as e:  # the driver's error class differs per engine; the code decides
            if error_code(e) not in retryable or attempt == retries:
                raise
            on_retry(e)
            sleep(backoff(attempt))


class Throttle:
    """Limits checked between batches; `probes` maps a throttle name to a function returning its value."""

    def __init__(self, limits, probes, interval=1.0, clock=time.monotonic, sleep=time.sleep):
        self.limits = limits or {}
        self.probes = probes
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self.throttled_seconds = 0.0
        self.last_reason = None

    def active(self):
        return [name for name in THROTTLES if self.limits.get("max_" + name) is not None
                or self.limits.get("critical_" + name) is not None]

    def over(self):
        """(reason, critical) of the first limit exceeded, or (None, False)."""
        for name in self.active():
            value = self.probes[name]()
            value = float(value or 0)
            critical = self.limits.get("critical_" + name)
            if critical is not None and value > critical:
                return "%s %g is over the critical limit %g" % (name.replace("_", " "), value, critical), True
            limit = self.limits.get("max_" + name)
            if limit is not None and value > limit:
                return "%s %g is over %g" % (name.replace("_", " "), value, limit), False
        return None, False

    def wait(self, deadline=None):
        """Pause while a limit is exceeded; raise on a critical limit. False when the deadline passed."""
        started, paused = self.clock(), False
        try:
            while True:
                reason, critical = self.over()
                if reason is None:
                    return True
                self.last_reason, paused = reason, True
                if critical:
                    raise DbopsError(reason)
                if deadline is not None and self.clock() >= deadline:
                    return False
                self.sleep(self.interval)
        finally:
            if paused:
                self.throttled_seconds += self.clock() - started


def default_job(params):
    digest = hashlib.sha256(json.dumps([params.get("set"), params.get("statement"), params["where"]],
                                       sort_keys=True).encode("utf-8")).hexdigest()[:12]
    return "%s:%s" % (params["table"], digest)[:190]


class Backfill:
    """One backfill job over one table, on one connection."""

    def __init__(self, conn, params, clock=time.monotonic, sleep=time.sleep):
        self.conn = conn
        self.params = params
        self.clock = clock
        self.sleep = sleep
        self.engine = conn.engine
        self.dialect = DIALECTS[self.engine.name](conn)
        self.catalog = CATALOGS[self.engine.name](conn)
        self.schema = params.get("schema") or conn.current_schema()
        self.table = params["table"]
        self.job = params.get("job") or default_job(params)
        self.checkpoint_table = self.engine.qualified(params.get("schema"), params["checkpoint_table"])
        self.lock_retries = 0
        self.key = None
        self.quoted_key = None

    # --- planning -----------------------------------------------------------------------------

    def table_sql(self):
        return self.engine.qualified(self.params.get("schema"), self.table)

    def plan(self):
        """Resolve the key and the statement; raise one clear line for bad input."""
        if self.table not in self.catalog.tables(self.schema):
            raise DbopsError("table %s.%s does not exist" % (self.schema, self.table))
        columns = self.catalog.columns(self.schema, self.table)
        self.key = self.resolve_key(columns)
        self.quoted_key = ["%s.%s" % (self.engine.quote_ident(self.table), self.engine.quote_ident(c))
                           for c in self.key]
        self.statement = self.build_statement(columns)

    def primary_key(self):
        return [row[0] for row in self.conn.query("""
            SELECT k.column_name FROM information_schema.table_constraints c
              JOIN information_schema.key_column_usage k
                ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema
               AND k.table_name = c.table_name
             WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = %s AND c.table_name = %s
             ORDER BY k.ordinal_position""", (self.schema, self.table))]

    def unique_keys(self, columns):
        """Unique, valid, NOT NULL keys of plain columns, shortest first."""
        keys = []
        for index in self.catalog.indexes(self.schema, self.table).values():
            cols = index["columns"]
            if index["unique"] and index["valid"] and all(c in columns and not columns[c]["nullable"] for c in cols):
                keys.append(list(cols))
        return sorted(keys, key=len)

    def resolve_key(self, columns):
        wanted = self.params.get("key")
        for column in wanted or []:
            if column not in columns:
                raise DbopsError("key: unknown column %s of table %s" % (column, self.table))
        candidates = [k for k in [self.primary_key()] + self.unique_keys(columns) if k]
        if wanted:
            if list(wanted) not in candidates:
                raise DbopsError("key (%s) of table %s is not its primary key or a unique NOT NULL key (in index order)"
                                 % (", ".join(wanted), self.table))
            return list(wanted)
        if not candidates:
            raise DbopsError("table %s has no usable key: it needs a primary key or a unique index on NOT NULL columns"
                             % self.table)
        return candidates[0]

    def build_statement(self, columns):
        assignments = self.params.get("set")
        if assignments:
            for column in assignments:
                if column not in columns:
                    raise DbopsError("set: unknown column %s of table %s" % (column, self.table))
            return "UPDATE %s SET %s WHERE %s" % (
                TABLE, ", ".join("%s = %s" % (self.engine.quote_ident(c), literal(e)) for c, e in assignments.items()),
                BATCH)
        statement = literal(self.params["statement"])
        if BATCH not in statement:
            raise DbopsError("statement: needs the %s placeholder where the batch's rows are selected" % BATCH)
        return statement

    def render(self, condition):
        return self.statement.replace(TABLE, self.table_sql()).replace(BATCH, condition)

    def where(self):
        return "(%s)" % literal(self.params["where"])

    def range_condition(self, after, last):
        parts, values = [], []
        if after is not None:
            sql, params = self.dialect.after(self.quoted_key, after)
            parts.append(sql)
            values.extend(params)
        if last is not None:
            sql, params = self.dialect.up_to(self.quoted_key, last)
            parts.append(sql)
            values.extend(params)
        return " AND ".join(parts + [self.where()]), values

    def rows_to_do(self, after=None):
        condition, values = self.range_condition(after, None)
        return self._read("where", "SELECT COUNT(*) FROM %s WHERE %s" % (self.table_sql(), condition), values)[0][0]

    def next_keys(self, after, limit):
        condition, values = self.range_condition(after, None)
        return self._read("where", "SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d" % (
            ", ".join(self.quoted_key), self.table_sql(), condition, ", ".join(self.quoted_key), limit), values)

    def _read(self, option, sql, values):
        try:
            return self.conn.query(sql, values)
        except self.engine.driver().Error as e:
            raise DbopsError("%s: %s" % (option, server_reason(e)))

    # --- checkpoint -----------------------------------------------------------------------------

    def checkpoint_exists(self):
        return self.params["checkpoint_table"] in self.catalog.tables(self.schema)

    def read_checkpoint(self):
        if not self.checkpoint_exists():
            return None
        rows = self.conn.query_dicts("SELECT * FROM %s WHERE job = %%s" % self.checkpoint_table, (self.job,))
        if not rows:
            return None
        row = rows[0]
        row["last_key"] = json.loads(row["last_key"]) if row["last_key"] else None
        return row

    def save_checkpoint(self, **row):
        if "last_key" in row:
            row["last_key"] = json.dumps(row["last_key"], default=str) if row["last_key"] is not None else None
        self.dialect.upsert_checkpoint(self.checkpoint_table, dict(job=self.job, table_name=self.table, **row))

    # --- running --------------------------------------------------------------------------------

    def probe(self, first_key):
        """Run the statement for one row in a transaction that is rolled back; the row must be done after."""
        condition, values = self.range_condition(None, first_key)
        equal = " AND ".join("%s = %%s" % column for column in self.quoted_key)

        def attempt():
            self.conn.execute("START TRANSACTION")
            try:
                self._write(condition, values)
                return self.conn.query_value("SELECT COUNT(*) FROM %s WHERE %s AND %s" % (
                    self.table_sql(), equal, self.where()), list(first_key))
            finally:
                self.conn.rollback_quietly()

        still = with_retries(attempt, self.dialect.retryable, self.params["lock_retries"], self._count_retry, self.sleep)
        if still:
            raise DbopsError("where still selects row (%s) = (%s) after the statement ran for it: a re-run would"
                             " redo every row; the where must select only rows still to do"
                             % (", ".join(self.key), ", ".join(str(v) for v in first_key)))

    def _write(self, condition, values):
        sql = self.render(condition)
        try:
            return self.conn.execute(sql, values)
        except self.engine.driver().Error as e:
            if error_code(e) in self.dialect.retryable:
                raise
            raise DbopsError("statement: %s -- %s" % (server_reason(e), " ".join(sql.replace("%%", "%").split())[:300]))

    def _count_retry(self, error):
        self.lock_retries += 1

    def run_batch(self, after, progress):
        """One batch: the next keys, then statement and checkpoint in one transaction. None when done."""
        keys = self.next_keys(after, self.params["batch_size"])
        if not keys:
            return None
        last = list(keys[-1])
        condition, values = self.range_condition(after, last)

        def attempt():
            with self.conn.transaction():
                changed = max(self._write(condition, values), 0)
                self.save_checkpoint(status=RUNNING, last_key=last, rows_done=progress.rows_done + changed,
                                     batches=progress.batches + 1, elapsed_seconds=progress.elapsed(),
                                     throttled_seconds=progress.throttled_seconds, lock_retries=self.lock_retries)
                return changed

        changed = with_retries(attempt, self.dialect.retryable, self.params["lock_retries"], self._count_retry,
                               self.sleep)
        progress.add_batch(changed)
        return last


class Progress:
    """Rows done/total, batches, rate, throttled time and ETA of a run (and of the runs it resumes)."""

    def __init__(self, rows_done=0, rows_total=0, batches=0, elapsed_before=0.0, throttled_before=0.0,
                 clock=time.monotonic):
        self.rows_done = rows_done
        self.rows_total = rows_total
        self.batches = batches
        self.elapsed_before = elapsed_before
        self.throttled_seconds = throttled_before
        self.clock = clock
        self.started = clock()
        self.rows_this_run = 0

    def elapsed(self):
        return self.elapsed_before + self.clock() - self.started

    def add_batch(self, rows):
        self.rows_done += rows
        self.rows_this_run += rows
        self.batches += 1

    def report(self):
        elapsed = self.elapsed()
        rate = self.rows_done / elapsed if elapsed > 0 else 0.0
        remaining = max(self.rows_total - self.rows_done, 0)
        return dict(rows_done=self.rows_done, rows_total=self.rows_total, batches=self.batches,
                    elapsed_seconds=round(elapsed, 3), rows_per_second=round(rate, 1),
                    throttled_seconds=round(self.throttled_seconds, 3),
                    eta_seconds=round(remaining / rate, 1) if rate > 0 else None,
                    percent=round(100.0 * self.rows_done / self.rows_total, 1) if self.rows_total else 100.0)


def progress_from_checkpoint(row):
    """The progress a status call reports from a checkpoint row (for async watchers)."""
    elapsed = float(row["elapsed_seconds"] or 0)
    done, total = int(row["rows_done"] or 0), int(row["rows_total"] or 0)
    rate = done / elapsed if elapsed > 0 else 0.0
    return dict(rows_done=done, rows_total=total, batches=int(row["batches"] or 0), elapsed_seconds=round(elapsed, 3),
                rows_per_second=round(rate, 1), throttled_seconds=round(float(row["throttled_seconds"] or 0), 3),
                eta_seconds=round(max(total - done, 0) / rate, 1) if rate > 0 else None,
                percent=round(100.0 * done / total, 1) if total else 100.0)


# --- the module ----------------------------------------------------------------------------------

def run_db_backfill(module):
    params = module.params
    conn = module.connect()
    try:
        backfill = Backfill(conn, params)
        if params["state"] == "status":
            return status(backfill)
        return backfill_rows(module, backfill)
    finally:
        conn.close()


def status(backfill):
    row = backfill.read_checkpoint() if backfill.checkpoint_exists() else None
    if row is None:
        return dict(changed=False, job=backfill.job, status="absent", msg="no checkpoint for job %s" % backfill.job)
    alive = bool(row["session_id"]) and row["status"] == RUNNING and backfill.dialect.session_alive(row["session_id"])
    result = dict(changed=False, job=backfill.job, status=row["status"], last_key=row["last_key"],
                  session_id=row["session_id"], session_alive=alive, updated_at=row["updated_at"], error=row["error"],
                  lock_retries=row["lock_retries"], **progress_from_checkpoint(row))
    result["msg"] = "%s: %s, %d of %d rows, %.1f rows/s, ETA %s s" % (
        backfill.job, row["status"], result["rows_done"], result["rows_total"], result["rows_per_second"],
        result["eta_seconds"])
    return result


def plan_result(backfill, checkpoint, to_do):
    params = backfill.params
    resume = checkpoint["last_key"] if checkpoint and checkpoint["status"] != DONE else None
    return dict(job=backfill.job, table=backfill.table, key=backfill.key, batch_size=params["batch_size"],
                rows_to_do=to_do, batches_planned=int(math.ceil(to_do / float(params["batch_size"]))),
                resume_from=resume, statement=" ".join(backfill.render("<batch key range> AND %s" % backfill.where())
                                                       .split()))


def backfill_rows(module, backfill):
    params = module.params
    backfill.plan()
    checkpoint = backfill.read_checkpoint()
    if checkpoint and checkpoint["status"] == RUNNING and checkpoint["session_id"] \
            and backfill.dialect.session_alive(checkpoint["session_id"]):
        raise DbopsError("job %s is running in session %s; watch it with state=status or stop that session"
                         % (backfill.job, checkpoint["session_id"]))
    resume = checkpoint["last_key"] if checkpoint and checkpoint["status"] != DONE else None
    to_do = backfill.rows_to_do()
    result = dict(changed=False, plan=plan_result(backfill, checkpoint, to_do))
    if module._diff:
        result["diff"] = dict(prepared=result["plan"]["statement"] + ";\n")
    if to_do == 0:
        result.update(status=DONE, complete=True, lock_retries=0, rows_remaining=0,
                      msg="%s: no rows to do" % backfill.job, **Progress().report())
        return result
    first = backfill.next_keys(None, 1)[0]
    backfill.dialect.set_timeouts(params["lock_timeout"], params["statement_timeout"])
    backfill.probe(list(first))
    if module.check_mode:
        result.update(changed=True, status="planned", complete=False,
                      msg="%s: %d rows to do in about %d batches of %d" % (
                          backfill.job, to_do, result["plan"]["batches_planned"], params["batch_size"]))
        return result
    return execute(backfill, checkpoint, resume, to_do, result)


def execute(backfill, checkpoint, resume, to_do, result):
    params = backfill.params
    backfill.conn.execute(backfill.dialect.checkpoint_ddl % backfill.checkpoint_table)
    resumed = resume is not None
    progress = Progress(rows_done=checkpoint["rows_done"] if resumed else 0,
                        batches=checkpoint["batches"] if resumed else 0,
                        elapsed_before=float(checkpoint["elapsed_seconds"]) if resumed else 0.0,
                        throttled_before=float(checkpoint["throttled_seconds"]) if resumed else 0.0)
    progress.rows_total = progress.rows_done + to_do
    limits = params.get("throttle") or {}

    def lag():
        if limits.get("lag_query"):  # for example a heartbeat table's lag, as seconds
            return backfill.conn.query_value(limits["lag_query"])
        return backfill.dialect.replication_lag()

    throttle = Throttle(limits, dict(replication_lag=lag, lock_waiters=backfill.dialect.lock_waiters,
                                     active_sessions=backfill.dialect.active_sessions),
                        interval=limits.get("interval") or 1, sleep=backfill.sleep)
    throttle.throttled_seconds = progress.throttled_seconds
    backfill.save_checkpoint(status=RUNNING, last_key=resume, rows_done=progress.rows_done,
                             rows_total=progress.rows_total, batches=progress.batches,
                             elapsed_seconds=progress.elapsed(), throttled_seconds=progress.throttled_seconds,
                             session_id=backfill.dialect.session_id(), error=None,
                             started_at=checkpoint["started_at"] if resumed else _now(backfill))
    deadline = backfill.clock() + params["max_runtime"] if params["max_runtime"] else None
    status, after, passes = DONE, resume, 0
    try:
        while True:
            if deadline is not None and backfill.clock() >= deadline:
                status = PAUSED
                break
            if not throttle.wait(deadline):
                status = PAUSED
                break
            progress.throttled_seconds = throttle.throttled_seconds
            last = backfill.run_batch(after, progress)
            if last is None:
                passes += 1
                # A resumed run started mid-table: rows before its start may have been added since.
                if after is not None and resumed and passes == 1 and backfill.rows_to_do() > 0:
                    after, resumed = None, False
                    continue
                break
            after = last
            if params["pause"]:
                backfill.sleep(params["pause"])
    except (DbopsError, backfill.engine.driver().Error) as e:
        reason = str(e) if isinstance(e, DbopsError) else error_text(e)
        _record_stop(backfill, FAILED, after, progress, reason)
        details = dict(getattr(e, "details", {}), job=backfill.job, last_key=after, **progress.report())
        raise DbopsError("%s; stopped after %d batches at key %s, checkpoint %s kept: a re-run resumes there"
                         % (reason, progress.batches, after, backfill.job), **details)
    remaining = backfill.rows_to_do() if status == DONE else progress.rows_total - progress.rows_done
    _record_stop(backfill, status, after, progress, None)
    result.update(changed=progress.rows_this_run > 0, status=status, complete=status == DONE,
                  lock_retries=backfill.lock_retries, rows_remaining=remaining, resumed_from=resume,
                  throttled_reason=throttle.last_reason, **progress.report())
    result["msg"] = "%s: %s, %d rows in %d batches, %.1f rows/s" % (
        backfill.job, "done" if status == DONE else "paused at the runtime budget (re-run to resume)",
        progress.rows_done, progress.batches, result["rows_per_second"])
    return result


def _record_stop(backfill, status, after, progress, error):
    try:
        backfill.save_checkpoint(status=status, last_key=after if status != DONE else None, rows_done=progress.rows_done,
                                 batches=progress.batches, elapsed_seconds=progress.elapsed(),
                                 throttled_seconds=progress.throttled_seconds, lock_retries=backfill.lock_retries,
                                 error=error)
    except (DbopsError, backfill.engine.driver().Error):
        pass  # a dead session cannot record; the checkpoint of the last batch still says where to resume


def _now(backfill):
    now = datetime.datetime.now(datetime.timezone.utc)
    return now if backfill.engine.name == "postgres" else now.replace(tzinfo=None)
