#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stand-in for the Academy API (its flag service, its observability API), small enough to read in one sitting.

It is not the Laravel application. It serves the few endpoints the communities_schema_v1 runbook
looks at, from the stack's real MariaDB, and behaves like Laravel where the runbook depends on it:
the maintenance file `storage/framework/down` under --base-path is honoured on every request the
way Laravel's maintenance middleware does (status, Retry-After, Refresh, redirect, except paths,
secret bypass). See README.md next to this file for the endpoints.

Standard library plus PyMySQL. Run: python academy_api.py --base-path .stack/app
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http import cookies
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pymysql

DOWN_FILE = os.path.join("storage", "framework", "down")
# These stand for other services (ops API, flag service, observability API) or for the operator's own access, so
# maintenance mode never locks them: otherwise nobody could switch it off over HTTP.
ALWAYS_UP = ("/metrics", "/api/v1/ops/*", "/api/v2/flags/*", "/v1/ops/*")
QUEUES = ("communities-backfill",)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCHEMA_ERRORS = (1146, 1054)  # no such table, unknown column: the schema is not what the code expects


class Metrics:
    """Counters for /metrics (Prometheus text format)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}
        self.buckets = [0] * (len(BUCKETS) + 1)
        self.latency_sum = 0.0
        self.schema_errors = 0
        self.jobs = {name: 0 for name in QUEUES}

    def observe(self, code, seconds):
        with self.lock:
            self.requests[code] = self.requests.get(code, 0) + 1
            self.latency_sum += seconds
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1
            self.buckets[-1] += 1

    def schema_error(self):
        with self.lock:
            self.schema_errors += 1

    def job_done(self, queue):
        with self.lock:
            self.jobs[queue] += 1

    def render(self, state):
        with self.lock:
            lines = [
                "# HELP academy_http_requests_total HTTP requests answered, by status code.",
                "# TYPE academy_http_requests_total counter",
            ]
            lines += ['academy_http_requests_total{code="%s"} %d' % (code, n) for code, n in sorted(self.requests.items())]
            lines += [
                "# HELP academy_http_request_duration_seconds Time to answer a request.",
                "# TYPE academy_http_request_duration_seconds histogram",
            ]
            lines += ['academy_http_request_duration_seconds_bucket{le="%s"} %d' % (bound, self.buckets[i])
                      for i, bound in enumerate(BUCKETS)]
            lines += [
                'academy_http_request_duration_seconds_bucket{le="+Inf"} %d' % self.buckets[-1],
                "academy_http_request_duration_seconds_sum %.6f" % self.latency_sum,
                "academy_http_request_duration_seconds_count %d" % self.buckets[-1],
                "# HELP community_schema_migration_errors_total Queries that failed because a table or column is missing.",
                "# TYPE community_schema_migration_errors_total counter",
                "community_schema_migration_errors_total %d" % self.schema_errors,
                "# HELP academy_queue_jobs_processed_total Jobs the demo worker processed, by queue.",
                "# TYPE academy_queue_jobs_processed_total counter",
            ]
            lines += ['academy_queue_jobs_processed_total{queue="%s"} %d' % (q, n) for q, n in sorted(self.jobs.items())]
        lines += [
            "# HELP academy_queue_paused 1 while a queue is paused.",
            "# TYPE academy_queue_paused gauge",
        ]
        lines += ['academy_queue_paused{queue="%s"} %d' % (q, state.paused[q]) for q in QUEUES]
        lines += [
            "# HELP academy_maintenance_mode 1 while the maintenance file exists.",
            "# TYPE academy_maintenance_mode gauge",
            "academy_maintenance_mode %d" % (state.down_payload() is not None),
        ]
        return "\n".join(lines) + "\n"


class AppState:
    """Configuration, the maintenance file, paused queues and feature flags (in memory)."""

    def __init__(self, args):
        self.args = args
        self.down_file = os.path.join(args.base_path, DOWN_FILE)
        self.metrics = Metrics()
        self.lock = threading.Lock()
        self.paused = {name: False for name in QUEUES}
        self.flags = {"community_feed_v2": {"production": False, "staging": False}}
        # The observability API's migration plans, by phase: "ready" unless an operator says otherwise.
        self.plans = {}

    def down_payload(self):
        """The maintenance file's payload, {} when it is not JSON, None when there is no file."""
        try:
            with open(self.down_file, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        try:
            payload = json.loads(text)
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {}

    def write_down(self, payload):
        folder = os.path.dirname(self.down_file)
        os.makedirs(folder, exist_ok=True)
        tmp = self.down_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=4)
        os.replace(tmp, self.down_file)

    def connect(self):
        a = self.args
        return pymysql.connect(host=a.db_host, port=a.db_port, user=a.db_user, password=a.db_password,
                               database=a.db_name, connect_timeout=2, charset="utf8mb4",
                               cursorclass=pymysql.cursors.DictCursor)


def bypass_cookie(secret):
    """Value of the cookie that lets a browser past maintenance after visiting /<secret>."""
    return hmac.new(secret.encode(), b"laravel_maintenance", hashlib.sha256).hexdigest()


