# -*- coding: utf-8 -*-
"""Per rule a hit and a clean case, both engines; suppressions, parse errors, the flagship's files."""
from __future__ import annotations

import os

import pytest

from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import (
    DiskSource, Migration, Script, load_migrations)
from ansible_collections.dbops.runbooks.plugins.module_utils import risk

pytest.importorskip("pglast")
pytest.importorskip("sqlglot")

NO_TX = "-- dbops:no-transaction\n"

# rule, statement that hits it, a safe statement for the same intent
POSTGRES_CASES = [
    ("pg-index-not-concurrent", "CREATE INDEX i ON t (a)", NO_TX + "CREATE INDEX CONCURRENTLY i ON t (a)"),
    ("pg-drop-index-not-concurrent", "DROP INDEX i", NO_TX + "DROP INDEX CONCURRENTLY i"),
    ("pg-reindex-not-concurrent", "REINDEX TABLE t", NO_TX + "REINDEX TABLE CONCURRENTLY t"),
    ("pg-concurrently-in-transaction", "CREATE INDEX CONCURRENTLY i ON t (a)", NO_TX + "CREATE INDEX CONCURRENTLY i ON t (a)"),
    ("pg-check-without-not-valid", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)",
     "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID"),
    ("pg-foreign-key-without-not-valid", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)",
     "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID"),
    ("pg-validate-same-transaction", "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID;\nALTER TABLE t VALIDATE CONSTRAINT c",
     "ALTER TABLE t VALIDATE CONSTRAINT c"),
    ("pg-unique-in-place", "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", "ALTER TABLE t ADD CONSTRAINT u UNIQUE USING INDEX ui"),
    ("pg-primary-key-in-place", "ALTER TABLE t ADD PRIMARY KEY (id)", "ALTER TABLE t ADD CONSTRAINT p PRIMARY KEY USING INDEX pi"),
    ("pg-set-not-null", "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
     "ALTER TABLE t ADD CONSTRAINT a_nn CHECK (a IS NOT NULL) NOT VALID"),
    ("pg-not-null-without-default", "ALTER TABLE t ADD COLUMN c bigint NOT NULL",
     "ALTER TABLE t ADD COLUMN c bigint NOT NULL DEFAULT 0"),
    ("pg-volatile-default", "ALTER TABLE t ADD COLUMN c uuid DEFAULT gen_random_uuid()",
     "ALTER TABLE t ADD COLUMN c timestamptz DEFAULT now()"),
    ("pg-column-type-change", "ALTER TABLE t ALTER COLUMN c TYPE bigint", "ALTER TABLE t ADD COLUMN c2 bigint"),
    ("pg-rename-column", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t ADD COLUMN b text"),
    ("pg-rename-table", "ALTER TABLE t RENAME TO u", "CREATE VIEW u AS SELECT * FROM t"),
    ("pg-drop-column", "ALTER TABLE t DROP COLUMN a", "ALTER TABLE t ADD COLUMN a2 text"),
    ("pg-drop-table", "DROP TABLE t", "CREATE TABLE t (id bigint);\nDROP TABLE t"),
    ("pg-drop-database", "DROP DATABASE d", "CREATE DATABASE d"),
    ("pg-drop-not-null", "ALTER TABLE t ALTER COLUMN a DROP NOT NULL", "ALTER TABLE t ALTER COLUMN a SET DEFAULT 1"),
    ("pg-truncate-cascade", "TRUNCATE t CASCADE", "TRUNCATE t"),
    ("pg-detach-partition", "ALTER TABLE t DETACH PARTITION p", NO_TX + "ALTER TABLE t DETACH PARTITION p CONCURRENTLY"),
    ("pg-enum-value-position", "ALTER TYPE e ADD VALUE 'x'", "ALTER TYPE e ADD VALUE 'x' BEFORE 'y'"),
    ("pg-identifier-too-long", "CREATE TABLE %s (id bigint)" % ("t" * 64), "CREATE TABLE %s (id bigint)" % ("t" * 63)),
    ("pg-prefer-bigint", "CREATE TABLE t (id integer)", "CREATE TABLE t (id bigint)"),
    ("pg-prefer-identity", "CREATE TABLE t (id serial)", "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY)"),
    ("pg-prefer-text", "CREATE TABLE t (name varchar(40))", "CREATE TABLE t (name text)"),
    ("pg-prefer-timestamptz", "CREATE TABLE t (at timestamp)", "CREATE TABLE t (at timestamptz)"),
]

