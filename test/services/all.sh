#!/usr/bin/env bash
# All test services: Kafka, Elasticsearch, NATS (JetStream); and podman for the container test (podman.sh). usage: bash test/services/all.sh up|ensure|down|status
#   up      build what is missing (Maven, first time only), start whatever is not ready, wait until all are
#           really ready, write test/services/.env. A fast no-op when everything is already up.
#   down    stop what these scripts started (nothing else); data dirs are kept (rm -rf test/services/.run to reset)
#   status  one line per service; exit 0 only if all are ready
# npm run services:up / services:down map to up / down. See test/services/README.md.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SERVICES=(kafka elasticsearch nats)

case "${1:-}" in
  up)
    t0=$(date +%s%3N)
    # Maven builds one after the other (they share ~/.m2), then the three start in parallel.
    bash "$HERE/kafka.sh" build
    bash "$HERE/elasticsearch.sh" build
    bash "$HERE/nats.sh" build
    # podman + the stand-in base image for the container test, alongside; its failure only warns.
    bash "$HERE/podman.sh" up &
    podman_pid=$!
    pids=()
    for s in "${SERVICES[@]}"; do
      bash "$HERE/$s.sh" up &
      pids+=("$!")
    done
    failed=0
    for i in "${!pids[@]}"; do
      wait "${pids[$i]}" || { echo "[services] ERROR: ${SERVICES[$i]} failed to come up (see above)" >&2; failed=1; }
    done
    wait "$podman_pid" || echo "[services] WARNING: podman could not be prepared (see above): the container test will be SKIPPED" >&2
    if ((failed)); then exit 1; fi
    echo "[services] all up in $(awk -v a="$t0" -v b="$(date +%s%3N)" 'BEGIN { printf "%.1f", (b - a) / 1000 }')s; endpoints in $HERE/.env:" >&2
    grep -v '^#' "$HERE/.env" >&2
    ;;
  ensure)
    # Used by `npm test`: bring the services up; outside CI a machine without Java/Maven still runs
    # the unit and e2e tests (integration tests then skip with a visible reason). Under CI=true a
    # failure here is fatal.
    if bash "$0" up; then exit 0; fi
    if [[ "${CI:-}" == "true" ]]; then echo "[services] ERROR: services could not be started (CI=true)" >&2; exit 1; fi
    # `up` may have stopped before podman (e.g. no Maven): prepare it anyway, warn only.
    bash "$HERE/podman.sh" up || echo "[services] WARNING: podman could not be prepared: the container test will be SKIPPED" >&2
    echo "" >&2
    echo "[services] WARNING: Kafka/Elasticsearch/NATS could not be started (Java 17+ and Maven are needed)." >&2
    echo "[services] WARNING: integration tests will be SKIPPED (they fail instead under CI=true)." >&2
    echo "" >&2
    exit 0
    ;;
  down)
    rc=0
    for s in "${SERVICES[@]}"; do bash "$HERE/$s.sh" down || rc=1; done
    exit $rc
    ;;
  status)
    rc=0
    for s in "${SERVICES[@]}"; do bash "$HERE/$s.sh" status || rc=1; done
    exit $rc
    ;;
  *)
    echo "usage: bash test/services/all.sh up|ensure|down|status" >&2
    exit 2
    ;;
esac
