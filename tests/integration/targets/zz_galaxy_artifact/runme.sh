#!/usr/bin/env bash
# The Galaxy artifact users install. Named to sort last: ansible-test runs targets by name, so the
# other targets' outputs (build/, reports, tests/output) may exist by now. Decoys of every kind of
# build output are added to a copy of the collection's files anyway, so the check does not depend on
# what ran before. The tarball must hold exactly the collection's files (git ls-files minus
# galaxy.yml's build_ignore); installed offline into a fresh collections path it runs the flagship
# runbook with --check against the stack (own database and demo app port), writing nothing.
set -euo pipefail

ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
DB=dbops_it_galaxy
PASSWORD=dbops-local-stack
APP_PORT=58083
WORK=$(mktemp -d)
APP_PID=
trap 'if [ -n "$APP_PID" ]; then kill "$APP_PID" 2>/dev/null || true; fi; if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

echo "== the tarball holds the collection's own files, none of the build outputs"
SRC=$WORK/src
mkdir -p "$SRC"
(cd "$ROOT" && git ls-files -z) | (cd "$ROOT" && xargs -0 cp --parents -P -t "$SRC")
decoys=(build/test/ansible_collections/amazon/aws/README.md build/reports/latest.json tests/output/junit.xml
  reports/run.md bench/new_bench.py .stack/mariadb.pid .venv/pyvenv.cfg node_modules/x/package.json
  examples/academy/node_modules/x/index.js dbops-runbooks-0.0.9.tar.gz plugins/modules/__pycache__/x.cpython-312.pyc
  .pytest_cache/README.md tests/integration/inventory changelogs/.plugin-cache.yaml)
for decoy in "${decoys[@]}"; do mkdir -p "$SRC/$(dirname "$decoy")" && echo decoy >"$SRC/$decoy"; done
ansible-galaxy collection build "$SRC" --output-path "$WORK/dist" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; fail "build failed"; }
TARBALL=$(echo "$WORK"/dist/dbops-runbooks-*.tar.gz)
python - "$ROOT/galaxy.yml" "$TARBALL" "$(cd "$ROOT" && git ls-files)" "${decoys[@]}" <<'PY' || fail "the tarball does not hold exactly the collection's files"
import fnmatch, sys, tarfile
import yaml
galaxy_yml, tarball, tracked, decoys = sys.argv[1], sys.argv[2], sys.argv[3].split("\n"), sys.argv[4:]
meta = yaml.safe_load(open(galaxy_yml))
# ansible-galaxy's own ignores, then build_ignore, matched like it does (fnmatch on the relative path
# of each file and of each directory above it).
patterns = ["MANIFEST.json", "FILES.json", "galaxy.yml", ".git", "*.pyc", "*.retry", "tests/output",
            "dbops-runbooks-*.tar.gz"] + meta["build_ignore"]
def ignored(path):
    parts = path.split("/")
    return any(fnmatch.fnmatch("/".join(parts[:i]), p) for i in range(1, len(parts) + 1) for p in patterns)
with tarfile.open(tarball) as tar:
    shipped = {m.name for m in tar.getmembers() if m.isfile()} - {"MANIFEST.json", "FILES.json"}
expected = {path for path in tracked if path and not ignored(path)}
problems = []
if shipped - expected:
    problems.append("not the collection's: %s" % sorted(shipped - expected))
if expected - shipped:
    problems.append("missing: %s" % sorted(expected - shipped))
if any(d in shipped for d in decoys):
    problems.append("decoys shipped: %s" % sorted(d for d in decoys if d in shipped))
for prefix in ("build/", "tests/output/", "bench/", ".stack/", ".venv/", "reports/", ".ci/"):
    if any(name.startswith(prefix) for name in shipped):
        problems.append("ships %s" % prefix)
for needed in ("meta/runtime.yml", "plugins/modules/migrate_apply.py", "playbooks/communities_schema_v1.yml",
               "inventories/local/hosts.yml", "examples/academy/app/academy_api.py", "requirements.txt"):
    if needed not in shipped:
        problems.append("lacks %s" % needed)
print("\n".join(problems) or "%d files, all the collection's own" % len(shipped))
sys.exit(1 if problems else 0)
PY

echo "== it installs offline into a fresh collections path"
# --offline: no Galaxy server is asked; amazon.aws and community.general are found already
# installed (the ansible package on the Python path), so their dependency is met without --no-deps.
# Only the fresh path is configured: the copy ansible-test put on the path must not count as installed.
export ANSIBLE_COLLECTIONS_PATH=$WORK/collections
ansible-galaxy collection install --offline "$TARBALL" -p "$WORK/collections" >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; fail "offline install failed"; }
grep -q "dbops.runbooks:.* was installed successfully" "$WORK/install.log" || { cat "$WORK/install.log"; fail "not installed"; }
grep -q "amazon.aws:.* is already installed" "$WORK/install.log" || { cat "$WORK/install.log"; fail "amazon.aws not found installed"; }
INSTALLED=$WORK/collections/ansible_collections/dbops/runbooks
found=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null | python -c 'import json, sys; print(" ".join(json.load(sys.stdin)))')
[ "$found" = "$WORK/collections/ansible_collections" ] || fail "dbops.runbooks resolves to $found, not the installed copy"

echo "== the installed copy rehearses the runbook (--check) against the stack and writes nothing"
sql() { MYSQL_PWD=$PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u dbops -N -B "$@"; }
sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4"
ACADEMY_DB_PASSWORD=$PASSWORD python "$INSTALLED/examples/academy/app/academy_api.py" --port "$APP_PORT" \
  --base-path "$WORK/app-base" --db-name "$DB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
tries=0
until curl -fs -o /dev/null "http://127.0.0.1:$APP_PORT/metrics"; do
  tries=$((tries + 1)); [ $tries -le 100 ] || { cat "$WORK/app.log"; fail "demo app did not start"; }; sleep 0.1
done
EXTRA=$(printf '{"db_connection": {"engine": "mysql", "login_host": "127.0.0.1", "login_port": 53306, "login_user": "dbops",
  "login_password": "%s", "login_db": "%s", "connect_timeout": 3},
  "academy_api": {"url": "http://127.0.0.1:%s", "token": "academy-local-api-token"},
  "academy_ops_api": "http://127.0.0.1:%s/api/v1/ops",
  "laravel_app": {"base_path": "%s", "down": {"retry": 60, "except_paths": ["api/v1/communities/categories"]}},
  "runbook_backup": {"method": "logical", "backup_dir": "%s"}}' \
  "$PASSWORD" "$DB" "$APP_PORT" "$APP_PORT" "$WORK/app-base" "$WORK/backups")
(cd "$WORK" && ansible-playbook -i "$INSTALLED/inventories/local" dbops.runbooks.communities_schema_v1 --check -e "$EXTRA") \
  >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; fail "--check from the installed copy failed"; }
grep -q "create_community_core_tables" "$WORK/check.log" || fail "--check did not show the pending migration"
grep -Eq 'academy-db +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0' "$WORK/check.log" || { tail -n 8 "$WORK/check.log"; fail "--check did not finish cleanly"; }
[ -z "$(sql -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$DB'")" ] || fail "--check created tables"
[ ! -e "$WORK/backups" ] || fail "--check wrote a backup"
if grep -q "$PASSWORD" "$WORK/check.log"; then fail "password printed"; fi
sql -e "DROP DATABASE IF EXISTS $DB"
echo "zz_galaxy_artifact: all passed"
