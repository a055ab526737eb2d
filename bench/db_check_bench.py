"""Benchmark: one db_check task with 50 checks against one task with 1 check and 50 tasks.

Run by `make bench` on the local stack. Each variant is an ansible-playbook run; an empty play
is the baseline that is subtracted, so the numbers are the cost of the tasks themselves. The
variants run interleaved, several rounds, and the medians are compared as ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTION = dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                  login_password="dbops-local-stack", login_db="academy")


def fifty_checks():
    """A realistic mix: catalog checks, data checks and health checks."""
    kinds = [
        {"query": {"sql": "SELECT 1", "expect": 1}},
        {"table_absent": "no_such_table"},
        {"server_version": "10.0"},
        {"connections": {"max_pct": 95}},
        {"long_running": {"seconds": 3600}},
        {"blocking_locks": 0},
        {"replication_lag": 5},
        {"database_size": {"max": "100GB"}},
        {"plugin": "partition"},
        {"constraint_valid": None},
    ]
    return [dict(kinds[i % len(kinds)], name="check %d" % i) for i in range(50)]


def play(tasks):
    return [{"name": "bench", "hosts": "localhost", "gather_facts": False,
             "module_defaults": {"group/dbops.runbooks.database": CONNECTION}, "tasks": tasks}]


def task(checks):
    return {"name": "db_check", "dbops.runbooks.db_check": {"checks": checks}}


VARIANTS = {
    "empty play (baseline)": play([]),
    "1 task, 1 check": play([task(fifty_checks()[:1])]),
    "1 task, 50 checks": play([task(fifty_checks())]),
    "50 tasks, 1 check each": play([task([check]) for check in fifty_checks()]),
}


def run(path):
    started = time.perf_counter()
    subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", path], check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable))
    return time.perf_counter() - started


def main():
    timings = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for number, (name, playbook) in enumerate(VARIANTS.items()):
            paths[name] = os.path.join(folder, "variant%d.yml" % number)
            with open(paths[name], "w", encoding="utf-8") as handle:
                json.dump(playbook, handle)
        for _round in range(ROUNDS):
            for name, path in paths.items():
                timings[name].append(run(path))
    medians = {name: statistics.median(values) for name, values in timings.items()}
    base = medians["empty play (baseline)"]
    one = medians["1 task, 1 check"] - base
    print("db_check benchmark (median of %d rounds, MariaDB on the local stack)" % ROUNDS)
    print("%-26s %10s %12s %10s" % ("variant", "wall s", "tasks s", "vs 1 task"))
    for name, value in medians.items():
        cost = value - base
        ratio = "" if name.startswith("empty") else "%.2fx" % (cost / one)
        print("%-26s %10.2f %12.2f %10s" % (name, value, cost, ratio))


if __name__ == "__main__":
    main()