def worker(state):
    """The demo queue: one job every 0.2 s per queue unless paused."""
    while True:
        for queue in QUEUES:
            if not state.paused[queue]:
                state.metrics.job_done(queue)
        time.sleep(0.2)


class Handler(BaseHTTPRequestHandler):
    server_version = "academy-demo/1"
    state: AppState = None  # set by main()

    # ---------------------------------------------------------------- plumbing

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        sys.stderr.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), format % args))

    def send(self, code, body=None, headers=None, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, default=str)
        data = (body or "").encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(data)
        self.code = code

    def bearer(self, token):
        given = self.headers.get("Authorization", "")
        given = given[7:] if given.startswith("Bearer ") else given
        return hmac.compare_digest(given.encode(), token.encode())

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        return json.loads(self.rfile.read(length))

    def handle_request(self, method):
        started = time.monotonic()
        self.code = 500
        path = urlsplit(self.path).path
        try:
            if not self.maintenance(path):
                self.route(method, path)
        except (ValueError, KeyError) as e:
            self.send(400, {"message": "bad request: %s" % e})
        except BrokenPipeError:
            pass
        finally:
            self.state.metrics.observe(self.code, time.monotonic() - started)

    def do_GET(self):
        self.handle_request("GET")

    def do_POST(self):
        self.handle_request("POST")

    def do_PATCH(self):
        self.handle_request("PATCH")

    # ---------------------------------------------------------------- maintenance, the Laravel way

    def maintenance(self, path):
        """Answer for maintenance mode when the down file says so; True when answered."""
        payload = self.state.down_payload()
        if payload is None:
            return False
        patterns = list(ALWAYS_UP) + ["/" + p.strip("/") for p in payload.get("except") or []]
        if any(fnmatch.fnmatch(path, pattern) for pattern in patterns):
            return False
        secret = payload.get("secret")
        if secret:
            if path.strip("/") == secret:
                self.send(302, "", {"Location": "/", "Set-Cookie": "laravel_maintenance=%s; Path=/; HttpOnly"
                                    % bypass_cookie(secret)})
                return True
            jar = cookies.SimpleCookie(self.headers.get("Cookie", ""))
            if "laravel_maintenance" in jar and hmac.compare_digest(jar["laravel_maintenance"].value, bypass_cookie(secret)):
                return False
        redirect = payload.get("redirect")
        if redirect:
            target = "/" + redirect.strip("/")
            if path != target:
                self.send(302, "", {"Location": target})
                return True
        headers = {}
        if payload.get("retry"):
            headers["Retry-After"] = payload["retry"]
        if payload.get("refresh"):
            headers["Refresh"] = payload["refresh"]
        status = int(payload.get("status") or 503)
        if payload.get("template"):
            self.send(status, payload["template"], headers, "text/html; charset=utf-8")
        else:
            self.send(status, {"message": "Service Unavailable"}, headers)
        return True

    # ---------------------------------------------------------------- routes

    def route(self, method, path):
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/health":
            return self.health()
        if method == "GET" and path == "/metrics":
            return self.send(200, self.state.metrics.render(self.state), content_type="text/plain; version=0.0.4")
        if method == "GET" and path == "/api/v1/communities":
            return self.communities()
        if method == "GET" and path == "/api/v1/communities/categories":
            return self.categories()
        if path == "/api/v1/ops/maintenance" and method in ("GET", "POST"):
            return self.ops_maintenance(method)
        if path == "/v1/ops/migration-plan" and method in ("GET", "POST"):
            return self.migration_plan(method)
        if parts[:4] == ["api", "v1", "ops", "queues"] and len(parts) in (5, 6):
            return self.queue(method, parts[4], parts[5] if len(parts) == 6 else None)
        if parts[:3] == ["api", "v2", "flags"] and len(parts) == 5 and method in ("GET", "PATCH"):
            return self.flag(method, parts[4])
        return self.send(404, {"message": "Not Found"})

    def health(self):
        try:
            conn = self.state.connect()
            conn.close()
        except pymysql.Error as e:
            return self.send(500, {"status": "failing", "database": str(e)})
        return self.send(200, {"status": "ok", "database": "up"})

    def query(self, sql):
        """Rows as dicts; a missing table or column is a 500 counted as a schema error."""
        try:
            conn = self.state.connect()
        except pymysql.Error as e:
            self.send(500, {"message": "Server Error", "error": "database unavailable: %s" % e})
            return None
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        except pymysql.Error as e:
            if e.args and e.args[0] in SCHEMA_ERRORS:
                self.state.metrics.schema_error()
            self.send(500, {"message": "Server Error", "error": "(%s) %s" % e.args if len(e.args) == 2 else str(e)})
            return None
        finally:
            conn.close()

    def communities(self):
        rows = self.query(
            "SELECT id, slug, name, description, category_id, visibility, join_policy, members_count, posts_count"
            " FROM communities WHERE deleted_at IS NULL AND visibility = 'public' ORDER BY id LIMIT 100")
        if rows is not None:
            self.send(200, {"data": rows, "meta": {"count": len(rows)}})

    def categories(self):
        if not self.bearer(self.state.args.api_token):
            return self.send(401, {"message": "Unauthenticated."})
        rows = self.query(
            "SELECT id, parent_id, slug, name, description, icon, sort_order"
            " FROM community_categories WHERE is_active = 1 ORDER BY sort_order, id")
        if rows is not None:
            self.send(200, {"data": rows, "meta": {"count": len(rows)}})
        return None

    def ops_maintenance(self, method):
        if not self.bearer(self.state.args.ops_token):
            return self.send(401, {"message": "Unauthenticated."})
        if method == "POST":
            wanted = self.body() or {}
            if wanted.get("enabled"):
                self.state.write_down({
                    "except": wanted.get("except") or [], "redirect": wanted.get("redirect"),
                    "retry": wanted.get("retry"), "refresh": wanted.get("refresh"),
                    "secret": wanted.get("secret"), "status": int(wanted.get("status") or 503),
                    "template": None,
                })
            elif os.path.exists(self.state.down_file):
                os.remove(self.state.down_file)
        payload = self.state.down_payload()
        if payload and payload.get("secret"):
            payload = dict(payload, secret="********")
        return self.send(200, {"enabled": payload is not None, "payload": payload,
                               "app_path": self.state.args.base_path, "down_file": self.state.down_file})

    def migration_plan(self, method):
        """Stands in for the observability API's readiness of a migration phase (?phase=...).

        A phase is "ready" until a POST {"phase": ..., "status": ..., "reason": ...} says otherwise.
        """
        if not self.bearer(self.state.args.ops_token):
            return self.send(401, {"message": "Unauthenticated."})
        if method == "POST":
            wanted = self.body() or {}
            phase = wanted["phase"]
            self.state.plans[phase] = {"status": str(wanted["status"]), "reason": wanted.get("reason")}
        else:
            phase = (parse_qs(urlsplit(self.path).query).get("phase") or [""])[0]
            if not phase:
                return self.send(400, {"message": "phase is required"})
        plan = self.state.plans.get(phase, {"status": "ready", "reason": None})
        return self.send(200, dict(plan, phase=phase))

    def queue(self, method, name, action):
        if not self.bearer(self.state.args.ops_token):
            return self.send(401, {"message": "Unauthenticated."})
        if name not in self.state.paused:
            return self.send(404, {"message": "no queue %s" % name})
        if method == "POST" and action in ("pause", "continue"):
            self.state.paused[name] = action == "pause"
        elif method != "GET" or action is not None:
            return self.send(405, {"message": "GET the queue, or POST .../pause or .../continue"})
        return self.send(200, {"name": name, "paused": self.state.paused[name],
                               "processed": self.state.metrics.jobs[name]})

    def flag(self, method, key):
        """Shaped like LaunchDarkly's GET/PATCH /api/v2/flags/{project}/{flag} (JSON Patch on .../on)."""
        if not self.bearer(self.state.args.ops_token):
            return self.send(401, {"message": "Unauthenticated."})
        if key not in self.state.flags:
            return self.send(404, {"message": "no flag %s" % key})
        environments = self.state.flags[key]
        if method == "PATCH":
            for op in self.body() or []:
                env = op["path"].strip("/").split("/")
                if op.get("op") != "replace" or len(env) != 3 or env[0] != "environments" or env[2] != "on" \
                        or env[1] not in environments:
                    return self.send(400, {"message": "only replace /environments/<env>/on is supported"})
                environments[env[1]] = bool(op["value"])
        return self.send(200, {
            "key": key, "kind": "boolean",
            "environments": {env: {"on": on, "_environmentName": env.title()} for env, on in environments.items()},
        })


