#!/usr/bin/env bash
# The StarForge demo app (examples/starforge) on the stack's PostgreSQL: its migrations go up, all the
# way down to an empty schema and up again; a private instance of the app then answers /health,
# honours the maintenance toggle and the replicas, runs its ETL (good and malformed snapshots), its
# fault switch shows in /metrics and its synthetic traffic stops by itself. Checks: check_app.py.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The collection as installed (ansible-test runs this target from a copy of its folder).
ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
MIGRATIONS=$ROOT/examples/starforge/migrations
export STARFORGE_TEST_DB=dbops_it_starforge STARFORGE_TEST_PORT=58181
export PGHOST=127.0.0.1 PGPORT=55432 PGUSER=dbops PGPASSWORD=dbops-local-stack
WORK=$(mktemp -d)
APP_PID='' DOWN_PID=''
trap 'kill ${APP_PID:+"$APP_PID"} ${DOWN_PID:+"$DOWN_PID"} 2>/dev/null || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
fail() { echo "FAILED: $*" >&2; [ -f "$WORK/app.log" ] && tail -n 20 "$WORK/app.log" >&2; exit 1; }

psql_db() { psql -X -q -v ON_ERROR_STOP=1 -d "$STARFORGE_TEST_DB" "$@"; }
# One section of a node-pg-migrate SQL file (up: from '-- Up Migration' to '-- Down Migration').
section() { awk -v want="$1" 'tolower($0) ~ /^[ \t]*--[ \t-]*up[ \t]+migration/ { on = (want == "up"); next }
  tolower($0) ~ /^[ \t]*--[ \t-]*down[ \t]+migration/ { on = (want == "down"); next } on' "$2"; }
# One direction of every file (newest first for down), as one psql script: each file in its own
# transaction, the way migrate_apply runs them, unless it is marked `-- dbops:no-transaction` (then
# statement by statement, as CREATE INDEX CONCURRENTLY needs). Stops at the first error.
apply_all() {
  local direction=$1 order=() f
  mapfile -t order < <(printf '%s\n' "$MIGRATIONS"/*.sql | if [ "$direction" = down ]; then sort -r; else sort; fi)
  for f in "${order[@]}"; do
    printf '\\echo %s %s\n' "$direction" "$(basename "$f")"
    if grep -q '^-- dbops:no-transaction' "$f"; then section "$direction" "$f"
    else echo 'BEGIN;'; section "$direction" "$f"; echo 'COMMIT;'; fi
  done | psql_db -f - >"$WORK/$direction.log" 2>&1 || { cat "$WORK/$direction.log"; fail "the $direction sections failed"; }
}
up_all() { apply_all up; }
# What a migration leaves in the schema: relations, indexes, extensions, columns.
schema() {
  psql_db -At -c "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' ORDER BY 1" \
    -c "SELECT 'extension ' || extname FROM pg_extension WHERE extname <> 'plpgsql' ORDER BY 1" \
    -c "SELECT 'column ' || table_name || '.' || column_name FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY 1"
}

started=$(date +%s)
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $STARFORGE_TEST_DB WITH (FORCE)" -c "CREATE DATABASE $STARFORGE_TEST_DB"
[ -z "$(schema)" ] || fail "a fresh database is not empty"
up_all
schema >"$WORK/up.schema"
for table in users hero_snapshots etl_errors user_profile_summary user_troops notifications; do
  grep -qx "r $table" "$WORK/up.schema" || fail "table $table missing after the up migrations"
done
grep -qx "extension pgcrypto" "$WORK/up.schema" || fail "pgcrypto missing after the up migrations"
[ "$(psql_db -At -c "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = 'hero_snapshots_raw_gin_idx'::regclass")" = t ] \
  || fail "the GIN index on hero_snapshots.raw is missing or invalid"
# All down sections, newest first, leave nothing behind.
apply_all down
[ -z "$(schema)" ] || { schema; fail "the down migrations left objects behind"; }
up_all
schema | diff -u "$WORK/up.schema" - || fail "up, down, up does not give the same schema"
echo "migrations: up, down to empty, up again ($(( $(date +%s) - started )) s)"

STARFORGE_DB_PASSWORD=$PGPASSWORD python "$ROOT/examples/starforge/app/starforge_api.py" --port "$STARFORGE_TEST_PORT" \
  --state-dir "$WORK/state" --db-name "$STARFORGE_TEST_DB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
# Another instance on a database that does not answer: /health is 503, database disconnected.
STARFORGE_DB_PASSWORD=$PGPASSWORD python "$ROOT/examples/starforge/app/starforge_api.py" --port $((STARFORGE_TEST_PORT + 1)) \
  --state-dir "$WORK/state-down" --db-port 1 --quiet >"$WORK/app-down.log" 2>&1 &
DOWN_PID=$!
# Poll only once both listen: a connect to a port nobody listens on yet can pick that very port as its
# source port (TCP self-connect, the ports are in the ephemeral range) and keep the app from binding it.
for log in "$WORK/app.log" "$WORK/app-down.log"; do
  tries=0
  until grep -q "starforge demo API on" "$log"; do
    tries=$((tries + 1)); [ $tries -le 150 ] || { cat "$log"; fail "the app did not start ($log)"; }; sleep 0.1
  done
done
STARFORGE_STATE_DIR=$WORK/state python "$HERE/check_app.py" || { cat "$WORK/app-down.log"; fail "app checks"; }
ANSIBLE_NOCOLOR=1 ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$(command -v python)" "$HERE/maintenance_backends.yml" >"$WORK/backends.log" 2>&1 \
  || { cat "$WORK/backends.log"; fail "maintenance_mode backends against the app"; }
echo "ok: maintenance_mode http backend (set env, scale to 0 and back, idempotent)"
echo "starforge_app passed in $(( $(date +%s) - started )) s"
