#!/usr/bin/env bash
# The flagship runbook end to end against the local stack's MariaDB: --check writes nothing, a run
# is idempotent, each step broken in turn (a failing migration, a failing verification, a window
# timeout) is rolled back to the schema captured before it and named in the run report, a re-run
# after the fix completes, connection errors are one clear line, no password is printed.
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
# The runbook's app server (maintenance file) and Horizon stand-in are that app too.
API=$(printf '{"academy_api": {"url": "http://127.0.0.1:%s", "token": "academy-local-api-token"},
  "academy_ops_api": "http://127.0.0.1:%s/api/v1/ops",
  "laravel_app": {"base_path": "%s"}}' \
  "$APP_PORT" "$APP_PORT" "$WORK/app-base")
ACADEMY_DB_PASSWORD=dbops-local-stack python "$ROOT/examples/academy/app/academy_api.py" --port "$APP_PORT" \
  --base-path "$WORK/app-base" --db-name "$DB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
trap 'kill "$APP_PID" 2>/dev/null || true; if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
# Every run writes its report; latest.json is the last run's.
export ANSIBLE_CALLBACKS_ENABLED=dbops.runbooks.runbook_report DBOPS_RUNBOOK_REPORT_DIR=$WORK/reports
STEPS=(preflight-safety-checks deploy-community-core-schema deploy-engagement-layer-schema
  apply-feed-indexes-and-partitions deploy-supporting-tables seed-foundation-data post-migration-verification)

