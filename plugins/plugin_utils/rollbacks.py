# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure logic behind the runbooks' filter plugins: the rollback summaries of
the steps whose rollback is more than down-migrations (seed-foundation-data, post-migration-verification).

Inputs are registered task results as Ansible hands them to a filter (dicts); a task that did not run is
an empty dict or a dict with `skipped`.
"""

from __future__ import annotations


def ran(result):
    return bool(result) and not result.get("skipped")


def failed(result):
    """A registered result (or a loop's result) that failed."""
    if not result:
        return False
    return bool(result.get("failed")) or any(item.get("failed") for item in result.get("results", []) or [])


def succeeded(result):
    return ran(result) and not failed(result)


def _previous_states(result):
    return [item.get("previous_state", "unknown") for item in (result or {}).get("results", []) or []]


def seed_rollback_summary(r, failed_msg, truncate_file, seed_file, bucket, backup_prefix):
    """The rollback of step 6 (seed, icons, maintenance window) in words; `r` maps names to registered results:
    seed, truncate, reseed, icons_restore (the s3_sync loop from the backup copy), maintenance, maintenance_restore,
    queue, queue_restore."""
    truncate, reseed, seed = r.get("truncate") or {}, r.get("reseed") or {}, r.get("seed") or {}
    if failed(truncate) or failed(reseed):
        why = ("the rerun failed the same way" if reseed.get("msg", "") == failed_msg
               else reseed.get("msg") or truncate.get("msg", ""))
        parts = ["seed NOT restored: %s (empty or half-seeded tables: fix the seed, then run %s and %s)"
                 % (why, truncate_file, seed_file)]
    elif succeeded(reseed):
        parts = ["seeded tables truncated and re-seeded"]
    elif succeeded(seed):
        parts = ["seed kept (it ran and passed)"]
    else:
        parts = ["no seed to undo"]
    restore = r.get("icons_restore") or {}
    if failed(restore):
        why = restore.get("msg") or ", ".join(sorted({
            item.get("msg", "") for item in restore.get("results", []) if item.get("failed")}))
        parts.append("icons NOT restored from the backup copy: %s (restore them by hand)" % why)
    elif succeeded(restore):
        parts.append("icons restored from s3://%s/%s" % (bucket, backup_prefix))
    else:
        parts.append("no icons to restore")
    maintenance, queue = r.get("maintenance") or {}, r.get("queue") or {}
    if failed(r.get("maintenance_restore")) or failed(r.get("queue_restore")):
        parts.append("maintenance mode or the queue NOT put back: check storage/framework/down and Horizon by hand")
    elif ran(maintenance):
        before = "/".join(sorted(set(_previous_states(maintenance))))
        queue_before = "paused" if "enabled" in _previous_states(queue) else "running"
        parts.append("maintenance mode and the queue put back as before the step (maintenance %s, queue %s)"
                     % (before, queue_before))
    else:
        parts.append("maintenance mode and the queue were not touched")
    return "; ".join(parts)


def verification_rollback_summary(r, traffic_stopped, restore_point, database, queue):
    """The rollback of step 7 in words; `r` maps names to registered results: maintenance, queue (the re-stops),
    schema_rollback, restore_snapshot, restore_backup."""
    if not traffic_stopped:
        msgs = sorted({item.get("msg", "") for name in ("maintenance", "queue")
                       for item in (r.get(name) or {}).get("results", []) if item.get("failed")})
        text = ("rollback NOT run, the traffic could not be stopped: %s; stop it and roll back by hand"
                % ", ".join(msgs))
    else:
        schema, snapshot, backup = (r.get(k) or {} for k in ("schema_rollback", "restore_snapshot", "restore_backup"))
        broken = next((res for res in (schema, snapshot, backup) if failed(res)), None)
        if broken is not None:
            text = "rollback FAILED: %s; finish it by hand" % broken.get("msg", "")
        elif ran(snapshot):
            text = ("data integrity compromised: RDS snapshot %s restored to the new instance %s %s; point the application"
                    " at it" % (snapshot.get("snapshot_id", restore_point), snapshot.get("target_identifier", "?"),
                                snapshot.get("endpoint", "")))
        elif ran(backup):
            text = "data integrity compromised: restore point %s restored into %s" % (
                backup.get("backup_file", restore_point), database)
        else:
            versions = [m["version"] for m in schema.get("rolled_back", [])]
            text = "rolled back %d migration(s) newest first (%s)" % (len(versions), ", ".join(versions) or "none applied")
    return ("%s; maintenance mode stays on and %s stays paused until the fix; notify stakeholders in #ops-war-room"
            % (text, queue))
