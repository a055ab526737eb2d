# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.plugin_utils import rollbacks

SKIPPED = {"skipped": True}


def test_seed_rollback_summary_reseeded_and_window_put_back():
    results = dict(seed={"failed": True, "msg": "no column"}, truncate={"changed": True}, reseed={"changed": True},
                   icons_restore=SKIPPED,
                   maintenance={"results": [{"previous_state": "disabled"}]}, maintenance_restore={"results": []},
                   queue={"results": [{"previous_state": "disabled"}]}, queue_restore={"results": []})
    text = rollbacks.seed_rollback_summary(results, "no column", "t.sql", "s.sql", "bucket", "icons@backup/")
    assert text == ("seeded tables truncated and re-seeded; no icons to restore; maintenance mode and the queue put back"
                    " as before the step (maintenance disabled, queue running)")


def test_seed_rollback_summary_says_what_was_not_restored():
    results = dict(seed={"failed": True, "msg": "no column"}, truncate={"changed": True},
                   reseed={"failed": True, "msg": "no column"},
                   icons_restore={"results": [{"failed": True, "msg": "403"}]},
                   maintenance=SKIPPED, maintenance_restore={"results": [{"failed": True}]}, queue=SKIPPED)
    text = rollbacks.seed_rollback_summary(results, "no column", "t.sql", "s.sql", "bucket", "icons@backup/")
    assert text.startswith("seed NOT restored: the rerun failed the same way (empty or half-seeded tables: fix the seed,"
                           " then run t.sql and s.sql)")
    assert "icons NOT restored from the backup copy: 403 (restore them by hand)" in text
    assert text.endswith("maintenance mode or the queue NOT put back: check storage/framework/down and Horizon by hand")


def test_seed_rollback_summary_icons_restored():
    results = dict(seed=SKIPPED, truncate=SKIPPED, reseed=SKIPPED,
                   icons_restore={"changed": True, "results": [{"changed": True, "downloaded": []}]},
                   maintenance=SKIPPED, maintenance_restore={"results": []}, queue=SKIPPED, queue_restore={"results": []})
    text = rollbacks.seed_rollback_summary(results, "boom", "t.sql", "s.sql", "bucket", "icons@backup/")
    assert text == ("no seed to undo; icons restored from s3://bucket/icons@backup/; "
                    "maintenance mode and the queue were not touched")


def test_verification_rollback_summary_paths():
    stopped = dict(maintenance={"results": []}, queue={"results": []})
    down = dict(stopped, schema_rollback={"rolled_back": [{"version": "2"}, {"version": "1"}]},
                restore_snapshot=SKIPPED, restore_backup=SKIPPED)
    text = rollbacks.verification_rollback_summary(down, True, "pre", "academy", "q")
    assert text.startswith("rolled back 2 migration(s) newest first (2, 1); maintenance mode stays on and q stays paused")
    restored = dict(stopped, schema_rollback=SKIPPED, restore_snapshot=SKIPPED, restore_backup={"backup_file": "/b/pre.sql.gz"})
    assert rollbacks.verification_rollback_summary(restored, True, "pre", "academy", "q").startswith(
        "data integrity compromised: restore point /b/pre.sql.gz restored into academy")
    broken = dict(stopped, schema_rollback={"failed": True, "msg": "down failed"}, restore_snapshot=SKIPPED, restore_backup=SKIPPED)
    assert rollbacks.verification_rollback_summary(broken, True, "pre", "academy", "q").startswith(
        "rollback FAILED: down failed; finish it by hand")
    not_stopped = dict(maintenance={"results": [{"failed": True, "msg": "refused"}]}, queue={"results": []})
    assert rollbacks.verification_rollback_summary(not_stopped, False, "pre", "academy", "q").startswith(
        "rollback NOT run, the traffic could not be stopped: refused; stop it and roll back by hand")
