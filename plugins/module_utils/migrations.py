# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration engine: history and audit tables, one migrator per database, apply and roll back.

How a migration runs:
  transactional   PostgreSQL (transaction_mode per_migration or all): statements, history row and
                  audit row commit together or not at all.
  step by step    MySQL/MariaDB (DDL commits implicitly), PostgreSQL files marked
                  `-- dbops:no-transaction`, transaction_mode none: a `running` history row is written
                  first, then each statement; a failure at statement k is recorded as `failed` at k,
                  and after the file is fixed a re-run resumes at k.
"""

from __future__ import annotations

import collections
import getpass
import hashlib
import random
import re
import socket
import time

from ansible_collections.dbops.runbooks.plugins.module_utils.adoption import imported_versions
from ansible_collections.dbops.runbooks.plugins.module_utils.database import (
    ENGINES, DbopsError, StatementError, check_not_negative, error_text)
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import (
    DiskSource, ShippedSource, load_migrations, split_path, version_key)
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_plan import assess_plan
from ansible_collections.dbops.runbooks.plugins.module_utils.statements import first_keyword, summarize

_Subject = collections.namedtuple("_Subject", "version name checksum")  # what an audit row is about
ROW_CHANGES = ("insert", "update", "delete", "replace")  # statements that commit nothing by themselves
APPLIED = "applied"
FAILED = "failed"
RUNNING = "running"


def default_operator():
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry inside some containers
        user = "unknown"
    return "%s@%s" % (user, socket.gethostname())


class History:
    """The history table (one row per migration that ran) and its append-only audit table."""

    COLUMNS = ("version", "name", "checksum", "status", "batch", "applied_at", "applied_by",
               "execution_ms", "statements", "failed_statement", "error", "applied_statements")
    # Columns added after the first release: an older history table gets them on the next (non-check) run.
    ADDED_COLUMNS = {"applied_statements": "INTEGER"}
    AUDIT_COLUMNS = ("action", "version", "name", "checksum", "batch", "actor", "at", "outcome", "detail")

    def __init__(self, conn, table, schema=None, audit_table=None):
        self.conn = conn
        self.engine = conn.engine
        self.schema = schema
        self.table = table
        self.audit_table = audit_table or table + "_audit"
        self.quoted = conn.engine.qualified(schema, table)
        self.audit_quoted = conn.engine.qualified(schema, self.audit_table)
        self.present = None  # columns of the table as last read; empty when it does not exist
        self.pending_audit = []  # audit rows to write with the next flush

    def columns(self):
        """Column names of the history table (empty when it does not exist): existence and shape in one query."""
        rows = self.conn.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema or self.conn.current_schema(), self.table))
        self.present = {row[0].lower() for row in rows}
        return self.present

    def exists(self):
        return bool(self.columns())

    def rows(self):
        """History rows by version, as dicts; empty when the table does not exist yet."""
        present = self.columns()
        if not present:
            return {}
        columns = [column for column in self.COLUMNS if column in present]
        rows = self.conn.query("SELECT %s FROM %s" % (", ".join(columns), self.quoted))
        return {row[0]: dict(dict.fromkeys(self.COLUMNS), **dict(zip(columns, row))) for row in rows}

    def create(self):
        """Create the tables, or add the columns an older history table lacks."""
        if self.present:
            for column, kind in self.ADDED_COLUMNS.items():
                if column not in self.present:
                    self.conn.execute("ALTER TABLE %s ADD COLUMN %s %s" % (self.quoted, column, kind))
                    self.present.add(column)
            return
        stamp, identity = self.engine.timestamp_type, self.engine.identity_type
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS %s (version VARCHAR(191) NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL,"
            " checksum CHAR(64) NOT NULL, status VARCHAR(16) NOT NULL, batch INTEGER NOT NULL,"
            " applied_at %s NOT NULL, applied_by VARCHAR(255), execution_ms INTEGER, statements INTEGER,"
            " failed_statement INTEGER, error TEXT, applied_statements INTEGER)" % (self.quoted, stamp))
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS %s (id %s PRIMARY KEY, action VARCHAR(16) NOT NULL,"
            " version VARCHAR(191), name VARCHAR(255), checksum CHAR(64), batch INTEGER, actor VARCHAR(255),"
            " at %s NOT NULL, outcome VARCHAR(16) NOT NULL, detail TEXT)" % (self.audit_quoted, identity, stamp))
        self.present = set(self.COLUMNS)

    def write(self, row):
        """Insert or replace the history row of row['version'] (one statement)."""
        self.conn.execute(self.engine.upsert_sql(self.quoted, self.COLUMNS, "version"),
                          tuple(row.get(column) for column in self.COLUMNS))

    def remove(self, version):
        self.conn.execute("DELETE FROM %s WHERE version = %%s" % self.quoted, (version,))

    def progress(self, version, applied_statements):
        """Step by step: statements 1..applied_statements of the up file are done."""
        self.conn.execute("UPDATE %s SET applied_statements = %%s WHERE version = %%s" % self.quoted,
                          (applied_statements, version))

    def audit(self, action, outcome, actor, migration=None, batch=None, detail=None):
        self.flush()  # audit rows keep their order
        self.conn.execute(self._audit_sql(1), self._audit_row(action, outcome, actor, migration, batch, detail))

    def write_with_audit(self, row, action, outcome, actor, migration, batch, detail=None):
        """The history row and its audit row: one statement where the engine has writable CTEs, else the history
        row now and the audit row with the next flush (one INSERT for many: no round trip per migration)."""
        audit = self._audit_row(action, outcome, actor, migration, batch, detail)
        values = tuple(row.get(column) for column in self.COLUMNS)
        if self.engine.writable_ctes:
            self.flush()
            self.conn.execute("WITH history AS (%s) %s" % (
                self.engine.upsert_sql(self.quoted, self.COLUMNS, "version"), self._audit_sql(1)), values + audit)
            return
        self.write(row)
        self.pending_audit.append(audit)

    def flush(self):
        """Write the audit rows held back by write_with_audit."""
        if self.pending_audit:
            rows, self.pending_audit = self.pending_audit, []
            self.conn.execute(self._audit_sql(len(rows)), tuple(value for audit in rows for value in audit))

    def _audit_sql(self, count):
        one = "(%s)" % ", ".join(["%s"] * len(self.AUDIT_COLUMNS))
        return "INSERT INTO %s (%s) VALUES %s" % (self.audit_quoted, ", ".join(self.AUDIT_COLUMNS), ", ".join([one] * count))

    def _audit_row(self, action, outcome, actor, migration, batch, detail):
        return (action, migration.version if migration else None, migration.name if migration else None,
                migration.checksum if migration else None, batch, actor, self.engine.utc_now(), outcome, detail)


class MigratorLock:
    """One migrator per database: a session-level lock that dies with the connection."""

    def __init__(self, conn, history):
        self.conn = conn
        self.engine = conn.engine
        identity = "dbops:%s:%s" % (conn.current_schema() if history.schema is None else history.schema, history.table)
        self.key = self.engine.lock_key(hashlib.sha256(identity.encode("utf-8")).digest())
        self.held = False

    def acquire(self, timeout):
        deadline = time.monotonic() + timeout
        while not self.engine.try_lock(self.conn, self.key):
            if time.monotonic() >= deadline:
                raise DbopsError("another migrator holds the migration lock after waiting %ss: %s"
                                 % (timeout, self.describe_holder()))
            time.sleep(random.uniform(0.1, 0.3))
        self.held = True

    def describe_holder(self):
        rows = self.engine.lock_holder(self.conn, self.key)
        if not rows:
            return "holder unknown (released meanwhile?)"
        holder = rows[0]
        return "pid %s, user %s, application %s, client %s, since %s" % (
            holder["pid"], holder["user"], holder["application"], holder["address"], holder["since"])

    def probe(self):
        """True when no other migrator holds the lock (taken and given back at once)."""
        if not self.engine.try_lock(self.conn, self.key):
            return False
        self.held = True
        self.release()
        return True

    def release(self):
        if not self.held:
            return
        try:
            self.engine.unlock(self.conn, self.key)
        except self.engine.driver().Error:
            pass  # a dead session has released it already
        self.held = False


class Migrator:
    """Plans and runs migrations against one connection."""

    def __init__(self, conn, migrations, history, params):
        self.conn = conn
        self.engine = conn.engine
        self.migrations = migrations
        self.by_version = {m.version: m for m in migrations}
        self.history = history
        self.params = params
        self.actor = params.get("applied_by") or default_operator()
        self.rows = history.rows()
        self.another_running = False
        self.lock_retries_used = 0
        self.terminated_sessions = []  # sessions ended by terminate_blockers in this run

    # --- planning ---------------------------------------------------------------------------

    def applied_versions(self):
        return {v for v, row in self.rows.items() if row["status"] == APPLIED}

    def findings(self):
        """Drift and order problems; each one stops the run before anything is applied."""
        applied = self.applied_versions()
        drift = [dict(m.summary(), history_checksum=self.rows[m.version]["checksum"], file_checksum=m.checksum)
                 for m in self.migrations
                 if m.version in applied and self.rows[m.version]["checksum"] != m.checksum]
        newest = max((version_key(v) for v in applied), default=None)
        early = [m.summary() for m in self.pending_all()
                 if newest is not None and m.sort_key < newest] if not self.params.get("out_of_order") else []
        # A running row under a live migrator is its work in progress, not an interrupted run.
        interrupted = [dict(version=v, name=row["name"], since=row["applied_at"], applied_statements=row["applied_statements"],
                            statements=row["statements"])
                       for v, row in self.rows.items() if row["status"] == RUNNING and not self.another_running]
        return dict(drift=drift, out_of_order=early, interrupted=interrupted)

    def check_findings(self, findings):
        if findings["drift"]:
            d = findings["drift"][0]
            raise DbopsError("%s changed after it was applied (history checksum %s, file checksum %s); restore the"
                             " file, or run state=repair to accept it" % (d["file"], d["history_checksum"], d["file_checksum"]),
                             findings=findings)
        interrupted = [i for i in findings["interrupted"] if i["version"] != self.resume_version()]
        if interrupted:
            i = interrupted[0]
            raise DbopsError(self.interrupted_message(i), findings=findings)
        if findings["out_of_order"]:
            raise DbopsError("%s is older than the newest applied migration; set out_of_order=true to apply it"
                             % findings["out_of_order"][0]["file"], findings=findings)

    def pending_all(self):
        applied = self.applied_versions()
        return [m for m in self.migrations if m.version not in applied]

    def pending(self, target=None):
        limit = version_key(target) if target else None
        return [m for m in self.pending_all() if limit is None or m.sort_key <= limit]

    def interrupted_message(self, interrupted):
        """What an interrupted run left, and the operator's two ways on."""
        done, label = interrupted["applied_statements"], "%s_%s" % (interrupted["version"], interrupted["name"])
        migration = self.by_version.get(interrupted["version"])
        if done is None or migration is None:
            return ("migration %s was interrupted (status running since %s); roll it back with state=rolled_back or"
                    " clear it with state=repair" % (label, interrupted["since"]))
        total = len(migration.up.statements)
        running = migration.up.statements[done] if done < total else None
        what = " (line %d: %s)" % (running.line, summarize(running.text, 80)) if running else ""
        return ("migration %s was interrupted at %s (%s); check whether statement %d%s took effect, then resume with"
                " resume_at_statement=%d if it did not or %d if it did, or roll it back with state=rolled_back"
                % (label, interrupted["since"], progress_text(done, total), done + 1, what, done + 1, done + 2))

    def resume_version(self):
        """The migration resume_at_statement applies to: the one left running or failed, step by step."""
        if not self.params.get("resume_at_statement"):
            return None
        left = [v for v, row in self.rows.items() if row["status"] in (RUNNING, FAILED)]
        if len(left) != 1 or left[0] not in self.by_version:
            raise DbopsError("resume_at_statement needs exactly one interrupted or failed migration among the given"
                             " files; the history holds %s" % (", ".join(sorted(left, key=version_key)) or "none"))
        migration = self.by_version[left[0]]
        if self.transactional(migration):
            raise DbopsError("resume_at_statement: %s runs in one transaction, so it is re-run whole" % migration.up.display)
        if self.params["resume_at_statement"] > len(migration.up.statements) + 1:
            raise DbopsError("resume_at_statement=%d: %s has %d statements (%d records it applied without running any)"
                             % (self.params["resume_at_statement"], migration.up.display, len(migration.up.statements),
                                len(migration.up.statements) + 1))
        return migration.version

    def resume_from(self, migration):
        """Statement number to start at: after a step-by-step failure at k, k; otherwise 1."""
        row = self.rows.get(migration.version)
        if self.params.get("resume_at_statement") and migration.version == self.resume_version():
            return self.params["resume_at_statement"]
        if row and row["status"] == FAILED and not self.transactional(migration):
            done = self.applied_statements(migration)
            return (done or 0) + 1
        return 1

    def applied_statements(self, migration):
        """How many statements of a failed or interrupted up file are in the database (None: unknown)."""
        row = self.rows.get(migration.version)
        if row is None:
            return 0
        if row["status"] == APPLIED:
            return len(migration.up.statements)
        if row["applied_statements"] is not None:
            return row["applied_statements"]
        if row["status"] == FAILED and row["failed_statement"]:  # a row written before applied_statements existed
            return 0 if self.transactional(migration) else row["failed_statement"] - 1
        return None

    def rollback_method(self, migration):
        """history_only for a failed migration that applied nothing (there is nothing to undo), else down."""
        row = self.rows.get(migration.version)
        if row and row["status"] == FAILED and self.applied_statements(migration) == 0:
            return "history_only"
        return "down"

    def rollback_note(self, migration):
        """What the rollback of one migration does, in words, for the result and its message."""
        row = self.rows.get(migration.version, {})
        label = "%s_%s" % (migration.version, migration.name)
        if self.rollback_method(migration) == "history_only":
            return "%s applied nothing: cleared its failed history row" % label
        done, total = self.applied_statements(migration), len(migration.up.statements)
        down = "ran its down file %s" % migration.down.display
        if row.get("status") == RUNNING:
            return "%s was interrupted (%s); %s" % (label, progress_text(done, total), down)
        if row.get("status") == FAILED:
            return "%s had applied %s of %d before failing; %s" % (label, statements_text(done), total, down)
        return "%s: %s" % (label, down)

    def transactional(self, migration):
        mode = self.params.get("transaction_mode", "per_migration")
        return self.conn.engine.transactional_ddl and mode != "none" and migration.up.transactional

    def plan_entry(self, migration, script=None):
        script = script or migration.up
        entry = dict(migration.summary(), file=script.display, statements=len(script.statements),
                     transaction=self.transactional(migration) if script is migration.up else self.conn.engine.transactional_ddl)
        if script is migration.up:
            entry["down"] = migration.down is not None
            if self.resume_from(migration) > 1:
                entry["resume_from_statement"] = self.resume_from(migration)
        if script is migration.down:
            entry.update(method=self.rollback_method(migration), applied_statements=self.applied_statements(migration),
                         msg=self.rollback_note(migration))
            if entry["method"] == "history_only":
                entry.update(file=None, statements=0)
        return entry

    def rollback_candidates(self, steps=None, batch=None, target=None, only=None):
        """Migrations to roll back, newest first; every one must have its down file."""
        rows = [row for row in self.rows.values() if row["status"] in (APPLIED, FAILED, RUNNING)]
        if only is not None:
            rows = [row for row in rows if row["version"] in only]
        if batch is not None:
            wanted = max((row["batch"] for row in rows), default=None) if batch == "last" else int(batch)
            rows = [row for row in rows if row["batch"] == wanted]
        if target is not None:
            rows = [row for row in rows if version_key(row["version"]) > version_key(target)]
        rows.sort(key=lambda row: (row["batch"] or 0, version_key(row["version"])), reverse=True)
        if steps is not None and batch is None and target is None:
            rows = rows[:steps]
        chosen = []
        for row in rows:
            migration = self.by_version.get(row["version"])
            if migration is None:
                raise DbopsError("cannot roll back %s_%s: its migration file is not among the given files"
                                 % (row["version"], row["name"]))
            if migration.down is None and self.rollback_method(migration) == "down":
                raise DbopsError("cannot roll back %s: it has no down file" % migration.up.display)
            chosen.append(migration)
        return chosen

    # --- running ----------------------------------------------------------------------------

    def prepare(self):
        self.history.create()
        self._session_timeouts()

    def _session_timeouts(self):
        self.engine.set_session_timeouts(self.conn, self.params.get("lock_timeout", 5), self.params.get("statement_timeout", 0))

    def next_batch(self):
        return max([row["batch"] or 0 for row in self.rows.values()] + [0]) + 1

    def apply(self, migrations, batch, applied=None):
        """Apply `migrations` in order; each one applied is appended to `applied` as soon as it is committed,
        so a caller still has the list when a later one fails."""
        applied = [] if applied is None else applied
        if self.params.get("transaction_mode") == "all" and self.conn.engine.transactional_ddl:
            with self.conn.transaction():
                done = [self._run_statements(migration, batch, in_transaction=True) for migration in migrations]
            applied.extend(done)
            return applied
        for migration in migrations:
            self.lock_retries_used = 0
            if self.transactional(migration):
                entry = self._with_lock_retries(lambda m=migration: self._apply_in_transaction(m, batch))
            else:
                entry = self._apply_step_by_step(migration, batch)
            applied.append(dict(entry, lock_retries=self.lock_retries_used))
        return applied

    def _apply_in_transaction(self, migration, batch):
        try:
            with self.conn.transaction():
                return self._run_statements(migration, batch, in_transaction=True)
        except StatementError as e:
            if self._is_lock_timeout(e):
                raise
            self._record_failure(migration, batch, e, 0, applied_statements=0)
            raise

    def _run_statements(self, migration, batch, in_transaction):
        started = time.monotonic()
        self.conn.run_statements(migration.up.statements, migration.up.display)
        self._record(migration, APPLIED, batch, started, audit=("apply", APPLIED, None))
        return dict(migration.summary(), execution_ms=_ms_since(started), statements=len(migration.up.statements),
                    transaction=in_transaction)

    def _apply_step_by_step(self, migration, batch):
        started = time.monotonic()
        first = self.resume_from(migration)
        statements = migration.up.statements
        audit = ("apply", APPLIED, "resumed at statement %d" % first if first > 1 else None)
        self._record(migration, RUNNING, batch, started, applied_statements=first - 1)
        recorded = False
        for statement in statements[first - 1:]:
            last = statement.index == len(statements)
            try:
                if last and first_keyword(statement.text, self.engine.name) in ROW_CHANGES:
                    # A last statement that only changes rows commits with the applied row: one commit, not two.
                    self._with_lock_retries(lambda s=statement: self._run_with_record(migration, s, batch, started, audit))
                    recorded = True
                else:
                    self._with_lock_retries(lambda s=statement: self.conn.run_statements([s], migration.up.display))
            except StatementError as e:
                self.engine.clean_up_failed_statement(self.conn, e.statement.text)
                self._record_failure(migration, batch, e, started, applied_statements=e.statement.index - 1)
                raise
            if not last:  # after the last one the applied row says it
                self.history.progress(migration.version, statement.index)
        if not recorded:
            # One autocommitted statement: the DDL before it committed anyway, and a crash here leaves the running row.
            self._record(migration, APPLIED, batch, started, audit=audit)
        result = dict(migration.summary(), execution_ms=_ms_since(started), statements=len(migration.up.statements),
                      transaction=False)
        if first > 1:
            result["resumed_from_statement"] = first
        return result

    def _run_with_record(self, migration, statement, batch, started, audit):
        with self.conn.transaction():
            self.conn.run_statements([statement], migration.up.display)
            self._record(migration, APPLIED, batch, started, audit=audit)

    def _record(self, migration, status, batch, started, failed_statement=None, error=None, applied_statements=None,
                audit=None):
        """Write the history row; with audit=(action, outcome, detail), its audit row too."""
        if status == APPLIED:
            applied_statements = len(migration.up.statements)
        row = dict(
            version=migration.version, name=migration.name, checksum=migration.checksum, status=status, batch=batch,
            applied_at=self.engine.utc_now(), applied_by=self.actor, execution_ms=_ms_since(started) if started else 0,
            statements=len(migration.up.statements), failed_statement=failed_statement, error=error,
            applied_statements=applied_statements)
        if audit is None:
            self.history.write(row)
        else:
            action, outcome, detail = audit
            self.history.write_with_audit(row, action, outcome, self.actor, migration, batch, detail)

    def flush_audit(self):
        """Write the held-back audit rows; on a dead session the history rows still say what was applied."""
        try:
            self.history.flush()
        except self.engine.driver().Error:
            self.history.pending_audit = []

    def _record_failure(self, migration, batch, error, started, applied_statements):
        """Say in the history which statement failed; a dead session cannot, and the error still says it."""
        try:
            with self.conn.transaction():
                self._record(migration, FAILED, batch, started, failed_statement=error.statement.index, error=error.cause,
                             applied_statements=applied_statements)
                self.history.audit("apply", FAILED, self.actor, migration, batch,
                                   detail="statement %d: %s" % (error.statement.index, error.cause))
        except self.conn.engine.driver().Error as record_error:
            error.details["history_not_recorded"] = error_text(record_error)

    def _is_lock_timeout(self, error):
        return error.code in self.engine.lock_timeout_errors

    def _with_lock_retries(self, work):
        """Run work; on a lock timeout wait with jitter and try again, lock_retries times.

        After each timeout the sessions in its way are looked up; with terminate_blockers, those idle in a
        transaction for long enough are terminated and the statement is tried again at once.
        """
        attempts = self.params.get("lock_retries", 3) + 1
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return work()
            except StatementError as e:
                if not self._is_lock_timeout(e):
                    raise
                blockers = self._blockers(e)
                terminated = self._terminate_idle(blockers)
                if attempt >= attempts and not (terminated and attempt == attempts):  # one more try after a kill
                    raise self._lock_timeout_error(e, attempt, started, blockers)
                self.lock_retries_used += 1
                if not terminated:
                    time.sleep(min(0.5 * 2 ** (attempt - 1), 10) * random.uniform(0.5, 1.5))

    def _blockers(self, error):
        """The sessions in the way; a lookup the migrator may not make (MySQL needs PROCESS) must not hide the timeout."""
        try:
            return self.engine.blocking_sessions(self.conn, statement_tables(error.statement.text))
        except self.engine.driver().Error as e:
            error.details["blocking_sessions_error"] = error_text(e)
            return []

    def _terminate_idle(self, blockers):
        """terminate_blockers: end the sessions idle in a transaction longer than idle_for (of the given users)."""
        policy = self.params.get("terminate_blockers")
        if not policy:
            return []
        done = []
        for session in blockers:
            if not session["idle_in_transaction"] or (session["state_seconds"] or 0) < policy["idle_for"]:
                continue
            if policy.get("users") and session["user"] not in policy["users"]:
                continue
            if self.engine.terminate(self.conn, session["pid"]):
                done.append(dict(session, terminated_because="idle in transaction for %.0f s (idle_for %s)"
                                 % (session["state_seconds"], policy["idle_for"])))
        self.terminated_sessions.extend(done)
        return done

    def _lock_timeout_error(self, error, attempts, started, blockers):
        """The lock timeout, with how often and how long it was tried and who was in the way."""
        seconds = time.monotonic() - started
        who = "; ".join(describe_session(b) for b in blockers) or (
            "could not be listed (%s)" % error.details["blocking_sessions_error"] if "blocking_sessions_error" in error.details
            else "no session holding a lock on its tables was found")
        error.args = ("%s -- %d attempt%s over %.0f s; blocking: %s" % (
            error.args[0], attempts, "" if attempts == 1 else "s", seconds, who),)
        error.details.update(lock_attempts=attempts, lock_wait_seconds=round(seconds, 1), blocking_sessions=blockers,
                             terminated_sessions=self.terminated_sessions)
        return error

    def rollback(self, migrations):
        """Run the down files in the given order; each removes its history row when it succeeds.

        A failed migration that applied no statement has nothing to undo: only its history row goes.
        """
        done = []
        for migration in migrations:
            started = time.monotonic()
            batch = self.rows.get(migration.version, {}).get("batch")
            entry = self.plan_entry(migration, migration.down)
            if entry["method"] == "history_only":
                with self.conn.transaction():
                    self.history.remove(migration.version)
                    self.history.audit("rollback", "cleared", self.actor, migration, batch, detail=entry["msg"])
                done.append(dict(entry, execution_ms=_ms_since(started)))
                continue
            try:
                if self.conn.engine.transactional_ddl and migration.down.transactional:
                    with self.conn.transaction():
                        self._roll_back_one(migration, batch, entry["msg"])
                else:
                    self.conn.run_statements(migration.down.statements, migration.down.display)
                    with self.conn.transaction():
                        self._roll_back_one(migration, batch, entry["msg"], run=False)
            except StatementError as e:
                self._audit_quietly("rollback", FAILED, migration, batch, "statement %d: %s" % (e.statement.index, e.cause))
                e.args = ("%s; the down file failed: %s" % (entry["msg"], e.args[0]),)
                e.details.update(rolled_back=done, failed_rollback=entry)
                raise
            done.append(dict(entry, execution_ms=_ms_since(started)))
        return done

    def _roll_back_one(self, migration, batch, note, run=True):
        if run:
            self.conn.run_statements(migration.down.statements, migration.down.display)
        self.history.remove(migration.version)
        self.history.audit("rollback", "rolled_back", self.actor, migration, batch, detail=note)

    def _audit_quietly(self, action, outcome, migration, batch, detail):
        try:
            self.history.audit(action, outcome, self.actor, migration, batch, detail)
        except self.conn.engine.driver().Error:
            pass

    def baseline(self, migrations, batch, imported_from=None):
        """Mark migrations as applied without running them (adopting an existing database)."""
        with self.conn.transaction():
            for migration in migrations:
                self._record(migration, APPLIED, batch, None)
                self.history.audit("baseline", APPLIED, self.actor, migration, batch,
                                   detail="imported from %s" % imported_from if imported_from else None)
        return [migration.summary() for migration in migrations]

    def repair(self):
        """Clear failed and interrupted rows; realign checksums of changed applied files."""
        findings = self.findings()
        cleared = [v for v, row in self.rows.items() if row["status"] in (FAILED, RUNNING)]
        realigned = findings["drift"]
        return cleared, realigned

    def forget(self, version):
        """Remove one history row (whatever its status) and say so in the audit; the schema is not touched."""
        row = self.rows[version]
        with self.conn.transaction():
            self.history.remove(version)
            self.history.audit("forget", "forgotten", self.actor, _Subject(row["version"], row["name"], row["checksum"]),
                               row["batch"], detail="removed the %s history row of %s_%s" % (row["status"], version, row["name"]))

    def apply_repair(self, cleared, realigned):
        with self.conn.transaction():
            for version in cleared:
                self.history.remove(version)
                self.history.audit("repair", "cleared", self.actor, self.by_version.get(version),
                                   detail="removed %s row of %s" % (self.rows[version]["status"], version))
            for drift in realigned:
                migration = self.by_version[drift["version"]]
                self.conn.execute("UPDATE %s SET checksum = %%s WHERE version = %%s" % self.history.quoted,
                                  (migration.checksum, migration.version))
                self.history.audit("repair", "realigned", self.actor, migration,
                                   detail="checksum %s -> %s" % (drift["history_checksum"], drift["file_checksum"]))


