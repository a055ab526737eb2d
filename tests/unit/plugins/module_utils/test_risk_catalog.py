# -*- coding: utf-8 -*-
"""Catalog adjustment as pure logic: sizes and transactions given, risk and estimates computed."""
from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.risk_catalog import Catalog, RATES


class FakeDriverError(Exception):
    pass


class FakeConnection:
    """Only what Catalog.load asks of a connection: the driver's error class."""

    class engine:  # pylint: disable=invalid-name
        @staticmethod
        def driver():
            return FakeConnection

    Error = FakeDriverError


class FakeCatalog(Catalog):
    def __init__(self, sizes, transactions=None):
        self.long_seconds = 60
        self.tables = {}
        self.transactions = {}
        self.notes = []
        self.unread = set()
        self.conn = FakeConnection()
        self.sizes = sizes
        self.holders = transactions or {}

    def _sizes(self, names):
        return {n: self.sizes[n] for n in names if n in self.sizes}

    def _transactions(self, names):
        return {n: self.holders[n] for n in names if n in self.holders}


def finding(rule="pg-index-not-concurrent", table="community_posts", risk="high", statement=1):
    return dict(rule=rule, risk=risk, lock="SHARE", table=table, statement=statement, detail="", file="f", line=1)


def test_small_table_lowers_an_index_build_to_low():
    findings = [finding()]
    FakeCatalog({"community_posts": dict(rows=10, bytes=16384)}).adjust(findings, "f")
    assert findings[0]["risk"] == "low" and findings[0]["rows"] == 10


def test_big_table_raises_and_estimates():
    findings = [finding("my-add-index", risk="low")]
    size = 5 * 1024 ** 3
    FakeCatalog({"community_posts": dict(rows=5000000, bytes=size)}).adjust(findings, "f")
    assert findings[0]["risk"] == "high"
    assert findings[0]["estimate_seconds"] == round(size / RATES["index"], 3)


def test_size_does_not_lower_a_drop():
    findings = [finding("pg-drop-table")]
    FakeCatalog({"community_posts": dict(rows=0, bytes=8192)}).adjust(findings, "f")
    assert findings[0]["risk"] == "high" and findings[0]["estimate_seconds"] == 0.0


def test_long_transaction_on_the_table_is_a_high_finding():
    findings = [finding(risk="high")]
    holders = {"community_posts": [dict(pid=42, seconds=1200, state="idle in transaction")]}
    FakeCatalog({"community_posts": dict(rows=10, bytes=16384)}, holders).adjust(findings, "f")
    assert [f["rule"] for f in findings] == ["pg-index-not-concurrent", "long-transaction"]
    assert findings[1]["risk"] == "high" and "pid 42" in findings[1]["detail"] and "1200s" in findings[1]["detail"]


def test_estimate_sums_the_most_expensive_finding_per_statement():
    findings = [dict(statement=1, estimate_seconds=2.0), dict(statement=1, estimate_seconds=5.0),
                dict(statement=2, estimate_seconds=1.5), dict(statement=None, estimate_seconds=None)]
    assert Catalog.estimate(findings, []) == 6.5


def test_a_catalog_that_cannot_be_read_leaves_the_risk_alone():
    class Denied(FakeCatalog):
        def _sizes(self, names):
            raise FakeDriverError("permission denied for pg_class")
    catalog = Denied({})
    findings = [finding()]
    catalog.adjust(findings, "f")
    assert findings[0]["risk"] == "high" and "rows" not in findings[0]
    assert catalog.notes == ["catalog not read for community_posts: permission denied for pg_class"]
