#!/usr/bin/env bash
# The runbooks launched the way AWX launches a job: ansible-runner with a private data directory
# per job, no terminal (or the one runner's pexpect mode gives), the Run and the Check job types,
# a resume at a step with job tags; judged from the runner's artifacts and the run report
# (awx_jobs.py). communities_schema_v1 gets its own database and demo app; production_migration uses the
# stack's StarForge app and database (scraped by Prometheus, which its gates read), from an empty schema.
set -euo pipefail

ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
DB=dbops_it_runner
PASSWORD=dbops-local-stack
APP_PORT=58082
# Another process on the port would answer for the demo app: say so instead of testing against it.
if curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/"; then echo "FAILED: port $APP_PORT is already in use" >&2; exit 1; fi
WORK=$(mktemp -d)
ACADEMY_DB_PASSWORD=$PASSWORD python "$ROOT/examples/academy/app/academy_api.py" --port "$APP_PORT" \
  --base-path "$WORK/app-base" --db-name "$DB" >"$WORK/app.log" 2>&1 &
APP_PID=$!
trap 'kill "$APP_PID" 2>/dev/null || true; if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
sql() { MYSQL_PWD=$PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u dbops -N -B "$@"; }
sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4"
tries=0
until curl -fs -o /dev/null "http://127.0.0.1:$APP_PORT/metrics"; do
  tries=$((tries + 1)); [ $tries -le 100 ] || { cat "$WORK/app.log"; fail "demo app did not start"; }; sleep 0.1
done
mkdir "$WORK/jobs"
# stdin is /dev/null, like a job on an AWX node: nobody can type into it.
python "$(dirname "$0")/awx_jobs.py" --root "$ROOT" --work "$WORK/jobs" --db "$DB" \
  --app-url "http://127.0.0.1:$APP_PORT" --app-base "$WORK/app-base" </dev/null
sql -e "DROP DATABASE IF EXISTS $DB"
echo "runbook_awx_runner: all passed"
