# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decisions of the production_migration runbook (seeds 001-004): which rollback scenario a failure takes,
the deployments' state before the run, the integrity checks a backup's manifest gives, the rollback's words
and the run's duration and downtime.

Inputs are plain data (registered results, facts); the filters in plugins/filter/runbook.py expose them.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from ansible_collections.dbops.runbooks.plugins.plugin_utils.rollbacks import failed, ran

# Seed 001's scenarios, and which parts of the rollback each runs.
SCENARIOS = {
    "S1": dict(title="a migration failed", stop="traffic", down=True, restore=False, restart=False),
    "S2": dict(title="problems after the migration", stop="traffic", down=True, restore=False, restart=True),
    "S3": dict(title="data corruption or an unsafe down", stop="all", down=False, restore=True, restart=True),
}
# The steps after which the database holds this run's migrations.
AFTER_MIGRATE = ("verify", "resume", "monitor", "complete")


def rollback_scenario(failed_step, applied=(), irreversible=(), integrity_failed=False, restore_point=None):
    """The rollback a failure at `failed_step` takes, as {scenario, why, stop, down, restore, restart, applied}.

    applied: versions (or stems) this run applied, oldest first; irreversible: stems or versions without a usable
    down (no down section, or `rollback_available: false`); integrity_failed: step 6's data-integrity checks failed.
    S3 (restore the step-2 backup) needs a restore point; without one the rollback says so and takes none.
    """
    applied = [str(v) for v in applied or []]
    unsafe = [v for v in applied if any(v == str(i) or str(i).startswith(v + "_") for i in irreversible or [])]
    if integrity_failed:
        scenario, why = "S3", "the data-integrity checks failed"
    elif unsafe:
        scenario, why = "S3", "%s cannot be undone by a down migration" % ", ".join(unsafe)
    elif failed_step == "migrate":
        scenario, why = "S1", "a migration failed"
    elif failed_step in AFTER_MIGRATE:
        scenario, why = "S2", "step %s failed after the migration" % failed_step
    else:
        return dict(scenario="none", why="step %s changes no schema" % failed_step, stop=None, down=False,
                    restore=False, restart=False, applied=applied)
    plan = dict(SCENARIOS[scenario], scenario=scenario, why=why, applied=applied)
    if scenario == "S3" and not restore_point:
        plan.update(restore=False, down=not unsafe, why=why + "; no restore point was taken in this run")
    # A failed migration leaves a failed history row of this run's batch to clear, even when nothing was applied.
    if plan["down"] and not applied and failed_step != "migrate":
        plan["down"] = False
    return plan


def deployments_before(before, results):
    """The deployments' state before the run: `before` (the fact so far) plus what the maintenance_mode loop
    `results` found, also by a toggle that then failed, for deployments not recorded yet (a rollback's re-stop
    never overwrites the first reading).

    Each loop item's `deployment` (its loop_var) names it; it gets `maintenance` (previous_state) or `replicas`.
    """
    state = {name: dict(value) for name, value in (before or {}).items()}
    for item in (results or {}).get("results", []) or []:
        # A toggle that failed still reports what it found first; without a reading the deployment is left out.
        if not ran(item) or "deployment" not in item or (item.get("previous_replicas") is None and not item.get("previous_state")):
            continue
        entry = state.setdefault(item["deployment"], {})
        key = "replicas" if item.get("previous_replicas") is not None else "maintenance"
        entry.setdefault(key, item["previous_replicas"] if key == "replicas" else item.get("previous_state"))
    return state


def hosts_having(hosts, key, present=True):
    """The inventory names of `hosts` (hostvars dicts) that have (or, `present=False`, lack) the variable `key`,
    which may be dotted (`deployment_restart.url`)."""
    def has(host):
        value = host
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return False
            value = value[part]
        return True
    return [host["inventory_hostname"] for host in hosts or [] if has(host) == bool(present)]


REPLICAS = "{replicas}"


