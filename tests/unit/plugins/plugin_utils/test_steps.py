# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.dbops.runbooks.plugins.plugin_utils import steps

RUNBOOK = {"key": "rb", "steps": {"two": {"number": 2, "title": "Two", "window_minutes": 10, "expected_minutes": 5,
                                          "migrations": [{"version": "2024_01", "name": "a"}, {"version": "2024_02", "name": "b"}]}}}


def test_step_definition_names_the_missing_step_and_field():
    assert steps.step_definition(RUNBOOK, "two")["number"] == 2
    with pytest.raises(steps.StepError, match="runbook rb has no step 'three' \\(its steps: two\\)"):
        steps.step_definition(RUNBOOK, "three")
    with pytest.raises(steps.StepError, match="runbook step bad: missing number"):
        steps.step_definition({"steps": {"bad": {"title": "x"}}}, "bad")


def test_split_plan_tells_the_steps_migrations_from_earlier_ones():
    pending = [{"version": "2023_09"}, {"version": "2024_01"}]
    mine, earlier = steps.split_plan(pending, steps.step_versions(RUNBOOK["steps"]["two"]))
    assert [p["version"] for p in mine] == ["2024_01"]
    assert [p["version"] for p in earlier] == ["2023_09"]


@pytest.mark.parametrize("versions, before", [
    (["2024_12_24_000000", "2024_12_24_000100"], "2024_12_24"),
    (["2024_12_24_000100"], "2024_12_24_000099"),
    (["20240101120000"], "20240101119999"),
])
def test_first_version_before(versions, before):
    assert steps.first_version_before(versions) == before


def test_smoke_verdict_says_what_the_api_answered():
    test = {"line": "7.6", "name": "communities", "path": "/c", "min_items": 1}
    assert steps.smoke_verdict(test, 200, {"data": [1, 2]}, "http://x/c") == (True, "7.6 communities: 2 item(s)")
    ok, msg = steps.smoke_verdict(test, 200, {"data": []}, "http://x/c")
    assert not ok and msg.endswith("answered 200 with 0 item(s); expected 200 and at least 1 item(s)")
    ok, msg = steps.smoke_verdict(test, None, None, "http://x/c", "Request failed: refused")
    assert not ok and "answered nothing without a data list" in msg and "(Request failed: refused)" in msg


def test_time_box_warns_past_the_expected_runtime_and_fails_past_the_window():
    step = RUNBOOK["steps"]["two"]
    assert steps.time_box(step, 10) == ({"elapsed_s": 10, "window_s": 600.0, "expected_s": 300.0}, None, None)
    timing, warning, failure = steps.time_box(step, 400)
    assert warning.startswith("WARNING: took 400.0s, over its expected runtime") and failure is None
    assert steps.time_box(step, 1, window_override=0)[2] == "took 1.0s, over its window of 0.0s"


def test_rollback_summary_words():
    assert steps.rollback_summary([]) == steps.NOTHING_TO_ROLL_BACK
    assert steps.rollback_summary([{"version": "2"}]) == "rolled back by down-migration of 2"
    assert steps.rollback_summary([{"version": "2", "method": "down"}, {"version": "1", "method": "down"}]) == \
        "rolled back by down-migrations of 2, 1"
    partial = {"version": "2", "method": "down", "msg": "2_a had applied statements 1..3 of 4 before failing; ran its down file"}
    assert steps.rollback_summary([partial]) == (
        "rolled back by down-migration of 2 (2_a had applied statements 1..3 of 4 before failing; ran its down file)")
    nothing = {"version": "2", "method": "history_only", "msg": "2_a applied nothing: cleared its failed history row"}
    assert steps.rollback_summary([nothing]) == "2_a applied nothing: cleared its failed history row"
    assert steps.rollback_summary([], down_error="boom").startswith("rollback FAILED: the down-migration failed (boom)")
    text = steps.rollback_summary([], "boom", ("drop fallback", "t1, t2"), {"task": "Apply", "cause": "no table"})
    assert text == ("rolled back by drop fallback (t1, t2) after the down-migration failed too;"
                    " the step first failed at 'Apply': no table")


def test_failure_message_ends_with_what_the_run_left_held():
    failure = {"task": "Apply", "cause": "boom", "rollback": "rolled back by down-migration of 2"}
    assert steps.failure_message("two", failure) == "two failed at 'Apply': boom; rolled back by down-migration of 2"
    assert steps.failure_message("two", failure, ["queue q paused"]).endswith(". Left: queue q paused")


def test_step_record_status():
    step = RUNBOOK["steps"]["two"]
    gates = [{"step": "two", "line": "2.2"}, {"step": "one", "line": "1.3"}]
    ok = steps.step_record("two", step, "t0", 100.0, 103.0, None, {}, {}, gates)
    assert ok["status"] == "ok" and ok["duration_s"] == 3.0 and ok["window_s"] == 600 and ok["gates"] == gates[:1]
    assert steps.step_record("two", step, "t0", 100.0, 103.0, 0, {"task": "x"}, {}, [])["status"] == "rolled_back"
    assert steps.step_record("two", step, "t0", 100.0, 103.0, None, {}, {"task": "x"}, [])["status"] == "failed"
