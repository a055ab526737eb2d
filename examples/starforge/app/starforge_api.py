#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for StarForge (seed 002): its API deployment and its ETL worker deployment, in one process.

It serves what the production_migration runbook looks at, from the stack's real PostgreSQL, and
stands in for the platform around it: the deployments' environment (MAINTENANCE_MODE, the way
`kubectl set env` sets it, kept in an env file the app re-reads), their replica counts (the way
`kubectl scale` / `render scale` set them), rolling restarts, a fault switch and bounded loopback
traffic. See README.md next to this file.

Standard library plus psycopg. Run: python starforge_api.py --state-dir .stack/starforge
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import psycopg
from psycopg.types.json import Jsonb

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
DEPLOYMENTS = {"api": 2, "etl-worker": 1}  # name -> replicas at start
TRUE = ("1", "true", "yes", "on")
MAX_TRAFFIC_SECONDS = 600
UNTRACKED = ("/metrics", "/ops/")  # scrapes and operator calls are not user traffic


class Metrics:
    """Counters for /metrics (Prometheus text format); the latency histogram is per status code."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}  # code -> [bucket counts..., +Inf count, sum]
        self.processed = 0
        self.failed = 0

    def observe(self, code, seconds):
        with self.lock:
            row = self.requests.setdefault(code, [0] * (len(BUCKETS) + 1) + [0.0])
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    row[i] += 1
            row[len(BUCKETS)] += 1
            row[-1] += seconds

    def etl(self, ok):
        with self.lock:
            if ok:
                self.processed += 1
            else:
                self.failed += 1

    def render(self, state):
        name = "starforge_http_request_duration_seconds"
        lines = ["# HELP starforge_http_requests_total HTTP requests by status code (not /metrics, not /ops).",
                 "# TYPE starforge_http_requests_total counter"]
        with self.lock:
            rows = {code: list(row) for code, row in sorted(self.requests.items())}
            processed, failed = self.processed, self.failed
        lines += ['starforge_http_requests_total{code="%s"} %d' % (code, row[len(BUCKETS)]) for code, row in rows.items()]
        lines += ["# HELP %s Request latency by status code." % name, "# TYPE %s histogram" % name]
        for code, row in rows.items():
            lines += ['%s_bucket{code="%s",le="%s"} %d' % (name, code, bound, row[i]) for i, bound in enumerate(BUCKETS)]
            lines += ['%s_bucket{code="%s",le="+Inf"} %d' % (name, code, row[len(BUCKETS)]),
                      '%s_sum{code="%s"} %.6f' % (name, code, row[-1]),
                      '%s_count{code="%s"} %d' % (name, code, row[len(BUCKETS)])]
        lines += [
            "# HELP starforge_etl_snapshots_processed_total Hero snapshots turned into summary rows.",
            "# TYPE starforge_etl_snapshots_processed_total counter",
            "starforge_etl_snapshots_processed_total %d" % processed,
            "# HELP starforge_etl_snapshots_failed_total Hero snapshots that failed (see etl_errors).",
            "# TYPE starforge_etl_snapshots_failed_total counter",
            "starforge_etl_snapshots_failed_total %d" % failed,
            "# HELP starforge_db_pool_in_use API database connections checked out.",
            "# TYPE starforge_db_pool_in_use gauge",
            "starforge_db_pool_in_use %d" % state.pool.in_use,
            "# HELP starforge_db_pool_size API database connections allowed.",
            "# TYPE starforge_db_pool_size gauge",
            "starforge_db_pool_size %d" % state.pool.size,
            "# HELP starforge_maintenance_mode 1 while the api deployment has MAINTENANCE_MODE=true.",
            "# TYPE starforge_maintenance_mode gauge",
            "starforge_maintenance_mode %d" % state.maintenance(),
            "# HELP starforge_deployment_replicas Replicas per deployment.",
            "# TYPE starforge_deployment_replicas gauge",
        ]
        lines += ['starforge_deployment_replicas{deployment="%s"} %d' % (d, n) for d, n in sorted(state.replicas.items())]
        return "\n".join(lines) + "\n"


class Pool:
    """A small connection pool; idle connections are closed when the API is drained."""

    def __init__(self, connect, size):
        self.connect = connect
        self.size = size
        self.idle = queue.LifoQueue()
        self.slots = threading.BoundedSemaphore(size)
        self.lock = threading.Lock()
        self.in_use = 0

    def run(self, sql, params=None, fetch=True):
        """Run one statement in its own transaction; rows as tuples (None when fetch is false)."""
        if not self.slots.acquire(timeout=5):
            raise psycopg.OperationalError("connection pool exhausted (%d in use)" % self.size)
        with self.lock:
            self.in_use += 1
        conn = None
        try:
            try:
                conn = self.idle.get_nowait()
            except queue.Empty:
                conn = self.connect("starforge-api")
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall() if fetch else None
            self.idle.put(conn)
            conn = None
            return rows
        finally:
            if conn is not None:
                conn.close()
            with self.lock:
                self.in_use -= 1
            self.slots.release()

    def drain(self):
        """Close the idle connections (a scaled-down or maintenance API holds none)."""
        while True:
            try:
                self.idle.get_nowait().close()
            except queue.Empty:
                return


class AppState:
    """The deployments' environment and replicas, the fault switch, the traffic generator."""

    def __init__(self, args):
        self.args = args
        self.metrics = Metrics()
        self.lock = threading.Lock()
        self.replicas = dict(DEPLOYMENTS)
        self.restarts = {name: 0 for name in DEPLOYMENTS}
        self.faults = {"error_rate": 0.0, "latency_ms": 0}
        self.traffic = {"running": False, "until": None, "sent": 0, "rps": 0}
        self.pool = Pool(self.connect, args.pool_size)
        self._env_cache = (None, {})

    def connect(self, application_name):
        a = self.args
        return psycopg.connect(host=a.db_host, port=a.db_port, user=a.db_user, password=a.db_password,
                               dbname=a.db_name, connect_timeout=2, application_name=application_name)

    # The api deployment's environment: KEY=VALUE lines in <state-dir>/api.env, re-read when it changes.
    def env_file(self):
        return os.path.join(self.args.state_dir, "api.env")

    def env(self):
        try:
            stamp = os.stat(self.env_file()).st_mtime_ns
        except FileNotFoundError:
            return {}
        if self._env_cache[0] != stamp:
            values = {}
            with open(self.env_file(), encoding="utf-8") as handle:
                for line in handle:
                    key, sep, value = line.strip().partition("=")
                    if sep and not key.startswith("#"):
                        values[key.strip()] = value.strip().strip('"')
            self._env_cache = (stamp, values)
        return dict(self._env_cache[1])

    def set_env(self, changes):
        """Like `kubectl set env`: KEY=value sets, a None value (KEY-) unsets."""
        with self.lock:
            values = self.env()
            for key, value in changes.items():
                if value is None:
                    values.pop(key, None)
                else:
                    values[key] = str(value).lower() if isinstance(value, bool) else str(value)
            if values:
                tmp = self.env_file() + ".tmp"
                with open(tmp, "w", encoding="utf-8") as handle:
                    handle.write("".join("%s=%s\n" % item for item in sorted(values.items())))
                os.replace(tmp, self.env_file())
            elif os.path.exists(self.env_file()):
                os.remove(self.env_file())
        return self.env()

    def maintenance(self):
        return self.env().get("MAINTENANCE_MODE", "false").lower() in TRUE


