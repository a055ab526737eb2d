# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.dbops.runbooks.plugins.filter.runbook import FilterModule
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import DiskSource, load_migrations
from ansible_collections.dbops.runbooks.plugins.plugin_utils.migration_review import (
    duration_seconds, estimate_verdict, review)

STARFORGE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples", "starforge")


def entry(version, name, down=True):
    return dict(version=version, name=name, file="migrations/%s_%s.sql" % (version, name), statements=1,
                transaction=True, down=down)


def fields(stem, **changes):
    base = dict(version=stem, description="d", author="author@x", reviewed_by=["a@x", "b@x"], risk_level="low",
                estimated_duration="30 seconds", requires_downtime=False, rollback_available=True, testing=[],
                dependencies=[], notes="")
    return dict(base, **changes)


PLAN = {"pending": [entry("0001", "users"), entry("0002", "troops")]}


def metadata(**changes_by_stem):
    return {stem: fields(stem, **changes_by_stem.get(stem, {})) for stem in ("0001_users", "0002_troops")}


def errors_of(meta, plan=None, **options):
    return review(plan or PLAN, meta, **options)["errors"]


def test_a_clean_plan_sums_its_estimates_and_risk():
    meta = metadata(**{"0002_troops": dict(estimated_duration="2 minutes", risk_level="high", requires_downtime=True,
                                           dependencies=["0001_users"])})
    result = review(PLAN, meta)
    assert result["ok"] and result["errors"] == []
    assert result["expected_seconds"] == 150 and result["max_risk_level"] == "high"
    assert result["requires_downtime"] and not result["zero_downtime"]
    assert result["migrations"][1] == dict(version="0002", name="troops", stem="0002_troops", risk_level="high",
                                           estimated_seconds=120, requires_downtime=True, rollback_available=True,
                                           reversible=True, reviewers=2, backfill=None, dependencies=["0001_users"])
    assert result["lines"][-1] == ("2 pending: ~2m 30s expected, max risk high, downtime for 0002_troops,"
                                   " irreversible: none; 0 problem(s)")
    assert result["lines"][0] == "0001_users: low risk, ~30s, online, reversible, 2 reviewer(s)"


def test_an_empty_plan_is_ok_and_zero_downtime():
    result = review({"pending": []}, {})
    assert result["ok"] and result["zero_downtime"] and result["expected_seconds"] == 0
    assert result["max_risk_level"] is None and result["lines"] == ["0 pending: ~0s expected, max risk none,"
                                                                    " zero downtime, irreversible: none; 0 problem(s)"]


def test_a_pending_migration_without_metadata_is_named():
    meta = metadata()
    del meta["0002_troops"]
    assert errors_of(meta) == ["migration-metadata/0002_troops.yml: 0002_troops: no metadata for pending migration"
                               " migrations/0002_troops.sql"]
    assert errors_of(dict(meta, **{"0002_troops": "oops"})) == [
        "migration-metadata/0002_troops.yml: 0002_troops: not a mapping of fields"]


def test_a_version_other_than_its_key():
    assert errors_of(metadata(**{"0001_users": dict(version="0001_user")})) == [
        "migration-metadata/0001_users.yml: version: '0001_user' differs from its key 0001_users"]


def test_dependencies_must_be_applied_or_earlier_in_the_plan():
    meta = metadata(**{"0001_users": dict(dependencies=["0002_troops", "0000_base", "0001_users"]),
                       "0002_troops": dict(dependencies=["0001_users", "0000_base"])})
    assert errors_of(meta, applied=["0000"]) == [
        "migration-metadata/0001_users.yml: dependencies: 0002_troops is pending later, not applied before it",
        "migration-metadata/0001_users.yml: dependencies: 0001_users is the migration itself, not applied before it"]
    assert errors_of(meta, applied=["0000", "0002"], metadata_dir="meta")[0] == (
        "meta/0001_users.yml: dependencies: 0001_users is the migration itself, not applied before it")
    assert errors_of(metadata(**{"0002_troops": dict(dependencies=["0000_base"])})) == [
        "migration-metadata/0002_troops.yml: dependencies: 0000_base is unknown: neither applied nor pending"]
    assert errors_of(metadata(**{"0002_troops": dict(dependencies="0001_users")})) == [
        "migration-metadata/0002_troops.yml: dependencies: '0001_users' is not a list of migration stems"]


def test_reviewers_are_counted_distinct():
    same_twice = metadata(**{"0001_users": dict(reviewed_by=["a@x", " A@x"])})
    assert errors_of(same_twice) == [
        "migration-metadata/0001_users.yml: reviewed_by: 1 distinct reviewer(s), at least 2 needed"]
    assert errors_of(same_twice, min_reviewers=1) == []
    assert review(PLAN, metadata(**{"0001_users": dict(reviewed_by="a@x")}), min_reviewers=1)["migrations"][0]["reviewers"] == 1
    assert errors_of(metadata(**{"0001_users": dict(reviewed_by=None)}))[0].endswith("0 distinct reviewer(s), at least 2 needed")


