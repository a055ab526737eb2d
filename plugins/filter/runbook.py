# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the runbooks' step playbooks; the logic is in plugin_utils (unit-tested)."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.plugin_utils import migration_review, release, rollbacks, steps


class FilterModule:
    def filters(self):
        return {
            "seed_rollback_summary": rollbacks.seed_rollback_summary,
            "verification_rollback_summary": rollbacks.verification_rollback_summary,
            "version_before": steps.first_version_before,
            "migration_review": migration_review.review,
            "estimate_verdict": migration_review.estimate_verdict,
            "rollback_scenario": release.rollback_scenario,
            "deployments_before": release.deployments_before,
            "hosts_having": release.hosts_having,
            "row_count_checks": release.row_count_checks,
            "scale_backend": release.scale_backend,
            "rollback_words": release.rollback_words,
            "release_timing": release.release_timing,
        }
