# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migrate_lint module's logic: read the files like migrate_apply, lint them, optionally weigh them
against the live catalog."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.module_utils import risk
from ansible_collections.dbops.runbooks.plugins.module_utils.database import connect
from ansible_collections.dbops.runbooks.plugins.module_utils.edge import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migrations import load_from_params
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_catalog import catalog_for


def run_migrate_lint(module):
    """The migrate_lint module: read every file, lint it, optionally weigh it against the live catalog."""
    params = module.params
    engine = params["engine"]
    risk.require_parser(engine)
    migrations = load_from_params(params, engine)
    conn = None
    catalog = None
    if params["catalog"]:
        conn = connect(params)
        catalog = catalog_for(conn, params["long_transaction_seconds"])
    try:
        report = risk.lint_migrations(migrations, engine, params["include_down"], catalog)
    finally:
        if conn is not None:
            conn.close()
    result = dict(changed=False, **report)
    result["rules"] = {rid: risk.explain(rid) for rid in sorted({f["rule"] for f in report["findings"]})} if module._diff else {}
    if report["parse_errors"]:
        first = report["parse_errors"][0]
        raise DbopsError("%s:%s: the %s parser (%s) rejects statement %s: %s -- %s" % (
            first["file"], first["line"], engine, risk.PARSER_LIBRARIES[engine], first["statement"], first["message"],
            first["sql"]), **result)
    too_risky = risk.above(report["findings"], params["max_risk"]) if params["max_risk"] else []
    if too_risky:
        raise DbopsError("%d finding(s) above max_risk %s; first: %s"
                         % (len(too_risky), params["max_risk"], risk.describe(too_risky[0])), **result)
    return result
