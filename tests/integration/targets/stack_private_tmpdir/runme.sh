#!/usr/bin/env bash
# scripts/stack.sh under a private TMPDIR (root-owned 0755, which the mysql and postgres accounts
# cannot write): the servers use the stack's own tmp/ folder, so both database servers start and
# answer. A second, throwaway stack (its own DBOPS_STACK_DIR and ports, database servers only);
# the shared stack the other targets use is never touched.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "SKIP stack_private_tmpdir: needs root (the servers must run as the mysql and postgres accounts)"
  exit 0
fi
ROOT=$(ansible-galaxy collection list dbops.runbooks --format json 2>/dev/null \
  | python -c 'import json, sys; print(next(iter(json.load(sys.stdin))) + "/dbops/runbooks")')
BASE=$(mktemp -d /tmp/dbops-stack-private-tmpdir.XXXXXX)
chmod 755 "$BASE"
# The service accounts' commands start in the working folder; ansible-test's is private to root.
cd "$BASE"
export DBOPS_STACK_DIR=$BASE/stack DBOPS_PG_PORT=55442 DBOPS_MYSQL_PORT=53316 DBOPS_MOTO_PORT=55010 \
  DBOPS_APP_PORT=58090 DBOPS_PROM_PORT=59100
case "$DBOPS_STACK_DIR" in "$ROOT"/*) echo "refusing to use a stack folder inside the collection" >&2; exit 1 ;; esac
mkdir -m 755 "$BASE/private-tmp"
stack() { TMPDIR=$BASE/private-tmp "$ROOT/scripts/stack.sh" "$@"; }
cleanup() { if [ -e "$DBOPS_STACK_DIR" ]; then stack down --wipe || true; fi; rm -rf "$BASE"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for log in "$DBOPS_STACK_DIR"/log/*; do echo "== $log" >&2; tail -n 20 "$log" >&2; done; exit 1; }

# The private TMPDIR really is out of the service accounts' reach.
if runuser -u mysql -- touch "$BASE/private-tmp/probe" 2>/dev/null; then fail "mysql can write the private TMPDIR"; fi

stack up db || fail "scripts/stack.sh up db failed under TMPDIR=$BASE/private-tmp"
PGPASSWORD=dbops-local-stack psql -h 127.0.0.1 -p "$DBOPS_PG_PORT" -U dbops -d academy -tAc 'SELECT 1' | grep -qx 1 \
  || fail "PostgreSQL on :$DBOPS_PG_PORT does not answer"
MYSQL_PWD=dbops-local-stack mariadb --no-defaults -h 127.0.0.1 -P "$DBOPS_MYSQL_PORT" -u dbops -N -B \
  -e "SELECT @@tmpdir" | grep -qx "$DBOPS_STACK_DIR/tmp" || fail "MariaDB on :$DBOPS_MYSQL_PORT does not answer or has another tmpdir"
[ -z "$(ls -A "$BASE/private-tmp")" ] || fail "a server wrote to the private TMPDIR: $(ls -A "$BASE/private-tmp")"
stack down --wipe
[ ! -e "$DBOPS_STACK_DIR" ] || fail "down --wipe left $DBOPS_STACK_DIR"
echo "stack_private_tmpdir: PostgreSQL :$DBOPS_PG_PORT and MariaDB :$DBOPS_MYSQL_PORT started and answered under a private TMPDIR"
