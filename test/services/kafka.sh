#!/usr/bin/env bash
# Single-node Apache Kafka 4.x (KRaft, broker+controller in one JVM) for the integration tests, from Maven
# Central jars (test/services/kafka/pom.xml). usage: bash test/services/kafka.sh start|stop|status|up|down|build
# Data (topics, offsets) lives in $RUN_DIR/kafka and survives stop/start; `rm -rf` it for a clean broker.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SVC_NAME=kafka
SVC_PORT=$KAFKA_PORT
SVC_ENDPOINT=$KAFKA_BROKERS
SVC_DIR="$RUN_DIR/kafka"
SVC_LOG="$SVC_DIR/kafka.log"
SVC_START_TIMEOUT=${IM_BRIDGE_KAFKA_START_TIMEOUT:-120}
SVC_STOP_GRACE=30
KAFKA_HOME_DIR="$SERVICES_DIR/kafka"
# fixed KRaft cluster id (22-char base64 UUID); the data dir is formatted with it once
KAFKA_CLUSTER_ID=${IM_BRIDGE_KAFKA_CLUSTER_ID:-MkU3OEVBNTcwNTJENDM2Qk}

svc_build() { mvn_build "$KAFKA_HOME_DIR"; }

svc_launch() {
  require_java 17
  mkdir -p "$SVC_DIR"
  sed -e "s#@DATA_DIR@#$SVC_DIR#g" -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    -e "s#@SASL_PORT@#$KAFKA_SASL_PORT#g" -e "s#@SASL_USER@#$KAFKA_SASL_USER#g" -e "s#@SASL_PASSWORD@#$KAFKA_SASL_PASSWORD#g" \
    "$KAFKA_HOME_DIR/server.properties.template" >"$SVC_DIR/server.properties"
  if [[ ! -f "$SVC_DIR/kafka-logs/meta.properties" ]]; then
    log "kafka: formatting $SVC_DIR/kafka-logs (cluster id $KAFKA_CLUSTER_ID)"
    "$JAVA" -Xmx256m -Dlog4j2.configurationFile="$KAFKA_HOME_DIR/log4j2.properties" \
      -cp "$KAFKA_HOME_DIR/target/lib/*" kafka.tools.StorageTool format --ignore-formatted \
      -t "$KAFKA_CLUSTER_ID" -c "$SVC_DIR/server.properties" >>"$SVC_LOG" 2>&1 ||
      die "kafka: storage format failed" "$SVC_LOG"
  fi
  # shellcheck disable=SC2086
  spawn_detached kafka "$SVC_LOG" "$JAVA" ${IM_BRIDGE_KAFKA_HEAP:--Xms256m -Xmx512m} -XX:+UseG1GC \
    -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_HOME_DIR/log4j2.properties" \
    "$(marker kafka)" \
    -cp "$KAFKA_HOME_DIR/target/lib/*" kafka.Kafka "$SVC_DIR/server.properties"
}

# readiness = a real produce (acks=all) through kafkajs
svc_probe() { node_probe kafka "$KAFKA_BROKERS"; }
# warm-up: creates __consumer_offsets and the transaction coordinator state, so the first test does not pay for it;
# then the SCRAM credentials of the SASL listener's user (idempotent: it sets the same password again; one
# mechanism per request, as the broker refuses two changes of one user's credentials in one request).
svc_init() {
  node_probe kafka "$KAFKA_BROKERS" --init >/dev/null
  local mechanism
  for mechanism in SCRAM-SHA-256 SCRAM-SHA-512; do
    "$JAVA" -Xmx128m -Dlog4j2.configurationFile="$KAFKA_HOME_DIR/log4j2.properties" \
      -cp "$KAFKA_HOME_DIR/target/lib/*" kafka.admin.ConfigCommand --bootstrap-server "$KAFKA_BROKERS" --alter \
      --add-config "$mechanism=[password=$KAFKA_SASL_PASSWORD]" --entity-type users --entity-name "$KAFKA_SASL_USER" >>"$SVC_LOG" 2>&1 ||
      die "kafka: cannot add the $mechanism credentials of $KAFKA_SASL_USER" "$SVC_LOG"
  done
}

svc_main "$@"