MYSQL_CASES = [
    ("my-table-copy", "ALTER TABLE t ALGORITHM=COPY, ADD COLUMN c INT NULL", "ALTER TABLE t ADD COLUMN c INT NULL"),
    ("my-lock-shared", "ALTER TABLE t ADD INDEX i (a), LOCK=SHARED", "ALTER TABLE t ADD INDEX i (a), LOCK=NONE"),
    ("my-column-change", "ALTER TABLE t MODIFY COLUMN c BIGINT NOT NULL", "ALTER TABLE t ADD COLUMN c2 BIGINT NULL"),
    ("my-convert-charset", "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", "ALTER TABLE t COMMENT = 'x'"),
    ("my-primary-key-change", "ALTER TABLE t DROP PRIMARY KEY", "ALTER TABLE t ADD INDEX i (a)"),
    ("my-enum-change", "ALTER TABLE t MODIFY COLUMN e ENUM('a', 'b')", "ALTER TABLE t ADD COLUMN e2 ENUM('a', 'b') NULL"),
    ("my-partitioning", "ALTER TABLE t PARTITION BY HASH (id) PARTITIONS 4",
     "CREATE TABLE t (id BIGINT) PARTITION BY HASH (id) PARTITIONS 4"),
    ("my-partition-maintenance", "ALTER TABLE t DROP PARTITION p1", "ALTER TABLE t ADD INDEX i (a)"),
    ("my-stored-generated-column", "ALTER TABLE t ADD COLUMN g INT AS (a + 1) STORED",
     "ALTER TABLE t ADD COLUMN g INT AS (a + 1) VIRTUAL"),
    ("my-auto-increment-column", "ALTER TABLE t ADD COLUMN n BIGINT AUTO_INCREMENT UNIQUE", "ALTER TABLE t ADD COLUMN n BIGINT NULL"),
    ("my-not-null-without-default", "ALTER TABLE t ADD COLUMN c INT NOT NULL", "ALTER TABLE t ADD COLUMN c INT NOT NULL DEFAULT 0"),
    ("my-foreign-key", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)",
     "CREATE TABLE t (a BIGINT, CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id))"),
    ("my-add-index", "CREATE INDEX i ON t (a)", "CREATE TABLE t (a INT);\nCREATE INDEX i ON t (a)"),
    ("my-fulltext-or-spatial-index", "ALTER TABLE t ADD FULLTEXT INDEX f (body)", "ALTER TABLE t ADD INDEX f (body(20))"),
    ("my-unique-index", "ALTER TABLE t ADD UNIQUE INDEX u (a)", "CREATE TABLE t (a INT, UNIQUE KEY u (a))"),
    ("my-rename-column", "ALTER TABLE t RENAME COLUMN a TO b", "ALTER TABLE t ADD COLUMN b INT NULL"),
    ("my-rename-table", "RENAME TABLE t TO u", "CREATE TABLE u (id BIGINT)"),
    ("my-drop-column", "ALTER TABLE t DROP COLUMN a", "ALTER TABLE t ADD COLUMN a2 INT NULL"),
    ("my-drop-table", "DROP TABLE t", "CREATE TABLE t (id INT);\nDROP TABLE t"),
    ("my-drop-database", "DROP DATABASE d", "CREATE DATABASE d"),
    ("my-truncate", "TRUNCATE TABLE t", "DELETE FROM t WHERE id < 100"),
    ("my-identifier-too-long", "CREATE TABLE %s (id INT)" % ("t" * 65), "CREATE TABLE %s (id INT)" % ("t" * 64)),
    ("my-unverified-syntax", "OPTIMIZE TABLE t", "ANALYZE TABLE t"),
]


def script(sql, engine, name="0001_x.up.sql"):
    return Script(name, sql.encode("utf-8"), engine)


