# -*- coding: utf-8 -*-
"""What other tools' history rows mean: the decisions over rows read from their tables."""
from __future__ import annotations

import datetime
import hashlib

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils import adoption
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import Migration, Script

NOW = datetime.datetime(2026, 1, 1)


def migration(version, name, sql="SELECT 1;\n"):
    return Migration(version, name, Script("%s_%s/migration.sql" % (version, name), sql.encode("utf-8"), "postgres"))


def prisma_row(name, sql="SELECT 1;\n", finished=NOW, rolled_back=None):
    return dict(migration_name=name, checksum=hashlib.sha256(sql.encode("utf-8")).hexdigest(),
                finished_at=finished, rolled_back_at=rolled_back)


def versions(chosen):
    return [m.version for m in chosen]


def test_node_pg_migrate_matches_file_names():
    files = [migration("1700000000000", "init"), migration("1700000000001", "users")]
    assert versions(adoption.node_pg_migrate([dict(name="1700000000000_init")], files, "pgmigrations")) == ["1700000000000"]


def test_prisma_takes_finished_rows_and_skips_rolled_back_ones():
    files = [migration("20240101000000", "init"), migration("20240102000000", "users")]
    rows = [prisma_row("20240101000000_init"), prisma_row("20240102000000_users", finished=None, rolled_back=NOW)]
    assert versions(adoption.prisma(rows, files, "_prisma_migrations")) == ["20240101000000"]
    rows.append(prisma_row("20240102000000_users"))  # re-applied after `prisma migrate resolve --rolled-back`
    assert versions(adoption.prisma(rows, files, "_prisma_migrations")) == ["20240101000000", "20240102000000"]


def test_prisma_refuses_failed_rows_naming_them():
    rows = [prisma_row("20240101000000_init", finished=None)]
    with pytest.raises(DbopsError, match="_prisma_migrations: migration 20240101000000_init failed or is unfinished"):
        adoption.prisma(rows, [migration("20240101000000", "init")], "_prisma_migrations")


def test_prisma_checksum_drift_and_line_endings():
    rows = [prisma_row("20240101000000_init", "SELECT 1;\n")]
    assert adoption.prisma(rows, [migration("20240101000000", "init", "SELECT 1;\r\n")], "_prisma_migrations")
    with pytest.raises(DbopsError, match="20240101000000_init/migration.sql changed after Prisma applied it") as e:
        adoption.prisma(rows, [migration("20240101000000", "init", "SELECT 2;\n")], "_prisma_migrations")
    assert e.value.details["findings"]["drift"][0]["version"] == "20240101000000"


def flyway_row(rank, version, kind="SQL", success=True):
    return dict(installed_rank=rank, version=version, type=kind, script="V%s__x.sql" % version, success=success)


def test_flyway_versions_compare_as_numbers_with_baseline_and_undo():
    files = [migration(v, "x") for v in ("0001", "1_1", "0002", "0003", "0004")]
    rows = [flyway_row(1, "1.1", "BASELINE"), flyway_row(2, "2"), flyway_row(3, "3.0"), flyway_row(4, None, "SQL"),
            flyway_row(5, "3", "UNDO_SQL")]
    assert versions(adoption.flyway(rows, files, "flyway_schema_history")) == ["0001", "1_1", "0002"]


def test_flyway_refuses_failed_rows_naming_them():
    with pytest.raises(DbopsError, match=r"flyway_schema_history: migration V2__x.sql \(version 2\) failed"):
        adoption.flyway([flyway_row(1, "1"), flyway_row(2, "2", success=False)], [], "flyway_schema_history")


def test_golang_migrate_dirty_and_laravel():
    files = [migration("0001", "a"), migration("0002", "b")]
    assert versions(adoption.golang_migrate([dict(version=1, dirty=False)], files, "schema_migrations")) == ["0001"]
    with pytest.raises(DbopsError, match="schema_migrations says version 2 is dirty"):
        adoption.golang_migrate([dict(version=2, dirty=True)], files, "schema_migrations")
    assert versions(adoption.laravel([dict(migration="0002_b")], files, "migrations")) == ["0002"]
