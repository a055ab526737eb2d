# -*- coding: utf-8 -*-
from __future__ import annotations

import datetime
import hashlib
import io

from ansible_collections.dbops.runbooks.plugins.module_utils.backup import (
    HashingWriter, backup_name, compare_tables, expired, list_backups, mysql_stats_sql, parse_backup_name, pg_stats_sql)
from ansible_collections.dbops.runbooks.plugins.module_utils.database import ENGINES, option_value

POSTGRES, MYSQL = ENGINES["postgres"], ENGINES["mysql"]
UTC = datetime.timezone.utc
NOW = datetime.datetime(2024, 12, 24, 9, 58, 12, tzinfo=UTC)


def pg_environment(params, base):
    return POSTGRES.tool_environment(params, base)


def mysql_option_file_text(params, mariadb):
    return MYSQL.option_file_text(params, mariadb)


def params(**overrides):
    base = dict(engine="mysql", login_host="db.example", login_port=None, login_user="migrator",
                login_password='s3cr"et\\pw', login_db="academy", login_unix_socket=None, ssl_mode="prefer",
                ca_cert=None, client_cert=None, client_key=None, connect_timeout=10)
    base.update(overrides)
    return base


def test_backup_names_round_trip():
    assert backup_name("academy", "mysql", NOW) == "academy-20241224T095812Z.sql.gz"
    assert backup_name("academy", "postgres", NOW, 2) == "academy-20241224T095812Z-2.pgdump"
    assert parse_backup_name("academy-20241224T095812Z-2.pgdump", "academy", "postgres") == (NOW, 2)
    assert parse_backup_name("academy-20241224T095812Z.sql.gz", "academy", "mysql") == (NOW, 0)
    assert parse_backup_name("academy-20241224T095812Z.sql.gz", "academy", "postgres") is None
    assert parse_backup_name("academy_x-20241224T095812Z.sql.gz", "academy", "mysql") is None
    assert parse_backup_name("academy-20241224T095812Z.sql.gz.json", "academy", "mysql") is None


def test_list_backups_sorts_by_time_then_sequence(tmp_path):
    for name in ["academy-20241224T095812Z-1.sql.gz", "academy-20241224T095812Z.sql.gz",
                 "academy-20241223T000000Z.sql.gz", "academy-20241224T095812Z.sql.gz.json", "other-20241225T000000Z.sql.gz"]:
        (tmp_path / name).write_bytes(b"")
    names = [b["name"] for b in list_backups(str(tmp_path), "academy", "mysql")]
    assert names == ["academy-20241223T000000Z.sql.gz", "academy-20241224T095812Z.sql.gz",
                     "academy-20241224T095812Z-1.sql.gz"]
    assert list_backups(str(tmp_path / "missing"), "academy", "mysql") == []


def test_retention_keeps_the_newest():
    backups = [dict(path=str(i)) for i in range(5)]
    assert [b["path"] for b in expired(backups, 2)] == ["0", "1", "2"]
    assert expired(backups, 5) == [] and expired(backups, None) == []


def test_compare_tables_names_every_difference():
    before = [dict(table="a", rows=3, checksum="1"), dict(table="b", rows=2, checksum="2"),
              dict(table="c", rows=1, checksum="3")]
    after = [dict(table="a", rows=3, checksum="9"), dict(table="b", rows=1, checksum="2"),
             dict(table="d", rows=0, checksum="0")]
    assert compare_tables(before, after) == [
        "a: same 3 rows but different content", "b: 1 rows, expected 2", "c: missing after restore",
        "d: not in the backup"]
    assert compare_tables(before, before) == []


def test_pg_password_goes_to_the_environment_only():
    env = pg_environment(params(engine="postgres", login_port=55432, ssl_mode="verify-full", ca_cert="/ca.pem"),
                         base={"PATH": "/usr/bin", "PGPASSWORD": "stale", "PGSSLKEY": "/stale"})
    assert env["PGPASSWORD"] == 's3cr"et\\pw' and env["PGPORT"] == "55432" and env["PGHOST"] == "db.example"
    assert env["PGSSLMODE"] == "verify-full" and env["PGSSLROOTCERT"] == "/ca.pem" and "PGSSLKEY" not in env
    assert env["PATH"] == "/usr/bin"
    assert "PGPASSWORD" not in pg_environment(params(login_password=None), base={"PGPASSWORD": "stale"})


def test_one_mapping_serves_the_driver_and_the_tools():
    """The port default and the socket-over-host rule come from the engine's settings, for driver and tools alike."""
    assert POSTGRES.settings(params(engine="postgres"))["port"] == 5432
    assert pg_environment(params(engine="postgres"), base={})["PGPORT"] == "5432"
    assert pg_environment(params(engine="postgres", login_unix_socket="/run/pg"), base={})["PGHOST"] == "/run/pg"
    assert MYSQL.settings(params())["port"] == 3306 and "port=3306" in mysql_option_file_text(params(), True)


def test_mysql_option_file_quotes_the_password():
    text = mysql_option_file_text(params(), mariadb=True)
    assert text.startswith("[client]\n")
    assert 'password="s3cr\\"et\\\\pw"' in text
    assert 'host="db.example"' in text and "port=3306" in text
    assert "ssl" not in text
    assert option_value('a"b') == '"a\\"b"'


def test_mysql_option_file_tls_for_both_flavours():
    verify = params(ssl_mode="verify-full", ca_cert="/ca.pem")
    assert "ssl\nssl-verify-server-cert\n" in mysql_option_file_text(verify, mariadb=True)
    assert "ssl-mode=VERIFY_IDENTITY" in mysql_option_file_text(verify, mariadb=False)
    assert 'ssl-ca="/ca.pem"' in mysql_option_file_text(verify, mariadb=False)
    assert "skip-ssl" in mysql_option_file_text(params(ssl_mode="disable"), mariadb=True)
    socket = mysql_option_file_text(params(login_unix_socket="/run/mysqld.sock"), mariadb=True)
    assert 'socket="/run/mysqld.sock"' in socket and "host=" not in socket


def test_checksum_sql_quotes_columns_and_keeps_null_distinct():
    sql = mysql_stats_sql("`db`.`t`", ["`id`", "`na``me`"])
    assert "CAST(QUOTE(`id`) AS BINARY), CAST(QUOTE(`na``me`) AS BINARY)" in sql
    assert sql.endswith("FROM `db`.`t`")
    assert pg_stats_sql('"public"."t"').endswith('FROM "public"."t" AS t')


def test_hashing_writer_hashes_what_it_writes():
    sink = io.BytesIO()
    writer = HashingWriter(sink)
    writer.write(b"abc")
    writer.write(b"def")
    writer.flush()
    assert sink.getvalue() == b"abcdef" and writer.size == 6
    assert writer.sha256.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()
