# -*- coding: utf-8 -*-
from __future__ import annotations

import base64

from ansible_collections.dbops.runbooks.plugins.plugin_utils.migration_folder import read_folder


def decoded(files):
    return {name: base64.b64decode(content) for name, content in files.items()}


def test_the_sql_files_of_the_folder_and_of_each_migration_folder_are_shipped(tmp_path):
    (tmp_path / "0002_b.up.sql").write_bytes(b"CREATE TABLE b (id int);\n")
    (tmp_path / "0001_a.up.sql").write_bytes("-- caf\u00e9\n".encode("utf-8"))
    (tmp_path / "0001_a.down.sql").write_bytes(b"")
    (tmp_path / "0003_c").mkdir()
    (tmp_path / "0003_c" / "migration.sql").write_bytes(b"SELECT 1;\n")

    files = read_folder(str(tmp_path))

    assert list(files) == ["0001_a.down.sql", "0001_a.up.sql", "0002_b.up.sql", "0003_c/migration.sql"]
    assert decoded(files) == {"0001_a.down.sql": b"", "0001_a.up.sql": "-- caf\u00e9\n".encode("utf-8"),
                              "0002_b.up.sql": b"CREATE TABLE b (id int);\n", "0003_c/migration.sql": b"SELECT 1;\n"}
    assert all(isinstance(content, str) for content in files.values())


def test_other_files_and_deeper_folders_stay_on_the_controller(tmp_path):
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "0001_a.js").write_text("exports.up = () => {}")
    (tmp_path / "0001_a").mkdir()
    (tmp_path / "0001_a" / "notes.txt").write_text("not shipped")
    (tmp_path / "0001_a" / "nested.sql").mkdir()
    (tmp_path / "0001_a" / "deeper").mkdir()
    (tmp_path / "0001_a" / "deeper" / "migration.sql").write_text("SELECT 1;")

    assert read_folder(str(tmp_path)) == {}


def test_an_empty_folder_ships_nothing(tmp_path):
    assert read_folder(str(tmp_path)) == {}
