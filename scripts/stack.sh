#!/usr/bin/env bash
# Local stack for the demo and the tests: throwaway PostgreSQL and MariaDB servers, moto_server
# (the AWS API), the academy demo app (examples/academy/app), the StarForge demo app
# (examples/starforge/app) and a Prometheus scraping both, all on 127.0.0.1 and non-default ports,
# data under .stack/ in the repository.
#
#   scripts/stack.sh up       start what is not running (idempotent); installs Debian packages as root
#                             (the demo app starts last: it reads the academy database on MariaDB)
#   scripts/stack.sh up db    start only the database servers (PostgreSQL and MariaDB)
#   scripts/stack.sh status   one line per service; exit 1 when one is down
#   scripts/stack.sh down     stop everything (data is kept; `down --wipe` deletes it)
#   scripts/stack.sh env      print the DBOPS_* connection variables for a shell (eval "$(...)")
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${DBOPS_STACK_DIR:-$ROOT/.stack}
VENV=${DBOPS_VENV:-$ROOT/.venv}

PG_PORT=${DBOPS_PG_PORT:-55432}
MYSQL_PORT=${DBOPS_MYSQL_PORT:-53306}
MOTO_PORT=${DBOPS_MOTO_PORT:-55000}
APP_PORT=${DBOPS_APP_PORT:-58080}
PROM_PORT=${DBOPS_PROM_PORT:-59090}
SF_PORT=${DBOPS_STARFORGE_PORT:-58180}
# The servers' temporary folder, whatever TMPDIR says: a private TMPDIR (root-owned 0755, as CI
# systems have) is not writable by the mysql and postgres accounts, and mariadb-install-db fails there.
STACK_TMP=$STACK_DIR/tmp
# The demo app's base path: its Laravel-style maintenance file is storage/framework/down under it.
APP_DIR=$STACK_DIR/app
# Local-only credentials of the throwaway servers; never used outside this stack.
STACK_USER=dbops
STACK_PASSWORD=${DBOPS_STACK_PASSWORD:-dbops-local-stack}
STACK_DB=academy
# The StarForge demo app's PostgreSQL database (created empty: the production_migration runbook
# migrates it) and its state folder (the api deployment's env file).
SF_DB=starforge
SF_DIR=$STACK_DIR/starforge