def forget_version(params, migrations):
    """The version state=forgotten removes: `version`, or the migration `path` names."""
    if params.get("version"):
        return params["version"]
    return migrations[0].version


def statement_tables(sql):
    """Names a statement may use as tables (every identifier in it): where to look for the sessions in its way."""
    names = set(re.findall(r'"([^"]+)"|`([^`]+)`|([A-Za-z_][A-Za-z0-9_$]*)', sql)[:200])
    return sorted({part for triple in names for part in triple if part})


def describe_session(session):
    """One blocking session in words: pid, user, client, state, transaction age and its statement."""
    statement = summarize(session["statement"] or "", 80) or "(none)"
    return "pid %s (user %s, client %s, %s for %.0f s, transaction open %s, %s, %s statement: %s)" % (
        session["pid"], session["user"], session["client"], session["state"], session["state_seconds"] or 0,
        "%.0f s" % session["transaction_seconds"] if session["transaction_seconds"] is not None else "(none)",
        session["locks"], "last" if session["idle_in_transaction"] else "current", statement)


def statements_text(count):
    """'statement 1', 'statements 1..3', 'no statement', or 'an unknown number of statements'."""
    if count is None:
        return "an unknown number of statements"
    return "no statement" if count == 0 else "statement 1" if count == 1 else "statements 1..%d" % count


