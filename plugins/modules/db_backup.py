#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbops.runbooks contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: db_backup
short_description: Take a logical backup, prove it restores, and restore it
version_added: 0.2.0
description:
  - For databases outside RDS (use M(dbops.runbooks.rds_snapshot) there). PostgreSQL is dumped with C(pg_dump) in
    custom format (compressed), MySQL and MariaDB with C(mariadb-dump) or C(mysqldump) using C(--single-transaction),
    gzip-compressed.
  - O(state=present) writes C(<prefix>-<yyyymmddThhmmssZ>.pgdump) or C(.sql.gz) into O(backup_dir), with a manifest
    C(<backup>.json) holding its size, sha256 and the row count and checksum of every table, and returns them.
  - O(verify=restore) restores the new backup into a scratch database, compares every table's row count and checksum
    with the source, and drops the scratch database; a difference fails the task.
  - O(state=restored) restores a backup into O(target_db). A database that holds tables, views or sequences is only
    replaced with O(overwrite=true); it is dropped and created again with the same encoding and collation, so the
    result holds exactly what the backup holds. The restored tables are compared with the manifest.
  - Dumps and restores stream in chunks, so a large database never sits in memory. The password reaches the tools
    through C(PGPASSWORD) in their environment (PostgreSQL) or a private option file (mode 0600, deleted afterwards;
    MySQL), never through their command line.
  - In check mode the module connects and reads, and reports the backup it would write, the backups O(keep) would
    delete, or the database it would restore; it writes no file and changes no database.
extends_documentation_fragment:
  - dbops.runbooks.connection
  - dbops.runbooks.attributes
attributes:
  check_mode:
    support: full
    details: Connects and reads only; no file is written and no database is created, dropped or restored.
  diff_mode:
    support: none
options:
  state:
    description:
      - V(present) takes a backup of O(login_db) (or reuses a fresh one, see O(max_age)).
      - V(restored) restores a backup into O(target_db).
    type: str
    default: present
    choices: [present, restored]
  backup_dir:
    description:
      - Directory of the backups on the host that runs the module. Created (mode 0700) when missing.
      - Required with O(state=present); with O(state=restored), required unless O(backup_file) is given.
    type: path
  prefix:
    description:
      - First part of the backup file names. Defaults to the database name (O(login_db), or O(target_db) when restoring).
    type: str
  max_age:
    description:
      - With O(state=present), when the newest backup of this prefix is younger than this, no new backup is taken;
        the existing one is checked against its manifest's sha256 and returned, and C(changed) is false.
      - Seconds, or units V(d), V(h), V(m), V(s) such as V(4h).
    type: str
  keep:
    description:
      - After a backup, keep only the newest O(keep) backups of this prefix; older ones and their manifests are deleted.
      - Unset keeps every backup.
    type: int
  verify:
    description:
      - V(restore) proves a new backup by restoring it into O(scratch_db) and comparing every table with the source.
    type: str
    default: none
    choices: [none, restore]
  scratch_db:
    description:
      - Database used by O(verify=restore). Created and dropped by the module; an existing non-empty one fails the task.
      - Defaults to C(<login_db>_dbops_verify).
    type: str
  backup_file:
    description:
      - With O(state=restored), the backup to restore. Defaults to the newest backup of O(prefix) in O(backup_dir).
    type: path
  target_db:
    description:
      - With O(state=restored), the database to restore into. Defaults to O(login_db).
    type: str
  overwrite:
    description:
      - With O(state=restored), replace a target database that is not empty. Without it such a target fails the task.
    type: bool
    default: false
  maintenance_db:
    description:
      - PostgreSQL database to connect to while creating and dropping the scratch or target database.
    type: str
    default: postgres
notes:
  - The per-table checksum is an order-independent sum of row hashes computed by the server, so two databases with the
    same rows have the same checksums whatever their physical order.
  - On PostgreSQL the manifest's statistics are read in the snapshot C(pg_dump) dumps. On MySQL they are read in their
    own consistent snapshot just before the dump; writes in between make O(verify=restore) report a difference, so
    take backups in a quiet window (maintenance mode).
  - Restoring with O(overwrite=true) drops the target database (on PostgreSQL with C(WITH (FORCE)), ending its sessions);
    the user needs the right to create databases.
requirements:
  - C(pg_dump) and C(pg_restore) (PostgreSQL), or C(mariadb-dump)/C(mysqldump) and C(mariadb)/C(mysql) (MySQL/MariaDB),
    on the host that runs the module.
seealso:
  - module: dbops.runbooks.rds_snapshot
  - module: dbops.runbooks.migrate_apply
author:
  - dbops.runbooks maintainers (@dbops-runbooks)
