# -*- coding: utf-8 -*-
from __future__ import annotations

import hashlib

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import load_directory, load_file


def write(tmp_path, name, text="SELECT 1;"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def test_versions_sort_as_numbers_and_pair_down_files(tmp_path):
    write(tmp_path, "0010_later.up.sql")
    write(tmp_path, "0007_first.up.sql")
    write(tmp_path, "0007_first.down.sql")
    write(tmp_path, "README.md", "not sql")
    migrations = load_directory(str(tmp_path))
    assert [(m.version, m.name) for m in migrations] == [("0007", "first"), ("0010", "later")]
    assert migrations[0].down_path.endswith("0007_first.down.sql")
    assert migrations[1].down_path is None


def test_laravel_style_versions(tmp_path):
    write(tmp_path, "2024_12_24_000100_b.up.sql")
    write(tmp_path, "2024_12_24_000000_a.up.sql")
    assert [m.name for m in load_directory(str(tmp_path))] == ["a", "b"]


def test_duplicate_versions_fail(tmp_path):
    write(tmp_path, "0001_a.up.sql")
    write(tmp_path, "01_b.up.sql")
    with pytest.raises(DbopsError, match="duplicate migration version"):
        load_directory(str(tmp_path))


def test_bad_names_and_missing_directory_fail_naming_them(tmp_path):
    write(tmp_path, "create_things.sql")
    with pytest.raises(DbopsError, match="create_things.sql: not a migration file name"):
        load_directory(str(tmp_path))
    with pytest.raises(DbopsError, match="migrations_dir .*nope: no such directory"):
        load_directory(str(tmp_path / "nope"))


def test_non_utf8_file_fails_naming_it(tmp_path):
    path = write(tmp_path, "0001_a.up.sql", b"SELECT '\xff';")
    migration = load_file(path)[0]
    with pytest.raises(DbopsError, match="0001_a.up.sql: not valid UTF-8"):
        migration.up_sql


def test_checksum_is_sha256_of_the_file(tmp_path):
    path = write(tmp_path, "0001_a.up.sql", "SELECT 1;\n")
    assert load_file(path)[0].checksum == hashlib.sha256(b"SELECT 1;\n").hexdigest()


def test_path_must_be_an_up_file(tmp_path):
    path = write(tmp_path, "0001_a.down.sql")
    with pytest.raises(DbopsError, match="give the .up.sql file"):
        load_file(path)
