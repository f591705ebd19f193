#!/usr/bin/env bash
# Single-node Elasticsearch 8.19 (server core + transport-netty4 HTTP) for the integration tests, started from
# Maven Central jars by test/services/elasticsearch/src/main/java/imbridge/testservices/EsNode.java.
# usage: bash test/services/elasticsearch.sh start|stop|status|up|down|build
# Data (indices) lives in $RUN_DIR/elasticsearch and survives stop/start.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=elasticsearch
SVC_PORT=$ES_PORT
SVC_ENDPOINT=$ELASTICSEARCH_URL
SVC_DIR="$RUN_DIR/elasticsearch"
SVC_LOG="$SVC_DIR/elasticsearch.log"
SVC_START_TIMEOUT=${IM_BRIDGE_ES_START_TIMEOUT:-180}
SVC_STOP_GRACE=30
ES_PROJECT_DIR="$SERVICES_DIR/elasticsearch"

svc_build() { mvn_build "$ES_PROJECT_DIR"; }

svc_launch() {
  require_java 17
  mkdir -p "$SVC_DIR/tmp"
  # shellcheck disable=SC2086
  spawn_detached elasticsearch "$SVC_LOG" "$JAVA" ${IM_BRIDGE_ES_HEAP:--Xms512m -Xmx1g} -XX:+UseG1GC \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
    -Djava.io.tmpdir="$SVC_DIR/tmp" -Dlog4j2.disable.jmx=true -Dlog4j.shutdownHookEnabled=false \
    "$(marker elasticsearch)" \
    -cp "$ES_PROJECT_DIR/target/classes:$ES_PROJECT_DIR/target/lib/*" \
    imbridge.testservices.EsNode "$SVC_DIR" "$ES_PORT" "$ES_TRANSPORT_PORT"
}

# readiness = GET /_cluster/health?wait_for_status=yellow answers yellow or green
svc_probe() { node_probe elasticsearch "$ELASTICSEARCH_URL"; }
# 0 replicas / 1 shard for every new index (a legacy template with order -1000, see probe.mjs)
svc_init() { node_probe elasticsearch "$ELASTICSEARCH_URL" --init >/dev/null; }

svc_main "$@"
