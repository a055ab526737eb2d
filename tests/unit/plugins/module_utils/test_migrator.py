# -*- coding: utf-8 -*-
"""The migrator's decisions from history rows (pure logic: no server, no driver)."""
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import ENGINES, DbopsError, check_not_negative
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import DiskSource, load_migrations
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import (
    Migrator, describe_session, progress_text, statement_tables, statements_text)


class FakeConn:
    def __init__(self, engine):
        self.engine = ENGINES[engine]


class FakeHistory:
    def __init__(self, rows):
        self._rows = rows

    def rows(self):
        return self._rows


def row(version, status, applied_statements=None, failed_statement=None, batch=1, name="m"):
    return dict(version=version, name=name, checksum="x", status=status, batch=batch, applied_at=None, applied_by="t",
                execution_ms=0, statements=3, failed_statement=failed_statement, error=None,
                applied_statements=applied_statements)


def migrator(tmp_path, engine, rows, **params):
    (tmp_path / "0001_m.up.sql").write_text("CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE c (id int);\n")
    (tmp_path / "0001_m.down.sql").write_text("DROP TABLE a;\n")
    (tmp_path / "0002_n.up.sql").write_text("SELECT 1;\n")
    migrations = load_migrations(DiskSource(str(tmp_path)), engine)
    return Migrator(FakeConn(engine), migrations, FakeHistory(rows), dict(dict(applied_by="t"), **params))


def test_a_failure_that_applied_nothing_only_clears_the_history_row(tmp_path):
    m = migrator(tmp_path, "mysql", {"0001": row("0001", "failed", applied_statements=0, failed_statement=1)})
    entry = m.plan_entry(m.migrations[0], m.migrations[0].down)
    assert entry["method"] == "history_only" and entry["applied_statements"] == 0 and entry["file"] is None
    assert entry["msg"] == "0001_m applied nothing: cleared its failed history row"


def test_a_failure_after_some_statements_names_them_before_the_down_file(tmp_path):
    m = migrator(tmp_path, "mysql", {"0001": row("0001", "failed", applied_statements=2, failed_statement=3)})
    entry = m.plan_entry(m.migrations[0], m.migrations[0].down)
    assert entry["method"] == "down" and entry["applied_statements"] == 2
    assert entry["msg"].startswith("0001_m had applied statements 1..2 of 3 before failing; ran its down file ")
    assert m.resume_from(m.migrations[0]) == 3


def test_rows_from_before_applied_statements_are_read_from_failed_statement(tmp_path):
    mysql = migrator(tmp_path, "mysql", {"0001": row("0001", "failed", failed_statement=2)})
    assert mysql.applied_statements(mysql.migrations[0]) == 1
    postgres = migrator(tmp_path, "postgres", {"0001": row("0001", "failed", failed_statement=2)})
    assert postgres.rollback_method(postgres.migrations[0]) == "history_only"  # its transaction rolled back


def test_an_interrupted_migration_says_how_far_it_got(tmp_path):
    m = migrator(tmp_path, "mysql", {"0001": row("0001", "running", applied_statements=1)})
    entry = m.plan_entry(m.migrations[0], m.migrations[0].down)
    assert entry["method"] == "down"  # statement 2 may have taken effect
    assert "was interrupted (statement 1 of 3 done, statement 2 was running)" in entry["msg"]
    interrupted = migrator(tmp_path, "mysql", {"0001": row("0001", "running", applied_statements=0)})
    assert interrupted.rollback_method(interrupted.migrations[0]) == "down"


def test_history_only_needs_no_down_file(tmp_path):
    m = migrator(tmp_path, "mysql", {"0002": row("0002", "failed", applied_statements=0, batch=2, name="n")})
    assert [x.version for x in m.rollback_candidates(steps=1)] == ["0002"]
    applied = migrator(tmp_path, "mysql", {"0002": row("0002", "applied", batch=2, name="n")})
    with pytest.raises(Exception, match="0002_n.up.sql: it has no down file"):
        applied.rollback_candidates(steps=1)