say() { printf 'stack: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

as_service_user() {  # run a command as the service account when we are root (initdb refuses root)
  local user=$1; shift
  if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

pg_bindir() {
  local dir
  dir=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] || dir=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")
  [ -x "$dir/pg_ctl" ] && echo "$dir"
}

ensure_packages() {
  "$ROOT/scripts/debian-packages.sh" postgresql postgresql-contrib mariadb-server mariadb-client prometheus
}

mariadbd_bin() { command -v mariadbd 2>/dev/null || echo /usr/sbin/mariadbd; }

prepare_dir() {  # a data folder owned by the service account
  local dir=$1 user=$2
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown "$user:" "$dir"; chmod 700 "$dir"; fi
}

pg_running() { [ -S "$STACK_DIR/run/.s.PGSQL.$PG_PORT" ] && as_service_user postgres "$(pg_bindir)/pg_ctl" -D "$STACK_DIR/postgres" status >/dev/null 2>&1; }
mysql_running() { [ -S "$STACK_DIR/run/mysqld.sock" ] && mariadb --no-defaults -S "$STACK_DIR/run/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; }
app_running() { [ -f "$STACK_DIR/run/app.pid" ] && kill -0 "$(cat "$STACK_DIR/run/app.pid")" 2>/dev/null; }
moto_running() { [ -f "$STACK_DIR/run/moto.pid" ] && kill -0 "$(cat "$STACK_DIR/run/moto.pid")" 2>/dev/null; }
sf_running() { [ -f "$STACK_DIR/run/starforge.pid" ] && kill -0 "$(cat "$STACK_DIR/run/starforge.pid")" 2>/dev/null; }
prom_running() { [ -f "$STACK_DIR/run/prometheus.pid" ] && kill -0 "$(cat "$STACK_DIR/run/prometheus.pid")" 2>/dev/null; }

# Wait until a server answers on its URL: wait_for_url <url> <name> <running check> <log file>.
wait_for_url() {
  local tries=0
  until curl -fs -o /dev/null "$1"; do
    tries=$((tries + 1))
    { [ $tries -le 150 ] && $3; } || die "$2 did not start, see $4"
    sleep 0.2
  done
}

postgres_up() {
  local bin; bin=$(pg_bindir)
  if pg_running; then say "postgres already running on 127.0.0.1:$PG_PORT"; return 0; fi
  if [ ! -f "$STACK_DIR/postgres/PG_VERSION" ]; then
    prepare_dir "$STACK_DIR/postgres" postgres
    local pwfile="$STACK_DIR/run/pg.pw"
    printf '%s\n' "$STACK_PASSWORD" >"$pwfile"
    [ "$(id -u)" = 0 ] && chown postgres: "$pwfile"
    as_service_user postgres "$bin/initdb" -D "$STACK_DIR/postgres" -U postgres --pwfile="$pwfile" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$STACK_DIR/log/initdb.log" 2>&1 \
      || die "initdb failed, see $STACK_DIR/log/initdb.log"
    rm -f "$pwfile"
  fi
  as_service_user postgres "$bin/pg_ctl" -D "$STACK_DIR/postgres" -l "$STACK_DIR/log/postgres.log" -w -t 30 \
    -o "-p $PG_PORT -k $STACK_DIR/run -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    start >/dev/null || die "postgres did not start, see $STACK_DIR/log/postgres.log"
  as_service_user postgres "$bin/psql" -h "$STACK_DIR/run" -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -v user="$STACK_USER" -v pw="$STACK_PASSWORD" -v db="$STACK_DB" >/dev/null <<'SQL'
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'user', :'pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
  say "postgres up on 127.0.0.1:$PG_PORT"
}

mysql_up() {
  local sock="$STACK_DIR/run/mysqld.sock"
  if mysql_running; then say "mariadb already running on 127.0.0.1:$MYSQL_PORT"; return 0; fi
  if [ ! -d "$STACK_DIR/mariadb/mysql" ]; then
    prepare_dir "$STACK_DIR/mariadb" mysql
    local user_opt=(); [ "$(id -u)" = 0 ] && user_opt=(--user=mysql)
    mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$STACK_DIR/mariadb" --tmpdir="$STACK_TMP" --skip-test-db \
      --auth-root-authentication-method=socket >"$STACK_DIR/log/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed, see $STACK_DIR/log/mariadb-install.log"
  fi
  local user_opt=(); [ "$(id -u)" = 0 ] && user_opt=(--user=mysql)
  setsid "$(mariadbd_bin)" --no-defaults "${user_opt[@]}" --datadir="$STACK_DIR/mariadb" --tmpdir="$STACK_TMP" --socket="$sock" \
    --port="$MYSQL_PORT" --bind-address=127.0.0.1 --pid-file="$STACK_DIR/run/mariadb.pid" \
    --log-error="$STACK_DIR/log/mariadb.log" --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
    --innodb-doublewrite=0 --innodb-buffer-pool-size=128M --performance-schema=ON \
    --max-connections=200 </dev/null >/dev/null 2>&1 &
  local tries=0
  until mysql_running; do
    tries=$((tries + 1))
    [ $tries -le 150 ] || die "mariadb did not start, see $STACK_DIR/log/mariadb.log"
    sleep 0.2
  done
  mariadb --no-defaults -S "$sock" -uroot <<SQL
CREATE USER IF NOT EXISTS '$STACK_USER'@'127.0.0.1' IDENTIFIED BY '$STACK_PASSWORD';
CREATE USER IF NOT EXISTS '$STACK_USER'@'localhost' IDENTIFIED BY '$STACK_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$STACK_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$STACK_USER'@'localhost' WITH GRANT OPTION;
CREATE DATABASE IF NOT EXISTS \`$STACK_DB\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
SQL
  say "mariadb up on 127.0.0.1:$MYSQL_PORT"
}

moto_up() {
  if moto_running; then say "moto_server already running on 127.0.0.1:$MOTO_PORT"; return 0; fi
  [ -x "$VENV/bin/moto_server" ] || die "moto_server not found in $VENV (run 'make venv' first)"
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >"$STACK_DIR/log/moto.log" 2>&1 &
  echo $! >"$STACK_DIR/run/moto.pid"
  wait_for_url "http://127.0.0.1:$MOTO_PORT/moto-api/" moto_server moto_running "$STACK_DIR/log/moto.log"
  say "moto_server up on http://127.0.0.1:$MOTO_PORT"
}

app_up() {
  local code="$ROOT/examples/academy/app/academy_api.py"
  if app_running && [ "$code" -nt "$STACK_DIR/run/app.pid" ]; then
    say "academy demo app code changed: restarting it"; kill "$(cat "$STACK_DIR/run/app.pid")"
    local waited=0
    while app_running && [ $waited -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
  if app_running; then say "academy demo app already running on http://127.0.0.1:$APP_PORT"; return 0; fi
  [ -x "$VENV/bin/python" ] || die "python not found in $VENV (run 'make venv' first)"
  mkdir -p "$APP_DIR/storage/framework"
  ACADEMY_DB_PASSWORD=$STACK_PASSWORD setsid "$VENV/bin/python" "$code" \
    --port "$APP_PORT" --base-path "$APP_DIR" --db-port "$MYSQL_PORT" --db-user "$STACK_USER" --db-name "$STACK_DB" \
    </dev/null >"$STACK_DIR/log/app.log" 2>&1 &
  echo $! >"$STACK_DIR/run/app.pid"
  wait_for_url "http://127.0.0.1:$APP_PORT/metrics" "academy demo app" app_running "$STACK_DIR/log/app.log"
  say "academy demo app up on http://127.0.0.1:$APP_PORT (maintenance file $APP_DIR/storage/framework/down)"
}

# The StarForge demo app (API and ETL worker) on PostgreSQL's starforge database; it waits for its
# tables, which the production_migration runbook creates.
starforge_up() {
  local code="$ROOT/examples/starforge/app/starforge_api.py"
  if sf_running && [ "$code" -nt "$STACK_DIR/run/starforge.pid" ]; then
    say "starforge demo app code changed: restarting it"; kill "$(cat "$STACK_DIR/run/starforge.pid")"
    local waited=0
    while sf_running && [ $waited -lt 50 ]; do sleep 0.1; waited=$((waited + 1)); done
  fi
  if sf_running; then say "starforge demo app already running on http://127.0.0.1:$SF_PORT"; return 0; fi
  mkdir -p "$SF_DIR"
  as_service_user postgres "$(pg_bindir)/psql" -h "$STACK_DIR/run" -p "$PG_PORT" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 \
    -v user="$STACK_USER" -v db="$SF_DB" >/dev/null <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'user')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SQL
  STARFORGE_DB_PASSWORD=$STACK_PASSWORD setsid "$VENV/bin/python" "$code" --quiet \
    --port "$SF_PORT" --state-dir "$SF_DIR" --db-port "$PG_PORT" --db-user "$STACK_USER" --db-name "$SF_DB" \
    </dev/null >"$STACK_DIR/log/starforge.log" 2>&1 &
  echo $! >"$STACK_DIR/run/starforge.pid"
  wait_for_url "http://127.0.0.1:$SF_PORT/metrics" "starforge demo app" sf_running "$STACK_DIR/log/starforge.log"
  say "starforge demo app up on http://127.0.0.1:$SF_PORT (env file $SF_DIR/api.env)"
}

# Prometheus scrapes the demo apps every second, so the runbook's Prometheus gates query real series.
# It runs from the Debian package's binary, not its system service (that one listens on :9090).
prometheus_up() {
  local config="$STACK_DIR/prometheus/prometheus.yml" wanted
  wanted=$(printf '%s\n' "# Written by scripts/stack.sh up." "global:" "  scrape_interval: 1s" "  evaluation_interval: 1s" \
    "scrape_configs:" "  - job_name: academy" "    static_configs:" "      - targets: ['127.0.0.1:$APP_PORT']" \
    "  - job_name: starforge" "    static_configs:" "      - targets: ['127.0.0.1:$SF_PORT']")
  if prom_running; then
    if [ "$wanted" != "$(cat "$config" 2>/dev/null)" ]; then  # a new scrape target: reload, keep the data
      printf '%s\n' "$wanted" >"$config"; kill -HUP "$(cat "$STACK_DIR/run/prometheus.pid")"
      say "prometheus configuration reloaded"
    fi
    say "prometheus already running on http://127.0.0.1:$PROM_PORT"; return 0
  fi
  mkdir -p "$STACK_DIR/prometheus/data"
  printf '%s\n' "$wanted" >"$config"
  setsid prometheus --config.file="$STACK_DIR/prometheus/prometheus.yml" \
    --storage.tsdb.path="$STACK_DIR/prometheus/data" --storage.tsdb.retention.time=2d \
    --web.listen-address="127.0.0.1:$PROM_PORT" </dev/null >"$STACK_DIR/log/prometheus.log" 2>&1 &
  echo $! >"$STACK_DIR/run/prometheus.pid"
  wait_for_url "http://127.0.0.1:$PROM_PORT/-/ready" prometheus prom_running "$STACK_DIR/log/prometheus.log"
  # Up means usable: the runbooks' gates ask increase()/rate() over a range, which needs two scrapes.
  local tries=0
  until curl -fsG "http://127.0.0.1:$PROM_PORT/api/v1/query" \
      --data-urlencode 'query=count_over_time(up{job="academy"}[1m]) >= 2' | grep -q '"value"'; do
    tries=$((tries + 1)); [ $tries -le 100 ] || die "prometheus has not scraped the demo app twice, see $STACK_DIR/log/prometheus.log"
    sleep 0.2
  done
  say "prometheus up on http://127.0.0.1:$PROM_PORT (scraping the demo apps every 1s)"
}

# The stack's and the tests' ports lie in Linux's ephemeral range (32768-60999): an outgoing connection (a
# Prometheus scrape, synthetic traffic) can take one as its source port and a test app then cannot bind it.
# As root, keep them out of that range; elsewhere say once that a bind may fail.
RESERVED_PORTS="$MYSQL_PORT,$MOTO_PORT,$PG_PORT,58080-58199,$PROM_PORT"
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports current
  current=$(cat "$file" 2>/dev/null || true)
  if [ "$(id -u)" = 0 ] && [ -w "$file" ]; then
    echo "${current:+$current,}$RESERVED_PORTS" >"$file" 2>/dev/null || say "could not reserve ports $RESERVED_PORTS"
  else
    say "not root: ports $RESERVED_PORTS stay in the ephemeral range (a test app's bind can fail now and then)"
  fi
}

cmd_up() {
  case "${1:-}" in ''|db) ;; *) die "usage: $0 up [db]" ;; esac
  ensure_packages
  reserve_ports
  mkdir -p "$STACK_DIR/run" "$STACK_DIR/log" "$STACK_TMP"
  # The service accounts need to reach their sockets and write their temporary files.
  chmod 755 "$STACK_DIR" "$STACK_DIR/run"
  [ "$(id -u)" = 0 ] && chmod 1777 "$STACK_DIR/run" "$STACK_DIR/log" "$STACK_TMP"
  # Every server started from here (initdb, postgres, mariadbd, moto, the app, prometheus) inherits it.
  export TMPDIR=$STACK_TMP
  postgres_up
  mysql_up
  [ "${1:-}" = db ] && return 0
  moto_up
  "$VENV/bin/python" "$ROOT/scripts/seed-moto.py" --endpoint "http://127.0.0.1:$MOTO_PORT"  # s3://academy-assets icons (runbook step 6)
  app_up
  starforge_up
  prometheus_up
}

cmd_status() {
  local rc=0
  if pg_running; then echo "postgres  up    127.0.0.1:$PG_PORT"; else echo "postgres  down"; rc=1; fi
  if mysql_running; then echo "mariadb   up    127.0.0.1:$MYSQL_PORT"; else echo "mariadb   down"; rc=1; fi
  if moto_running; then echo "moto      up    http://127.0.0.1:$MOTO_PORT"; else echo "moto      down"; rc=1; fi
  if app_running; then echo "app       up    http://127.0.0.1:$APP_PORT"; else echo "app       down"; rc=1; fi
  if sf_running; then echo "starforge up    http://127.0.0.1:$SF_PORT"; else echo "starforge down"; rc=1; fi
  if prom_running; then echo "prometheus up   http://127.0.0.1:$PROM_PORT"; else echo "prometheus down"; rc=1; fi
  return $rc
}

cmd_down() {
  if prom_running; then
    local prom_pid; prom_pid=$(cat "$STACK_DIR/run/prometheus.pid")
    kill "$prom_pid" 2>/dev/null || true
    while kill -0 "$prom_pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$STACK_DIR/run/prometheus.pid"
  if app_running; then
    local app_pid; app_pid=$(cat "$STACK_DIR/run/app.pid")
    kill "$app_pid" 2>/dev/null || true
    while kill -0 "$app_pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$STACK_DIR/run/app.pid"
  if sf_running; then
    local sf_pid; sf_pid=$(cat "$STACK_DIR/run/starforge.pid")
    kill "$sf_pid" 2>/dev/null || true
    while kill -0 "$sf_pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$STACK_DIR/run/starforge.pid"
  if pg_running; then as_service_user postgres "$(pg_bindir)/pg_ctl" -D "$STACK_DIR/postgres" -m fast -w stop >/dev/null; fi
  if [ -f "$STACK_DIR/run/mariadb.pid" ]; then
    local pid; pid=$(cat "$STACK_DIR/run/mariadb.pid")
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$STACK_DIR/run/mariadb.pid"
  fi
  if moto_running; then kill "$(cat "$STACK_DIR/run/moto.pid")" 2>/dev/null || true; fi
  rm -f "$STACK_DIR/run/moto.pid"
  if [ "${1:-}" = --wipe ]; then rm -rf "$STACK_DIR"; say "stack stopped and wiped"; else say "stack stopped"; fi
}

cmd_env() {
  cat <<EOF
export DBOPS_PG_PORT=$PG_PORT DBOPS_MYSQL_PORT=$MYSQL_PORT DBOPS_MOTO_PORT=$MOTO_PORT DBOPS_APP_PORT=$APP_PORT
export DBOPS_APP_URL=http://127.0.0.1:$APP_PORT DBOPS_PROM_URL=http://127.0.0.1:$PROM_PORT
export DBOPS_STARFORGE_PORT=$SF_PORT DBOPS_STARFORGE_URL=http://127.0.0.1:$SF_PORT
export DBOPS_DB_HOST=127.0.0.1 DBOPS_DB_USER=$STACK_USER DBOPS_DB_PASSWORD=$STACK_PASSWORD
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=eu-west-1
EOF
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  status) cmd_status ;;
  down) shift; cmd_down "$@" ;;
  env) cmd_env ;;
  *) echo "usage: $0 up [db]|status|down [--wipe]|env" >&2; exit 2 ;;
esac
