# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure downtime instead of assuming it: poll a health URL and report the 503 windows.

Polls --url every --interval seconds until SIGTERM/SIGINT, --duration seconds, or --stop-file
appears. A 503 window runs from the first 503 seen to the first answer that is not a 503 (or the
last poll), so its resolution is the poll interval. Anything that is neither 200 nor 503
(other statuses, timeouts, refused connections) is counted as an error. Standard library only.

    downtime_poller.py --url http://127.0.0.1:58080/health --stop-file /tmp/stop --json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isoformat(timespec="milliseconds")


def poll_once(url, timeout):
    """(status or None, error text or None, Retry-After header)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # nosec - an operator-given health URL
            return response.status, None, response.headers.get("Retry-After")
    except urllib.error.HTTPError as e:
        return e.code, None, e.headers.get("Retry-After") if e.headers else None
    except (urllib.error.URLError, OSError) as e:
        return None, str(getattr(e, "reason", e)), None


def summarize(url, interval, samples, started, ended):
    """The report: polls by status, the 503 windows, the errors."""
    by_status = {}
    windows = []
    errors = []
    current = None
    for at, status, error, retry_after in samples:
        key = str(status) if status is not None else "error"
        by_status[key] = by_status.get(key, 0) + 1
        if status == 503:
            if current is None:
                current = dict(start=at, end=at, responses=0, retry_after=retry_after)
            current["end"] = at
            current["responses"] += 1
            continue
        if current is not None:
            current["end"] = at  # the first answer after the window closes it
            windows.append(current)
            current = None
        if status != 200:
            errors.append(dict(at=iso(at), status=status, error=error))
    if current is not None:
        windows.append(current)
    return dict(
        url=url,
        interval_s=interval,
        started_at=iso(started),
        ended_at=iso(ended),
        polls=len(samples),
        by_status=by_status,
        windows=[dict(start=iso(w["start"]), end=iso(w["end"]), duration_s=round(w["end"] - w["start"], 3),
                      responses=w["responses"], retry_after=w["retry_after"]) for w in windows],
        downtime_s=round(sum(w["end"] - w["start"] for w in windows), 3),
        first_503=iso(windows[0]["start"]) if windows else None,
        last_503=iso(windows[-1]["end"]) if windows else None,
        errors=len(errors),
        error_samples=errors[:5],
    )


def render(report):
    lines = ["downtime: GET %s, %d polls every %s s from %s to %s" % (
        report["url"], report["polls"], report["interval_s"], report["started_at"], report["ended_at"])]
    for n, window in enumerate(report["windows"], 1):
        lines.append("downtime: 503 window %d: %s -> %s, %.3f s, %d responses%s" % (
            n, window["start"], window["end"], window["duration_s"], window["responses"],
            ", Retry-After %s" % window["retry_after"] if window["retry_after"] else ""))
    if not report["windows"]:
        lines.append("downtime: no 503 seen")
    lines.append("downtime: total %.3f s of 503; %d error(s) (neither 200 nor 503)%s" % (
        report["downtime_s"], report["errors"],
        ": " + "; ".join("%s %s" % (e["at"], e["status"] or e["error"]) for e in report["error_samples"])
        if report["errors"] else ""))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between polls (default 0.05)")
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for one answer (default 2)")
    parser.add_argument("--duration", type=float, default=3600.0, help="stop after this many seconds (default 3600)")
    parser.add_argument("--stop-file", help="stop when this file exists")
    parser.add_argument("--ready-file", help="create this file after the first poll")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    stopping = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.append(True))

    samples = []
    started = time.time()
    deadline = started + args.duration
    while not stopping and time.time() < deadline:
        if args.stop_file and os.path.exists(args.stop_file):
            break
        at = time.time()
        status, error, retry_after = poll_once(args.url, args.timeout)
        samples.append((at, status, error, retry_after))
        if args.ready_file and len(samples) == 1:
            with open(args.ready_file, "w", encoding="utf-8"):
                pass
        time.sleep(max(0.0, args.interval - (time.time() - at)))

    report = summarize(args.url, args.interval, samples, started, time.time())
    print(json.dumps(report) if args.json else render(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
