# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the migrations on the controller and ship them to migrate_lint, as for migrate_apply."""

from __future__ import annotations

from ansible_collections.dbops.runbooks.plugins.action.migrate_apply import ActionModule as MigrateApplyAction


class ActionModule(MigrateApplyAction):
    MODULE = "dbops.runbooks.migrate_lint"
