# shellcheck shell=bash
# Shared helpers for test/services/*.sh (sourced, never run). See test/services/README.md.
#
# Every knob is an environment variable with a default:
#   IM_BRIDGE_SERVICES_RUN_DIR   runtime data, logs, pid files   (default: test/services/.run)
#   IM_BRIDGE_KAFKA_PORT         Kafka PLAINTEXT listener         (default: 19092)
#   IM_BRIDGE_KAFKA_CONTROLLER_PORT  KRaft controller listener    (default: 19093)
#   IM_BRIDGE_ES_PORT            Elasticsearch HTTP               (default: 19200)
#   IM_BRIDGE_ES_TRANSPORT_PORT  Elasticsearch transport          (default: 19300)
#   IM_BRIDGE_NATS_PORT          NATS client port                 (default: 14222)
#   IM_BRIDGE_KAFKA_START_TIMEOUT / IM_BRIDGE_ES_START_TIMEOUT / IM_BRIDGE_NATS_START_TIMEOUT  (seconds)
#   IM_BRIDGE_SERVICES_NO_INSTALL=1  never apt-get install nats-server
#   JAVA_HOME                    JDK to run Kafka / Elasticsearch (default: java on PATH, Java 17 is fine)

set -euo pipefail

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SERVICES_DIR/../.." && pwd)"
RUN_DIR="${IM_BRIDGE_SERVICES_RUN_DIR:-$SERVICES_DIR/.run}"
ENV_FILE="$SERVICES_DIR/.env"

KAFKA_PORT="${IM_BRIDGE_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${IM_BRIDGE_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_PORT="${IM_BRIDGE_KAFKA_SASL_PORT:-19094}"
# The SASL listener's test user (a test fixture, not a secret).
KAFKA_SASL_USER=imbridge
KAFKA_SASL_PASSWORD=imbridge-test-secret
ES_PORT="${IM_BRIDGE_ES_PORT:-19200}"
ES_TRANSPORT_PORT="${IM_BRIDGE_ES_TRANSPORT_PORT:-19300}"
NATS_PORT="${IM_BRIDGE_NATS_PORT:-14222}"

KAFKA_BROKERS="127.0.0.1:${KAFKA_PORT}"
KAFKA_SASL_BROKERS="127.0.0.1:${KAFKA_SASL_PORT}"
ELASTICSEARCH_URL="http://127.0.0.1:${ES_PORT}"
NATS_URL="nats://127.0.0.1:${NATS_PORT}"

if [[ -n "${JAVA_HOME:-}" ]]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="java"; fi

_ts() { date +%H:%M:%S; }
log() { printf '[services %s] %s\n' "$(_ts)" "$*" >&2; }
warn() { printf '[services %s] WARNING: %s\n' "$(_ts)" "$*" >&2; }

# die MESSAGE [LOGFILE]: print the message and, when given, the tail of a service log; exit 1.
die() {
  printf '[services %s] ERROR: %s\n' "$(_ts)" "$1" >&2
  if [[ -n "${2:-}" && -f "$2" ]]; then
    printf -- '----- last 60 lines of %s -----\n' "$2" >&2
    tail -n 60 "$2" >&2 || true
    printf -- '----- end of %s -----\n' "$2" >&2
  fi
  exit 1
}

now_ms() { date +%s%3N; }
elapsed_s() { local start=$1; awk -v a="$start" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# require_java MIN: the JVM in $JAVA (JAVA_HOME or PATH) is at least Java MIN
require_java() {
  local min=$1 spec
  command -v "$JAVA" >/dev/null || die "java not found (need Java $min+; set JAVA_HOME or install a JDK)"
  spec=$("$JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
  spec=${spec#1.}
  [[ "$spec" =~ ^[0-9]+$ ]] || die "could not read the Java version of $JAVA"
  ((spec >= min)) || die "$JAVA is Java $spec; Kafka 4.x and Elasticsearch 8.19 need Java $min+ (set JAVA_HOME)"
}

# with_lock NAME: serialise start/stop of one service (parallel test processes may call up at once).
# Holds fd 9 until the calling script exits; children must be started with 9>&- (see spawn_detached).
with_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/$1.lock"
  if ! flock -w "${IM_BRIDGE_LOCK_TIMEOUT:-600}" 9; then
    die "could not lock $RUN_DIR/$1.lock (another start/stop of $1 is stuck?)"
  fi
}

# pid_of NAME: prints the pid recorded for a service we started, if that process still runs and really is
# ours (its command line carries the marker -Dim-bridge.service=NAME@RUN_DIR or equivalent). Else nothing.
pid_of() {
  local name=$1 pidfile="$RUN_DIR/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$(marker "$name")"; then
    echo "$pid"
  fi
}

# marker NAME: a string put on the service's command line so pid files can be verified
marker() {
  case "$1" in
    nats) echo "$RUN_DIR/nats/" ;;              # nats-server has no -D: its store dir path identifies it
    *) echo "-Dim-bridge.service=$1@$RUN_DIR" ;;
  esac
}