def progress_text(done, total):
    """Where an interrupted step-by-step migration stopped."""
    if done is None:
        return "stopped at an unknown statement"
    return "%s of %d done, statement %d was running" % (statements_text(done), total, done + 1)


def _ms_since(started):
    return int((time.monotonic() - started) * 1000) if started else 0


def load_from_params(params, engine):
    """The migrations the task names: a directory, or one file of it (`path`), shipped or on disk."""
    layout = params["layout"]
    if params["path"]:
        directory, only = split_path(params["path"], layout)
    else:
        directory, only = params["migrations_dir"], None
    source = ShippedSource(directory, params["_files"]) if params.get("_files") is not None else DiskSource(directory)
    migrations = load_migrations(source, engine, layout, only, params.get("dialect"))
    if params["path"] and not migrations:
        raise DbopsError("path %s: no such migration" % params["path"])
    return migrations


def run_migrate_apply(module):
    """The migrate_apply module: read and check every file, plan, then act under the migrator lock."""
    params = module.params
    check_not_negative(params, ("lock_timeout", "statement_timeout", "lock_wait_timeout", "lock_retries"))
    check_not_negative(params.get("terminate_blockers") or {}, ("idle_for",))
    if params.get("resume_at_statement") is not None and (params["resume_at_statement"] < 1 or params["state"] != "applied"):
        raise DbopsError("resume_at_statement must be 1 or more, with state=applied")
    if params["steps"] < 1:
        raise DbopsError("steps must be 1 or more, got %d" % params["steps"])
    if params["batch"] is not None and params["batch"] != "last" and not params["batch"].isdigit():
        raise DbopsError("batch must be a batch number or 'last', got %s" % params["batch"])
    if params["state"] == "forgotten" and not (params["path"] or params.get("version")):
        raise DbopsError("state=forgotten needs the migration to forget: path or version")
    if params.get("version") and params["state"] != "forgotten":
        raise DbopsError("version is only for state=forgotten; use target for the other states")
    migrations = load_from_params(params, params["engine"])
    if params["state"] == "forgotten" and params["path"] and params.get("version") \
            and params["version"] != migrations[0].version:
        raise DbopsError("path %s is version %s, not version %s" % (params["path"], migrations[0].version, params["version"]))
    if params["transaction_mode"] == "all" and not ENGINES[params["engine"]].transactional_ddl:
        raise DbopsError("transaction_mode=all needs transactional DDL, which only PostgreSQL has")
    conn = module.connect()
    history = History(conn, params["history_table"], params["history_schema"], params["audit_table"])
    lock = MigratorLock(conn, history)
    try:
        if module.check_mode:
            another_running = not lock.probe()
        else:
            lock.acquire(params["lock_wait_timeout"])  # plan under the lock: what another run applied is seen
            another_running = False
        migrator = Migrator(conn, migrations, history, params)
        migrator.another_running = another_running
        result = dict(changed=False, applied=[], rolled_back=[], baselined=[], pending=[], batch=None,
                      history_table=history.table, findings=migrator.findings(),
                      ignored_files=list(getattr(migrations, "ignored", ())),
                      missing_files=[] if params["path"] else sorted(
                          v for v in migrator.applied_versions() if v not in migrator.by_version))
        plan, scripts = plan_for(migrator, params, result)
        result["pending"] = plan
        # Risk per migration and statement: in the plan (check mode), and before a run only when max_risk or
        # rehearse asks for it, so a plain run reaches its first statement without parsing and catalog reads.
        if params["state"] == "applied" and (module.check_mode or params.get("max_risk") or params.get("rehearse")):
            assess_plan(migrator, params, result, module._diff)
        result["changed"] = bool(plan)
        if module._diff and scripts:
            result["diff"] = dict(prepared="".join("-- %s\n%s\n" % (s.display, s.text.rstrip()) for s in scripts))
        if module.check_mode or not plan:
            return result
        act(migrator, params, result)
        result["history"] = sorted(migrator.history.rows().values(), key=lambda row: version_key(row["version"]))
        return result
    finally:
        lock.release()
        conn.close()


