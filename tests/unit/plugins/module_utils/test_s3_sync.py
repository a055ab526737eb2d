# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.s3_sync import (
    local_file,
    plan_sync,
    relative_key,
    sync_diff,
    why_download,
)


def md5(data):
    return hashlib.md5(data).hexdigest()  # nosec - test data


def test_why_download_compares_md5_for_single_part_and_size_for_multipart():
    same = (3, lambda: md5(b"abc"))
    assert why_download('"%s"' % md5(b"abc"), 3, same) is None
    assert why_download('"%s"' % md5(b"abd"), 3, same) == "md5 differs"
    assert why_download('"%s"' % md5(b"abc"), 4, same) == "size differs"
    assert why_download("0123-2", 3, (3, lambda: pytest.fail("a multipart ETag is not an MD5"))) is None
    assert why_download("0123-2", 5, same) == "size differs"
    assert why_download("x", 3, None) == "missing"


def test_plan_sync_downloads_missing_and_changed_only():
    objects = [dict(Key="icons/", ETag='"d"', Size=0),
               dict(Key="icons/a.svg", ETag='"%s"' % md5(b"a"), Size=1),
               dict(Key="icons/b.svg", ETag='"%s"' % md5(b"b"), Size=1),
               dict(Key="icons/sub/c.svg", ETag='"%s"' % md5(b"c"), Size=1)]
    local = {"/srv/i/a.svg": (1, lambda: md5(b"a")), "/srv/i/b.svg": (1, lambda: md5(b"old"))}
    todo, unchanged = plan_sync(objects, "icons/", "/srv/i", local=local.get)
    assert unchanged == 1
    assert todo == [dict(key="icons/b.svg", dest="/srv/i/b.svg", size=1, reason="md5 differs"),
                    dict(key="icons/sub/c.svg", dest="/srv/i/sub/c.svg", size=1, reason="missing")]


def test_plan_sync_of_an_empty_prefix_is_empty():
    assert plan_sync([dict(Key="icons/", Size=0)], "icons/", "/srv/i", local=lambda path: None) == ([], 0)


def test_relative_key_skips_folders_and_refuses_escapes():
    assert relative_key("icons/a/b.svg", "icons/") == "a/b.svg"
    assert relative_key("icons/a/b.svg", "icons") == "a/b.svg"
    assert relative_key("icons/a/", "icons/") is None
    with pytest.raises(DbopsError, match=r"icons/\.\./etc/passwd cannot be synced"):
        relative_key("icons/../etc/passwd", "icons/")


def test_local_file(tmp_path):
    (tmp_path / "a.svg").write_bytes(b"abc")
    size, digest = local_file(str(tmp_path / "a.svg"))
    assert (size, digest()) == (3, md5(b"abc"))
    assert local_file(str(tmp_path / "missing.svg")) is None
    with pytest.raises(DbopsError, match="is not a regular file"):
        local_file(str(tmp_path))


def test_sync_diff_lists_the_files():
    diff = sync_diff("s3://b/icons/", [dict(key="icons/a.svg", dest="/srv/i/a.svg", size=3, reason="missing")])
    assert diff["before"] == "/srv/i/a.svg (missing)\n"
    assert diff["after"] == "/srv/i/a.svg (3 bytes from icons/a.svg)\n"
