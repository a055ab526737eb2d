# -*- coding: utf-8 -*-
"""Hold a row lock on a table inside an open transaction, idle, as a forgotten application session would.

Usage: python hold_lock.py <postgres|mysql> <port> <database> <table> <ready file> <seconds>
Writes its session id to the ready file once the lock is held, then sleeps (idle in transaction).
"""
from __future__ import annotations

import os
import sys
import time


def main():
    engine, port, database, table, ready, seconds = sys.argv[1:7]
    password = os.environ["DBOPS_IT_PASSWORD"]
    if engine == "postgres":
        import psycopg
        conn = psycopg.connect(host="127.0.0.1", port=int(port), user="dbops", password=password, dbname=database,
                               application_name="dbops-it-holder")
        session = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        conn.execute("SELECT * FROM %s FOR UPDATE" % table).fetchall()  # psycopg opened the transaction
    else:
        import pymysql
        conn = pymysql.connect(host="127.0.0.1", port=int(port), user="dbops", password=password, database=database)
        with conn.cursor() as cursor:
            cursor.execute("SELECT CONNECTION_ID()")
            session = cursor.fetchone()[0]
            cursor.execute("START TRANSACTION")
            cursor.execute("SELECT * FROM %s FOR UPDATE" % table)
    with open(ready + ".partial", "w", encoding="utf-8") as handle:
        handle.write(str(session))
    os.replace(ready + ".partial", ready)
    time.sleep(float(seconds))


if __name__ == "__main__":
    main()
