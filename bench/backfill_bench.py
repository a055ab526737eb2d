"""Benchmark: a single UPDATE over a 1 M-row table against db_backfill with its defaults, while a
bounded loopback writer (the application) updates random rows of the same table.

Run by `make bench` on the local stack (not part of `make test`), under the stack lock:
    flock /tmp/dbops-stack.lock .venv/bin/python bench/backfill_bench.py
For each engine two identical tables are filled; the single UPDATE runs on one, db_backfill (one
Ansible task, defaults) on the other. Reported: the writer's p50/p99/max latency and failed writes
during each, and rows/s of each (db_backfill's own rate, without Ansible's start-up). Targets:
writer p99 <= 50 ms and no failed write during db_backfill; its rows/s >= 50 % of the single UPDATE's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import psycopg
import pymysql

ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "1000000"))
RATE = float(os.environ.get("BENCH_WRITER_RATE", "50"))
PASSWORD = "dbops-local-stack"
DB = "dbops_bench_backfill"
SERVERS = {
    "postgres": dict(engine="postgres", login_host="127.0.0.1", login_port=55432, login_user="dbops",
                     login_password=PASSWORD),
    "mysql": dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                  login_password=PASSWORD),
}
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRITER_PATH = os.path.join(TOP, "tests/integration/targets/setup_loopback_writer/files/loopback_writer.py")


def load_writer():
    spec = importlib.util.spec_from_file_location("loopback_writer", WRITER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WRITER = load_writer()


def admin(engine, db=None):
    server = SERVERS[engine]
    if engine == "postgres":
        return psycopg.connect(host=server["login_host"], port=server["login_port"], user="dbops", password=PASSWORD,
                               dbname=db or "postgres", autocommit=True)
    return pymysql.connect(host=server["login_host"], port=server["login_port"], user="dbops", password=PASSWORD,
                           database=db, autocommit=True)


def run(conn, sql):
    with conn.cursor() as cursor:
        cursor.execute(sql)


def prepare(engine):
    """Two identical tables of ROWS rows: big_update (single UPDATE) and big_backfill (db_backfill)."""
    conn = admin(engine)
    if engine == "postgres":
        run(conn, 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % DB)
    else:
        run(conn, "DROP DATABASE IF EXISTS %s" % DB)
    run(conn, "CREATE DATABASE %s" % DB)
    conn.close()
    conn = admin(engine, DB)
    series = ("generate_series(1, %d) AS s(n)" % ROWS if engine == "postgres" else "seq_1_to_%d s" % ROWS)
    number = "n" if engine == "postgres" else "s.seq"
    for table in ("big_update", "big_backfill"):
        run(conn, "CREATE TABLE %s (id INTEGER PRIMARY KEY, email VARCHAR(60) NOT NULL, email_lower VARCHAR(60),"
                  " hits INTEGER NOT NULL DEFAULT 0)" % table)
        run(conn, "INSERT INTO %s (id, email) SELECT %s, CONCAT('User', %s, '@Example.ORG') FROM %s"
            % (table, number, number, series))
    run(conn, "VACUUM ANALYZE" if engine == "postgres" else "ANALYZE TABLE big_update, big_backfill")
    conn.close()


class Writer:
    """The loopback writer in a thread, updating random rows of one table at RATE writes/s."""

    def __init__(self, engine, table):
        self.args = argparse.Namespace(engine=engine, host="127.0.0.1", port=SERVERS[engine]["login_port"],
                                       user="dbops", db=DB, table=table, max_id=ROWS, rate=RATE)
        self.recorder = WRITER.Recorder()
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=WRITER.write_loop, args=(self.args, self.recorder, self.stopped.is_set))

    def __enter__(self):
        self.thread.start()
        time.sleep(1.0)  # a second of normal writes first
        return self

    def __exit__(self, *exc):
        time.sleep(1.0)
        self.stopped.set()
        self.thread.join()


def single_update(engine):
    conn = admin(engine, DB)
    with Writer(engine, "big_update") as writer:
        started = time.perf_counter()
        run(conn, "UPDATE big_update SET email_lower = lower(email) WHERE email_lower IS NULL")
        seconds = time.perf_counter() - started
    conn.close()
    return dict(seconds=seconds, rows_per_second=ROWS / seconds, writer=writer.recorder.summary())


def db_backfill(engine):
    task = {"name": "backfill", "dbops.runbooks.db_backfill": {
        "table": "big_backfill", "set": {"email_lower": "lower(email)"}, "where": "email_lower IS NULL"},
        "register": "result"}
    out = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    out.close()
    play = [{"name": "bench", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/dbops.runbooks.database": dict(SERVERS[engine], login_db=DB)},
             "tasks": [task, {"name": "save", "ansible.builtin.copy": {
                 "content": "{{ result | to_json }}", "dest": out.name, "mode": "0644"}}]}]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump(play, handle)
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(TOP, "build/collections"))
    with Writer(engine, "big_backfill") as writer:
        started = time.perf_counter()
        subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", handle.name], check=True,
                       stdout=subprocess.DEVNULL, env=env)
        wall = time.perf_counter() - started
    with open(out.name) as saved:
        result = json.load(saved)
    os.unlink(out.name)
    os.unlink(handle.name)
    return dict(seconds=result["elapsed_seconds"], wall_seconds=wall, rows_per_second=result["rows_per_second"],
                batches=result["batches"], rows=result["rows_done"], writer=writer.recorder.summary())


def line(name, numbers):
    w = numbers["writer"]
    return "  %-16s %8.1f s %10.0f rows/s   writer p50 %6.2f ms  p99 %8.2f ms  max %8.2f ms  failed %d of %d" % (
        name, numbers["seconds"], numbers["rows_per_second"], w["p50_ms"], w["p99_ms"], w["max_ms"], w["failed"],
        w["writes"])


def main():
    report = {}
    for engine in ("postgres", "mysql"):
        prepare(engine)
        single = single_update(engine)
        batched = db_backfill(engine)
        report[engine] = dict(single_update=single, db_backfill=batched)
        ratio = batched["rows_per_second"] / single["rows_per_second"]
        print("%s, %d rows, writer at %g writes/s:" % (engine, ROWS, RATE))
        print(line("single UPDATE", single))
        print(line("db_backfill", batched)
              + "   (%d batches, task wall %.1f s)" % (batched["batches"], batched["wall_seconds"]))
        w = batched["writer"]
        print("  targets: writer p99 %.2f ms <= 50 ms: %s; failed writes %d == 0: %s; throughput %.0f %% >= 50 %%: %s"
              % (w["p99_ms"], "met" if w["p99_ms"] <= 50 else "MISSED", w["failed"],
                 "met" if w["failed"] == 0 else "MISSED", 100 * ratio, "met" if ratio >= 0.5 else "MISSED"))
        print("  single UPDATE writer stall: max %.0f ms, %d failed writes"
              % (single["writer"]["max_ms"], single["writer"]["failed"]))
        conn = admin("postgres") if engine == "postgres" else admin("mysql")
        run(conn, "DROP DATABASE IF EXISTS %s%s" % (DB, " WITH (FORCE)" if engine == "postgres" else ""))
        conn.close()
    if os.environ.get("BENCH_JSON"):
        with open(os.environ["BENCH_JSON"], "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
