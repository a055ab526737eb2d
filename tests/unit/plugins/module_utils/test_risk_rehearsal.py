# -*- coding: utf-8 -*-
"""The rehearsal's schema comparison, as pure logic (the rehearsal itself runs in the migrate_lint target)."""
from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.risk_rehearsal import compare


def test_identical_snapshots_have_no_differences():
    snapshot = {"t": ["`id` bigint NOT NULL", "PRIMARY KEY (`id`)"]}
    assert compare(snapshot, dict(snapshot)) == []


def test_differences_name_tables_and_lines():
    before = {"t": ["`id` bigint NOT NULL", "PRIMARY KEY (`id`)"], "gone": []}
    after = {"t": ["`id` bigint NOT NULL", "PRIMARY KEY (`id`)", "KEY `t_a` (`a`)"], "extra": []}
    assert compare(before, after) == [
        "table gone is missing", "table extra is left over", "table t: gained KEY `t_a` (`a`)"]
    reverse = compare(before=after, after=before)
    assert reverse[-1] == "table t: lost KEY `t_a` (`a`)"