def rules_hit(sql, engine):
    findings, suppressed, errors = risk.lint_script(script(sql, engine), engine)
    assert not errors, errors
    return {f["rule"] for f in findings}


@pytest.mark.parametrize("rule, hit, clean", POSTGRES_CASES, ids=[c[0] for c in POSTGRES_CASES])
def test_postgres_rule(rule, hit, clean):
    assert rule in rules_hit(hit, "postgres")
    assert rule not in rules_hit(clean, "postgres")


@pytest.mark.parametrize("rule, hit, clean", MYSQL_CASES, ids=[c[0] for c in MYSQL_CASES])
def test_mysql_rule(rule, hit, clean):
    assert rule in rules_hit(hit, "mysql")
    assert rule not in rules_hit(clean, "mysql")


def test_every_engine_rule_has_a_case_and_documentation():
    covered = {c[0] for c in POSTGRES_CASES + MYSQL_CASES}
    engine_rules = {r for r in risk.RULES if r.startswith(("pg-", "my-"))}
    assert engine_rules == covered
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "migration-risk-rules.md")
    text = open(doc).read()
    assert [r for r in risk.RULES if "`%s`" % r not in text] == []


def test_table_created_in_the_same_migration_takes_no_lock_risk():
    sql = ("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY, b text);\nCREATE INDEX i ON t (b);\n"
           "ALTER TABLE t ADD COLUMN x bigint NOT NULL;\nALTER TABLE t ALTER COLUMN b SET NOT NULL")
    assert rules_hit(sql, "postgres") == set()
    assert rules_hit("CREATE TABLE t (a INT);\nALTER TABLE t ADD COLUMN b INT NOT NULL, ADD INDEX i (a)", "mysql") == set()


def test_mysql_online_clauses_guard_a_copy():
    sql = "ALTER TABLE t MODIFY COLUMN c BIGINT NOT NULL, ALGORITHM=INPLACE, LOCK=NONE"
    findings = risk.lint_script(script(sql, "mysql"), "mysql")[0]
    assert [(f["rule"], f["risk"]) for f in findings] == [("my-column-change", "low")]


def test_finding_names_file_line_statement_and_lock():
    sql = "-- a comment\nCREATE TABLE t (id bigint);\n\n-- the risky one\nCREATE INDEX i\n  ON u (a);\n"
    findings = risk.lint_script(script(sql, "postgres"), "postgres")[0]
    assert len(findings) == 1
    f = findings[0]
    assert (f["file"], f["line"], f["statement"], f["table"], f["lock"]) == ("0001_x.up.sql", 5, 2, "u", "SHARE (blocks writes)")
    assert f["sql"] == "CREATE INDEX i ON u (a)"


def test_suppression_applies_to_the_next_statement_and_keeps_its_reason():
    sql = "-- dbops:lint-ignore pg-drop-table archived in CHG-12\nDROP TABLE t;\nDROP TABLE u;\n"
    findings, suppressed = risk.lint_script(script(sql, "postgres"), "postgres")[:2]
    assert [(f["rule"], f["table"]) for f in findings] == [("pg-drop-table", "u")]
    assert [(s["rule"], s["table"], s["reason"]) for s in suppressed] == [("pg-drop-table", "t", "archived in CHG-12")]


@pytest.mark.parametrize("comment, message", [
    ("-- dbops:lint-ignore pg-no-such-rule because", "0001_x.up.sql:2: dbops:lint-ignore names unknown rule 'pg-no-such-rule'"),
    ("-- dbops:lint-ignore pg-drop-table", "0001_x.up.sql:2: dbops:lint-ignore pg-drop-table needs a reason"),
    ("-- dbops:lint-ignore my-drop-table other engine", "unknown rule 'my-drop-table'"),
])
def test_bad_suppressions_fail_naming_file_and_line(comment, message):
    with pytest.raises(DbopsError, match=message.replace("(", r"\(")):
        risk.lint_script(script("SELECT 1;\n%s\nDROP TABLE t;" % comment, "postgres"), "postgres")


