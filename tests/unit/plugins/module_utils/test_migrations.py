# -*- coding: utf-8 -*-
from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import (
    DiskSource, ShippedSource, load_migrations, split_path, version_key)


def write(tmp_path, name, text="SELECT 1;"):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def load(tmp_path, engine="postgres", layout="flat", only=None):
    return load_migrations(DiskSource(str(tmp_path)), engine, layout, only)


def test_versions_sort_as_numbers_and_pair_down_files(tmp_path):
    write(tmp_path, "0010_later.up.sql")
    write(tmp_path, "0007_first.up.sql")
    write(tmp_path, "0007_first.down.sql")
    write(tmp_path, "README.md", "not sql")
    migrations = load(tmp_path)
    assert [(m.version, m.name) for m in migrations] == [("0007", "first"), ("0010", "later")]
    assert migrations[0].down.display.endswith("0007_first.down.sql")
    assert migrations[1].down is None


def test_version_styles_sort_naturally():
    versions = ["20190100000004000000", "0007", "2024_12_24_000100", "2024_12_24_000000"]
    assert sorted(versions, key=version_key) == ["0007", "2024_12_24_000000", "2024_12_24_000100", "20190100000004000000"]


def test_dialect_file_replaces_the_generic_one_for_its_engine_only(tmp_path):
    write(tmp_path, "0001_a.up.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0001_a.mysql.up.sql", "")
    write(tmp_path, "0002_b.postgres.up.sql", "CREATE INDEX CONCURRENTLY b ON a (id);")
    mysql = load(tmp_path, "mysql")
    postgres = load(tmp_path, "postgres")
    assert [(m.version, len(m.up.statements)) for m in mysql] == [("0001", 0)]
    assert [(m.version, len(m.up.statements)) for m in postgres] == [("0001", 1), ("0002", 1)]


def test_sections_layout(tmp_path):
    write(tmp_path, "0003_c.sql", "-- migrate:up\nCREATE TABLE c (id int);\n-- migrate:down\nDROP TABLE c;\n")
    migration = load(tmp_path, layout="sections")[0]
    assert migration.up.text.strip() == "CREATE TABLE c (id int);"
    assert migration.down.text.strip() == "DROP TABLE c;"
    write(tmp_path, "0004_d.sql", "CREATE TABLE d (id int);\n")
    with pytest.raises(DbopsError, match="0004_d.sql: needs one '-- migrate:up' section"):
        load(tmp_path, layout="sections")


def test_directories_layout(tmp_path):
    write(tmp_path, "20240101000000_init/migration.sql", "CREATE TABLE x (id int);")
    migrations = load(tmp_path, layout="directories")
    assert [(m.version, m.name, m.down) for m in migrations] == [("20240101000000", "init", None)]


def test_markers_and_unknown_markers(tmp_path):
    write(tmp_path, "0001_a.up.sql", "-- dbops:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);")
    assert not load(tmp_path)[0].up.transactional
    write(tmp_path, "0002_b.up.sql", "-- dbops:no-transacton\nSELECT 1;")
    with pytest.raises(DbopsError, match="0002_b.up.sql: unknown marker '-- dbops:no-transacton'"):
        load(tmp_path)


def test_duplicate_versions_fail(tmp_path):
    write(tmp_path, "0001_a.up.sql")
    write(tmp_path, "01_b.up.sql")
    with pytest.raises(DbopsError, match="duplicate migration version"):
        load(tmp_path)


def test_bad_names_and_missing_directory_fail_naming_them(tmp_path):
    write(tmp_path, "create_things.sql")
    with pytest.raises(DbopsError, match="create_things.sql: not a migration file name"):
        load(tmp_path)
    with pytest.raises(DbopsError, match="migrations_dir .*nope: no such directory"):
        load(tmp_path / "nope")


def test_non_utf8_and_unterminated_files_fail_naming_them(tmp_path):
    write(tmp_path, "0001_a.up.sql", b"SELECT '\xff';")
    with pytest.raises(DbopsError, match="0001_a.up.sql: not valid UTF-8"):
        load(tmp_path)
    write(tmp_path, "0001_a.up.sql", "SELECT 'open;")
    with pytest.raises(DbopsError, match="0001_a.up.sql: unterminated ' quote starting at line 1"):
        load(tmp_path)


def test_checksum_is_sha256_of_the_file(tmp_path):
    write(tmp_path, "0001_a.up.sql", "SELECT 1;\n")
    assert load(tmp_path)[0].checksum == hashlib.sha256(b"SELECT 1;\n").hexdigest()


def test_shipped_files_load_like_files_on_disk(tmp_path):
    shipped = {"0001_a.up.sql": base64.b64encode(b"SELECT 1;").decode(),
               "20240101_b/migration.sql": base64.b64encode(b"SELECT 2;").decode()}
    flat = load_migrations(ShippedSource("/repo/migrations", shipped), "mysql")
    assert [(m.version, m.up.display) for m in flat] == [("0001", "/repo/migrations/0001_a.up.sql")]
    dirs = load_migrations(ShippedSource("/repo/migrations", shipped), "mysql", "directories")
    assert [m.name for m in dirs] == ["b"]


def test_path_names_one_migration_of_its_directory():
    assert split_path("/m/0001_a.up.sql", "flat") == ("/m", "0001_a.")
    assert split_path("/m/0002_b/migration.sql", "directories") == ("/m", "0002_b")
    with pytest.raises(DbopsError, match="give the .up.sql file"):
        split_path("/m/0001_a.down.sql", "flat")
