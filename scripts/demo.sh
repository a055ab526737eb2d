#!/usr/bin/env bash
# make demo: run both runbooks against the local stack and print their summaries: communities_schema_v1
# (MariaDB, the academy app), then production_migration (PostgreSQL, the StarForge app).
# Extra arguments go to ansible-playbook of both (for example --check --diff).
# Each app's /health is polled during its run and the measured 503 window is printed after it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mkdir -p build
report=build/reports/latest.md
poller=
trap 'kill "$poller" 2>/dev/null || true' EXIT
status=0

# run_runbook <runbook> <app name> <app url> <summary task> <log> <downtime file> [ansible-playbook args...]:
# the run with the app's /health polled, then its summary, recap, downtime and run report.
run_runbook() {
  local runbook=$1 app=$2 url=$3 summary=$4 log=$5 downtime=$6 started elapsed rc=0
  shift 6
  python3 roles/downtime_probe/files/downtime_poller.py --url "$url/health" --interval 0.1 >"$downtime" 2>&1 &
  poller=$!
  started=$(date +%s)
  # The run report (JSON and Markdown) goes to build/reports; latest.md is this run's.
  ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}dbops.runbooks.runbook_report" \
  DBOPS_RUNBOOK_REPORT_DIR="$ROOT/build/reports" \
  ANSIBLE_NOCOLOR=1 ansible-playbook -i inventories/local "playbooks/$runbook.yml" "$@" </dev/null >"$log" 2>&1 || rc=$?
  elapsed=$(( $(date +%s) - started ))
  kill -TERM "$poller" 2>/dev/null || true
  wait "$poller" || true
  echo "== $runbook on the local stack (full log: $log) =="
  sed -n "/TASK \[$summary\]/,/^\$/p" "$log" | grep -E '^\s+"' || true
  grep -E '^fatal' "$log" || true
  grep -E '^[a-z-]+ +: ok=' "$log" | sed 's/^/recap: /' || true
  echo
  echo "== downtime of the $app during the run, measured on $url/health =="
  cat "$downtime"
  if [ -f "$report" ] && [ "$(stat -c %Y "$report")" -ge "$started" ]; then
    echo
    echo "== run report: $report (JSON next to it) =="
    cat "$report"
  fi
  echo "$runbook elapsed: ${elapsed}s, exit status: $rc"
  echo
  [ "$status" -ne 0 ] || status=$rc
}

run_runbook communities_schema_v1 "demo app" "${DBOPS_APP_URL:-http://127.0.0.1:58080}" "Print the step summary" \
  build/demo.log build/downtime.txt "$@"
run_runbook production_migration "StarForge app" "${DBOPS_STARFORGE_URL:-http://127.0.0.1:58180}" "9.3 Summary" \
  build/demo-production_migration.log build/downtime-starforge.txt "$@"
exit $status
