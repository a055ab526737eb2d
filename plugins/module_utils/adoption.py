# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adopting a database another migration tool migrated: read its history table, never write it.

Each importer reads the other tool's table and returns which of our migrations it recorded as applied.
Rows of failed migrations are refused, naming them; where the tool's checksum can be recomputed from our
files (Prisma: sha256 of migration.sql), a file changed since it was applied is drift. Both fail before
anything is recorded.

  tool              table (default)          a row counts as applied when
  laravel           migrations               its `migration` is <version>_<name>
  golang_migrate    schema_migrations        the version is <= the recorded one (not dirty)
  node_pg_migrate   pgmigrations             its `name` is <version>_<name>
  prisma            _prisma_migrations       finished_at set, rolled_back_at not; migration_name is the folder
  flyway            flyway_schema_history    success, the newest row of its version is not an undo; versions
                                             compare as numbers (V1.2 = 1_2); a BASELINE row covers older ones
"""

from __future__ import annotations

import hashlib

from ansible_collections.dbops.runbooks.plugins.module_utils.database import DbopsError
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import version_key

TABLES = {"laravel": "migrations", "golang_migrate": "schema_migrations", "node_pg_migrate": "pgmigrations",
          "prisma": "_prisma_migrations", "flyway": "flyway_schema_history"}


def imported_versions(conn, tool, migrations, table=None):
    """The migrations (of `migrations`) that `tool` recorded as applied in its table, in their order."""
    schema, name = _split_table(table or TABLES[tool])
    _require_table(conn, tool, schema, name)
    query, decide = IMPORTERS[tool]
    return decide(conn.query_dicts(query % conn.engine.qualified(schema, name)), migrations, name)


def _split_table(table):
    schema, name = table.rpartition(".")[::2]
    return schema or None, name


def _require_table(conn, tool, schema, name):
    found = conn.query_value(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
        (schema or conn.current_schema(), name))
    if not found:
        raise DbopsError("baseline_from %s: table %s does not exist in %s" % (
            tool, name, schema or "the current schema (%s)" % conn.current_schema()))


def _by_name(migrations, names):
    return [m for m in migrations if "%s_%s" % (m.version, m.name) in names]


def laravel(rows, migrations, name):
    return _by_name(migrations, {row["migration"] for row in rows})


def golang_migrate(rows, migrations, name):
    if not rows:
        return []
    version, dirty = rows[0]["version"], rows[0]["dirty"]
    if dirty:
        raise DbopsError("%s says version %s is dirty; fix it with golang-migrate first" % (name, version))
    return [m for m in migrations if m.sort_key <= version_key(str(version))]


def node_pg_migrate(rows, migrations, name):
    return _by_name(migrations, {row["name"] for row in rows})


def prisma(rows, migrations, name):
    failed = [row["migration_name"] for row in rows if row["finished_at"] is None and row["rolled_back_at"] is None]
    if failed:
        raise DbopsError("%s: migration %s failed or is unfinished (neither finished_at nor rolled_back_at);"
                         " resolve it with prisma migrate resolve first" % (name, ", ".join(failed)))
    applied = {row["migration_name"]: row["checksum"] for row in rows
               if row["finished_at"] is not None and row["rolled_back_at"] is None}
    chosen = _by_name(migrations, applied)
    drift = [dict(m.summary(), history_checksum=applied["%s_%s" % (m.version, m.name)], file_checksum=m.checksum)
             for m in chosen
             if not prisma_checksum_matches(m.up.text.encode("utf-8"), applied["%s_%s" % (m.version, m.name)])]
    if drift:
        raise DbopsError("%s changed after Prisma applied it (%s checksum %s, file checksum %s); nothing was recorded"
                         % (drift[0]["file"], name, drift[0]["history_checksum"], drift[0]["file_checksum"]),
                         findings=dict(drift=drift))
    return chosen


def prisma_checksum_matches(raw, checksum):
    """Prisma's checksum is the sha256 of migration.sql; like Prisma, LF and CRLF line endings both match."""
    unix = raw.replace(b"\r\n", b"\n")
    return checksum in {hashlib.sha256(variant).hexdigest() for variant in (raw, unix, unix.replace(b"\n", b"\r\n"))}


def flyway(rows, migrations, name):
    failed = ["%s (version %s)" % (row["script"], row["version"]) for row in rows if not row["success"]]
    if failed:
        raise DbopsError("%s: migration %s failed (success false); fix it with flyway repair first"
                         % (name, ", ".join(failed)))
    newest = {}  # version key -> type of its newest row
    for row in rows:
        if row["version"] is not None:  # repeatable migrations have no version and are not adopted
            newest[flyway_version_key(row["version"])] = row["type"]
    applied = {key for key, kind in newest.items() if not kind.startswith("UNDO") and kind != "DELETE"}
    baseline = max((key for key, kind in newest.items() if kind in ("BASELINE", "SQL_BASELINE")), default=None)
    return [m for m in migrations
            if _trimmed(m.sort_key) in applied or (baseline is not None and _trimmed(m.sort_key) <= baseline)]


def flyway_version_key(version):
    """Flyway versions are dot- or underscore-separated numbers: 1.2, 1_2 and 001.2 are the same."""
    try:
        return _trimmed(tuple(int(part) for part in str(version).replace("_", ".").split(".")))
    except ValueError:
        raise DbopsError("flyway_schema_history version %s is not made of numbers, so it matches no migration file"
                         % version)


def _trimmed(key):
    """Flyway's 1.0 is 1: trailing zero parts do not count."""
    key = tuple(key)
    while len(key) > 1 and key[-1] == 0:
        key = key[:-1]
    return key


# tool -> (query of its table, decision over the rows)
IMPORTERS = {
    "laravel": ("SELECT migration FROM %s", laravel),
    "golang_migrate": ("SELECT version, dirty FROM %s", golang_migrate),
    "node_pg_migrate": ("SELECT name FROM %s ORDER BY id", node_pg_migrate),
    "prisma": ("SELECT migration_name, checksum, finished_at, rolled_back_at FROM %s ORDER BY started_at", prisma),
    "flyway": ("SELECT installed_rank, version, type, script, success FROM %s ORDER BY installed_rank", flyway),
}