"""

EXAMPLES = r"""
- name: "1.1 (no RDS) Back up academy unless a backup of the last 4 hours exists, and prove it restores"
  dbops.runbooks.db_backup:
    engine: mysql
    login_host: 127.0.0.1
    login_user: dbops
    login_password: "{{ vault_db_password }}"
    login_db: academy
    backup_dir: /var/backups/dbops
    max_age: 4h
    verify: restore
    keep: 5

- name: "Rollback: put academy back as it was in the newest backup"
  dbops.runbooks.db_backup:
    state: restored
    engine: postgres
    login_db: academy
    backup_dir: /var/backups/dbops
    overwrite: true

- name: Restore a chosen backup into a new database to inspect it
  dbops.runbooks.db_backup:
    state: restored
    engine: postgres
    login_db: academy
    backup_file: /var/backups/dbops/academy-20241224T095812Z.pgdump
    backup_dir: /var/backups/dbops
    target_db: academy_inspect
"""

RETURN = r"""
backup_file:
  description: The backup taken, reused or restored (in check mode, the one that would be written).
  returned: always
  type: str
  sample: /var/backups/dbops/academy-20241224T095812Z.sql.gz
manifest_file:
  description: The manifest of the backup.
  returned: with O(state=present)
  type: str
  sample: /var/backups/dbops/academy-20241224T095812Z.sql.gz.json
size_bytes:
  description: Size of the backup file.
  returned: with O(state=present), outside check mode
  type: int
  sample: 1048576
sha256:
  description: SHA-256 of the backup file.
  returned: when the backup exists
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
created_at:
  description: When the backup was taken (ISO 8601, UTC).
  returned: with O(state=present), outside check mode
  type: str
age_seconds:
  description: Age of a reused backup.
  returned: when a fresh backup was reused
  type: int
tables:
  description: Row count and checksum of every table, as in the backup (present) or as restored (restored).
  returned: when known
  type: list
  elements: dict
  sample: [{table: communities, rows: 5, checksum: "2988021374558293751"}]
verify:
  description: Outcome of O(verify=restore) (or the recorded one of a reused backup).
  returned: when a backup was verified
  type: dict
  sample: {method: restore, scratch_db: academy_dbops_verify, ok: true, differences: [], tables: 9}
verified:
  description: Whether the restored tables match the backup's manifest.
  returned: with O(state=restored)
  type: bool
deleted_backups:
  description: Backups deleted by O(keep) (in check mode, those that would be).
  returned: with O(state=present)
  type: list
  elements: str
replaced_objects:
  description: Tables, views and sequences the target held before the restore.
  returned: with O(state=restored)
  type: int
database:
  description: The database backed up or restored into.
  returned: always
  type: str
engine:
  description: The engine.
  returned: always
  type: str
tool:
  description: The dump program used.
  returned: with O(state=present)
  type: str
  sample: mariadb-dump
msg:
  description: One line saying what was done.
  returned: always
  type: str
  sample: backed up academy to /var/backups/dbops/academy-20241224T095812Z.sql.gz (48213 bytes, 9 tables, verified by restore)
dbops_report:
  description:
    - What the run report (callback P(dbops.runbooks.runbook_report#callback)) records of this task, also on failure;
      it holds no argument and no secret.
    - C(kind) (V(db_backup)), C(changed), C(check_mode), C(failed), C(state), C(backup_file),
      C(manifest_file), C(size_bytes), C(sha256), C(created_at), C(age_seconds), C(database), C(engine),
      C(tool), C(verified), C(target_db) and C(msg).
  returned: always
  type: dict
  sample: {kind: db_backup, changed: true, check_mode: false, failed: false, state: present, backup_file:
    /var/backups/dbops/academy-20241224T095812Z.sql.gz, verified: true}
"""

from ansible_collections.dbops.runbooks.plugins.module_utils.backup import run_db_backup
from ansible_collections.dbops.runbooks.plugins.module_utils.database import DatabaseModule
from ansible_collections.dbops.runbooks.plugins.module_utils.dbops_report import reported


def main():
    module = DatabaseModule(
        argument_spec=dict(
            state=dict(type="str", default="present", choices=["present", "restored"]),
            backup_dir=dict(type="path"),
            prefix=dict(type="str"),
            max_age=dict(type="str"),
            keep=dict(type="int"),
            verify=dict(type="str", default="none", choices=["none", "restore"]),
            scratch_db=dict(type="str"),
            backup_file=dict(type="path"),
            target_db=dict(type="str"),
            overwrite=dict(type="bool", default=False),
            maintenance_db=dict(type="str", default="postgres"),
        ),
        required_if=[
            ("state", "present", ("backup_dir",)),
            ("state", "restored", ("backup_dir", "backup_file"), True),
        ],
        supports_check_mode=True,
    )
    module.run(reported("db_backup", run_db_backup))


if __name__ == "__main__":
    main()
