#!/usr/bin/env bash
# make demo: run the communities_schema_v1 runbook against the local stack and print a summary.
# Extra arguments go to ansible-playbook (for example --check --diff, or --tags deploy-community-core-schema).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mkdir -p build
log=build/demo.log
started=$(date +%s)
status=0
ANSIBLE_NOCOLOR=1 ansible-playbook -i inventories/local playbooks/communities_schema_v1.yml "$@" >"$log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - started ))
echo "== communities_schema_v1 on the local stack (full log: $log) =="
grep -E '^(TASK|fatal|changed|ok:|failed)' "$log" | grep -E '^TASK \[' | sed -E 's/^TASK \[(.*)\] \**$/  - \1/' | awk '!seen[$0]++' | head -n 40
echo
sed -n '/TASK \[Print the step summary\]/,/^$/p' "$log" | grep -E '^\s+"' || true
grep -E '^academy-db +:' "$log" | sed 's/^/recap: /'
echo "elapsed: ${elapsed}s, exit status: $status"
exit $status
