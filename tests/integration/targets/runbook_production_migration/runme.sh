#!/usr/bin/env bash
# production_migration end to end on the stack's PostgreSQL and StarForge app (scraped by the stack's
# Prometheus, which the baseline and the monitor window read): --check writes nothing; a run applies
# the release and a second run changes nothing; then from a baseline (all but 009 applied, with data)
# each failure in turn - a failing migration (S1), a failing verification and a failing smoke ETL (S2),
# an error rate pushed over the threshold during the monitor window (S2, automatic), an integrity
# failure (S3, restore) - ends with schema, data and history exactly as before, the app serving 200 and
# the deployments as they were; bad inputs fail with one line before any change; a zero-downtime release
# (an expand migration and its backfill) runs with the API answering 200 throughout.
set -euo pipefail

PLAYBOOK=dbops.runbooks.production_migration
ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
INVENTORY=$ROOT/inventories/local
PASSWORD=dbops-local-stack
API=http://127.0.0.1:58180
TOKEN=starforge-local-ops-token
WORK=$(mktemp -d)
trap 'curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -d "{\"error_rate\": 0, \"latency_ms\": 0}" $API/ops/faults || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_CALLBACKS_ENABLED=dbops.runbooks.runbook_report DBOPS_RUNBOOK_REPORT_DIR=$WORK/reports
BASELINE=1764547200007
RELEASE=1764633600009_add_notification_system

