# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The review of a migration plan against its metadata (seed 004's migration-metadata): pure logic behind the
filters `migration_review` and `estimate_verdict`.

The plan is migrate_apply's check-mode result; its `pending` entries have version, name, file, statements,
transaction and down. The metadata is a dict keyed by migration stem (`<version>_<name>`), as
`ansible.builtin.include_vars` with `dir` and `name` builds it from one file per migration.
"""

from __future__ import annotations

import re

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.durations import format_duration, parse_duration

RISK_LEVELS = ("low", "medium", "high", "critical")
# The db_backfill options a migration's `backfill` may give (step 5 runs it after the migrations, traffic flowing).
BACKFILL_OPTIONS = ("table", "schema", "key", "set", "statement", "where", "batch_size", "pause", "max_runtime")
BOOLEAN_FIELDS = ("requires_downtime", "rollback_available")
SLOW_RATIO = 2.0  # an actual time over this many times the estimate gets a warning
_UNIT_WORDS = re.compile(r"(\d+)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.IGNORECASE)
_VERSION = re.compile(r"^\d+(?:_\d+)*")


def stem_of(entry):
    """A plan entry's migration stem: `<version>_<name>`."""
    return "%s_%s" % (entry["version"], entry["name"])


def version_of(reference):
    """The version a dependency names: its leading digit groups (`1764547200002_create_users` -> `1764547200002`)."""
    match = _VERSION.match(str(reference))
    return match.group(0) if match else str(reference)


def duration_seconds(value):
    """Seconds in an estimated duration ("30 seconds", "2 minutes", "1 hour 30 minutes", "90s"); None if unreadable."""
    text = _UNIT_WORDS.sub(lambda m: m.group(1) + m.group(2)[0].lower(), str(value)) if isinstance(value, str) else value
    try:
        return parse_duration(text, "estimated_duration")
    except DbopsError:
        return None


def reviewers(fields):
    """The distinct reviewers of reviewed_by (a list, or one name), compared without case."""
    named = fields.get("reviewed_by") or []
    named = [named] if isinstance(named, str) else named
    return sorted({str(name).strip().lower() for name in named if str(name).strip()})


def shown(value):
    """A metadata value in an error message: its repr, or `missing`."""
    return "missing" if value is None else repr(value)


def field_errors(stem, fields, down, min_reviewers):
    """Problems of one migration's own metadata, each as (key, text)."""
    errors = []
    if fields.get("version") != stem:
        errors.append(("version", "%s differs from its key %s" % (shown(fields.get("version")), stem)))
    if len(reviewers(fields)) < min_reviewers:
        errors.append(("reviewed_by", "%d distinct reviewer(s), at least %d needed"
                       % (len(reviewers(fields)), min_reviewers)))
    if fields.get("risk_level") not in RISK_LEVELS:
        errors.append(("risk_level", "%s is not one of %s" % (shown(fields.get("risk_level")), ", ".join(RISK_LEVELS))))
    errors.extend((key, "%s is not a boolean (true or false)" % shown(fields.get(key)))
                  for key in BOOLEAN_FIELDS if not isinstance(fields.get(key), bool))
    if duration_seconds(fields.get("estimated_duration")) is None:
        errors.append(("estimated_duration", "%s is not a duration such as \"30 seconds\" or \"2 minutes\""
                       % shown(fields.get("estimated_duration"))))
    if fields.get("rollback_available") is True and not down:
        errors.append(("rollback_available", "marked reversible but has no down section"))
    if not isinstance(fields.get("dependencies") or [], list):
        errors.append(("dependencies", "%r is not a list of migration stems" % fields.get("dependencies")))
    errors.extend(backfill_errors(fields.get("backfill")))
    return errors


def backfill_errors(backfill):
    """Problems of an optional `backfill` (db_backfill's table, where, and set or statement), each as (key, text)."""
    if backfill is None:
        return []
    if not isinstance(backfill, dict):
        return [("backfill", "%r is not a mapping of db_backfill options" % (backfill,))]
    missing = [key for key in ("table", "where") if not backfill.get(key)]
    if not (backfill.get("set") or backfill.get("statement")):
        missing.append("set or statement")
    unknown = sorted(set(backfill) - set(BACKFILL_OPTIONS))
    return ([("backfill", "missing %s" % ", ".join(missing))] if missing else []) + \
        ([("backfill", "unknown option(s) %s (known: %s)" % (", ".join(unknown), ", ".join(BACKFILL_OPTIONS)))]
         if unknown else [])


