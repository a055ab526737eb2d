# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where the migrations are and how they are laid out, for every module that reads a migrations folder."""

    DOCUMENTATION = r"""
options:
  migrations_dir:
    description:
      - Directory holding the migrations, laid out as O(layout) says. Relative paths are looked up like
        M(ansible.builtin.copy) looks up C(src) (the role's or playbook's C(files) folder, then the playbook folder).
      - Exactly one of O(migrations_dir) and O(path) is required.
    type: path
  path:
    description:
      - One migration of a directory, like C(artisan migrate --path) - the C(.up.sql) file (V(flat)), the C(.sql)
        file (V(sections)) or the migration's directory (V(directories)).
    type: path
  layout:
    description:
      - V(flat) - C(<version>_<name>.up.sql) and optional C(<version>_<name>.down.sql); an empty file is a valid
        no-op. Dialect files C(<version>_<name>.<dialect>[.autocommit].up.sql) (and C(.down.sql)), the popx
        convention of Ory Hydra, Kratos and Keto, are understood too. The engine's dialect file (see
        O(dbops.runbooks.migrate_apply#module:dialect)) replaces the generic file of that version; files of other
        dialects (C(cockroach), C(sqlite3), the other engine, ...) are left out (M(dbops.runbooks.migrate_apply)
        lists them in RV(dbops.runbooks.migrate_apply#module:ignored_files)); an unknown dialect word fails naming
        the file. C(.autocommit) runs the file outside a transaction, like the C(-- dbops:no-transaction) marker.
      - V(sections) - one C(<version>_<name>.sql) per migration holding a C(-- migrate:up) section and an
        optional C(-- migrate:down) section.
      - V(node_pg_migrate) - node-pg-migrate's SQL files, C(<timestamp>_<name>.sql), split at the
        C(-- Up Migration) and C(-- Down Migration) comments, matched as node-pg-migrate matches them (any case,
        any dashes and blanks after C(--)); a file without markers is all up. SQL before the first marker, or a
        down marker without an up marker, fails naming the file. Its JavaScript migrations are not read.
      - V(directories) - C(<version>_<name>/migration.sql) per migration (Prisma), up only.
    type: str
    default: flat
    choices: [flat, sections, node_pg_migrate, directories]
  remote_src:
    description:
      - Read the migrations on the managed host instead of the controller.
    type: bool
    default: false
  _files:
    description:
      - Internal. The action plugin puts the files it read on the controller here; do not set it.
    type: dict
"""