def test_statement_phrases():
    assert statements_text(0) == "no statement" and statements_text(1) == "statement 1"
    assert statements_text(4) == "statements 1..4"
    assert progress_text(2, 5) == "statements 1..2 of 5 done, statement 3 was running"
    assert progress_text(None, 5) == "stopped at an unknown statement"


def test_negative_numbers_fail_naming_the_option():
    check_not_negative(dict(lock_timeout=0, lock_retries=None), ("lock_timeout", "lock_retries"))
    with pytest.raises(DbopsError, match="^lock_timeout must be 0 or more, got -1$"):
        check_not_negative(dict(lock_timeout=-1), ("lock_timeout",))


def test_the_tables_a_statement_names_are_where_blockers_are_looked_for():
    assert {"blocked_rows", "note"} <= set(statement_tables('ALTER TABLE blocked_rows ADD COLUMN "note" INT'))
    assert "na me" in statement_tables('LOCK TABLE "na me"') and "t`" not in statement_tables("ALTER TABLE `t` ADD x INT")


def test_a_blocking_session_in_words():
    session = dict(pid=42, user="app", client="10.0.0.5", state="idle in transaction", idle_in_transaction=True,
                   state_seconds=12.4, transaction_seconds=14.0, locks="community_posts (RowShareLock)",
                   statement="SELECT COUNT(*) FROM community_posts")
    assert describe_session(session) == (
        "pid 42 (user app, client 10.0.0.5, idle in transaction for 12 s, transaction open 14 s,"
        " community_posts (RowShareLock), last statement: SELECT COUNT(*) FROM community_posts)")


def test_an_interrupted_run_names_the_running_statement_and_the_two_ways_on(tmp_path):
    m = migrator(tmp_path, "mysql", {"0001": row("0001", "running", applied_statements=1)})
    message = m.interrupted_message(m.findings()["interrupted"][0])
    assert "(statement 1 of 3 done, statement 2 was running); check whether statement 2 (line 2: CREATE TABLE b" in message
    assert "resume_at_statement=2 if it did not or 3 if it did" in message
    with pytest.raises(DbopsError, match="0001_m was interrupted"):
        m.check_findings(m.findings())


def test_resume_at_statement_applies_to_the_one_interrupted_migration(tmp_path):
    m = migrator(tmp_path, "mysql", {"0001": row("0001", "running", applied_statements=1)}, resume_at_statement=3)
    m.check_findings(m.findings())  # the operator decided: no longer an error
    assert m.resume_from(m.migrations[0]) == 3 and m.plan_entry(m.migrations[0])["resume_from_statement"] == 3
    none_left = migrator(tmp_path, "mysql", {}, resume_at_statement=2)
    with pytest.raises(DbopsError, match="needs exactly one interrupted or failed migration .* holds none"):
        none_left.resume_from(none_left.migrations[0])
    too_far = migrator(tmp_path, "mysql", {"0001": row("0001", "failed", applied_statements=1)}, resume_at_statement=5)
    with pytest.raises(DbopsError, match="resume_at_statement=5: .* has 3 statements"):
        too_far.resume_from(too_far.migrations[0])
    in_transaction = migrator(tmp_path, "postgres", {"0001": row("0001", "failed")}, resume_at_statement=2)
    with pytest.raises(DbopsError, match="runs in one transaction"):
        in_transaction.resume_from(in_transaction.migrations[0])


def test_plan_entries_of_up_scripts_say_whether_a_down_script_exists(tmp_path):
    m = migrator(tmp_path, "postgres", {})
    with_down, without_down = (m.plan_entry(migration) for migration in m.migrations)
    assert with_down == dict(version="0001", name="m", file=with_down["file"], statements=3, transaction=True, down=True)
    assert without_down["down"] is False
    assert "down" not in m.plan_entry(m.migrations[0], m.migrations[0].down)