def dependency_errors(position, fields, plan_versions, applied):
    """Dependencies neither applied nor earlier in the plan, each as (key, text)."""
    errors = []
    dependencies = fields.get("dependencies") or []
    for dependency in dependencies if isinstance(dependencies, list) else []:
        version = version_of(dependency)
        if version in applied or dependency in applied:
            continue
        if version not in plan_versions:
            errors.append(("dependencies", "%s is unknown: neither applied nor pending" % dependency))
        elif plan_versions.index(version) >= position:
            where = "is the migration itself" if plan_versions.index(version) == position else "is pending later"
            errors.append(("dependencies", "%s %s, not applied before it" % (dependency, where)))
    return errors


def summary(entry, fields):
    """One pending migration as the review reports it."""
    down = bool(entry.get("down"))
    dependencies = fields.get("dependencies") or []
    return dict(version=entry["version"], name=entry["name"], stem=stem_of(entry),
                risk_level=fields.get("risk_level"),
                estimated_seconds=duration_seconds(fields.get("estimated_duration")),
                requires_downtime=fields.get("requires_downtime"),
                rollback_available=fields.get("rollback_available"),
                reversible=down and fields.get("rollback_available") is True,
                reviewers=len(reviewers(fields)),
                backfill=fields.get("backfill") if isinstance(fields.get("backfill"), dict) else None,
                dependencies=list(dependencies) if isinstance(dependencies, list) else [])


def migration_line(migration):
    """One migration in words, for a debug task."""
    seconds, downtime = migration["estimated_seconds"], migration["requires_downtime"]
    return "%s: %s risk, %s, %s, %s, %d reviewer(s)" % (
        migration["stem"], migration["risk_level"] if migration["risk_level"] in RISK_LEVELS else "unknown",
        "~" + format_duration(seconds) if seconds is not None else "time unknown",
        ("needs downtime" if downtime else "online") if isinstance(downtime, bool) else "downtime unknown",
        "reversible" if migration["reversible"] else "IRREVERSIBLE", migration["reviewers"])


def total_line(review):
    """The plan in one line: count, time, risk, downtime, irreversible migrations, problems."""
    downtime = [m["stem"] for m in review["migrations"] if m["requires_downtime"] is True]
    return "%d pending: ~%s expected, max risk %s, %s, irreversible: %s; %d problem(s)" % (
        len(review["migrations"]), format_duration(review["expected_seconds"]), review["max_risk_level"] or "none",
        "downtime for " + ", ".join(downtime) if downtime else "zero downtime",
        ", ".join(review["irreversible"]) or "none", len(review["errors"]))


def max_risk(migrations):
    """The highest valid risk level of the migrations; None when none has one."""
    levels = [RISK_LEVELS.index(m["risk_level"]) for m in migrations if m["risk_level"] in RISK_LEVELS]
    return RISK_LEVELS[max(levels)] if levels else None


def review(plan, metadata, applied=(), min_reviewers=2, metadata_dir="migration-metadata"):
    """Check the pending migrations of a migrate_apply plan against their metadata; see the module docstring."""
    pending = (plan or {}).get("pending") or []
    metadata = metadata or {}
    applied = {str(version) for version in applied or ()}
    plan_versions = [str(entry["version"]) for entry in pending]
    errors, migrations = [], []
    for position, entry in enumerate(pending):
        stem = stem_of(entry)
        where = "%s/%s.yml" % (metadata_dir, stem)
        fields = metadata.get(stem)
        if not isinstance(fields, dict):
            errors.append("%s: %s: %s" % (where, stem, "no metadata for pending migration %s" % entry.get("file", stem)
                                          if fields is None else "not a mapping of fields"))
            fields = {}
        else:
            problems = field_errors(stem, fields, entry.get("down"), min_reviewers)
            problems += dependency_errors(position, fields, plan_versions, applied)
            errors.extend("%s: %s: %s" % (where, key, text) for key, text in problems)
        migrations.append(summary(entry, fields))
    result = dict(ok=not errors, errors=errors, migrations=migrations,
                  requires_downtime=any(m["requires_downtime"] is True for m in migrations),
                  zero_downtime=all(m["requires_downtime"] is False for m in migrations),
                  expected_seconds=sum(m["estimated_seconds"] or 0 for m in migrations),
                  max_risk_level=max_risk(migrations),
                  irreversible=[m["stem"] for m in migrations if not m["reversible"]])
    result["lines"] = [migration_line(m) for m in migrations] + [total_line(result)]
    return result


def estimate_verdict(expected_seconds, actual_seconds):
    """'took Xs against an estimate of Ys (ratio)', with WARNING when it took over twice the estimate."""
    actual = float(actual_seconds)
    if not expected_seconds:
        return "took %ds; no estimate to compare with" % round(actual)
    ratio = actual / float(expected_seconds)
    line = "took %ds against an estimate of %ds (%.1fx)" % (round(actual), round(float(expected_seconds)), ratio)
    return line + (": WARNING, over %g times the estimate" % SLOW_RATIO if ratio > SLOW_RATIO else "")
