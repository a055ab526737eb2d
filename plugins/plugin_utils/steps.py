# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbook step engine's pure logic: what a step's migrations plan means, the smoke tests' verdicts,
the time box, the rollback summary, the failure message and the step record.

The action plugin `dbops.runbooks.runbook_step` feeds these functions plain data (module results, task
variables, clock readings) and does the I/O; everything here is unit-tested without a database.
"""

from __future__ import annotations

import datetime

NOTHING_TO_ROLL_BACK = "nothing to roll back: this run did not change the database"


class StepError(Exception):
    """A step cannot run as configured (bad runbook data); the message names the step and the key."""


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def step_definition(runbook, key):
    """runbook.steps[key], checked for what the engine reads."""
    steps = (runbook or {}).get("steps") or {}
    if key not in steps:
        raise StepError("runbook %s has no step %r (its steps: %s)"
                        % ((runbook or {}).get("key", "?"), key, ", ".join(steps) or "none"))
    step = steps[key]
    for field in ("number", "title", "window_minutes", "expected_minutes"):
        if field not in step:
            raise StepError("runbook step %s: missing %s" % (key, field))
    return step


def step_versions(step):
    """The versions of a step's migrations, in runbook order."""
    return [str(m["version"]) for m in step.get("migrations") or []]


def split_plan(pending, versions):
    """(the step's pending migrations, pending migrations of earlier steps) from a plan up to the step."""
    wanted = set(versions)
    mine = [p for p in pending if str(p.get("version")) in wanted]
    earlier = [p for p in pending if str(p.get("version")) not in wanted]
    return mine, earlier


def first_version_before(versions):
    """The version just before the oldest of `versions`, digit group by digit group (2024_12_24_000000 -> 2024_12_24).

    A rollback to this target takes back every migration from the oldest one on.
    """
    first = min(versions)
    parts = first.split("_")
    last = parts[-1]
    if len(parts) > 1 and last.isdigit() and int(last) == 0:
        return "_".join(parts[:-1])
    if last.isdigit():
        return "_".join(parts[:-1] + ["%0*d" % (len(last), int(last) - 1)])
    raise StepError("cannot compute the version before %s" % first)


def smoke_verdict(test, status, payload, url, error=""):
    """(ok, message) of one smoke test: `status` and the JSON `payload` the API answered."""
    expected_status = int(test.get("status", 200))
    minimum = int(test.get("min_items", 1))
    data = payload.get("data") if isinstance(payload, dict) else None
    has_list = isinstance(data, list)
    ok = status == expected_status and has_list and len(data) >= minimum
    label = "%s %s" % (test.get("line", ""), test.get("name", test.get("path", "")))
    if ok:
        return True, "%s: %d item(s)" % (label.strip(), len(data))
    got = ("with %d item(s)" % len(data)) if has_list else "without a data list"
    return False, ("%s: GET %s answered %s %s; expected %d and at least %d item(s)%s"
                   % (label.strip(), url, status if status is not None else "nothing", got, expected_status, minimum,
                      " (%s)" % error if error else ""))


def time_box(step, elapsed_s, window_override=None):
    """(timing dict, warning or None, failure or None) for a step that has run `elapsed_s` seconds."""
    window_s = float(window_override if window_override is not None else step["window_minutes"] * 60)
    expected_s = float(step["expected_minutes"] * 60)
    timing = dict(elapsed_s=round(elapsed_s, 1), window_s=window_s, expected_s=expected_s)
    warning = failure = None
    if elapsed_s > expected_s:
        warning = ("WARNING: took %.1fs, over its expected runtime of %ss (window %ss)"
                   % (elapsed_s, expected_s, window_s))
    if elapsed_s > window_s:
        failure = "took %.1fs, over its window of %ss" % (elapsed_s, window_s)
    return timing, warning, failure


def rollback_summary(rolled_back, down_error=None, fallback=None, first_failure=None):
    """The words of a step's rollback.

    rolled_back: migrate_apply's `rolled_back` entries, newest first (`version`, and `method` and `msg`: a failed
    migration that applied nothing only had its history row cleared); down_error: why a down-migration failed;
    fallback: (name, what it did) when the step's fallback ran after that; first_failure: the step's own failure
    {task, cause}, repeated when a fallback ran (the rollback's error replaced it).
    """
    if fallback:
        name, did = fallback
        text = "rolled back by %s%s after the down-migration failed too" % (name, " (%s)" % did if did else "")
        if first_failure:
            text += "; the step first failed at '%s': %s" % (first_failure.get("task", ""), first_failure.get("cause", ""))
        return text
    if down_error:
        return "rollback FAILED: the down-migration failed (%s); finish it by hand" % down_error
    downs = [entry for entry in rolled_back if entry.get("method", "down") == "down"]
    cleared = [entry for entry in rolled_back if entry.get("method") == "history_only"]
    parts = []
    if downs:
        notes = [entry["msg"] for entry in downs if entry.get("msg") and "had applied" in entry["msg"]]
        parts.append("rolled back by down-migration%s of %s%s" % (
            "s" if len(downs) > 1 else "", ", ".join(entry["version"] for entry in downs),
            " (%s)" % "; ".join(notes) if notes else ""))
    parts += [entry.get("msg") or "%s applied nothing: cleared its failed history row" % entry["version"]
              for entry in cleared]
    return "; ".join(parts) or NOTHING_TO_ROLL_BACK


def failure_message(step_key, failure, held_lines=()):
    """The final error of a failed step: where, why, how it was rolled back, and what the run left held."""
    text = "%s failed at '%s': %s; %s" % (step_key, failure.get("task", ""), failure.get("cause", "unknown"),
                                          failure.get("rollback", ""))
    if held_lines:
        text += ". Left: " + "; ".join(held_lines)
    return text


def step_record(key, step, started_at, started_epoch, now_epoch, window_override, failure, unhandled, gates):
    """The entry of runbook_step_results the run report reads: timing, status and failure of one step."""
    if failure:
        status = "rolled_back"
    elif unhandled:
        status = "failed"
    else:
        status = "ok"
    return dict(
        key=key, number=step["number"], title=step["title"], owners=step.get("owners", []),
        window_minutes=step["window_minutes"], started_at=started_at, ended_at=utc_now().isoformat(),
        duration_s=round(now_epoch - float(started_epoch), 1),
        window_s=float(window_override) if window_override is not None else step["window_minutes"] * 60,
        expected_s=step["expected_minutes"] * 60, status=status,
        failure=failure or unhandled or {},
        gates=[g for g in gates or [] if g.get("step") == key],
    )