@pytest.mark.parametrize("key, value, message", [
    ("risk_level", "extreme", "risk_level: 'extreme' is not one of low, medium, high, critical"),
    ("risk_level", None, "risk_level: missing is not one of low, medium, high, critical"),
    ("requires_downtime", "no", "requires_downtime: 'no' is not a boolean (true or false)"),
    ("rollback_available", 1, "rollback_available: 1 is not a boolean (true or false)"),
    ("estimated_duration", "soon", "estimated_duration: 'soon' is not a duration such as \"30 seconds\" or \"2 minutes\""),
    ("estimated_duration", None, "estimated_duration: missing is not a duration"),
])
def test_field_values_are_checked(key, value, message):
    errors = errors_of(metadata(**{"0001_users": {key: value}}))
    assert len(errors) == 1 and errors[0].startswith("migration-metadata/0001_users.yml: " + message)


@pytest.mark.parametrize("backfill, message", [
    ("lower(email)", "backfill: 'lower(email)' is not a mapping of db_backfill options"),
    ({"table": "users", "set": {"e": "lower(email)"}}, "backfill: missing where"),
    ({"table": "users", "where": "e IS NULL"}, "backfill: missing set or statement"),
    ({"table": "users", "where": "e IS NULL", "set": {"e": "1"}, "job": "x"}, "backfill: unknown option(s) job"),
])
def test_a_backfill_needs_db_backfills_options(backfill, message):
    errors = errors_of(metadata(**{"0001_users": {"backfill": backfill}}))
    assert len(errors) == 1 and errors[0].startswith("migration-metadata/0001_users.yml: " + message), errors


def test_a_backfill_is_passed_on_to_step_5():
    backfill = {"table": "users", "set": {"email_lower": "lower(email)"}, "where": "email_lower IS NULL"}
    result = review(PLAN, metadata(**{"0001_users": {"backfill": backfill}}))
    assert result["ok"] and [m["backfill"] for m in result["migrations"]] == [backfill, None]


def test_rollback_available_needs_a_down_script():
    plan = {"pending": [entry("0001", "users", down=False), entry("0002", "troops")]}
    result = review(plan, metadata())
    assert result["errors"] == ["migration-metadata/0001_users.yml: rollback_available: marked reversible but has no"
                                " down section"]
    assert result["irreversible"] == ["0001_users"] and not result["migrations"][0]["reversible"]
    honest = review(plan, metadata(**{"0001_users": dict(rollback_available=False)}))
    assert honest["ok"] and honest["irreversible"] == ["0001_users"]
    assert "IRREVERSIBLE" in honest["lines"][0]


def test_unreadable_values_count_as_unknown_in_the_sums():
    result = review(PLAN, metadata(**{"0001_users": dict(estimated_duration="soon", risk_level="x", requires_downtime="?")}))
    assert result["expected_seconds"] == 30 and result["max_risk_level"] == "low"
    assert not result["requires_downtime"] and not result["zero_downtime"]
    assert result["lines"][0] == "0001_users: unknown risk, time unknown, downtime unknown, reversible, 2 reviewer(s)"


@pytest.mark.parametrize("text, seconds", [
    ("30 seconds", 30), ("2 minutes", 120), ("1 hour 30 minutes", 5400), ("5 mins", 300), ("90s", 90), ("1h30m", 5400),
    (45, 45), ("1 day", 86400), ("soon", None), ("", None), ("0 seconds", None), (True, None), ("30 sec", 30),
])
def test_duration_seconds_reads_words_and_units(text, seconds):
    assert duration_seconds(text) == seconds


def test_estimate_verdict_warns_over_twice_the_estimate():
    assert estimate_verdict(120, 95) == "took 95s against an estimate of 120s (0.8x)"
    assert estimate_verdict(120, 240) == "took 240s against an estimate of 120s (2.0x)"
    assert estimate_verdict(120, 300.4) == "took 300s against an estimate of 120s (2.5x): WARNING, over 2 times the estimate"
    assert estimate_verdict(0, 12) == "took 12s; no estimate to compare with"


def test_the_filters_are_registered():
    filters = FilterModule().filters()
    assert filters["migration_review"] is review and filters["estimate_verdict"] is estimate_verdict


def starforge_metadata():
    """The example folder merged as include_vars dir/name merges it: one dict keyed by stem."""
    folder = os.path.join(STARFORGE, "migration-metadata")
    merged = {}
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name)) as handle:
            content = yaml.safe_load(handle)
        assert list(content) == [name[:-len(".yml")]]
        merged.update(content)
    return merged


def starforge_plan():
    """A check-mode plan of every StarForge migration (all pending)."""
    migrations = load_migrations(DiskSource(os.path.join(STARFORGE, "migrations")), "postgres", "node_pg_migrate")
    return {"pending": [dict(m.summary(), statements=len(m.up.statements), transaction=m.up.transactional,
                             down=m.down is not None) for m in migrations]}


def test_the_starforge_example_metadata_passes_its_review():
    result = review(starforge_plan(), starforge_metadata())
    assert result["errors"] == [] and result["ok"]
    assert len(result["migrations"]) == 8 and result["irreversible"] == []
    downtime = [m["stem"] for m in result["migrations"] if m["requires_downtime"]]
    assert downtime == ["1764633600009_add_notification_system"] and not result["zero_downtime"]
    assert result["max_risk_level"] == "medium" and result["expected_seconds"] == 460
    gin = [m for m in result["migrations"] if m["name"] == "hero_snapshots_raw_gin_index"][0]
    assert gin["requires_downtime"] is False and gin["estimated_seconds"] == 300
