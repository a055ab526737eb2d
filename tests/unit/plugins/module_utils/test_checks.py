# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.checks import (
    CheckFailure, parse_check, read_only_sql, summarize_results)
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError, ENGINES


def test_table_shorthand_and_default_names():
    assert parse_check(0, {"table_exists": "communities"}) == ("table_exists", {"table": "communities"}, "table_exists communities")
    kind, args, name = parse_check(1, {"name": "slug index", "index": {"table": "c", "name": "c_slug_unique"}})
    assert (kind, name) == ("index", "slug index")


@pytest.mark.parametrize("item, message", [
    ({"tabel_exists": "x"}, r"checks\[3\]: unknown check type tabel_exists"),
    ({"table_exists": "x", "table_absent": "x"}, r"checks\[3\]: give exactly one check type"),
    ({"name": "only a name"}, r"checks\[3\]: give exactly one check type, got none"),
    ("table_exists", r"checks\[3\]: each check is a dict"),
])
def test_bad_checks_are_named_by_position(item, message):
    with pytest.raises(DbopsError, match=message):
        parse_check(3, item)


@pytest.mark.parametrize("sql", ["DELETE FROM t", "SELECT 1; DROP TABLE t", "CREATE TABLE t (id int)"])
def test_query_checks_accept_only_one_reading_statement(sql):
    with pytest.raises(CheckFailure):
        read_only_sql("mysql", sql)


def test_reading_statements_pass():
    assert read_only_sql("postgres", "  WITH x AS (SELECT 1) SELECT * FROM x;") == "WITH x AS (SELECT 1) SELECT * FROM x"


def test_identifiers_are_quoted_as_data():
    assert ENGINES["mysql"].quote_ident("we`ird") == "`we``ird`"
    assert ENGINES["postgres"].qualified("public", 'x"; DROP TABLE t; --') == '"public"."x""; DROP TABLE t; --"'


def test_summary_names_every_failed_check():
    results = [dict(name="a", ok=True, message="ok"), dict(name="b", ok=False, message="missing"),
               dict(name="c", ok=False, message="3 rows")]
    assert summarize_results(results) == "2 of 3 checks failed: b: missing; c: 3 rows"
    assert summarize_results(results[:1]) == "all 1 checks passed"
