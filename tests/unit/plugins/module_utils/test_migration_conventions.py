# -*- coding: utf-8 -*-
"""File conventions of other tools: popx dialect files (flat layout) and node-pg-migrate SQL files."""
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import (
    DiskSource, load_migrations, split_node_pg_migrate)


def write(tmp_path, name, text="SELECT 1;"):
    (tmp_path / name).write_text(text, encoding="utf-8")


def load(tmp_path, engine="postgres", layout="flat", dialect=None):
    return load_migrations(DiskSource(str(tmp_path)), engine, layout, None, dialect)


def popx_folder(tmp_path):
    for dialect in ("", ".cockroach", ".postgres", ".mysql", ".sqlite3"):
        write(tmp_path, "20150101000001000000_networks%s.up.sql" % dialect, "CREATE TABLE n%s (id int);" % dialect[1:])
        write(tmp_path, "20150101000001000000_networks%s.down.sql" % dialect, "DROP TABLE n;")
    write(tmp_path, "20150101000002000000_index.postgres.autocommit.up.sql", "CREATE INDEX CONCURRENTLY i ON n (id);")
    write(tmp_path, "20150101000002000000_index.postgres.down.sql", "DROP INDEX i;")
    write(tmp_path, "20150101000002000000_index.mysql.up.sql", "CREATE INDEX i ON n (id);")
    write(tmp_path, "20150101000003000000_crdb_only.cockroach.up.sql", "SELECT 1;")


def test_popx_dialect_files_replace_the_generic_one_and_other_dialects_are_listed(tmp_path):
    popx_folder(tmp_path)
    postgres = load(tmp_path)
    assert [(m.version, m.up.text) for m in postgres] == [
        ("20150101000001000000", "CREATE TABLE npostgres (id int);"),
        ("20150101000002000000", "CREATE INDEX CONCURRENTLY i ON n (id);")]
    assert [m.up.transactional for m in postgres] == [True, False]
    assert postgres.ignored == [
        "20150101000001000000_networks.cockroach.down.sql", "20150101000001000000_networks.cockroach.up.sql",
        "20150101000001000000_networks.mysql.down.sql", "20150101000001000000_networks.mysql.up.sql",
        "20150101000001000000_networks.sqlite3.down.sql", "20150101000001000000_networks.sqlite3.up.sql",
        "20150101000002000000_index.mysql.up.sql", "20150101000003000000_crdb_only.cockroach.up.sql"]
    mysql = load(tmp_path, "mysql")
    assert [m.up.text for m in mysql] == ["CREATE TABLE nmysql (id int);", "CREATE INDEX i ON n (id);"]
    assert mysql[1].down is None and mysql[1].up.transactional


def test_engine_aliases_and_the_dialect_option(tmp_path):
    write(tmp_path, "0001_a.up.sql", "SELECT 'generic';")
    write(tmp_path, "0001_a.mariadb.up.sql", "SELECT 'mariadb';")
    assert load(tmp_path, "mysql")[0].up.text == "SELECT 'mariadb';"
    write(tmp_path, "0001_a.mysql.up.sql", "SELECT 'mysql';")
    with pytest.raises(DbopsError, match="0001_a.mariadb.up.sql and .*0001_a.mysql.up.sql: two up files"):
        load(tmp_path, "mysql")
    chosen = load(tmp_path, "mysql", dialect="mysql")
    assert chosen[0].up.text == "SELECT 'mysql';" and chosen.ignored == ["0001_a.mariadb.up.sql"]
    with pytest.raises(DbopsError, match="^dialect mysql is not a dialect of engine postgres; use one of postgres"):
        load(tmp_path, "postgres", dialect="mysql")


def test_unknown_dialect_and_bad_names_fail_naming_the_file(tmp_path):
    write(tmp_path, "0001_a.postgress.up.sql")
    with pytest.raises(DbopsError, match=r"0001_a.postgress.up.sql: unknown dialect 'postgress'; known: clickhouse"):
        load(tmp_path)
    (tmp_path / "0001_a.postgress.up.sql").unlink()
    write(tmp_path, "0001_a.postgres.sideways.sql")
    with pytest.raises(DbopsError, match=r"0001_a.postgres.sideways.sql: not a migration file name"):
        load(tmp_path)


def test_autocommit_without_dialect_is_not_a_dialect(tmp_path):
    write(tmp_path, "0001_a.autocommit.up.sql", "CREATE INDEX CONCURRENTLY i ON t (id);")
    migration = load(tmp_path)[0]
    assert migration.name == "a" and not migration.up.transactional


@pytest.mark.parametrize("text, up, down", [
    ("-- Up Migration\nCREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE a;\n",
     "-- Up Migration\nCREATE TABLE a (id int);\n", "-- Down Migration\nDROP TABLE a;\n"),
    ("--up migration\nSELECT 1;\n", "--up migration\nSELECT 1;\n", None),
    ("-- ---- UP   MIGRATION: first\nSELECT 1;\n  --- down migration\nSELECT 2;\n",
     "-- ---- UP   MIGRATION: first\nSELECT 1;\n", "  --- down migration\nSELECT 2;\n"),
    ("-- a comment\n-- Down Migration\nSELECT 2;\n-- Up Migration\nSELECT 1;\n",
     "-- a comment\n-- Up Migration\nSELECT 1;\n", "-- a comment\n-- Down Migration\nSELECT 2;\n"),
    ("CREATE TABLE a (id int);\n", "CREATE TABLE a (id int);\n", None),
])
def test_node_pg_migrate_markers_split_like_node_pg_migrate(text, up, down):
    assert split_node_pg_migrate("f.sql", text) == (up, down)


@pytest.mark.parametrize("text, message", [
    ("SELECT 0;\n-- Up Migration\nSELECT 1;\n", "f.sql: SQL before the first"),
    ("SELECT 1;\n-- Down Migration\nSELECT 2;\n", "f.sql: has a '-- Down Migration' marker but no"),
])
def test_node_pg_migrate_refuses_what_it_would_run_differently(text, message):
    with pytest.raises(DbopsError, match=message):
        split_node_pg_migrate("f.sql", text)


def test_node_pg_migrate_head_markers_apply_to_both_sides(tmp_path):
    write(tmp_path, "1700000000000_gin.sql", "-- dbops:no-transaction\n-- Up Migration\n"
          "CREATE INDEX CONCURRENTLY i ON t (c);\n-- Down Migration\nDROP INDEX CONCURRENTLY i;\n")
    migration = load_migrations(DiskSource(str(tmp_path)), "postgres", "node_pg_migrate")[0]
    assert not migration.up.transactional and not migration.down.transactional


def test_node_pg_migrate_layout(tmp_path):
    write(tmp_path, "1700000000000_create-users.sql",
          "-- Up Migration\n-- dbops:no-transaction\nCREATE INDEX CONCURRENTLY u ON t (id);\n-- Down Migration\nDROP INDEX u;\n")
    write(tmp_path, "1700000000001_seed.sql", "INSERT INTO t VALUES (1);\n")
    write(tmp_path, "README.md", "not sql")
    first, second = load(tmp_path, layout="node_pg_migrate")
    assert (first.version, first.name, first.up.transactional, len(first.down.statements)) == (
        "1700000000000", "create-users", False, 1)
    assert second.down is None and len(second.up.statements) == 1
    write(tmp_path, "create_users.sql", "SELECT 1;")
    with pytest.raises(DbopsError, match="create_users.sql: not a migration file name; expected <timestamp>_<name>.sql"):
        load(tmp_path, layout="node_pg_migrate")
