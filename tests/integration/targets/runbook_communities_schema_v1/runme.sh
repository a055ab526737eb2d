#!/usr/bin/env bash
# The flagship runbook (steps 1-2) end to end against the local stack's MariaDB:
# --check writes nothing, a run is idempotent, a broken step-2 migration is rolled back to the
# state before step 2 and named, connection errors are one clear line, no password is printed.
set -euo pipefail

# Run the playbook the way an installed collection is used; find the collection for its inventory.
PLAYBOOK=dbops.runbooks.communities_schema_v1
ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
INVENTORY=$ROOT/inventories/local
DB=dbops_it_runbook
PASSWORD=dbops-local-stack
WORK=$(mktemp -d)
# The demo app (examples/academy/app) on the test database, for the runbook's API smoke tests.
APP_PORT=58081
API="{\"academy_api\": {\"url\": \"http://127.0.0.1:$APP_PORT\", \"token\": \"academy-local-api-token\"}}"
ACADEMY_DB_PASSWORD=dbops-local-stack python "$ROOT/examples/academy/app/academy_api.py" --port "$APP_PORT" \
  --base-path "$WORK/app-base" --db-name "$DB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
trap 'kill "$APP_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

sql() { MYSQL_PWD=$PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u dbops -N -B "$@"; }
tables() { sql -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$DB' ORDER BY 1" | tr '\n' ' '; }
app_tables() { tables | tr ' ' '\n' | grep -v '^dbops_schema_history' | tr '\n' ' ' || true; }
fresh_db() { sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
# The local inventory, pointed at the test database and its demo app (and at other migrations when given).
runbook() {
  ansible-playbook -i "$INVENTORY" "$PLAYBOOK" -e "{\"db_connection\": $(connection "$PASSWORD" 53306)}" -e "$API" "$@"
}
# One step's API smoke tests (runbook_smoke_tests), as the step playbooks run them.
smoke() {
  ansible -i "$INVENTORY" academy-db -m ansible.builtin.include_role -a "name=dbops.runbooks.runbook_step tasks_from=smoke" \
    -e @"$ROOT/playbooks/vars/communities_schema_v1.yml" -e "$API" -e "runbook_step_key=$1"
}
connection() {
  printf '{"engine": "mysql", "login_host": "127.0.0.1", "login_port": %s, "login_user": "dbops", "login_password": "%s", "login_db": "%s", "connect_timeout": 3}' "$2" "$1" "$DB"
}

tries=0
until curl -fs -o /dev/null "http://127.0.0.1:$APP_PORT/metrics"; do
  tries=$((tries + 1)); [ $tries -le 100 ] || { cat "$WORK/app.log"; fail "demo app did not start"; }; sleep 0.1
done

echo "== --check on an empty database leaves it empty"
fresh_db
runbook --check --diff >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; fail "--check run failed"; }
[ -z "$(tables)" ] || fail "--check created tables: $(tables)"
grep -q "create_community_core_tables" "$WORK/check.log" || fail "--check did not show the pending migration"

echo "== a run applies step 2, a second run changes nothing"
runbook >"$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; fail "first run failed"; }
[ "$(app_tables)" = "communities community_categories geo_places " ] || fail "unexpected tables after run: $(tables)"
runbook >"$WORK/run2.log" 2>&1 || { cat "$WORK/run2.log"; fail "second run failed"; }
grep -Eq 'academy-db +: ok=[0-9]+ +changed=0 ' "$WORK/run2.log" || { tail -n 5 "$WORK/run2.log"; fail "second run reported changes"; }
grep -q '2.x GET /api/v1/communities answers on the new schema: 0 item(s)' "$WORK/run1.log" || fail "the API smoke test did not run"

echo "== API smoke tests: categories after seeding (6.5); empty communities fail 7.6, naming the call"
# Seeding needs step 3's tables (levels, points rules) too.
sql "$DB" <"$ROOT/examples/academy/migrations/2024_12_24_000100_create_community_engagement_tables.up.sql"
sql "$DB" <"$ROOT/examples/academy/seeds/community_foundation.sql"
smoke seed-foundation-data >"$WORK/smoke-seed.log" 2>&1 || { cat "$WORK/smoke-seed.log"; fail "categories smoke test failed after seeding"; }
grep -q '6.5 GET /api/v1/communities/categories returns the seeded payload: 7 item(s)' "$WORK/smoke-seed.log" || fail "categories payload not checked"
if smoke post-migration-verification >"$WORK/smoke-empty.log" 2>&1; then fail "7.6 passed with no communities"; fi
grep -q 'answered 200 with 0 item(s); expected 200 and at least 1 item(s)' "$WORK/smoke-empty.log" || { cat "$WORK/smoke-empty.log"; fail "7.6 failure not explained"; }
if grep -q academy-local-api-token "$WORK/smoke-seed.log" "$WORK/smoke-empty.log"; then fail "API token printed"; fi

echo "== a failing API smoke test rolls step 2 back"
fresh_db
if runbook -e '{"academy_api": {"url": "http://127.0.0.1:1", "token": "x"}}' >"$WORK/smoke.log" 2>&1; then fail "unreachable API passed the smoke test"; fi
[ -z "$(app_tables)" ] || fail "step 2 not rolled back after the smoke test failed: $(app_tables)"
grep -q "deploy-community-core-schema failed at 'Check the smoke tests of step deploy-community-core-schema'" "$WORK/smoke.log" \
  || { grep fatal "$WORK/smoke.log"; fail "smoke failure does not name the check"; }

echo "== a broken step-2 migration is rolled back to the state before step 2, naming file and statement"
fresh_db
cp -r "$ROOT/examples/academy" "$WORK/app"
core="$WORK/app/migrations/2024_12_24_000000_create_community_core_tables.up.sql"
printf '\nINSERT INTO no_such_table (id) VALUES (1);\n' >>"$core"
before=$(app_tables)
if runbook -e "academy_app_dir=$WORK/app" >"$WORK/broken.log" 2>&1; then fail "broken migration did not fail the run"; fi
[ "$(app_tables)" = "$before" ] || fail "schema after rollback ($(app_tables)) differs from before ($before)"
grep -q "deploy-community-core-schema failed" "$WORK/broken.log" || fail "failure does not name the step"
grep -Eq "2024_12_24_000000_create_community_core_tables.up.sql: statement [0-9]+ \(line [0-9]+\) failed: \(1146\).*INSERT INTO no_such_table" "$WORK/broken.log" \
  || { grep fatal "$WORK/broken.log"; fail "failure does not name file and statement"; }
grep -q "rolled back by down-migration" "$WORK/broken.log" || fail "rollback not reported"
[ "$(sql -e "SELECT COUNT(*) FROM $DB.dbops_schema_history")" = 0 ] || fail "history still holds the failed migration"

echo "== the step-2 drop fallback runs when the down-migration fails too"
fresh_db
printf 'DROP TABLE no_such_table;\n' >"$WORK/app/migrations/2024_12_24_000000_create_community_core_tables.down.sql"
if runbook -e "academy_app_dir=$WORK/app" >"$WORK/fallback.log" 2>&1; then fail "broken migration did not fail the run"; fi
[ -z "$(app_tables)" ] || fail "drop fallback left tables: $(app_tables)"
grep -q "rolled back by drop fallback" "$WORK/fallback.log" || fail "fallback not reported"

echo "== wrong password, unreachable port, missing migrations: one clear line, never the password"
wrong=$(connection "not-the-password-7f3a" 53306)
if ansible-playbook -vvv -i "$INVENTORY" "$PLAYBOOK" -e "{\"db_connection\": $wrong}" >"$WORK/password.log" 2>&1; then fail "wrong password accepted"; fi
grep -q "cannot connect to mysql at 127.0.0.1:53306 as dbops: (1045) Access denied" "$WORK/password.log" || fail "no clear wrong-password error"
if grep -q "not-the-password-7f3a" "$WORK/password.log"; then fail "password printed at -vvv"; fi
unreachable=$(connection "$PASSWORD" 1)
if ansible-playbook -i "$INVENTORY" "$PLAYBOOK" -e "{\"db_connection\": $unreachable}" >"$WORK/port.log" 2>&1; then fail "unreachable port accepted"; fi
grep -q "cannot connect to mysql at 127.0.0.1:1 as dbops: (2003) Can't connect" "$WORK/port.log" || fail "no clear unreachable error"
if runbook -e "academy_app_dir=$WORK/nowhere" >"$WORK/dir.log" 2>&1; then fail "missing migrations accepted"; fi
grep -q "migrations_dir $WORK/nowhere/migrations: no such directory" "$WORK/dir.log" || fail "no clear missing-directory error"
runbook -vvv >"$WORK/verbose.log" 2>&1 || fail "verbose run failed"
if grep -q "$PASSWORD" "$WORK/verbose.log"; then fail "password printed at -vvv"; fi

sql -e "DROP DATABASE IF EXISTS $DB"
echo "runbook_communities_schema_v1: all passed"
