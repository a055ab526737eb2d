"""Benchmark: the whole communities_schema_v1 runbook on the local stack, and its app downtime.

Run by `make bench`. Each round runs the seven steps on a fresh MariaDB database with its own demo
app (examples/academy/app) while a poller measures the app's 503 window on /health, then runs the
runbook again (nothing to do), and, side by side, applies the same SQL the way an operator would
by hand: the mariadb client on each up file and the seed, one after the other, with no checks. The
medians are reported against the runbook-engine issue's targets (whole run within 15 s, downtime
within 1.5 s, a run with nothing to do within 8 s) and as a ratio to the by-hand baseline.
With BENCH_MITOGEN=1 the rounds run again under the mitogen_linear strategy (opt-in, PyPI mitogen).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PASSWORD = "dbops-local-stack"
DB = "dbops_bench_runbook"
APP_PORT = 58085
TARGET_RUN_S = 15.0
TARGET_DOWNTIME_S = 1.5
TARGET_RERUN_S = 8.0


def mariadb(*args, stdin=None):
    subprocess.run(["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", "53306", "-u", "dbops", *args],
                   stdin=stdin, check=True, env=dict(os.environ, MYSQL_PWD=PASSWORD))


def fresh_database():
    mariadb("-e", "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4" % (DB, DB))


def extra_vars(work):
    """The local inventory pointed at the bench database, its app, and a private backup folder."""
    app = "http://127.0.0.1:%d" % APP_PORT
    return {
        "db_connection": dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                              login_password=PASSWORD, login_db=DB),
        "academy_api": {"url": app, "token": "academy-local-api-token"},
        "academy_ops_api": app + "/api/v1/ops",
        # The inventory's app_maintenance (the maintenance_mode options) follows the base path.
        "laravel_app": {"base_path": os.path.join(work, "app")},
        "runbook_backup": {"method": "logical", "backup_dir": os.path.join(work, "backups"), "keep": 2},
    }


def mitogen_env():
    """ansible-playbook's environment for mitogen's linear strategy (BENCH_MITOGEN=1, PyPI mitogen)."""
    try:
        import ansible_mitogen  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SystemExit("BENCH_MITOGEN=1 needs mitogen: pip install -r requirements-bench.txt")
    strategies = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
    return dict(os.environ, ANSIBLE_STRATEGY_PLUGINS=strategies, ANSIBLE_STRATEGY="mitogen_linear")


def run_runbook(work, vars_file, env=None):
    """Wall seconds of one ansible-playbook run of the runbook, and the app's measured downtime."""
    report = os.path.join(work, "downtime.json")
    poller = subprocess.Popen([sys.executable, os.path.join(ROOT, "roles/downtime_probe/files/downtime_poller.py"),
                               "--url", "http://127.0.0.1:%d/health" % APP_PORT, "--interval", "0.05", "--json"],
                              stdout=open(report, "w", encoding="utf-8"))
    started = time.perf_counter()
    subprocess.run(["ansible-playbook", "-i", os.path.join(ROOT, "inventories/local"),
                    os.path.join(ROOT, "playbooks/communities_schema_v1.yml"), "-e", "@" + vars_file],
                   check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - started
    poller.terminate()
    poller.wait()
    with open(report, encoding="utf-8") as handle:
        return elapsed, json.load(handle)["downtime_s"]


def by_hand():
    """The same SQL through the mariadb client, file by file: the least an operator's run costs."""
    started = time.perf_counter()
    migrations = os.path.join(ROOT, "examples/academy/migrations")
    for name in sorted(f for f in os.listdir(migrations) if f.endswith(".up.sql")):
        with open(os.path.join(migrations, name), "rb") as handle:
            mariadb(DB, stdin=handle)
    with open(os.path.join(ROOT, "examples/academy/seeds/community_foundation.sql"), "rb") as handle:
        mariadb(DB, stdin=handle)
    return time.perf_counter() - started


def start_app(work):
    env = dict(os.environ, ACADEMY_DB_PASSWORD=PASSWORD)
    app = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples/academy/app/academy_api.py"), "--port",
                            str(APP_PORT), "--base-path", os.path.join(work, "app"), "--db-name", DB],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _attempt in range(100):
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % APP_PORT, timeout=1).close()
            return app
        except OSError:
            time.sleep(0.1)
    app.terminate()
    raise SystemExit("the bench's demo app did not start on port %d" % APP_PORT)


def main():
    runs, reruns, downtimes, hands = [], [], [], []
    mitogen = mitogen_env() if os.environ.get("BENCH_MITOGEN") == "1" else None
    m_runs, m_reruns, m_downtimes = [], [], []
    with tempfile.TemporaryDirectory() as work:
        vars_file = os.path.join(work, "vars.json")
        with open(vars_file, "w", encoding="utf-8") as handle:
            json.dump(extra_vars(work), handle)
        fresh_database()
        app = start_app(work)
        try:
            for _round in range(ROUNDS):
                fresh_database()
                hands.append(by_hand())
                fresh_database()
                elapsed, downtime = run_runbook(work, vars_file)
                runs.append(elapsed)
                downtimes.append(downtime)
                reruns.append(run_runbook(work, vars_file)[0])
                if mitogen:
                    fresh_database()
                    elapsed, downtime = run_runbook(work, vars_file, mitogen)
                    m_runs.append(elapsed)
                    m_downtimes.append(downtime)
                    m_reruns.append(run_runbook(work, vars_file, mitogen)[0])
        finally:
            app.terminate()
            app.wait()
            mariadb("-e", "DROP DATABASE IF EXISTS %s" % DB)
    run, rerun, downtime, hand = (statistics.median(v) for v in (runs, reruns, downtimes, hands))
    print("communities_schema_v1 benchmark (median of %d rounds, MariaDB and the demo app on the local stack)" % ROUNDS)
    print("%-44s %8s %10s" % ("measure", "seconds", "target"))
    for label, value, target in (("whole run, seven steps", run, TARGET_RUN_S),
                                 ("app downtime (503 on /health) during the run", downtime, TARGET_DOWNTIME_S),
                                 ("second run (nothing to do)", rerun, TARGET_RERUN_S)):
        print("%-44s %8.1f %10s" % (label, value, "<= %g s %s" % (target, "ok" if value <= target else "MISSED")))
    print("%-44s %8.1f" % ("same SQL by hand (mariadb client, no checks)", hand))
    print("%-44s %8.1fx" % ("whole run / by hand", run / hand))
    if mitogen:
        m_run, m_rerun, m_downtime = (statistics.median(v) for v in (m_runs, m_reruns, m_downtimes))
        print("mitogen_linear strategy (opt-in, BENCH_MITOGEN=1; AWX and the default use ansible-core's linear)")
        for label, value, target in (("whole run, seven steps (mitogen)", m_run, TARGET_RUN_S),
                                     ("app downtime during the run (mitogen)", m_downtime, TARGET_DOWNTIME_S),
                                     ("second run (mitogen)", m_rerun, TARGET_RERUN_S)):
            print("%-44s %8.1f %10s" % (label, value, "<= %g s %s" % (target, "ok" if value <= target else "MISSED")))


if __name__ == "__main__":
    main()
