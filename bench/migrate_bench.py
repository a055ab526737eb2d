"""Benchmark: migrate_apply against a raw-driver loop, the command-line clients and peer tools.

Run by `make bench` on the local stack. Each contender applies the same 200 generated migrations
(CREATE TABLE + INSERT) to a fresh database, side by side in one run, on both engines; the table
prints wall seconds and the ratio to the raw-driver loop (one transaction per file plus a history
insert, the least any tool can do). migrate_apply is timed as one Ansible task: the playbook's
wall time minus that of a playbook with one trivial task (Ansible's fixed cost of any task), so the
number is the migration work itself. Then a check-mode plan over 5,000 files with 5,000 history
rows is timed. Peers that are not installed are listed as skipped.

node-pg-migrate (npm, pinned by tests/integration/targets/migrate_adopt/files, installed into
build/bench-node) runs on PostgreSQL with one transaction per migration (--no-single-transaction, as
migrate_apply does); Sqitch (Debian's sqitch with libdbd-pg-perl / libdbd-mariadb-perl) deploys a plan of
the same 200 changes on both engines, each script in BEGIN/COMMIT as Sqitch's templates write them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pymysql
import psycopg

COUNT = int(os.environ.get("BENCH_MIGRATIONS", "200"))
PLAN_COUNT = int(os.environ.get("BENCH_PLAN_MIGRATIONS", "5000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))  # each contender's best of ROUNDS runs
ONLY = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name]  # e.g. "raw,migrate_apply"
PASSWORD = "dbops-local-stack"
SERVERS = {
    "postgres": dict(engine="postgres", login_host="127.0.0.1", login_port=55432, login_user="dbops",
                     login_password=PASSWORD),
    "mysql": dict(engine="mysql", login_host="127.0.0.1", login_port=53306, login_user="dbops",
                  login_password=PASSWORD),
}
DB = "dbops_bench"
SQITCH_REGISTRY = "dbops_bench_sqitch"  # MySQL: Sqitch keeps its registry in a database of its own
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_PACKAGE = os.path.join(ROOT, "tests", "integration", "targets", "migrate_adopt", "files")
NODE_DIR = os.path.join(ROOT, "build", "bench-node")


def up_sql(i):
    return "CREATE TABLE bench_%04d (id INTEGER PRIMARY KEY, note VARCHAR(40));\nINSERT INTO bench_%04d VALUES (1, 'row');\n" % (i, i)


def write_migrations(folder, count):
    os.makedirs(folder, exist_ok=True)
    for i in range(1, count + 1):
        with open(os.path.join(folder, "%06d_bench_%04d.up.sql" % (i, i)), "w", encoding="utf-8") as handle:
            handle.write(up_sql(i))


def admin(engine):
    if engine == "postgres":
        return psycopg.connect(host="127.0.0.1", port=55432, user="dbops", password=PASSWORD, dbname="postgres",
                               autocommit=True)
    return pymysql.connect(host="127.0.0.1", port=53306, user="dbops", password=PASSWORD, autocommit=True)


def fresh_database(engine):
    conn = admin(engine)
    with conn.cursor() as cur:
        if engine == "postgres":
            cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DB)
            cur.execute('CREATE DATABASE "%s"' % DB)
        else:
            cur.execute("DROP DATABASE IF EXISTS `%s`" % DB)
            cur.execute("CREATE DATABASE `%s`" % DB)
    conn.close()


def connect(engine):
    if engine == "postgres":
        return psycopg.connect(host="127.0.0.1", port=55432, user="dbops", password=PASSWORD, dbname=DB, autocommit=True)
    return pymysql.connect(host="127.0.0.1", port=53306, user="dbops", password=PASSWORD, database=DB, autocommit=True)


def raw_loop(engine, folder):
    """The least a migration tool can do: per file, one transaction with its statements and a history row."""
    conn = connect(engine)
    cur = conn.cursor()
    cur.execute("CREATE TABLE raw_history (version VARCHAR(50) PRIMARY KEY, applied_at TIMESTAMP)")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            statements = [s.strip() for s in handle.read().split(";") if s.strip()]
        cur.execute("START TRANSACTION")
        for statement in statements:
            cur.execute(statement)
        cur.execute("INSERT INTO raw_history VALUES (%s, CURRENT_TIMESTAMP)", (name.split("_")[0],))
        cur.execute("COMMIT")
    conn.close()


def client(engine, folder):
    """psql / mariadb reading one script that wraps each file in a transaction with a history row."""
    script = ["CREATE TABLE client_history (version VARCHAR(50) PRIMARY KEY);"]
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            script.append("START TRANSACTION;\n%sINSERT INTO client_history VALUES ('%s');\nCOMMIT;" % (
                handle.read(), name.split("_")[0]))
    text = "\n".join(script)
    env = dict(os.environ, PGPASSWORD=PASSWORD, MYSQL_PWD=PASSWORD)
    if engine == "postgres":
        command = ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "55432", "-U", "dbops", "-d", DB]
    else:
        command = ["mariadb", "--no-defaults", "-h", "127.0.0.1", "-P", "53306", "-u", "dbops", DB]
    subprocess.run(command, input=text, text=True, check=True, env=env, stdout=subprocess.DEVNULL)


def yoyo(engine, folder):
    scripts = tempfile.mkdtemp()
    try:
        for name in sorted(os.listdir(folder)):
            shutil.copy(os.path.join(folder, name), os.path.join(scripts, name.replace(".up.sql", ".sql")))
        url = ("postgresql+psycopg://dbops:%s@127.0.0.1:55432/%s" % (PASSWORD, DB) if engine == "postgres"
               else "mysql://dbops:%s@127.0.0.1:53306/%s" % (PASSWORD, DB))
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "yoyo"), "apply", "--batch", "--no-config-file",
                        "--database", url, scripts], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(scripts)


def alembic(engine, folder):
    root = tempfile.mkdtemp()
    try:
        versions = os.path.join(root, "versions")
        os.makedirs(versions)
        url = ("postgresql+psycopg://dbops:%s@127.0.0.1:55432/%s" % (PASSWORD, DB) if engine == "postgres"
               else "mysql+pymysql://dbops:%s@127.0.0.1:53306/%s" % (PASSWORD, DB))
        with open(os.path.join(root, "env.py"), "w", encoding="utf-8") as handle:
            handle.write(
                "from alembic import context\nfrom sqlalchemy import create_engine\n"
                "engine = create_engine(%r)\n"
                "with engine.connect() as connection:\n"
                "    context.configure(connection=connection, transaction_per_migration=True)\n"
                "    with context.begin_transaction():\n        context.run_migrations()\n" % url)
        previous = None
        for number, name in enumerate(sorted(os.listdir(folder)), 1):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                statements = [s.strip() for s in handle.read().split(";") if s.strip()]
            with open(os.path.join(versions, "r%04d.py" % number), "w", encoding="utf-8") as handle:
                handle.write("from alembic import op\nrevision = 'r%04d'\ndown_revision = %r\n"
                             "def upgrade():\n%s\n" % (number, previous,
                                                       "".join("    op.execute(%r)\n" % s for s in statements)))
            previous = "r%04d" % number
        with open(os.path.join(root, "alembic.ini"), "w", encoding="utf-8") as handle:
            handle.write("[alembic]\nscript_location = %s\n" % root)
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "alembic"), "-c",
                        os.path.join(root, "alembic.ini"), "upgrade", "head"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        shutil.rmtree(root)


def node_pg_migrate_installed():
    """npm ci of the pinned node-pg-migrate into build/bench-node (once); None without npm."""
    binary = os.path.join(NODE_DIR, "node_modules", ".bin", "node-pg-migrate")
    if not os.path.exists(binary) and shutil.which("npm"):
        os.makedirs(NODE_DIR, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(NODE_PACKAGE, name), NODE_DIR)
        subprocess.run(["npm", "ci", "--prefix", NODE_DIR, "--no-audit", "--no-fund", "--prefer-offline"], check=True,
                       stdout=subprocess.DEVNULL)
    return binary if os.path.exists(binary) else None


def node_pg_migrate(engine, folder):
    migrations = tempfile.mkdtemp()
    try:
        for name in sorted(os.listdir(folder)):
            version, rest = name.split("_", 1)  # node-pg-migrate wants a timestamp prefix (milliseconds)
            stamped = "%d_%s" % (1700000000000 + int(version), rest.replace(".up.sql", ".sql"))
            with open(os.path.join(folder, name), encoding="utf-8") as source, \
                    open(os.path.join(migrations, stamped), "w", encoding="utf-8") as target:
                target.write("-- Up Migration\n" + source.read())
        subprocess.run([node_pg_migrate_installed(), "up", "--no-single-transaction", "-m", migrations], check=True,
                       stdout=subprocess.DEVNULL, env=dict(
                           os.environ, DATABASE_URL="postgres://dbops:%s@127.0.0.1:55432/%s" % (PASSWORD, DB)))
    finally:
        shutil.rmtree(migrations)


def sqitch(engine, folder):
    project = tempfile.mkdtemp()
    try:
        os.makedirs(os.path.join(project, "deploy"))
        plan = ["%syntax-version=1.0.0", "%project=bench", ""]
        for name in sorted(os.listdir(folder)):
            change = name[: -len(".up.sql")]
            with open(os.path.join(folder, name), encoding="utf-8") as source, \
                    open(os.path.join(project, "deploy", change + ".sql"), "w", encoding="utf-8") as target:
                target.write("BEGIN;\n%sCOMMIT;\n" % source.read())
            plan.append("%s 2026-01-01T00:00:00Z bench <bench@example.com> # %s" % (change, change))
        with open(os.path.join(project, "sqitch.plan"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(plan) + "\n")
        with open(os.path.join(project, "sqitch.conf"), "w", encoding="utf-8") as handle:
            handle.write("[core]\n\tengine = %s\n" % ("pg" if engine == "postgres" else "mysql"))
        target = ("db:pg://dbops@127.0.0.1:55432/%s" % DB if engine == "postgres"
                  else "db:mysql://dbops@127.0.0.1:53306/%s" % DB)
        command = ["sqitch", "deploy", "--target", target] + ([] if engine == "postgres" else ["--registry", SQITCH_REGISTRY])
        subprocess.run(command, cwd=project, check=True, stdout=subprocess.DEVNULL, env=dict(
            os.environ, SQITCH_PASSWORD=PASSWORD, SQITCH_FULLNAME="bench", SQITCH_EMAIL="bench@example.com"))
    finally:
        shutil.rmtree(project)


def drop_sqitch_registry():
    conn = admin("mysql")
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS `%s`" % SQITCH_REGISTRY)
    conn.close()


def playbook(engine, folder, check=False):
    """One migrate_apply task; with no folder, one trivial db_check task (the cost of any task)."""
    connection = dict(SERVERS[engine], login_db=DB if folder else "postgres" if engine == "postgres" else None)
    if folder is None:
        task = {"name": "trivial", "dbops.runbooks.db_check": dict(connection, checks=[{"query": {"sql": "SELECT 1", "expect": 1}}])}
    else:
        task = {"name": "migrate", "dbops.runbooks.migrate_apply": dict(connection, migrations_dir=folder), "check_mode": check}
    play = [{"name": "bench", "hosts": "localhost", "gather_facts": False, "tasks": [task]}]
    handle, path = tempfile.mkstemp(suffix=".yml")
    with os.fdopen(handle, "w") as out:
        json.dump(play, out)
    return path


def ansible(path):
    subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", path], check=True, stdout=subprocess.DEVNULL,
                   env=dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable))


def timed(work):
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def available(tool):
    return shutil.which(tool) or os.path.exists(os.path.join(os.path.dirname(sys.executable), tool))


def main():
    folder = tempfile.mkdtemp()
    write_migrations(folder, COUNT)
    trivial = playbook("postgres", None)
    baseline = min(timed(lambda: ansible(trivial)) for _attempt in range(3))
    print("migrate_apply benchmark: %d migrations (CREATE TABLE + INSERT), fresh database each, best of %d"
          % (COUNT, ROUNDS))
    print("%-10s %-34s %9s %12s" % ("engine", "contender", "seconds", "vs raw loop"))
    for engine in ("postgres", "mysql"):
        contenders = [
            ("raw-driver loop", lambda: raw_loop(engine, folder), None),
            ("migrate_apply (task minus any task)", lambda: ansible(playbook(engine, folder)), None),
            ("psql" if engine == "postgres" else "mariadb client", lambda: client(engine, folder), None),
            ("yoyo-migrations", lambda: yoyo(engine, folder), lambda: available("yoyo")),
            ("alembic", lambda: alembic(engine, folder), lambda: available("alembic")),
            ("sqitch", lambda: sqitch(engine, folder), lambda: shutil.which("sqitch")),
        ]
        if engine == "postgres":
            contenders.append(("node-pg-migrate", lambda: node_pg_migrate(engine, folder), node_pg_migrate_installed))
        raw = None
        for name, work, installed in contenders:
            if ONLY and not any(name.startswith(prefix) for prefix in ONLY):
                continue
            if installed is not None and not installed():
                print("%-10s %-34s %9s %12s" % (engine, name, "skipped", "not installed"))
                continue
            runs = []
            for _round in range(ROUNDS):
                fresh_database(engine)
                if name == "sqitch" and engine == "mysql":
                    drop_sqitch_registry()
                runs.append(timed(work))
            seconds = min(runs)
            if name.startswith("migrate_apply"):
                seconds -= baseline
            raw = seconds if raw is None else raw
            print("%-10s %-34s %9.2f %11.2fx" % (engine, name, seconds, seconds / raw))
    plan_folder = tempfile.mkdtemp()
    write_migrations(plan_folder, PLAN_COUNT)
    for engine in ("postgres", "mysql"):
        fresh_database(engine)
        ansible(playbook(engine, plan_folder))
        seconds = timed(lambda: ansible(playbook(engine, plan_folder, check=True))) - baseline
        print("%-10s check-mode plan over %d files and %d history rows: %.2f s (target < 2 s)"
              % (engine, PLAN_COUNT, PLAN_COUNT, seconds))
    shutil.rmtree(folder)
    shutil.rmtree(plan_folder)
    for engine in ("postgres", "mysql"):
        fresh_database(engine)
    if shutil.which("sqitch"):
        drop_sqitch_registry()


if __name__ == "__main__":
    main()
