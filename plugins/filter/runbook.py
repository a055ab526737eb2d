# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the runbooks' step playbooks; the logic is in plugin_utils (unit-tested)."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.plugin_utils import migration_review, rollbacks, steps


class FilterModule:
    def filters(self):
        return {
            "estimate_verdict": migration_review.estimate_verdict,
            "migration_review": migration_review.review,
            "seed_rollback_summary": rollbacks.seed_rollback_summary,
            "verification_rollback_summary": rollbacks.verification_rollback_summary,
            "version_before": steps.first_version_before,
        }
