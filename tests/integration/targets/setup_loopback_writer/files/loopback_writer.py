# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A bounded loopback writer standing in for the application: updates random rows at a fixed rate and
records each write's latency and failure. Used by the db_backfill integration target and
bench/backfill_bench.py.

python loopback_writer.py --engine postgres --port 55432 --db DB --table T --max-id N \
    --seconds 30 --rate 50 --stop-file /tmp/stop --out result.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time

PASSWORD = os.environ.get("DBOPS_DB_PASSWORD", "dbops-local-stack")


def connect(engine, host, port, db, user, table):
    """A session with a 5 s lock/statement limit, and the UPDATE it sends."""
    if engine == "postgres":
        import psycopg
        conn = psycopg.connect(host=host, port=port, dbname=db, user=user, password=PASSWORD, autocommit=True,
                               application_name="loopback_writer")
        conn.execute("SET statement_timeout = '5s'")
        return conn, 'UPDATE "%s" SET hits = hits + 1 WHERE id = %%s' % table
    import pymysql
    conn = pymysql.connect(host=host, port=port, database=db, user=user, password=PASSWORD, autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 5")
    return conn, "UPDATE `%s` SET hits = hits + 1 WHERE id = %%s" % table


class Recorder:
    """Latencies (ms) and failures of the writes, with percentiles."""

    def __init__(self):
        self.latencies = []
        self.failures = []

    def summary(self):
        ordered = sorted(self.latencies) or [0.0]

        def pct(p):
            return round(ordered[min(len(ordered) - 1, int(len(ordered) * p))], 2)

        return dict(writes=len(self.latencies), failed=len(self.failures), errors=self.failures[:5],
                    p50_ms=round(statistics.median(ordered), 2), p99_ms=pct(0.99), max_ms=round(ordered[-1], 2))


def write_loop(args, recorder, stop):
    conn, sql = connect(args.engine, args.host, args.port, args.db, args.user, args.table)
    interval = 1.0 / args.rate
    next_at = time.monotonic()
    while not stop():
        row = random.randint(1, args.max_id)
        started = time.monotonic()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql, (row,))
        except Exception as e:  # any failed write counts, whatever the driver
            recorder.failures.append(" ".join(str(e).split())[:200])
            try:
                conn.close()
            except Exception:
                pass
            conn, sql = connect(args.engine, args.host, args.port, args.db, args.user, args.table)
        recorder.latencies.append((time.monotonic() - started) * 1000.0)
        next_at += interval
        time.sleep(max(next_at - time.monotonic(), 0))
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", required=True, choices=["postgres", "mysql"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", default="dbops")
    parser.add_argument("--db", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--max-id", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--stop-file")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    recorder = Recorder()
    write_loop(args, recorder, lambda: time.monotonic() > deadline or (args.stop_file and os.path.exists(args.stop_file)))
    with open(args.out, "w") as out:
        json.dump(recorder.summary(), out)


if __name__ == "__main__":
    main()