# spawn_detached NAME LOGFILE CMD...: start CMD in its own session, detached from our stdio and from the
# lock fd, appending to LOGFILE; the pid of CMD itself (exec'ed, no wrapper left) goes to RUN_DIR/NAME.pid.
spawn_detached() {
  local name=$1 logfile=$2; shift 2
  local pidfile="$RUN_DIR/$name.pid"
  rm -f "$pidfile"
  printf '\n===== %s starting %s =====\n' "$(date -u +%FT%TZ)" "$name" >>"$logfile"
  # The inner bash closes every inherited fd above 2 (lock fds, pipes of whoever called us: a parent
  # waiting for EOF on such a pipe would otherwise hang for the service's lifetime), records its pid, and
  # exec's the service, so the recorded pid is the service itself.
  setsid bash -c '
    for fd in $(ls /proc/$$/fd); do
      if ((fd > 2)); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    echo $$ > "$1"; shift; exec "$@"' _ "$pidfile" "$@" \
    </dev/null >>"$logfile" 2>&1 9>&- &
  local i
  for i in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "$name: no pid file after spawning" "$logfile"
}

# stop_pid NAME PID GRACE_SECONDS: SIGTERM, wait, then SIGKILL; waits until the process is gone.
stop_pid() {
  local name=$1 pid=$2 grace=$3 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    warn "$name (pid $pid) still running ${grace}s after SIGTERM: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN_DIR/$name.pid"
}

# wait_port_closed PORT SECONDS
wait_port_closed() {
  local port=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    port_open "$port" || return 0
    sleep 0.1
  done
  return 1
}

# node_probe SERVICE [ARGS...]: protocol-level readiness check (test/services/probe.mjs)
node_probe() {
  [[ -d "$REPO_ROOT/node_modules/kafkajs" && -d "$REPO_ROOT/node_modules/nats" ]] ||
    die "node_modules missing: run 'npm ci' in $REPO_ROOT first (the readiness probes use kafkajs / nats)"
  node "$SERVICES_DIR/probe.mjs" "$@"
}

# write_env: test/services/.env with the endpoints of all three services (deterministic content, so
# concurrent writers agree). test/helpers/services.ts reads it; process.env overrides it.
write_env() {
  local tmp
  tmp=$(mktemp "$ENV_FILE.XXXXXX")
  cat >"$tmp" <<EOF
# written by test/services/*.sh: endpoints of the test services (see test/services/README.md)
KAFKA_BROKERS=$KAFKA_BROKERS
KAFKA_SASL_BROKERS=$KAFKA_SASL_BROKERS
KAFKA_SASL_USER=$KAFKA_SASL_USER
KAFKA_SASL_PASSWORD=$KAFKA_SASL_PASSWORD
ELASTICSEARCH_URL=$ELASTICSEARCH_URL
NATS_URL=$NATS_URL
EOF
  mv -f "$tmp" "$ENV_FILE"
}

