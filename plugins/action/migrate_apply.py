# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the migrations on the controller and ship them to the module (unless remote_src)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.dbops.runbooks.plugins.plugin_utils.migration_folder import read_folder


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_async = True
    MODULE = "dbops.runbooks.migrate_apply"  # migrate_lint's action reuses this class

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        if not args.get("remote_src"):
            key = "path" if args.get("path") else "migrations_dir"
            wanted = args.get(key)
            if wanted:
                try:
                    found = self._find_needle("files", wanted)
                except AnsibleError:
                    what = "no such directory" if key == "migrations_dir" else "no such file or directory"
                    result.update(failed=True, msg="%s %s: %s (on the controller)" % (key, wanted, what))
                    return result
                if key == "migrations_dir" and not os.path.isdir(found):
                    result.update(failed=True, msg="migrations_dir %s: no such directory (on the controller)" % wanted)
                    return result
                args[key] = found
                folder = found if key == "migrations_dir" else os.path.dirname(found.rstrip("/"))
                if key == "path" and os.path.isdir(found):  # layout directories: path is the migration's folder
                    folder = os.path.dirname(found.rstrip("/"))
                args["_files"] = read_folder(folder)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(module_name=self.MODULE, module_args=args,
                                           task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
