"""Benchmark: risk analysis of 5,000 migration files, and the rehearsal of the flagship's five migrations.

Run by `make bench` on the local stack. The lint is timed in-process (load, split and parse every file,
then the rules), for each engine, on a mix of what migration folders hold: new tables, added columns,
indexes, constraints, renames and drops, one to three statements per file. The rehearsal runs
examples/academy/migrations (MariaDB) on a scratch copy of an empty database: ups, downs newest first,
ups again, scratch dropped. Targets: lint <= 2 s, rehearsal <= 3 s; the medians of BENCH_ROUNDS runs.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "build", "collections"))

from ansible_collections.dbops.runbooks.plugins.module_utils import risk  # noqa: E402
from ansible_collections.dbops.runbooks.plugins.module_utils.database import connect  # noqa: E402
from ansible_collections.dbops.runbooks.plugins.module_utils.migration_files import DiskSource, load_migrations  # noqa: E402
from ansible_collections.dbops.runbooks.plugins.module_utils.risk_rehearsal import rehearse  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
FILES = 5000
CONNECTION = dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                  login_password="dbops-local-stack", login_db="dbops_bench_lint", login_unix_socket=None,
                  ssl_mode="prefer", ca_cert=None, client_cert=None, client_key=None, connect_timeout=10)

TEMPLATES = {
    "mysql": [
        "CREATE TABLE t{n} (\n  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,\n  owner_id BIGINT UNSIGNED NOT NULL,\n"
        "  name VARCHAR(255) NOT NULL,\n  status ENUM('a', 'b') NOT NULL DEFAULT 'a',\n  created_at TIMESTAMP NULL,\n"
        "  PRIMARY KEY (id),\n  KEY t{n}_owner_index (owner_id)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
        "ALTER TABLE t{m} ADD COLUMN c{n} INT NULL;\nALTER TABLE t{m} ADD INDEX t{m}_c{n}_index (c{n});\n",
        "ALTER TABLE t{m} MODIFY COLUMN name VARCHAR(500) NOT NULL;\n",
        "ALTER TABLE t{m} ADD CONSTRAINT t{m}_fk{n} FOREIGN KEY (owner_id) REFERENCES t{n} (id);\n",
        "RENAME TABLE t{m} TO t{m}_old;\nDROP TABLE IF EXISTS t{m}_older;\n",
    ],
    "postgres": [
        "CREATE TABLE t{n} (\n  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n  owner_id bigint NOT NULL,\n"
        "  name text NOT NULL,\n  created_at timestamptz NOT NULL DEFAULT now()\n);\nCREATE INDEX t{n}_owner_idx ON t{n} (owner_id);\n",
        "ALTER TABLE t{m} ADD COLUMN c{n} integer;\nCREATE INDEX t{m}_c{n}_idx ON t{m} (c{n});\n",
        "ALTER TABLE t{m} ALTER COLUMN name SET NOT NULL;\n",
        "ALTER TABLE t{m} ADD CONSTRAINT t{m}_fk{n} FOREIGN KEY (owner_id) REFERENCES t{n} (id) NOT VALID;\n",
        "ALTER TABLE t{m} RENAME COLUMN name TO title;\nDROP TABLE IF EXISTS t{m}_old;\n",
    ],
}


def folder(engine):
    path = tempfile.mkdtemp(prefix="dbops-lint-bench-%s-" % engine)
    templates = TEMPLATES[engine]
    for n in range(FILES):
        with open(os.path.join(path, "%05d_change_%d.up.sql" % (n + 1, n)), "w") as handle:
            handle.write(templates[n % len(templates)].format(n=n, m=max(n - 3, 0)))
    return path


def lint_seconds(path, engine):
    started = time.perf_counter()
    migrations = load_migrations(DiskSource(path), engine)
    report = risk.lint_migrations(migrations, engine)
    return time.perf_counter() - started, len(report["findings"]), sum(len(m.up.statements) for m in migrations)


def rehearsal_seconds(migrations):
    admin = connect(dict(CONNECTION, login_db=None))
    admin.execute("DROP DATABASE IF EXISTS dbops_bench_lint")
    admin.execute("CREATE DATABASE dbops_bench_lint CHARACTER SET utf8mb4")
    conn = connect(CONNECTION)
    try:
        started = time.perf_counter()
        report = rehearse(conn, CONNECTION, migrations)
        seconds = time.perf_counter() - started
    finally:
        conn.close()
        admin.execute("DROP DATABASE IF EXISTS dbops_bench_lint")
        admin.close()
    assert not report["findings"] and report["dropped"], report
    return seconds, report


def main():
    print("migrate_lint: %d files, %d rounds (medians)" % (FILES, ROUNDS))
    for engine in ("mysql", "postgres"):
        path = folder(engine)
        runs = [lint_seconds(path, engine) for _round in range(ROUNDS)]
        seconds = statistics.median(r[0] for r in runs)
        print("  %-8s lint of %d files (%d statements, %d findings): %.2f s  (target <= 2 s: %s)"
              % (engine, FILES, runs[0][2], runs[0][1], seconds, "met" if seconds <= 2 else "MISSED"))
    flagship = load_migrations(DiskSource(os.path.join(HERE, "..", "examples", "academy", "migrations")), "mysql")
    runs = [rehearsal_seconds(flagship) for _round in range(ROUNDS)]
    seconds = statistics.median(r[0] for r in runs)
    print("  rehearsal of the flagship's %d migrations on MariaDB (ups, downs, ups again): %.2f s  (target <= 3 s: %s)"
          % (len(flagship), seconds, "met" if seconds <= 3 else "MISSED"))
    for step in runs[-1][1]["migrations"]:
        print("    %s up %d ms, down %d ms, up again %d ms" % (step["version"], step["up_ms"], step["down_ms"], step["reup_ms"]))


if __name__ == "__main__":
    main()
