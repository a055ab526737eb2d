#!/usr/bin/env bash
# make demo: run both runbooks against the local stack and print their summaries: communities_schema_v1
# (MariaDB, the academy app), then production_migration (PostgreSQL, the StarForge app).
# Extra arguments go to ansible-playbook of both (for example --check --diff).
# Each app's /health is polled during its run and the measured 503 window is printed at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mkdir -p build
log=build/demo.log
app_url=${DBOPS_APP_URL:-http://127.0.0.1:58080}
python3 roles/downtime_probe/files/downtime_poller.py --url "$app_url/health" --interval 0.1 >build/downtime.txt 2>&1 &
poller=$!
trap 'kill "$poller" 2>/dev/null || true' EXIT
started=$(date +%s)
status=0
# The run report (JSON and Markdown) goes to build/reports; latest.md is printed at the end.
ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}dbops.runbooks.runbook_report" \
DBOPS_RUNBOOK_REPORT_DIR="$ROOT/build/reports" \
ANSIBLE_NOCOLOR=1 ansible-playbook -i inventories/local playbooks/communities_schema_v1.yml "$@" </dev/null >"$log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - started ))
kill -TERM "$poller" 2>/dev/null || true
wait "$poller" || true
echo "== communities_schema_v1 on the local stack (full log: $log) =="
sed -n '/TASK \[Print the step summary\]/,/^$/p' "$log" | grep -E '^\s+"' || true
grep -E '^fatal' "$log" || true
grep -E '^[a-z-]+ +: ok=' "$log" | sed 's/^/recap: /' || true
echo
echo "== downtime of the demo app during the run, measured on $app_url/health =="
cat build/downtime.txt
report=build/reports/latest.md
if [ -f "$report" ] && [ "$(stat -c %Y "$report")" -ge "$started" ]; then
  echo
  echo "== run report: $report (JSON next to it) =="
  cat "$report"
fi

# The second runbook: production_migration on the StarForge app (its report replaces latest.md).
sf_url=${DBOPS_STARFORGE_URL:-http://127.0.0.1:58180}
sf_log=build/demo-production_migration.log
python3 roles/downtime_probe/files/downtime_poller.py --url "$sf_url/health" --interval 0.1 >build/downtime-starforge.txt 2>&1 &
poller=$!
sf_started=$(date +%s)
sf_status=0
ANSIBLE_CALLBACKS_ENABLED="${ANSIBLE_CALLBACKS_ENABLED:+$ANSIBLE_CALLBACKS_ENABLED,}dbops.runbooks.runbook_report" \
DBOPS_RUNBOOK_REPORT_DIR="$ROOT/build/reports" \
ANSIBLE_NOCOLOR=1 ansible-playbook -i inventories/local playbooks/production_migration.yml "$@" </dev/null >"$sf_log" 2>&1 || sf_status=$?
sf_elapsed=$(( $(date +%s) - sf_started ))
kill -TERM "$poller" 2>/dev/null || true
wait "$poller" || true
echo
echo "== production_migration on the local stack (full log: $sf_log) =="
sed -n '/TASK \[9.3 Summary\]/,/^$/p' "$sf_log" | grep -E '^\s+"' || true
grep -E '^fatal' "$sf_log" || true
grep -E '^[a-z-]+ +: ok=' "$sf_log" | sed 's/^/recap: /' || true
echo
echo "== downtime of the StarForge app during the run, measured on $sf_url/health =="
cat build/downtime-starforge.txt
if [ -f "$report" ] && [ "$(stat -c %Y "$report")" -ge "$sf_started" ]; then
  echo
  echo "== run report: $report (JSON next to it) =="
  cat "$report"
fi
echo "production_migration elapsed: ${sf_elapsed}s, exit status: $sf_status"
[ "$status" -ne 0 ] || status=$sf_status
echo "communities_schema_v1 elapsed: ${elapsed}s; exit status of the demo: $status"
exit $status