def snapshot_rows(raw):
    """The summary and troop rows of one snapshot's payload; ValueError names what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("raw is a %s, not an object" % type(raw).__name__)
    hero = raw.get("hero")
    if not isinstance(hero, dict):
        raise ValueError("raw.hero is missing or not an object")
    for key, kind in (("name", str), ("level", int), ("power", int)):
        if not isinstance(hero.get(key), kind) or isinstance(hero.get(key), bool):
            raise ValueError("raw.hero.%s is missing or not a %s" % (key, kind.__name__))
    troops = raw.get("troops", [])
    if not isinstance(troops, list):
        raise ValueError("raw.troops is not a list")
    rows = []
    for i, troop in enumerate(troops):
        if not isinstance(troop, dict) or not troop.get("id") or not isinstance(troop.get("count"), int) \
                or troop["count"] < 0:
            raise ValueError("raw.troops[%d] needs an id and a count >= 0" % i)
        rows.append((str(troop["id"]), troop["count"], int(troop.get("level") or 1)))
    return (hero["name"], hero["level"], hero["power"], sum(r[1] for r in rows)), rows


def process_one(conn, metrics):
    """Process the oldest pending snapshot; False when there was none."""
    with conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SELECT id, user_id, raw FROM hero_snapshots WHERE processed_at IS NULL AND error_count = 0"
                       " ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED")
        row = cursor.fetchone()
        if row is None:
            return False
        snapshot_id, user_id, raw = row
        try:
            summary, troops = snapshot_rows(raw)
        except ValueError as e:
            # A payload of the wrong shape is not retried: it keeps its error until someone resets error_count.
            cursor.execute("UPDATE hero_snapshots SET error_count = error_count + 1, last_error = %s WHERE id = %s",
                           (str(e), snapshot_id))
            cursor.execute("INSERT INTO etl_errors (snapshot_id, error_type, message) VALUES (%s, 'invalid_payload', %s)",
                           (snapshot_id, str(e)))
            metrics.etl(False)
            return True
        cursor.execute(
            "INSERT INTO user_profile_summary (user_id, hero_name, level, power, troop_count, last_snapshot_id, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (user_id) DO UPDATE SET hero_name = EXCLUDED.hero_name,"
            " level = EXCLUDED.level, power = EXCLUDED.power, troop_count = EXCLUDED.troop_count,"
            " last_snapshot_id = EXCLUDED.last_snapshot_id, updated_at = now()",
            (user_id,) + summary + (snapshot_id,))
        for troop_id, count, level in troops:
            cursor.execute(
                "INSERT INTO user_troops (user_id, troop_id, count, level, updated_at) VALUES (%s, %s, %s, %s, now())"
                " ON CONFLICT (user_id, troop_id) DO UPDATE SET count = EXCLUDED.count, level = EXCLUDED.level,"
                " updated_at = now()", (user_id, troop_id, count, level))
        cursor.execute("UPDATE hero_snapshots SET processed_at = now(), last_error = NULL WHERE id = %s", (snapshot_id,))
    metrics.etl(True)
    return True


def etl_worker(state):
    """The etl-worker deployment: each replica processes up to 5 snapshots per 0.2 s tick; 0 replicas hold no connection.

    Each tick also closes the API's idle connections while it is drained (maintenance or 0 replicas).
    """
    conn, generation, last_error = None, None, None
    while True:
        if state.replicas["api"] == 0 or state.maintenance():  # a request that was in flight may have put one back
            state.pool.drain()
        replicas = state.replicas["etl-worker"]
        if conn is not None and (replicas == 0 or generation != state.restarts["etl-worker"]):
            conn.close()
            conn = None
        if replicas > 0:
            try:
                if conn is None:
                    generation = state.restarts["etl-worker"]
                    conn = state.connect("starforge-etl-worker")
                for _attempt in range(5 * replicas):
                    if not process_one(conn, state.metrics):
                        break
                last_error = None
            except psycopg.Error as e:  # no tables yet, database down: log once, retry next tick
                if str(e) != last_error:
                    sys.stderr.write("etl-worker: %s\n" % str(e).strip())
                    last_error = str(e)
                if conn is not None and (conn.closed or conn.broken):
                    conn = None
                time.sleep(0.5)
        time.sleep(0.2)


def traffic(state, port, seconds, rps):
    """Loopback clients against this API until the time is up, then stop."""
    with state.lock:
        state.traffic.update(running=True, until=time.time() + seconds, rps=rps)
    paths = ("/api/v1/heroes", "/api/v1/heroes", "/health")
    try:
        while time.time() < state.traffic["until"]:
            started = time.monotonic()
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, random.choice(paths)), timeout=5) as answer:
                    answer.read()
            except (urllib.error.URLError, OSError):
                pass
            with state.lock:
                state.traffic["sent"] += 1
            time.sleep(max(0.0, 1.0 / rps - (time.monotonic() - started)))
    finally:
        with state.lock:
            state.traffic["running"] = False


class Handler(BaseHTTPRequestHandler):
    server_version = "starforge-demo/1"
    state: AppState = None  # set by main()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if not self.state.args.quiet:
            sys.stderr.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), format % args))

    def send(self, code, body=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, default=str)
        data = (body or "").encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if code == 503:
            self.send_header("Retry-After", "30")
        self.end_headers()
        self.wfile.write(data)
        self.code = code

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else {}

    def handle_request(self, method):
        started = time.monotonic()
        self.code = 500
        path = urlsplit(self.path).path
        try:
            self.route(method, path)
        except (ValueError, KeyError, TypeError) as e:
            self.send(400, {"message": "bad request: %s" % e})
        except BrokenPipeError:
            pass
        finally:
            if not path.startswith(UNTRACKED):
                self.state.metrics.observe(self.code, time.monotonic() - started)

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def do_PUT(self):
        self.handle_request("PUT")

    def route(self, method, path):
        state = self.state
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/metrics":
            return self.send(200, state.metrics.render(state), "text/plain; version=0.0.4")
        if parts[0] == "ops":
            return self.ops(method, parts[1:])
        # From here on it is the api deployment answering.
        if state.replicas["api"] == 0:
            state.pool.drain()
            return self.send(503, {"status": "unavailable", "message": "scaled to zero"})
        if state.maintenance():
            state.pool.drain()
            return self.send(503, {"status": "maintenance", "message": "StarForge is under maintenance"})
        if method == "GET" and path == "/health":
            return self.health()
        if path.startswith("/api/"):
            if state.faults["latency_ms"]:
                time.sleep(state.faults["latency_ms"] / 1000.0)
            if random.random() < state.faults["error_rate"]:
                return self.send(500, {"message": "injected failure"})
            if method == "GET" and path == "/api/v1/heroes":
                return self.query("SELECT user_id, hero_name, level, power, troop_count FROM user_profile_summary"
                                  " ORDER BY power DESC LIMIT 20")
            if method == "GET" and parts[:3] == ["api", "v1", "heroes"] and len(parts) == 4:
                return self.query("SELECT troop_id, count, level FROM user_troops WHERE user_id = %s ORDER BY troop_id",
                                  (parts[3],))
            if method == "POST" and path == "/api/v1/snapshots":
                return self.ingest()
        return self.send(404, {"message": "Not Found"})

    def health(self):
        started = time.monotonic()
        try:
            self.state.pool.run("SELECT 1")
        except psycopg.Error as e:
            return self.send(503, {"status": "unhealthy", "database": "disconnected", "error": str(e).strip()})
        return self.send(200, {"status": "healthy", "database": "connected",
                               "latency": "%dms" % round((time.monotonic() - started) * 1000)})

    def query(self, sql, params=None):
        try:
            rows = self.state.pool.run(sql, params)
        except psycopg.Error as e:
            return self.send(500, {"message": "Server Error", "error": str(e).strip()})
        return self.send(200, {"data": rows, "meta": {"count": len(rows)}})

    def ingest(self):
        """POST {"username": ..., "raw": {...}}: the user (created when new) and a pending snapshot."""
        wanted = self.body()
        try:
            rows = self.state.pool.run(
                "WITH u AS (INSERT INTO users (username) VALUES (%s) ON CONFLICT (username) DO UPDATE"
                " SET username = EXCLUDED.username RETURNING id)"
                " INSERT INTO hero_snapshots (user_id, raw) SELECT id, %s FROM u RETURNING id, user_id",
                (str(wanted["username"]), Jsonb(wanted["raw"])))
        except psycopg.Error as e:
            return self.send(500, {"message": "Server Error", "error": str(e).strip()})
        return self.send(201, {"snapshot_id": rows[0][0], "user_id": rows[0][1]})

    # ---------------------------------------------------------------- the platform's side (ops token)

    def ops(self, method, parts):
        given = self.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), ("Bearer " + self.state.args.ops_token).encode()):
            return self.send(401, {"message": "Unauthenticated."})
        state = self.state
        if parts[:1] == ["deployments"] and len(parts) == 3 and parts[1] in DEPLOYMENTS:
            return self.deployment(method, parts[1], parts[2])
        if parts == ["faults"] and method in ("GET", "PUT"):
            if method == "PUT":
                wanted = self.body()
                rate = float(wanted.get("error_rate", 0))
                if not 0 <= rate <= 1:
                    raise ValueError("error_rate must be between 0 and 1")
                state.faults = {"error_rate": rate, "latency_ms": max(0, int(wanted.get("latency_ms", 0)))}
            return self.send(200, state.faults)
        if parts == ["traffic"] and method in ("GET", "POST"):
            if method == "POST" and not state.traffic["running"]:
                wanted = self.body()
                seconds = float(wanted.get("seconds", 10))
                rps = float(wanted.get("rps", 20))
                if not 0 < seconds <= MAX_TRAFFIC_SECONDS or not 0 < rps <= 200:
                    raise ValueError("seconds must be in (0, %d] and rps in (0, 200]" % MAX_TRAFFIC_SECONDS)
                state.traffic["running"] = True
                threading.Thread(target=traffic, args=(state, self.server.server_address[1], seconds, rps),
                                 daemon=True).start()
            return self.send(200, state.traffic)
        return self.send(404, {"message": "Not Found"})

    def deployment(self, method, name, what):
        state = self.state
        if what == "replicas" and method in ("GET", "PUT"):
            if method == "PUT":
                replicas = int(self.body()["replicas"])
                if not 0 <= replicas <= 10:
                    raise ValueError("replicas must be between 0 and 10")
                state.replicas[name] = replicas
                if name == "api" and replicas == 0:
                    state.pool.drain()
            return self.send(200, {"deployment": name, "replicas": state.replicas[name]})
        if what == "env" and name == "api" and method in ("GET", "PUT"):
            if method == "PUT":
                state.set_env(self.body())
                if state.maintenance():
                    state.pool.drain()
            return self.send(200, {"deployment": name, "env": state.env(), "maintenance": state.maintenance(),
                                   "env_file": state.env_file()})
        if what == "restart" and method == "POST":  # kubectl rollout restart: new connections, same settings
            state.restarts[name] += 1
            if name == "api":
                state.pool.drain()
            return self.send(200, {"deployment": name, "restarts": state.restarts[name]})
        if what == "restart" and method == "GET":
            return self.send(200, {"deployment": name, "restarts": state.restarts[name]})
        return self.send(405, {"message": "GET/PUT replicas, GET/PUT env (api), GET/POST restart"})


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env("STARFORGE_APP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("STARFORGE_APP_PORT", "58180")))
    parser.add_argument("--state-dir", default=env("STARFORGE_STATE_DIR"), required=not env("STARFORGE_STATE_DIR"),
                        help="where the api deployment's env file (api.env) lives")
    parser.add_argument("--db-host", default=env("STARFORGE_DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(env("STARFORGE_DB_PORT", "55432")))
    parser.add_argument("--db-user", default=env("STARFORGE_DB_USER", "dbops"))
    parser.add_argument("--db-name", default=env("STARFORGE_DB_NAME", "starforge"))
    parser.add_argument("--pool-size", type=int, default=10, help="API database connections at most")
    parser.add_argument("--traffic-seconds", type=float, default=0, help="send loopback traffic for this long at start")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()
    # Secrets come from the environment only, never the command line (ps shows it).
    args.db_password = env("STARFORGE_DB_PASSWORD", "")
    args.ops_token = env("STARFORGE_OPS_TOKEN", "starforge-local-ops-token")
    args.state_dir = os.path.abspath(args.state_dir)
    os.makedirs(args.state_dir, exist_ok=True)

    state = AppState(args)
    Handler.state = state
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=etl_worker, args=(state,), daemon=True).start()
    if args.traffic_seconds > 0:
        threading.Thread(target=traffic, args=(state, args.port, min(args.traffic_seconds, MAX_TRAFFIC_SECONDS), 20),
                         daemon=True).start()
    sys.stderr.write("starforge demo API on http://%s:%d, state %s, database %s\n"
                     % (args.host, args.port, args.state_dir, args.db_name))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