def main():
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=env("ACADEMY_APP_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("ACADEMY_APP_PORT", "58080")))
    parser.add_argument("--base-path", default=env("ACADEMY_APP_BASE"), required=not env("ACADEMY_APP_BASE"),
                        help="the app's base path; the maintenance file is storage/framework/down under it")
    parser.add_argument("--db-host", default=env("ACADEMY_DB_HOST", "127.0.0.1"))
    parser.add_argument("--db-port", type=int, default=int(env("ACADEMY_DB_PORT", "53306")))
    parser.add_argument("--db-user", default=env("ACADEMY_DB_USER", "dbops"))
    parser.add_argument("--db-name", default=env("ACADEMY_DB_NAME", "academy"))
    args = parser.parse_args()
    # Secrets come from the environment only, never the command line (ps shows it).
    args.db_password = env("ACADEMY_DB_PASSWORD", "")
    args.api_token = env("ACADEMY_API_TOKEN", "academy-local-api-token")
    args.ops_token = env("ACADEMY_OPS_TOKEN", "academy-local-ops-token")
    args.base_path = os.path.abspath(args.base_path)
    os.makedirs(os.path.join(args.base_path, "storage", "framework"), exist_ok=True)

    state = AppState(args)
    Handler.state = state
    threading.Thread(target=worker, args=(state,), daemon=True).start()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    sys.stderr.write("academy demo API on http://%s:%d, base path %s, database %s\n"
                     % (args.host, args.port, args.base_path, args.db_name))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