# mvn_build DIR: `mvn package` once per content of pom.xml + sources (stamp in target/), else a no-op.
mvn_build() {
  local dir=$1 stamp sum
  stamp="$dir/target/.im-bridge-build-stamp"
  sum=$(cd "$dir" && {
    cat pom.xml
    if [[ -d src ]]; then find src -type f | LC_ALL=C sort | xargs -r cat; fi
  } | sha256sum | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$sum" && -d "$dir/target/lib" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ is needed to fetch the $(basename "$dir") jars)"
  local t0 out
  t0=$(now_ms)
  out="$RUN_DIR/mvn-$(basename "$dir").log"
  mkdir -p "$RUN_DIR"
  log "building $(basename "$dir") classpath with Maven (first time downloads jars into ~/.m2) ..."
  rm -rf "$dir/target/lib"
  if ! timeout "${IM_BRIDGE_MVN_TIMEOUT:-1200}" mvn -B -q -f "$dir/pom.xml" -DskipTests package >"$out" 2>&1; then
    die "mvn package failed for $dir" "$out"
  fi
  echo "$sum" >"$stamp"
  log "built $(basename "$dir") in $(elapsed_s "$t0")s"
}

# ---------------------------------------------------------------------------------------------------------
# Generic service lifecycle. A service script sets:
#   SVC_NAME SVC_PORT SVC_LOG SVC_START_TIMEOUT SVC_STOP_GRACE SVC_ENDPOINT
# and defines: svc_build (fetch/build, may be a no-op), svc_launch (spawn_detached ...),
#              svc_probe (one readiness check, exit 0 = ready), svc_init (after first readiness; may be no-op)
# ---------------------------------------------------------------------------------------------------------

_svc_ready() { port_open "$SVC_PORT" && svc_probe >/dev/null 2>"$RUN_DIR/$SVC_NAME.probe.err"; }

svc_do_up() {
  with_lock "$SVC_NAME"
  local pid t0
  pid=$(pid_of "$SVC_NAME")
  if [[ -z "$pid" ]] && port_open "$SVC_PORT"; then
    # Someone else's instance: use it if it is ready, never touch it.
    if _svc_ready; then
      log "$SVC_NAME: already reachable at $SVC_ENDPOINT (not started by these scripts; down/stop leave it alone)"
      write_env
      return 0
    fi
    die "$SVC_NAME: port $SVC_PORT is held by a process these scripts did not start, and it does not answer as $SVC_NAME ($(tr '\n' ' ' <"$RUN_DIR/$SVC_NAME.probe.err" 2>/dev/null)). Free the port or set the IM_BRIDGE_*_PORT variable (test/services/lib.sh)."
  fi
  if [[ -n "$pid" ]] && _svc_ready; then
    log "$SVC_NAME: already up (pid $pid) at $SVC_ENDPOINT"
    write_env
    return 0
  fi
  t0=$(now_ms)
  if [[ -z "$pid" ]]; then
    svc_build
    log "$SVC_NAME: starting on $SVC_ENDPOINT (log: $SVC_LOG)"
    svc_launch
    pid=$(pid_of "$SVC_NAME")
    [[ -n "$pid" ]] || die "$SVC_NAME: exited right after launch" "$SVC_LOG"
  else
    log "$SVC_NAME: pid $pid runs but is not ready yet; waiting"
  fi
  local deadline=$(($(date +%s) + SVC_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$RUN_DIR/$SVC_NAME.pid"
      die "$SVC_NAME: process $pid exited during startup" "$SVC_LOG"
    fi
    if _svc_ready; then break; fi
    if (($(date +%s) >= deadline)); then
      local why
      why=$(tr '\n' ' ' <"$RUN_DIR/$SVC_NAME.probe.err" 2>/dev/null || true)
      stop_pid "$SVC_NAME" "$pid" 10
      die "$SVC_NAME: not ready after ${SVC_START_TIMEOUT}s (last probe: ${why:-port closed}); stopped it" "$SVC_LOG"
    fi
    sleep 0.5
  done
  svc_init || die "$SVC_NAME: post-start initialisation failed" "$SVC_LOG"
  write_env
  log "$SVC_NAME: ready at $SVC_ENDPOINT (pid $pid) in $(elapsed_s "$t0")s"
}

# svc_do_stop STRICT: STRICT=1 (stop) fails when the port is held by an instance we did not start;
#                     STRICT=0 (down) leaves such an instance alone.
svc_do_stop() {
  local strict=$1 pid t0
  with_lock "$SVC_NAME"
  pid=$(pid_of "$SVC_NAME")
  if [[ -n "$pid" ]]; then
    t0=$(now_ms)
    stop_pid "$SVC_NAME" "$pid" "$SVC_STOP_GRACE"
    wait_port_closed "$SVC_PORT" 10 || warn "$SVC_NAME: port $SVC_PORT still open after stopping pid $pid"
    printf '===== %s stopped %s =====\n' "$(date -u +%FT%TZ)" "$SVC_NAME" >>"$SVC_LOG"
    log "$SVC_NAME: stopped (pid $pid) in $(elapsed_s "$t0")s; data kept in $RUN_DIR/$SVC_NAME"
    return 0
  fi
  rm -f "$RUN_DIR/$SVC_NAME.pid"
  if port_open "$SVC_PORT"; then
    if [[ "$strict" == 1 ]]; then
      die "$SVC_NAME: port $SVC_PORT is served by a process these scripts did not start; refusing to stop it"
    fi
    log "$SVC_NAME: running but not started by these scripts; left alone"
    return 0
  fi
  log "$SVC_NAME: not running"
}

svc_do_status() {
  local pid state owner
  pid=$(pid_of "$SVC_NAME")
  if [[ -n "$pid" ]]; then owner="pid $pid, started by these scripts"; else owner="not started by these scripts"; fi
  if ! port_open "$SVC_PORT"; then
    state="down"
  elif svc_probe >/dev/null 2>"$RUN_DIR/$SVC_NAME.probe.err"; then
    state="ready"
  else
    state="NOT READY ($(tr '\n' ' ' <"$RUN_DIR/$SVC_NAME.probe.err"))"
  fi
  [[ "$state" == down && -z "$pid" ]] && owner="-"
  printf '%-14s %-10s %-28s %s\n' "$SVC_NAME" "${state%% *}" "$SVC_ENDPOINT" "$owner"
  [[ "$state" != ready && "$state" != down ]] && printf '%14s %s\n' "" "$state"
  [[ "$state" == ready ]]
}

svc_main() {
  mkdir -p "$RUN_DIR"
  case "${1:-}" in
    up | start) svc_do_up ;;
    stop) svc_do_stop 1 ;;
    down) svc_do_stop 0 ;;
    status) svc_do_status ;;
    build) svc_build ;;
    *)
      cat >&2 <<USAGE
usage: $(basename "$0") start|stop|status|up|down|build
  up|start  start unless already ready (fast no-op then), wait until really ready, write test/services/.env
            (an instance on the port that these scripts did not start is used if ready, never touched)
  stop      stop the instance these scripts started; data dir and port are kept for the next start.
            Fails if the port is held by an instance these scripts did not start.
  down      like stop, but silently leaves an instance these scripts did not start alone
  status    print state; exit 0 only if ready
  build     only fetch/build what the service needs (Maven)
USAGE
      exit 2
      ;;
  esac
}
