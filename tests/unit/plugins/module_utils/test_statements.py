# -*- coding: utf-8 -*-
from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.statements import (
    SplitError, _split_full, _split_simple, first_keyword, split_statements, summarize)


def texts(script, engine):
    return [s.text for s in split_statements(script, engine)]


def test_splits_on_semicolons_and_numbers_statements():
    statements = split_statements("CREATE TABLE a (id int);\n\nINSERT INTO a VALUES (1);\n", "mysql")
    assert [(s.index, s.line) for s in statements] == [(1, 1), (2, 3)]
    assert statements[1].text == "INSERT INTO a VALUES (1)"


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_semicolons_inside_quotes_and_comments_do_not_split(engine):
    script = (
        "-- a comment; with a semicolon\n"
        "INSERT INTO t VALUES ('a;b', \"c;d\");\n"
        "/* block; comment */ SELECT 1;\n"
    )
    assert texts(script, engine)[0].endswith("INSERT INTO t VALUES ('a;b', \"c;d\")")
    assert len(texts(script, engine)) == 2


def test_mysql_backslash_escapes_and_hash_comments():
    script = "INSERT INTO t VALUES ('it\\'s;'); # trailing; comment\nSELECT `we;ird` FROM t;"
    assert texts(script, "mysql") == ["INSERT INTO t VALUES ('it\\'s;')", "# trailing; comment\nSELECT `we;ird` FROM t"]


def test_postgres_dollar_quoted_bodies_and_nested_comments():
    script = (
        "CREATE FUNCTION f() RETURNS int AS $body$ BEGIN RETURN 1; END; $body$ LANGUAGE plpgsql;\n"
        "/* outer /* inner; */ still comment; */ SELECT $$a;b$$;\n"
    )
    result = texts(script, "postgres")
    assert len(result) == 2
    assert "RETURN 1; END;" in result[0]
    assert result[1].endswith("SELECT $$a;b$$")


def test_postgres_doubled_quotes_and_escape_strings():
    assert texts("SELECT 'it''s;'; SELECT E'a\\';b';", "postgres") == ["SELECT 'it''s;'", "SELECT E'a\\';b'"]


def test_comment_only_pieces_are_dropped_but_mysql_executable_comments_kept():
    assert texts("-- nothing here;\n/* nor; here */;", "postgres") == []
    assert texts("/*!40101 SET NAMES utf8mb4 */;", "mysql") == ["/*!40101 SET NAMES utf8mb4 */"]


@pytest.mark.parametrize("script", ["SELECT 'open", "SELECT 1 /* open", "SELECT $x$ open"])
def test_unterminated_tokens_fail_naming_the_line(script):
    with pytest.raises(SplitError, match="line 1"):
        split_statements(script, "postgres")


def test_summarize_flattens_and_truncates():
    assert summarize("SELECT\n  1") == "SELECT 1"
    assert summarize("x" * 200, width=10) == "xxxxxxx..."


@pytest.mark.parametrize("text, engine, keyword", [
    ("-- seed data\nINSERT INTO t VALUES (1)", "mysql", "insert"),
    ("/* a */ # b\n  select 1", "mysql", "select"),
    ("(SELECT 1) UNION (SELECT 2)", "postgres", "("),
    ("-- only a comment", "postgres", ""),
])
def test_first_keyword_skips_leading_comments(text, engine, keyword):
    assert first_keyword(text, engine) == keyword


def test_mysql_delimiter_lines_change_the_separator():
    script = (
        "CREATE TABLE t (id INT);\n"
        "DELIMITER $$\n"
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$\n"
        "DELIMITER ;\n"
        "INSERT INTO t VALUES (1);\n"
    )
    statements = split_statements(script, "mysql")
    assert [s.text for s in statements] == [
        "CREATE TABLE t (id INT)", "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "INSERT INTO t VALUES (1)"]
    assert [s.line for s in statements] == [1, 3, 5]


def test_mysql_trigger_body_without_delimiter_stays_whole():
    script = (
        "CREATE TRIGGER posts_bi BEFORE INSERT ON posts FOR EACH ROW\n"
        "BEGIN\n"
        "  IF NEW.title IS NULL THEN SET NEW.title = 'untitled'; END IF;\n"
        "  SET NEW.slug = IF(NEW.slug = '', NULL, NEW.slug);\n"
        "  DROP TEMPORARY TABLE IF EXISTS scratch;\n"
        "  SET NEW.kind = CASE WHEN NEW.kind IS NULL THEN 'post' ELSE NEW.kind END;\n"
        "END;\n"
        "SELECT 1;\n"
    )
    result = texts(script, "mysql")
    assert len(result) == 2
    assert result[0].endswith("END") and "END IF;" in result[0]
    assert result[1] == "SELECT 1"


def test_postgres_begin_atomic_body_and_transaction_blocks():
    script = (
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + b; END;\n"
        "BEGIN;\nSELECT CASE WHEN true THEN 1 END;\nCOMMIT;\n"
    )
    assert texts(script, "postgres") == [
        "CREATE FUNCTION add(a int, b int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT a + b; END",
        "BEGIN", "SELECT CASE WHEN true THEN 1 END", "COMMIT"]


def test_plain_create_table_is_not_a_routine():
    assert texts("CREATE TABLE begin_log (id int); CREATE TABLE x (end_at int);", "mysql") == [
        "CREATE TABLE begin_log (id int)", "CREATE TABLE x (end_at int)"]


def test_simple_scripts_take_the_fast_path_with_the_same_result():
    for script in ("CREATE TABLE a (id int);\n\n  INSERT INTO a VALUES (1);\nSELECT 1", ";;\n;", "",
                   "\n\nALTER TABLE a ADD COLUMN b int;\n  \n", "CREATE TABLE x (id INTEGER PRIMARY KEY, note VARCHAR(40));\n"):
        for engine in ("postgres", "mysql"):
            assert _split_simple(script) == _split_full(script, engine), script


def test_plain_quoted_values_keep_the_fast_path_and_others_do_not():
    for script in ("INSERT INTO t VALUES (1, 'row', \"x\", `y`);\nSELECT 'a--b /* c';", "SELECT 'it''s';SELECT 2",
                   "SELECT 'semi;colon'; SELECT 2", "SELECT 'back\\\\slash;'; SELECT 3", "SELECT 1 -- a; comment\n;"):
        for engine in ("postgres", "mysql"):
            assert split_statements(script, engine) == _split_full(script, engine), script