@pytest.mark.parametrize("engine, sql, line, message", [
    ("postgres", "SELECT 1;\nCREATE TABLE x (\n  a int,\n  b foo bar);", 4, 'syntax error at or near "bar"'),
    ("mysql", "SELECT 1;\nCREAT TABLE x (a int);", 2, "Invalid expression / Unexpected token"),
    ("mysql", "SELECT 1;\nCREATE TABLE x (\n a int,\n b int", 4, "Expecting )"),
])
def test_unparsable_statement_is_named_by_file_line_and_parser_message(engine, sql, line, message):
    errors = risk.lint_script(script(sql, engine), engine)[2]
    assert [(e["file"], e["line"], e["statement"], e["message"]) for e in errors] == [("0001_x.up.sql", line, 2, message)]


def test_a_suppressed_parse_error_is_still_read_by_keywords_on_mysql():
    sql = "-- dbops:lint-ignore parse-error sqlglot lacks this\nCREAT TABLE x (a int);"
    findings, suppressed, errors = risk.lint_script(script(sql, "mysql"), "mysql")
    assert not errors and [s["rule"] for s in suppressed] == ["parse-error"]
    assert {f["rule"] for f in findings} == {"my-unverified-syntax"}


def test_declared_risk_lower_than_detected_is_a_finding():
    up = script("-- dbops:risk-level low\n-- dbops:estimated-duration 5m\nCREATE INDEX i ON t (a);", "postgres")
    report = risk.lint_migrations([Migration("0001", "x", up)], "postgres")
    assert report["migrations"][0]["risk"] == "high"
    assert report["migrations"][0]["declared_risk"] == "low"
    assert report["migrations"][0]["declared_duration_seconds"] == 300
    assert "declared-risk-too-low" in {f["rule"] for f in report["findings"]}


def test_bad_declared_risk_fails():
    up = script("-- dbops:risk-level severe\nSELECT 1;", "postgres")
    with pytest.raises(DbopsError, match="dbops:risk-level must be one of low, medium, high"):
        risk.lint_migrations([Migration("0001", "x", up)], "postgres")


def test_flagship_migrations_have_their_expected_findings():
    folder = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples", "academy", "migrations")
    migrations = load_migrations(DiskSource(folder), "mysql")
    report = risk.lint_migrations(migrations, "mysql")
    assert not report["parse_errors"]
    assert [(m["version"], m["risk"]) for m in report["migrations"]] == [
        ("2024_12_24_000000", "none"), ("2024_12_24_000100", "none"), ("2024_12_24_000200", "high"),
        ("2024_12_24_000900", "none"), ("2024_12_24_001100", "none")]
    assert [(f["rule"], f["line"], f["table"]) for f in report["findings"]] == [
        ("my-add-index", 4, "community_posts"), ("my-partitioning", 7, "community_posts")]
    downs = risk.lint_migrations(migrations, "mysql", include_down=True)
    assert {f["rule"] for f in downs["findings"]} == {"my-add-index", "my-partitioning", "my-drop-table"}


def test_gin_index_concurrently_is_clean_only_outside_a_transaction():
    sql = "CREATE INDEX CONCURRENTLY posts_search_idx ON posts USING gin (to_tsvector('english', body));"
    assert rules_hit(NO_TX + sql, "postgres") == set()
    assert rules_hit(sql, "postgres") == {"pg-concurrently-in-transaction"}


def test_above_and_rules_for():
    findings = [dict(risk="low"), dict(risk="high"), dict(risk="medium")]
    assert [f["risk"] for f in risk.above(findings, "low")] == ["high", "medium"]
    assert risk.above(findings, "high") == []
    assert "my-drop-table" not in risk.rules_for("postgres") and "parse-error" in risk.rules_for("mysql")


def test_a_tree_the_rules_cannot_read_is_a_low_finding_not_a_crash(monkeypatch):
    def broken(self, parsed, ctx):
        raise KeyError("relation")
    monkeypatch.setattr(risk.PostgresAnalyzer, "hits", broken)
    findings = risk.lint_script(script("CREATE INDEX i ON t (a)", "postgres"), "postgres")[0]
    assert [(f["rule"], f["risk"]) for f in findings] == [("unanalysed", "low")]