def scale_backend(backend, replicas):
    """A deployment's maintenance_mode scaling backend (inventory `deployment_scale`) with the replica count
    to scale back to filled in: every `{replicas}` in its strings (a command), a value that is only the
    placeholder becoming the number (a JSON body)."""
    if isinstance(backend, dict):
        return {key: scale_backend(value, replicas) for key, value in backend.items()}
    if isinstance(backend, list):
        return [scale_backend(value, replicas) for value in backend]
    if isinstance(backend, str) and REPLICAS in backend:
        return int(replicas) if backend.strip() == REPLICAS else backend.replace(REPLICAS, str(int(replicas)))
    return backend


def row_count_checks(tables, exact=True, skip_prefix="dbops_"):
    """db_check row_count checks from a db_backup manifest (`tables`: table as `schema.table` or `table`, rows):
    equal while traffic is stopped (`exact`), at least as many rows while it flows. The runbook's own tables
    (history, audit, checkpoints: `skip_prefix`) change during a run and are left out."""
    checks = []
    for entry in tables or []:
        parts = str(entry["table"]).rsplit(".", 1)
        schema, table = parts if len(parts) == 2 else ("", parts[0])
        if table.startswith(skip_prefix):
            continue
        args = {"table": table, "equal" if exact else "min": int(entry["rows"])}
        if schema:
            args["schema"] = schema
        checks.append({"name": "rows of %s as in the backup" % entry["table"], "row_count": args})
    return checks


def rollback_words(plan, results):
    """What the rollback did, for the step's failure message; `results` maps part names (stop, down, restore,
    status, resume, health) to registered results."""
    if plan.get("scenario") == "none":
        return "nothing to roll back (%s)" % plan["why"]
    parts = ["%s (%s): %s" % (plan["scenario"], SCENARIOS[plan["scenario"]]["title"], plan["why"])]
    down, restore = results.get("down") or {}, results.get("restore") or {}
    if ran(restore) and restore.get("matches") is False:
        restore = dict(restore, failed=True, msg="the restored tables differ from the backup's manifest")
        results = dict(results, restore=restore)
    if failed(results.get("stop")):
        parts.append("rollback NOT run: %s, so the database is as the failure left it; stop the traffic and roll back"
                     " by hand" % results["stop"].get("msg", "the traffic could not be stopped"))
    broken = [name for name in ("down", "restore", "status", "resume", "health") if failed(results.get(name))]
    if ran(down) and not failed(down):
        versions = [entry["version"] for entry in down.get("rolled_back", [])]
        parts.append("rolled back by down migrations of %s, newest first" % (", ".join(versions) or "nothing"))
    if ran(restore) and not failed(restore):
        parts.append("restored %s into %s, row counts and checksums as in the backup"
                     % (restore.get("backup_file", "the backup"), restore.get("database", "the database")))
    if broken:
        parts.append("rollback FAILED at %s: %s; finish it by hand" % (
            ", ".join(broken), "; ".join(str(results[name].get("msg", "")) for name in broken)))
    elif ran(results.get("resume")):
        parts.append("traffic and workers back as before the run")
    return "; ".join(parts)


def _epoch(text):
    return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def release_timing(records, stop_key="stop-traffic", resume_key="resume"):
    """{duration_s, downtime_s} of a run from its step records: the whole run, and from the start of the step
    that stopped traffic to the end of the one that resumed it (0 when traffic was never stopped)."""
    timed = [r for r in records or [] if r.get("started_at") and r.get("ended_at")]
    if not timed:
        return dict(duration_s=0.0, downtime_s=0.0)
    duration = max(_epoch(r["ended_at"]) for r in timed) - min(_epoch(r["started_at"]) for r in timed)
    by_key = {r["key"]: r for r in timed}
    stop, resume = by_key.get(stop_key), by_key.get(resume_key)
    downtime = _epoch(resume["ended_at"]) - _epoch(stop["started_at"]) if stop and resume else 0.0
    return dict(duration_s=round(duration, 1), downtime_s=round(max(downtime, 0.0), 1))