fail() { echo "FAILED: $*" >&2; exit 1; }
psql_sf() { PGPASSWORD=$PASSWORD psql --quiet -h 127.0.0.1 -p 55432 -U dbops -d starforge -X -q -At -v ON_ERROR_STOP=1 "$@"; }
ops() { curl -fs -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" "$@"; }
runbook() {
  ansible-playbook -i "$INVENTORY" "$PLAYBOOK" -e "{\"runbook_backup\": {\"method\": \"logical\", \"backup_dir\": \"$WORK/backups\"},
    \"production_monitor_seconds\": 6, \"production_monitor_interval\": 1, \"production_monitor_sustain\": 2,
    \"production_monitor_traffic\": {\"seconds\": 12, \"rps\": 20}}" "$@"
}
# Schema, data and history as a rollback must leave them (sequence positions aside: the smoke ETL's row
# advanced them, and a sequence is no data).
state() {
  PGPASSWORD=$PASSWORD pg_dump -h 127.0.0.1 -p 55432 -U dbops --no-owner --schema=public starforge \
    --exclude-table-data='dbops_*audit*' | grep -Ev '^(SELECT pg_catalog.setval|-- Dumped|.(un)?restrict )'
}
# The deployments as the platform reports them.
deployments() {
  echo "api=$(ops $API/ops/deployments/api/replicas | python -c 'import json,sys; print(json.load(sys.stdin)["replicas"])')"
  echo "etl-worker=$(ops $API/ops/deployments/etl-worker/replicas | python -c 'import json,sys; print(json.load(sys.stdin)["replicas"])')"
  echo "maintenance=$(ops $API/ops/deployments/api/env | python -c 'import json,sys; print(json.load(sys.stdin)["maintenance"])')"
}
# Wait until Prometheus no longer sees errors of an earlier test in the 30 s rates the baseline reads.
quiet_baseline() {
  local query='sum(rate(starforge_http_requests_total{code=~"5..",code!="503"}[30s]))' value
  for _ in $(seq 90); do
    value=$(curl -fs http://127.0.0.1:59090/api/v1/query --data-urlencode "query=$query" \
      | python -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
    python -c "import sys; sys.exit(0 if float('$value') == 0 else 1)" && return 0
    sleep 1
  done
  fail "Prometheus still sees 5xx responses: $value/s"
}
healthy() { curl -fs "$API/health" | grep -q '"database": "connected"' || fail "$1: /health is not 200 with the database connected"; }
fresh_schema() {
  psql_sf -c "SET client_min_messages = warning" -c "DROP SCHEMA public CASCADE" -c "CREATE SCHEMA public"
  ops -X POST $API/ops/deployments/api/restart >/dev/null
}
# A copy of the example app to break; its migration folder holds only the release (and what $1 adds).
app_copy() { rm -rf "$WORK/app" && cp -r "$ROOT/examples/starforge" "$WORK/app"; }
add_migration() {  # name, up SQL, down SQL, requires_downtime
  printf -- '-- Up Migration\n%s\n\n-- Down Migration\n%s\n' "$2" "$3" >"$WORK/app/migrations/$1.sql"
  cat >"$WORK/app/migration-metadata/$1.yml" <<YML
$1:
  version: "$1"
  description: test migration $1
  reviewed_by: [dba@starforge.example, lead@starforge.example]
  risk_level: high
  estimated_duration: 10 seconds
  requires_downtime: ${4:-true}
  rollback_available: true
  dependencies: [$RELEASE]
YML
}
# Run the broken runbook from the baseline: it fails naming $1, takes scenario $2, and leaves the state,
# the deployments and /health exactly as before.
expect_rollback() {
  local name=$1 scenario=$2; shift 2
  state >"$WORK/$name.before"; deployments >"$WORK/$name.deployments"
  if runbook "$@" >"$WORK/$name.log" 2>&1; then fail "$name: the broken run passed"; fi
  grep -Eq "failed at .*; $scenario \(" "$WORK/$name.log" || { grep -E '^fatal|"msg": ".*failed at' "$WORK/$name.log" | tail -n 3; fail "$name: no $scenario rollback named"; }
  state >"$WORK/$name.after"
  diff -u "$WORK/$name.before" "$WORK/$name.after" >"$WORK/$name.diff" || { head -n 40 "$WORK/$name.diff"; fail "$name: state after the rollback differs"; }
  deployments | diff -u "$WORK/$name.deployments" - || fail "$name: deployments not as before"
  healthy "$name"
  echo "$name: $(grep -Eo "failed at '[^']*'" "$WORK/$name.log" | tail -n 1), $scenario rollback, state as before"
}

echo "== --check on a fresh database writes nothing: no table, no backup file, no toggle"
ops -X PUT -d '{"error_rate": 0, "latency_ms": 0}' $API/ops/faults >/dev/null
quiet_baseline
fresh_schema
deployments >"$WORK/deployments.start"
runbook --check --diff >"$WORK/check.log" 2>&1 || { tail -n 40 "$WORK/check.log"; fail "--check failed"; }
[ -z "$(psql_sf -c "SELECT string_agg(tablename, ' ') FROM pg_tables WHERE schemaname = 'public'")" ] || fail "--check created tables"
[ ! -e "$WORK/backups" ] || [ -z "$(ls -A "$WORK/backups")" ] || fail "--check wrote a backup: $(ls "$WORK/backups")"
deployments | diff -u "$WORK/deployments.start" - || fail "--check toggled a deployment"
grep -q "CREATE TABLE notifications" "$WORK/check.log" || fail "--check --diff did not show the SQL"

echo "== a run applies the release; a second run changes nothing"
runbook >"$WORK/run1.log" 2>&1 || { grep -E '^fatal|"msg": ".*failed at' "$WORK/run1.log" | tail -n 5; fail "first run failed"; }
runbook >"$WORK/run2.log" 2>&1 || { tail -n 20 "$WORK/run2.log"; fail "second run failed"; }
echo "recap of the first run: $(grep -A1 '^PLAY RECAP' "$WORK/run1.log" | tail -n 1)"
echo "recap of the second run: $(grep -A1 '^PLAY RECAP' "$WORK/run2.log" | tail -n 1)"
grep -Eq 'starforge-db +: ok=[0-9]+ +changed=0 ' "$WORK/run2.log" || { grep -B3 -E '^changed' "$WORK/run2.log" | head -n 30; fail "second run reported changes"; }
grep -q "monitor [0-9.]*/6s: error_rate=" "$WORK/run1.log" || fail "the monitor window did not sample"
deployments | diff -u "$WORK/deployments.start" - || fail "deployments not back after the run"
healthy run1
python - "$WORK/reports/latest.json" <<'PY' || fail "the report is not a clean run of nine steps"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["outcome"] == "ok", report["outcome"]
assert [s["status"] for s in report["steps"]] == ["ok"] * 9, [(s["key"], s["status"]) for s in report["steps"]]
PY
if grep -rq "$PASSWORD\|$TOKEN" "$WORK/run1.log" "$WORK/reports"; then fail "a password or token was printed or reported"; fi

echo "== the baseline: all but $RELEASE applied, with users and processed snapshots"
fresh_schema
ansible -i "$INVENTORY" starforge-db -m dbops.runbooks.migrate_apply -a "migrations_dir=$ROOT/examples/starforge/migrations \
  layout=node_pg_migrate target=$BASELINE engine=postgres login_host=127.0.0.1 login_port=55432 login_user=dbops \
  login_password=$PASSWORD login_db=starforge" >"$WORK/baseline.log" 2>&1 || { cat "$WORK/baseline.log"; fail "baseline migrations failed"; }
ops -X POST $API/ops/deployments/api/restart >/dev/null
for user in aria brom cyra; do
  ops -X POST -d "{\"username\": \"$user\", \"raw\": {\"hero\": {\"name\": \"$user\", \"level\": 3, \"power\": 120}, \"troops\": [{\"id\": \"archer\", \"count\": 5, \"level\": 1}]}}" \
    $API/api/v1/snapshots >/dev/null
done
for _ in $(seq 50); do [ "$(psql_sf -c 'SELECT count(*) FROM hero_snapshots WHERE processed_at IS NULL')" = 0 ] && break; sleep 0.2; done
[ "$(psql_sf -c 'SELECT count(*) FROM user_profile_summary')" = 3 ] || fail "the ETL did not process the baseline snapshots"

echo "== S1: a failing migration after $RELEASE applied: the down of $RELEASE, traffic back"
app_copy
add_migration 1764720000010_broken_backfill "ALTER TABLE users ADD COLUMN tier text;
UPDATE no_such_table SET x = 1;" "ALTER TABLE users DROP COLUMN tier;"
expect_rollback s1 S1 -e "starforge_app_dir=$WORK/app"
grep -q 'no_such_table' "$WORK/s1.log" || fail "S1: the failed statement is not named"

echo "== S2: a failing verification"
expect_rollback s2-verify S2 -e '{"production_verify_checks_extra": [{"table_exists": "no_such_table"}]}'

echo "== S2: a failing smoke ETL (a snapshot without troops: no user_troops upsert lands)"
expect_rollback s2-smoke S2 -e '{"production_smoke": {"username": "dbops-smoke-etl", "payload": {"hero": {"name": "x", "level": 1, "power": 1}, "troops": []}}}'

echo "== S2, automatic: the error rate pushed over the threshold during the monitor window"
state >"$WORK/s2-monitor.before"; deployments >"$WORK/s2-monitor.deployments"
runbook -e '{"production_monitor_seconds": 30}' >"$WORK/s2-monitor.log" 2>&1 &
run=$!
for _ in $(seq 600); do grep -q 'PLAY \[Step 8' "$WORK/s2-monitor.log" && break; kill -0 $run 2>/dev/null || break; sleep 0.2; done
ops -X PUT -d '{"error_rate": 0.6}' $API/ops/faults >/dev/null
if wait $run; then fail "s2-monitor: the window passed with 60 % errors"; fi
ops -X PUT -d '{"error_rate": 0, "latency_ms": 0}' $API/ops/faults >/dev/null
grep -Eq "monitor failed at .*; S2 \(" "$WORK/s2-monitor.log" || { grep -E '"msg": ".*failed at' "$WORK/s2-monitor.log" | tail -n 2; fail "s2-monitor: no S2 rollback"; }
grep -q "error_rate" "$WORK/s2-monitor.log" || fail "s2-monitor: the breach is not named"
state | diff -u "$WORK/s2-monitor.before" - >/dev/null || fail "s2-monitor: state after the rollback differs"
deployments | diff -u "$WORK/s2-monitor.deployments" - || fail "s2-monitor: deployments not as before"
healthy s2-monitor
echo "s2-monitor: $(grep -Eo 'error_rate[^;"]*(above|over)[^;"]*' "$WORK/s2-monitor.log" | head -n 1 | cut -c1-160), S2 rollback, state as before"
quiet_baseline

echo "== S3: data corruption (a migration deletes rows): the backup restored"
app_copy
add_migration 1764720000010_corrupting "DELETE FROM user_troops WHERE user_id IN (SELECT id FROM users WHERE username = 'brom');" "SELECT 1;"
expect_rollback s3 S3 -e "starforge_app_dir=$WORK/app"
grep -q "restored .* into starforge" "$WORK/s3.log" || fail "S3: the restore is not reported"

echo "== bad inputs fail with one line before any change"
bad_input() {  # name, expected text, ansible-playbook arguments
  local name=$1 expect=$2; shift 2
  local backups; backups=$(find "$WORK/backups" -type f | wc -l)
  state >"$WORK/$name.before"
  if runbook "$@" >"$WORK/$name.log" 2>&1; then fail "$name: the run passed"; fi
  grep -q "preflight failed at .*$expect" "$WORK/$name.log" || { grep -E '"msg": ".*failed at' "$WORK/$name.log" | tail -n 1; fail "$name: no preflight failure with '$expect'"; }
  [ "$(find "$WORK/backups" -type f | wc -l)" = "$backups" ] || fail "$name: a backup was taken"
  state | diff -q "$WORK/$name.before" - >/dev/null || fail "$name: the database changed"
  echo "$name: $(grep -Eo "preflight failed at [^;]*;[^;]*" "$WORK/$name.log" | tail -n 1 | cut -c1-220)"
}
app_copy && rm "$WORK/app/migration-metadata/$RELEASE.yml"
bad_input missing-metadata "no metadata for pending migration" -e "starforge_app_dir=$WORK/app"
app_copy && sed -i 's/^  dependencies:$/&\n    - "1764000000000_no_such_migration"/' "$WORK/app/migration-metadata/$RELEASE.yml"
bad_input unknown-dependency "1764000000000_no_such_migration" -e "starforge_app_dir=$WORK/app"
app_copy && sed -i '/-- Down Migration/,$d' "$WORK/app/migrations/$RELEASE.sql"
bad_input reversible-without-down "marked reversible but has no down section" -e "starforge_app_dir=$WORK/app"
bad_input unreachable-prometheus "Gates" -e '{"prometheus": {"url": "http://127.0.0.1:9"}}'

echo "== the release on the baseline completes"
runbook >"$WORK/final.log" 2>&1 || { grep -E '"msg": ".*failed at' "$WORK/final.log" | tail -n 2; fail "the release failed"; }
[ "$(psql_sf -c "SELECT to_regclass('public.notifications') IS NOT NULL")" = t ] || fail "the release did not apply"
deployments | diff -u "$WORK/deployments.start" - || fail "deployments not back after the release"

echo "== zero-downtime: an expand migration and its batched backfill, no maintenance, /health 200 throughout"
app_copy
ZD=1764720000011_add_users_username_lower
add_migration $ZD "ALTER TABLE users ADD COLUMN username_lower text;" "ALTER TABLE users DROP COLUMN username_lower;" false
cat >>"$WORK/app/migration-metadata/$ZD.yml" <<'YML'
  backfill:
    table: users
    set: {username_lower: lower(username)}
    where: username_lower IS NULL
    batch_size: 2
YML
python "$ROOT/roles/downtime_probe/files/downtime_poller.py" --url "$API/health" --interval 0.1 >"$WORK/zd.downtime" 2>&1 &
poller=$!
runbook -e "starforge_app_dir=$WORK/app" >"$WORK/zd.log" 2>&1 || { kill $poller; grep -E '"msg": ".*failed at' "$WORK/zd.log" | tail -n 2; fail "the zero-downtime release failed"; }
kill -TERM $poller; wait $poller || true
grep -q "zero-downtime path" "$WORK/zd.log" || fail "zero-downtime: step 4 stopped the traffic"
grep -q "total 0.000 s of 503; 0 error(s)" "$WORK/zd.downtime" || { cat "$WORK/zd.downtime"; fail "zero-downtime: /health was not 200 throughout"; }
[ "$(psql_sf -c 'SELECT count(*) FROM users WHERE username_lower IS DISTINCT FROM lower(username)')" = 0 ] || fail "zero-downtime: backfill incomplete"
runbook -e "starforge_app_dir=$WORK/app" >"$WORK/zd2.log" 2>&1 || fail "zero-downtime: the re-run failed"
grep -Eq 'starforge-db +: ok=[0-9]+ +changed=0 ' "$WORK/zd2.log" || fail "zero-downtime: the re-run reported changes"
echo "zero-downtime: $(tail -n 1 "$WORK/zd.downtime"); users backfilled in batches of 2; re-run changed=0"
deployments | diff -u "$WORK/deployments.start" - || fail "deployments not as at the start"
