# -*- coding: utf-8 -*-
"""The migrator's decisions from history rows (pure logic: no server, no driver)."""
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import ENGINES, DbopsError, check_not_negative
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import DiskSource, load_migrations
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import Migrator, progress_text, statements_text


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
