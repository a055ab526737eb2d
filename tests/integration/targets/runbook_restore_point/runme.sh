#!/usr/bin/env bash
# Step 1's restore point in the flagship runbook, both ways the inventories take it:
# - logical (local inventory, no RDS): --check writes no file, a run takes a verified db_backup,
#   a second run reuses it and reports changed=0;
# - RDS (staging/production, here moto_server): 1.1 freshness and 1.7 headroom pass, the
#   pre-community-schema snapshot is taken once, --check takes none, low headroom aborts step 1.
set -euo pipefail

PLAYBOOK=dbops.runbooks.communities_schema_v1
ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
INVENTORY=$ROOT/inventories/local
FIXTURE=$(cd "$(dirname "$0")/../rds_snapshot/files" && pwd)/moto_fixture.py
DB=dbops_it_backup_runbook
PASSWORD=dbops-local-stack
PREFIX=dbops-it-rp-$RANDOM$$
WORK=$(mktemp -d)
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export DBOPS_AWS_ENDPOINT_URL=http://127.0.0.1:55000 AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=dbops-it-access-key AWS_SECRET_ACCESS_KEY=dbops-it-secret-key

sql() { MYSQL_PWD=$PASSWORD mariadb --no-defaults -h 127.0.0.1 -P 53306 -u dbops -N -B "$@"; }
fresh_db() { sql -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4"; }
cleanup() {
  python "$FIXTURE" cleanup "$PREFIX" >/dev/null 2>&1 || true
  sql -e "DROP DATABASE IF EXISTS $DB" || true
  if [ -n "${KEEP_WORK:-}" ]; then echo "logs kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }
backups() { find "$WORK/backups" -name "pre-community-schema-$DB-*.sql.gz" 2>/dev/null | wc -l; }
snapshots() { python "$FIXTURE" count "$PREFIX" | python -c 'import json, sys; print(json.load(sys.stdin)["snapshots"])'; }
changed() { grep -Eo 'academy-db +: ok=[0-9]+ +changed=[0-9]+' "$1" | grep -Eo '[0-9]+$'; }

cat >"$WORK/logical.json" <<JSON
{"db_connection": {"engine": "mysql", "login_host": "127.0.0.1", "login_port": 53306, "login_user": "dbops",
                   "login_password": "$PASSWORD", "login_db": "$DB", "connect_timeout": 3},
 "runbook_backup": {"method": "logical", "backup_dir": "$WORK/backups", "keep": 3}}
JSON
# Steps 1 and 2 only: the restore point is taken before step 2's change and looked for after it.
runbook() {
  ansible-playbook -i "$INVENTORY" "$PLAYBOOK" --tags preflight-safety-checks,deploy-community-core-schema \
    -e "@$WORK/logical.json" "$@"
}

echo "== logical: --check writes no backup"
fresh_db
runbook -v --check >"$WORK/check.log" 2>&1 || { cat "$WORK/check.log"; fail "--check run failed"; }
[ ! -e "$WORK/backups" ] || fail "--check wrote $(ls -R "$WORK/backups")"
grep -q "would back up $DB to $WORK/backups/pre-community-schema-$DB-" "$WORK/check.log" || fail "--check did not show the planned backup"

echo "== logical: a run takes a verified backup before step 2, a second run finds it (changed=0)"
runbook -v >"$WORK/run1.log" 2>&1 || { cat "$WORK/run1.log"; fail "first run failed"; }
[ "$(backups)" = 1 ] || fail "expected 1 backup, found $(backups)"
grep -q "verified by restore" "$WORK/run1.log" || fail "backup not verified"
grep -q "restore point for step 7: {'method': 'db_backup', 'backup_file': '$WORK/backups/pre-community-schema-$DB-.*', 'taken_now': True}" "$WORK/run1.log" \
  || fail "restore point not recorded"
runbook -v >"$WORK/run2.log" 2>&1 || { cat "$WORK/run2.log"; fail "second run failed"; }
[ "$(changed "$WORK/run2.log")" = 0 ] || { tail -n 5 "$WORK/run2.log"; fail "second run reported changes"; }
[ "$(backups)" = 1 ] || fail "second run took another backup"
grep -q "restore point for step 7: {'method': 'db_backup', 'taken_now': False, 'backup_file': '$WORK/backups/pre-community-schema-$DB-" "$WORK/run2.log" \
  || fail "second run did not find the restore point"
if grep -A3 "List the gates" "$WORK/run2.log" | grep -q "within the last 4 hours\|storage headroom"; then
  fail "1.1/1.7 still listed as open gates"
fi

echo "== logical: a re-run without the restore point stops at step 1"
mv "$WORK/backups" "$WORK/moved"
if runbook >"$WORK/missing.log" 2>&1; then fail "missing restore point accepted"; fi
grep -q "the runbook already changed $DB but no backup pre-community-schema-$DB-\* is in $WORK/backups" "$WORK/missing.log" \
  || { grep -E "fatal|FAILED" "$WORK/missing.log"; fail "missing restore point not named"; }
mv "$WORK/moved" "$WORK/backups"

echo "== rds: 1.1 + 1.7 pass, pre-community-schema taken once, --check takes none"
python "$FIXTURE" instance "$PREFIX-db" 10 >/dev/null
python "$FIXTURE" instance "$PREFIX-full" 2 >/dev/null
cat >"$WORK/rds.json" <<JSON
{"runbook_backup": {"method": "rds", "db_instance_identifier": "$PREFIX-db"},
 "aws_connection": {"endpoint_url": "$DBOPS_AWS_ENDPOINT_URL", "region": "$AWS_REGION",
                    "access_key": "$AWS_ACCESS_KEY_ID", "secret_key": "$AWS_SECRET_ACCESS_KEY"}}
JSON
fresh_db
runbook -v -e "@$WORK/rds.json" --check >"$WORK/rds-check.log" 2>&1 || { cat "$WORK/rds-check.log"; fail "rds --check failed"; }
[ "$(snapshots)" = 2 ] || fail "--check took a snapshot ($(snapshots) snapshots; only the two automated ones expected)"
grep -q "would create snapshot pre-community-schema of DB instance $PREFIX-db" "$WORK/rds-check.log" || fail "--check did not show the planned snapshot"
runbook -v -e "@$WORK/rds.json" >"$WORK/rds1.log" 2>&1 || { cat "$WORK/rds1.log"; fail "rds run failed"; }
grep -q "newest snapshot rds:$PREFIX-db-.* old (max_age 4h); DB instance $PREFIX-db has 50.0% free storage" "$WORK/rds1.log" \
  || fail "1.1/1.7 not reported"
[ "$(snapshots)" = 3 ] || fail "expected the two automated snapshots and pre-community-schema, found $(snapshots)"
runbook -e "@$WORK/rds.json" >"$WORK/rds2.log" 2>&1 || { cat "$WORK/rds2.log"; fail "second rds run failed"; }
[ "$(changed "$WORK/rds2.log")" = 0 ] || { tail -n 5 "$WORK/rds2.log"; fail "second rds run reported changes"; }

echo "== rds: storage headroom below 20% aborts step 1 before anything changes"
fresh_db
if runbook -e "@$WORK/rds.json" -e "{\"runbook_backup\": {\"method\": \"rds\", \"db_instance_identifier\": \"$PREFIX-full\"}}" \
    >"$WORK/full.log" 2>&1; then fail "low headroom did not abort"; fi
grep -q "preflight-safety-checks failed at '1.1 + 1.7 .*': DB instance $PREFIX-full has 10.0% free storage (2.0 GiB of 20 GiB), below min_free_storage_pct 20.0%; deployment aborted" \
  "$WORK/full.log" || { grep -E "fatal|FAILED" "$WORK/full.log"; fail "abort does not name the headroom"; }
[ -z "$(sql -e "SELECT table_name FROM information_schema.tables WHERE table_schema = '$DB'")" ] || fail "step 2 ran after the abort"

echo "runbook_restore_point: all passed"
