# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A migrations folder read on the controller, as the `_files` the migration modules take.

Used by the migrate_apply and migrate_lint actions and by the runbook_step engine, which ship the
files to the module so the migrations stay on the controller (unless remote_src).
"""

from __future__ import annotations

import base64
import os

from ansible.module_utils.common.text.converters import to_text

# The modules read these from the shipped files; anything else in the folder stays on the controller.
SHIPPED_SUFFIX = ".sql"


def read_folder(folder):
    """The .sql files of a folder and of its direct subfolders (one migration per folder), as
    {relative path: base64 content}, in name order."""
    files = {}
    for entry in sorted(os.listdir(folder)):
        full = os.path.join(folder, entry)
        if os.path.isdir(full):
            files.update(_shipped_files(full, prefix=entry + "/"))
        elif _is_shipped(entry):
            files[entry] = _encoded(full)
    return files


def _shipped_files(folder, prefix):
    """The .sql files directly in a subfolder, keyed by prefix + name."""
    return {prefix + name: _encoded(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if _is_shipped(name) and os.path.isfile(os.path.join(folder, name))}


def _is_shipped(name):
    return name.endswith(SHIPPED_SUFFIX)


def _encoded(path):
    with open(path, "rb") as handle:
        return to_text(base64.b64encode(handle.read()))
