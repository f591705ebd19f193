#!/usr/bin/env bash
# A NATS server with JetStream for the integration tests, owned by these scripts (own port and store dir), so
# fault tests can stop/start it without touching a system nats-server (e.g. the machine's one on :4222).
# Binary: nats-server from Debian's package `nats-server` (installed on demand when root, see below).
# usage: bash test/services/nats.sh start|stop|status|up|down|build
# JetStream data (streams) lives in $RUN_DIR/nats/jetstream and survives stop/start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=nats
SVC_PORT=$NATS_PORT
SVC_ENDPOINT=$NATS_URL
SVC_DIR="$RUN_DIR/nats"
SVC_LOG="$SVC_DIR/nats.log"
SVC_START_TIMEOUT=${IM_BRIDGE_NATS_START_TIMEOUT:-30}
SVC_STOP_GRACE=15

nats_bin() {
  if [[ -n "${IM_BRIDGE_NATS_SERVER:-}" ]]; then echo "$IM_BRIDGE_NATS_SERVER"; return; fi
  command -v nats-server 2>/dev/null || { [[ -x /usr/sbin/nats-server ]] && echo /usr/sbin/nats-server; } || true
}

svc_build() {
  [[ -n "$(nats_bin)" ]] && return 0
  if [[ "${IM_BRIDGE_SERVICES_NO_INSTALL:-0}" != 1 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "nats: nats-server not found; installing Debian package nats-server"
    mkdir -p "$RUN_DIR"
    { apt-get install -y -q nats-server || { apt-get update -q && apt-get install -y -q nats-server; }; } \
      >"$RUN_DIR/apt-nats-server.log" 2>&1 || die "nats: apt-get install nats-server failed" "$RUN_DIR/apt-nats-server.log"
  fi
  [[ -n "$(nats_bin)" ]] || die "nats: nats-server not found; install it (Debian: apt-get install nats-server) or set IM_BRIDGE_NATS_SERVER"
}

svc_launch() {
  mkdir -p "$SVC_DIR/jetstream"
  # the store dir path ($RUN_DIR/nats/...) on the command line is what identifies the process as ours
  spawn_detached nats "$SVC_LOG" "$(nats_bin)" -a 127.0.0.1 -p "$NATS_PORT" -n im-bridge-test \
    -js -sd "$SVC_DIR/jetstream"
}

# readiness = a $JS.API.INFO request answered without error
svc_probe() { node_probe nats "$NATS_URL"; }
svc_init() { :; }

svc_main "$@"
