# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""migrate_apply's plan with risk: findings per migration and statement, weighed against the live
catalog; `max_risk` stops the run before anything is applied; `rehearse` proves the down files."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils import risk
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_catalog import catalog_for
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_rehearsal import rehearse

PLAN_KEYS = ("rule", "risk", "line", "statement", "lock", "table", "detail", "estimate_seconds")


def assess_plan(migrator, params, result, diff=False):
    """Add `risk` to each entry of result['pending'] and `risk_findings` to the result; raise over max_risk."""
    todo = migrator.pending(params["target"])
    engine = migrator.conn.engine.name
    result["risk_findings"] = []
    if not todo:
        return
    try:
        risk.require_parser(engine)
    except DbopsError as e:
        if params.get("max_risk") or params.get("rehearse"):
            raise
        result["risk_note"] = str(e)
        return
    catalog = catalog_for(migrator.conn, params.get("long_transaction_seconds", 60))
    report = risk.lint_migrations(todo, engine, catalog=catalog)
    if catalog.notes:
        result["risk_note"] = "; ".join(catalog.notes)
    findings = report["findings"] + report["parse_errors"]
    if params.get("rehearse") and todo:
        result["rehearsal"] = rehearse(migrator.conn, params, todo)
        findings.extend(result["rehearsal"]["findings"])
    by_file = {}
    for finding in findings:
        by_file.setdefault(finding["file"], []).append(finding)
    for entry, migration in zip(result["pending"], todo):
        mine = by_file.get(migration.up.display, []) + (by_file.get(migration.down.display, []) if migration.down else [])
        summary = next(m for m in report["migrations"] if m["version"] == migration.version)
        level = "none"
        for finding in mine:
            level = risk.higher(level, finding["risk"])
        entry.update(risk=level, estimate_seconds=summary.get("estimate_seconds"),
                     risk_statements=[{k: f.get(k) for k in PLAN_KEYS} for f in mine])
        if diff:
            entry["risk_rules"] = {f["rule"]: risk.explain(f["rule"]) for f in mine}
    result["risk_findings"] = findings
    result["risk_suppressed"] = report["suppressed"]
    too_risky = risk.above(findings, params["max_risk"]) if params.get("max_risk") else []
    if too_risky:
        raise DbopsError("max_risk %s: %d pending statement(s) above it, nothing applied; first: %s" % (
            params["max_risk"], len(too_risky), risk.describe(too_risky[0])), **result)
