#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a running StarForge demo app (started by runme.sh) against its real database."""

from __future__ import annotations

import http.client
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import psycopg

PORT = int(os.environ["STARFORGE_TEST_PORT"])
DB = os.environ["STARFORGE_TEST_DB"]
STATE_DIR = os.environ["STARFORGE_STATE_DIR"]
OPS = {"Authorization": "Bearer starforge-local-ops-token"}
GOOD = {"hero": {"name": "Aria", "level": 12, "power": 3400},
        "troops": [{"id": "archer", "count": 40, "level": 3}, {"id": "knight", "count": 12}]}


def call(path, method="GET", body=None, headers=None, port=PORT):
    """(status, parsed JSON or text) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data, method=method,
                                     headers=dict(headers or {}, **({"Content-Type": "application/json"} if data else {})))
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, text = answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def expect(what, condition, detail=""):
    if not condition:
        sys.exit("FAILED: %s %s" % (what, detail))
    print("ok: %s" % what)


def wait(what, check, seconds=10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            print("ok: %s" % what)
            return result
        time.sleep(0.1)
    return expect(what, False, "(not within %.0f s)" % seconds)


def sql(query, params=None):
    with psycopg.connect(host="127.0.0.1", port=55432, user="dbops", password=os.environ["PGPASSWORD"], dbname=DB,
                         autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


def metric(name, labels=""):
    text = call("/metrics")[1]
    match = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def scraped():
    """True when the stack's Prometheus has the stack's own StarForge app (job starforge) up."""
    url = "http://127.0.0.1:59090/api/v1/query?query=" + urllib.parse.quote('up{job="starforge"}')
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            result = json.load(answer)["data"]["result"]
    except OSError:
        return False
    return bool(result) and result[0]["value"][1] == "1"


def connections(application):
    return sql("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
               (DB, application))[0][0]


def main():
    wait("the app answers /metrics", lambda: _answers("/metrics"))
    status, health = call("/health")
    expect("/health is 200, healthy, database connected", status == 200 and health.get("status") == "healthy"
           and health.get("database") == "connected" and "latency" in health, (status, health))
    wait("the instance without a database answers", lambda: _answers("/metrics", PORT + 1))
    status, health = call("/health", port=PORT + 1)
    expect("/health is 503, database disconnected, when the database does not answer",
           status == 503 and health.get("database") == "disconnected", (status, health))
    expect("ops endpoints need the ops token", call("/ops/deployments/api/replicas")[0] == 401)

    # Maintenance, as `kubectl set env deployment/api MAINTENANCE_MODE=true` would set it.
    status, env = call("/ops/deployments/api/env", "PUT", {"MAINTENANCE_MODE": "true"}, OPS)
    expect("set env MAINTENANCE_MODE=true", status == 200 and env["maintenance"] is True, env)
    status, health = call("/health")
    expect("/health is 503 maintenance", status == 503 and health["status"] == "maintenance", (status, health))
    wait("maintenance drains the API's connections", lambda: connections("starforge-api") == 0)
    call("/ops/deployments/api/env", "PUT", {"MAINTENANCE_MODE": "false"}, OPS)
    expect("/health is 200 again", call("/health")[0] == 200)
    # The same switch through the env file (maintenance_mode's file backend: present means on).
    with open(os.path.join(STATE_DIR, "api.env"), "w", encoding="utf-8") as handle:
        handle.write("MAINTENANCE_MODE=true\n")
    expect("the env file turns maintenance on", call("/health")[0] == 503)
    os.remove(os.path.join(STATE_DIR, "api.env"))
    expect("removing the env file turns it off", call("/health")[0] == 200)

    # Replicas, as `kubectl scale deployment/api --replicas=0` would set them.
    status, body = call("/ops/deployments/api/replicas", "PUT", {"replicas": 0}, OPS)
    expect("scale api to 0", status == 200 and body["replicas"] == 0, body)
    status, health = call("/health")
    expect("/health is 503 scaled to zero", status == 503 and "scaled to zero" in health["message"], (status, health))
    call("/ops/deployments/api/replicas", "PUT", {"replicas": 2}, OPS)
    expect("scale api back to 2", call("/ops/deployments/api/replicas", headers=OPS)[1]["replicas"] == 2
           and call("/health")[0] == 200)

    # The ETL: a good snapshot becomes summary and troop rows, a malformed one an etl_errors row.
    status, snap = call("/api/v1/snapshots", "POST", {"username": "aria", "raw": GOOD})
    expect("POST a snapshot", status == 201, (status, snap))
    wait("the worker processes it", lambda: sql("SELECT processed_at FROM hero_snapshots WHERE id = %s",
                                                (snap["snapshot_id"],))[0][0])
    expect("user_profile_summary upserted", sql("SELECT hero_name, level, power, troop_count FROM user_profile_summary")
           == [("Aria", 12, 3400, 52)])
    expect("user_troops upserted", sql("SELECT troop_id, count, level FROM user_troops ORDER BY 1")
           == [("archer", 40, 3), ("knight", 12, 1)])
    expect("processed counter", metric("starforge_etl_snapshots_processed_total") == 1)
    status, bad = call("/api/v1/snapshots", "POST", {"username": "aria", "raw": {"hero": {"name": "Aria"}}})
    wait("the malformed snapshot lands in etl_errors",
         lambda: sql("SELECT error_type FROM etl_errors WHERE snapshot_id = %s", (bad["snapshot_id"],)))
    row = sql("SELECT processed_at, error_count, last_error FROM hero_snapshots WHERE id = %s", (bad["snapshot_id"],))[0]
    expect("it keeps error_count 1 and its last_error", row[0] is None and row[1] == 1 and "raw.hero.level" in row[2], row)
    expect("failed counter", metric("starforge_etl_snapshots_failed_total") == 1)
    expect("the summary is untouched", sql("SELECT level FROM user_profile_summary") == [(12,)])

    # The worker at 0 replicas processes nothing and holds no connection; back at 1 it catches up.
    call("/ops/deployments/etl-worker/replicas", "PUT", {"replicas": 0}, OPS)
    wait("the worker's connection is gone", lambda: connections("starforge-etl-worker") == 0)
    status, paused = call("/api/v1/snapshots", "POST", {"username": "bran", "raw": GOOD})
    time.sleep(0.6)
    expect("a worker at 0 replicas processes nothing",
           sql("SELECT processed_at FROM hero_snapshots WHERE id = %s", (paused["snapshot_id"],))[0][0] is None)
    call("/ops/deployments/etl-worker/replicas", "PUT", {"replicas": 1}, OPS)
    wait("back at 1 replica it processes the snapshot",
         lambda: sql("SELECT processed_at FROM hero_snapshots WHERE id = %s", (paused["snapshot_id"],))[0][0])

    # The fault switch: every API request fails, and /metrics shows it.
    before = metric("starforge_http_requests_total", '{code="500"}')
    call("/ops/faults", "PUT", {"error_rate": 1.0, "latency_ms": 50}, OPS)
    codes = [call("/api/v1/heroes")[0] for _attempt in range(10)]
    expect("the switch fails API requests", codes == [500] * 10, codes)
    expect("/metrics counts the failures", metric("starforge_http_requests_total", '{code="500"}') - before == 10)
    expect("and their latency", metric("starforge_http_request_duration_seconds_bucket", '{code="500",le="0.025"}') == 0
           and metric("starforge_http_request_duration_seconds_count", '{code="500"}') >= 10)
    call("/ops/faults", "PUT", {"error_rate": 0, "latency_ms": 0}, OPS)
    expect("switched off, requests succeed", call("/api/v1/heroes")[0] == 200)

    # Bounded synthetic traffic stops by itself.
    before = metric("starforge_http_requests_total", '{code="200"}')
    status, traffic = call("/ops/traffic", "POST", {"seconds": 1.5, "rps": 20}, OPS)
    expect("traffic starts", status == 200 and traffic["running"], traffic)
    wait("traffic stops by itself", lambda: not call("/ops/traffic", headers=OPS)[1]["running"], 5)
    sent = call("/ops/traffic", headers=OPS)[1]["sent"]
    expect("traffic was sent and counted", sent >= 10 and metric("starforge_http_requests_total", '{code="200"}')
           - before >= sent * 0.9, (sent, before))
    expect("the pool gauge is there", "starforge_db_pool_in_use 0" in call("/metrics")[1])
    wait("the stack's Prometheus scrapes the stack's StarForge app", scraped)


def _answers(path, port=PORT):
    try:
        return call(path, port=port)[0] == 200
    except (OSError, http.client.HTTPException):
        # Before the app listens, a connect to a port in the ephemeral range can meet itself (TCP
        # self-connect) and read its own request back: not an answer yet.
        return False


if __name__ == "__main__":
    main()