def plan_for(migrator, params, result):
    """What the state asks for: (plan entries, scripts that would run)."""
    state = params["state"]
    if state == "applied":
        findings = migrator.findings()
        result["findings"] = findings
        migrator.check_findings(findings)
        todo = migrator.pending(params["target"])
        return [migrator.plan_entry(m) for m in todo], [m.up for m in todo]
    if state == "rolled_back":
        only = {m.version for m in migrator.migrations} if params["path"] else None
        todo = migrator.rollback_candidates(params["steps"], params["batch"], params["target"], only)
        plan = [migrator.plan_entry(m, m.down) for m in todo]
        if plan:
            result["msg"] = "would roll back: " + "; ".join(entry["msg"] for entry in plan)
        return plan, [m.down for m, entry in zip(todo, plan) if entry["method"] == "down"]
    if state == "baseline":
        if params["baseline_from"]:
            todo = imported_versions(migrator.conn, params["baseline_from"], migrator.pending_all(),
                                     params.get("baseline_table"))
        else:
            todo = migrator.pending(params["target"])
        return [dict(m.summary(), action="baseline") for m in todo], []
    if state == "forgotten":
        row = migrator.rows.get(forget_version(params, migrator.migrations))
        result["forgotten"] = [dict(version=row["version"], name=row["name"], status=row["status"])] if row else []
        result["msg"] = ("would forget %s_%s (its %s history row)" % (row["version"], row["name"], row["status"]) if row
                         else "%s is not in the history: nothing to forget" % forget_version(params, migrator.migrations))
        return [dict(entry, action="forget") for entry in result["forgotten"]], []
    cleared, realigned = migrator.repair()
    result["repair"] = dict(cleared=cleared, realigned=realigned)
    return [dict(version=v, action="clear") for v in cleared] + [dict(d, action="realign") for d in realigned], []