sql() { MYSQL_PWD=$PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u dbops -N -B "$@"; }
tables() { sql -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$DB' ORDER BY 1" | tr '\n' ' '; }
app_tables() { tables | tr ' ' '\n' | grep -v '^dbops_schema_history' | tr '\n' ' ' || true; }
# The schema (no data, no auto-increment counters) and the history rows: what a rollback must restore.
schema() {
  MYSQL_PWD=$PASSWORD mariadb-dump --no-defaults -h 127.0.0.1 -P 53306 -u dbops --no-data --skip-comments \
    --skip-dump-date "$DB" | sed -E 's/ AUTO_INCREMENT=[0-9]+//'
  sql -e "SELECT version, status FROM $DB.dbops_schema_history ORDER BY version" 2>/dev/null || true
}
# The steps before the given one, as a --tags list.
steps_before() { local tags=() step; for step in "${STEPS[@]}"; do [ "$step" = "$1" ] && break; tags+=("$step"); done
  (IFS=,; echo "${tags[*]}"); }
# What the last run's report says about a step: status, then the failure's cause.
report_step() {
  python - "$WORK/reports/latest.json" "$1" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
step = next(s for s in report["steps"] if s["key"] == sys.argv[2])
print(step["status"], (step.get("failure") or {}).get("cause", ""))
PY
}
# Run the steps before a step, then the whole runbook with that step broken (by the command in $3,
# run in a copy of the example app, and/or by extra arguments): the run fails naming the step, the
# schema is back to what it was before the step, and the report says the step was rolled back and why.
break_step() {
  local key=$1 expect=$2 sabotage=$3; shift 3
  rm -rf "$WORK/broken" && cp -r "$ROOT/examples/academy" "$WORK/broken"
  (cd "$WORK/broken" && eval "$sabotage")
  runbook --tags "$(steps_before "$key")" >"$WORK/$key-before.log" 2>&1 || { cat "$WORK/$key-before.log"; fail "steps before $key failed"; }
  schema >"$WORK/$key-before.schema"
  if runbook -e "academy_app_dir=$WORK/broken" "$@" >"$WORK/$key-broken.log" 2>&1; then fail "broken $key did not fail the run"; fi
  schema >"$WORK/$key-after.schema"
  diff -u "$WORK/$key-before.schema" "$WORK/$key-after.schema" || fail "$key: schema after the rollback differs from before the step"
  grep -q "$key failed at" "$WORK/$key-broken.log" || { grep fatal "$WORK/$key-broken.log"; fail "$key: failure does not name the step"; }
  report_step "$key" | grep -Eq "^rolled_back .*$expect" || { report_step "$key"; fail "$key: report does not show the rollback and '$expect'"; }
}
fresh_db() { sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
# The local inventory, pointed at the test database and its demo app (and at other migrations when given).
runbook() {
  ansible-playbook -i "$INVENTORY" "$PLAYBOOK" -e "{\"db_connection\": $(connection "$PASSWORD" 53306)}" -e "$API" "$@"
}
# One step's API smoke tests (runbook_smoke_tests), as the step playbooks run them.
smoke() {
  ansible -i "$INVENTORY" academy-db -m dbops.runbooks.runbook_step -a "phase=smoke" \
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
echo "recap of --check: $(grep -A1 '^PLAY RECAP' "$WORK/check.log" | tail -n 1)"

echo "== the smoke tests judge what the API answers: empty communities fail 7.6, naming the call"
sql "$DB" <"$ROOT/examples/academy/migrations/2024_12_24_000000_create_community_core_tables.up.sql"
if smoke post-migration-verification >"$WORK/smoke-empty.log" 2>&1; then fail "7.6 passed with no communities"; fi
grep -q 'answered 200 with 0 item(s); expected 200 and at least 1 item(s)' "$WORK/smoke-empty.log" || { cat "$WORK/smoke-empty.log"; fail "7.6 failure not explained"; }
if grep academy-local-api-token "$WORK/smoke-empty.log"; then fail "API token printed"; fi

echo "== a run applies all seven steps, a second run changes nothing"
fresh_db
runbook >"$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; fail "first run failed"; }
expected="communities community_categories community_levels community_members community_notification_preferences community_points_rules community_posts community_post_comments community_post_likes geo_places search_saved_queries "
[ "$(app_tables)" = "$expected" ] || fail "unexpected tables after run: $(app_tables)"
runbook >"$WORK/run2.log" 2>&1 || { cat "$WORK/run2.log"; fail "second run failed"; }
# The recaps, for comparing task counts between versions (each task costs ~0.3 s).
echo "recap of the first run: $(grep -A1 '^PLAY RECAP' "$WORK/run1.log" | tail -n 1)"
echo "recap of the second run: $(grep -A1 '^PLAY RECAP' "$WORK/run2.log" | tail -n 1)"
grep -Eq 'academy-db +: ok=[0-9]+ +changed=0 ' "$WORK/run2.log" || { grep -B3 -E '^changed' "$WORK/run2.log"; tail -n 8 "$WORK/run2.log"; fail "second run reported changes"; }
grep -q '2.x GET /api/v1/communities answers on the new schema' "$WORK/run1.log" || fail "the 2.x smoke test did not run"
grep -q '6.5 GET /api/v1/communities/categories returns the seeded payload: 7 item(s)' "$WORK/run1.log" || fail "the 6.5 smoke test did not run"
grep -q '7.6 GET /api/v1/communities returns HTTP 200 with non-empty data: 3 item(s)' "$WORK/run1.log" || fail "the 7.6 smoke test did not run"
if grep academy-local-api-token "$WORK/run1.log"; then fail "API token printed"; fi
python - "$WORK/reports/latest.json" <<'PY' || fail "the report of the second run is not a clean run of seven steps"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["outcome"] == "ok", report["outcome"]
assert [s["status"] for s in report["steps"]] == ["ok"] * 7, [(s["key"], s["status"]) for s in report["steps"]]
assert report["held_state"]["resume"] is None, report["held_state"]
PY
# The report names each toggled host, shows decision reads apart (a red no only for a failure), prints clean paths.
grep -q "^- app server academy-app: maintenance " "$WORK/reports/latest.md" || fail "the report does not name the app server's toggle"
grep -q "^Decisions (reads the step decided on" "$WORK/reports/latest.md" || fail "the report does not show step 6's decisions"
if grep -Eq '\*\*no\*\*|\(was ,  backend\)|/\.\./' "$WORK/reports/latest.md"; then fail "the report of a clean run shows a red no, a blank toggle or a ../ path"; fi

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

echo "== each step broken in turn is rolled back to the schema before it; the fixed run completes"
fresh_db
# Step 3: a failing migration (the down-migration rolls it back).
break_step deploy-engagement-layer-schema "no_such_table" \
  "printf '\nINSERT INTO no_such_table (id) VALUES (1);\n' >>migrations/2024_12_24_000100_create_community_engagement_tables.up.sql"
# Step 4: a failing verification (8 partitions where the runbook's 4.6 expects 16).
break_step apply-feed-indexes-and-partitions "partition" \
  "sed -i 's/PARTITIONS 16/PARTITIONS 8/' migrations/2024_12_24_000200_optimize_community_indexes_and_partitions.up.sql"
grep -q "^- Resume at step 4 apply-feed-indexes-and-partitions after fixing the cause: --tags apply-feed-indexes-and-partitions,deploy-supporting-tables," \
  "$WORK/reports/latest.md" || { sed -n '/State left behind/,/## Step 1/p' "$WORK/reports/latest.md"; fail "step 4: the report does not say where to resume"; }
grep -q "apply-feed-indexes-and-partitions failed at .*Left: .*Resume at step 4 apply-feed-indexes-and-partitions" \
  "$WORK/apply-feed-indexes-and-partitions-broken.log" || fail "step 4: the failure message does not say what was left and where to resume"
# Step 5: a timeout (the step's window set to 0 s).
break_step deploy-supporting-tables "over its window" true -e '{"runbook_step_window_seconds": {"deploy-supporting-tables": 0}}'
# Step 6: a failing seed (truncated and re-seeded, which fails the same way: the tables are empty
# again) and maintenance mode put back as it was before the step.
break_step seed-foundation-data "no_such_column" \
  "printf '\nINSERT INTO community_categories (no_such_column) VALUES (1);\n' >>seeds/community_foundation.sql"
[ "$(sql -e "SELECT COUNT(*) FROM $DB.community_categories")" = 0 ] || fail "step 6 rollback left categories"
[ ! -e "$WORK/app-base/storage/framework/down" ] || fail "step 6 rollback left maintenance mode on"
# Step 7: a failing data-integrity check (an orphan comment): maintenance back on, the queue paused,
# and the restore point taken by step 1 restored, so the schema is the one before the runbook.
runbook --tags "$(steps_before post-migration-verification)" >"$WORK/step7-before.log" 2>&1 \
  || { cat "$WORK/step7-before.log"; fail "steps before post-migration-verification failed"; }
sql "$DB" -e "INSERT INTO community_post_comments (post_id, author_id, body, created_at) VALUES (999999, 1, 'orphan', NOW())"
if runbook >"$WORK/step7.log" 2>&1; then fail "an orphan comment passed step 7"; fi
grep -q "post-migration-verification failed at" "$WORK/step7.log" || { grep fatal "$WORK/step7.log"; fail "step 7 failure does not name the step"; }
[ -z "$(app_tables)" ] || fail "step 7 did not restore the restore point: $(app_tables)"
[ -e "$WORK/app-base/storage/framework/down" ] || fail "step 7 rollback did not leave maintenance mode on"
curl -fs -H "Authorization: Bearer academy-local-ops-token" "http://127.0.0.1:$APP_PORT/api/v1/ops/queues/communities-backfill" \
  | grep -q '"paused": true' || fail "step 7 rollback did not leave the queue paused"
report_step post-migration-verification | grep -q "^rolled_back " || { report_step post-migration-verification; fail "step 7 rollback not reported"; }
rm -f "$WORK/app-base/storage/framework/down"
curl -fs -X POST -H "Authorization: Bearer academy-local-ops-token" "http://127.0.0.1:$APP_PORT/api/v1/ops/queues/communities-backfill/continue" >/dev/null

echo "== after the fixes the whole runbook completes, and a second run changes nothing"
runbook >"$WORK/fixed.log" 2>&1 || { cat "$WORK/fixed.log"; fail "run after the fixes failed"; }
runbook >"$WORK/fixed2.log" 2>&1 || { cat "$WORK/fixed2.log"; fail "second run after the fixes failed"; }
grep -Eq 'academy-db +: ok=[0-9]+ +changed=0 ' "$WORK/fixed2.log" || { tail -n 5 "$WORK/fixed2.log"; fail "second run reported changes"; }

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