def act(migrator, params, result):
    state = params["state"]
    migrator.prepare()
    if state == "applied":
        result["batch"] = migrator.next_batch()
        todo = migrator.pending(params["target"])
        # One row per run before anything runs: a run killed mid-way leaves this, and the history shows how far it got.
        migrator.history.audit("run", "started", migrator.actor, batch=result["batch"],
                               detail="applying " + ", ".join(m.version for m in todo))
        try:
            migrator.apply(todo, result["batch"], result["applied"])
        except DbopsError as e:  # a rescue rolls back what this run applied: say which batch, and what
            e.details.update(batch=result["batch"], applied=result["applied"])
            raise
        finally:
            result["terminated_sessions"] = migrator.terminated_sessions
            migrator.flush_audit()
    elif state == "rolled_back":
        only = {m.version for m in migrator.migrations} if params["path"] else None
        result["rolled_back"] = migrator.rollback(
            migrator.rollback_candidates(params["steps"], params["batch"], params["target"], only))
        result["msg"] = "; ".join(entry["msg"] for entry in result["rolled_back"])
    elif state == "baseline":
        result["batch"] = migrator.next_batch()
        todo = (imported_versions(migrator.conn, params["baseline_from"], migrator.pending_all(), params.get("baseline_table"))
                if params["baseline_from"] else migrator.pending(params["target"]))
        result["baselined"] = migrator.baseline(todo, result["batch"], params["baseline_from"])
    elif state == "forgotten":
        migrator.forget(forget_version(params, migrator.migrations))
        result["msg"] = result["msg"].replace("would forget", "forgot", 1)
    else:
        migrator.apply_repair(*migrator.repair())
    result["pending"] = []
