#!/usr/bin/env bash
# Start a throwaway single-node Kafka broker (KRaft, broker+controller) on
# 127.0.0.1 for integration tests.
#
# Jars come from Maven Central via `mvn` because CI can only reach package
# registries (no apache.org tarballs). They are cached, so only the first run
# downloads anything.
#
# Progress goes to stderr; stdout is exactly one line on success:
#   KAFKA_BROKERS=127.0.0.1:19092
# so callers can `eval "$(.ci/kafka/start.sh)"` or `.ci/kafka/start.sh >> "$GITHUB_ENV"`.
#
# Knobs (env): KAFKA_VERSION, KAFKA_PORT, KAFKA_CONTROLLER_PORT,
# KAFKA_CACHE_DIR, KAFKA_DATA_DIR, KAFKA_START_TIMEOUT (seconds),
# KAFKA_KEEP_DATA=1 (restart on the data dir of a broker that was stopped or
# killed, instead of a fresh cluster), KAFKA_AUTO_CREATE_TOPICS=true (the
# broker's auto.create.topics.enable; default false).
# Stop with .ci/kafka/stop.sh (same env).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-$HOME/.cache/caddy-kafka}
# Derived from the port (not mktemp) so stop.sh can find it without shared state.
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/caddy-kafka-ci-$KAFKA_PORT}
KAFKA_START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
KAFKA_KEEP_DATA=${KAFKA_KEEP_DATA:-}
KAFKA_AUTO_CREATE_TOPICS=${KAFKA_AUTO_CREATE_TOPICS:-false}

libs=$KAFKA_CACHE_DIR/kafka-$KAFKA_VERSION/libs
pidfile=$KAFKA_DATA_DIR/kafka.pid
logfile=$KAFKA_DATA_DIR/server.log

log() { echo "kafka-ci: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- prerequisites -----------------------------------------------------------
if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "java and/or mvn missing; installing via apt-get"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        openjdk-17-jre-headless maven; } >&2 || die "apt-get install of java/maven failed"
  fi
  command -v java >/dev/null || die "java not found (need Java 17+; e.g. apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Kafka jars; e.g. apt-get install maven)"
fi
java_major=$(java -XshowSettings:properties -version 2>&1 |
  sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
[ "${java_major:-0}" -ge 17 ] || die "Kafka ${KAFKA_VERSION%%.*}.x needs Java 17+, found '${java_major:-unknown}'"

# --- already running? (makes the script idempotent) --------------------------
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  port_open "$KAFKA_PORT" || die "broker pid $(cat "$pidfile") alive but port $KAFKA_PORT closed; run stop.sh"
  log "already running (pid $(cat "$pidfile"))"
  echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
  exit 0
fi
for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
  ! port_open "$p" || die "port $p is already in use by something else"
done

# --- jars --------------------------------------------------------------------
# The .complete marker guards against reusing a half-finished download.
if [ ! -f "$libs/.complete" ]; then
  log "fetching Kafka $KAFKA_VERSION jars with mvn into $libs"
  rm -rf "$libs.tmp"
  # Pin the plugin: Maven 3.8's default maven-dependency-plugin is 2.8 (2013).
  # The sed strips the ANSI resets Debian's mvn prints even in batch mode.
  mvn -q -B -f "$here/pom.xml" \
    -Dmaven.repo.local="$KAFKA_CACHE_DIR/m2" \
    -Dkafka.version="$KAFKA_VERSION" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$libs.tmp" 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >&2 ||
    die "mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION (wrong version? no access to Maven Central?)"
  rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$libs/.complete"
fi

# --- config ------------------------------------------------------------------
# Start from an empty data dir: tests want a clean cluster and a stale
# meta.properties with another cluster id would make the broker refuse to start.
# With KAFKA_KEEP_DATA=1 an already formatted data dir is kept (a restart).
keep=
if [ -n "$KAFKA_KEEP_DATA" ] && [ -f "$KAFKA_DATA_DIR/logs/meta.properties" ]; then
  keep=1
else
  rm -rf "$KAFKA_DATA_DIR"
fi
mkdir -p "$KAFKA_DATA_DIR/logs"

cat >"$KAFKA_DATA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
# Static quorum: works on Kafka 3.x and 4.x without StorageTool --standalone.
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$KAFKA_DATA_DIR/logs
num.partitions=3
# Tests create their topics explicitly; typos should fail, not auto-create.
auto.create.topics.enable=$KAFKA_AUTO_CREATE_TOPICS
# Single node: internal topics cannot have RF 3. Few partitions keep the first
# consumer-group/transaction call fast (defaults are 50 partitions).
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
# Don't make the first consumer group wait 3s for more members.
group.initial.rebalance.delay.ms=0
EOF

# Kafka 4.x only ships slf4j-api; the pom adds log4j2, which needs a config.
cat >"$KAFKA_DATA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
EOF
# Kafka 3.x pulls in its own reload4j binding, which wins over log4j2 and
# needs a log4j 1 config; without it the "started" line never appears.
cat >"$KAFKA_DATA_DIR/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, out
log4j.appender.out=org.apache.log4j.ConsoleAppender
log4j.appender.out.layout=org.apache.log4j.PatternLayout
log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF

jvm=(java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true
     -Dlog4j2.configurationFile="$KAFKA_DATA_DIR/log4j2.properties"
     -Dlog4j.configuration="file:$KAFKA_DATA_DIR/log4j.properties"
     -cp "$libs/*")

# --- format + start ----------------------------------------------------------
# A cluster id is just 16 random bytes in URL-safe base64; generating it here
# saves a JVM start for `StorageTool random-uuid`. Like Kafka's own
# Uuid.randomUuid(), reject a leading '-', which the CLI would take for a flag.
if [ -z "$keep" ]; then
  cluster_id=-
  while [[ $cluster_id == -* ]]; do
    cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$KAFKA_DATA_DIR/server.properties" >"$KAFKA_DATA_DIR/format.log" 2>&1 ||
    { cat "$KAFKA_DATA_DIR/format.log" >&2; die "storage format failed"; }
fi

start=$SECONDS
# All fds redirected so `$(start.sh)` callers don't hang on the broker's stdout.
nohup "${jvm[@]}" kafka.Kafka "$KAFKA_DATA_DIR/server.properties" \
  </dev/null >"$logfile" 2>&1 &
echo $! >"$pidfile"
log "broker pid $! starting on 127.0.0.1:$KAFKA_PORT (log: $logfile)"

# --- wait for readiness ------------------------------------------------------
# The port opens before the broker is unfenced; "Kafka Server started" is
# logged only once it is registered and can serve requests.
fail() {
  log "last 40 lines of $logfile:"; tail -n 40 "$logfile" >&2 || true
  kill "$(cat "$pidfile")" 2>/dev/null || true
  die "$1"
}
until port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$logfile"; do
  kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "broker exited during startup"
  [ $((SECONDS - start)) -lt "$KAFKA_START_TIMEOUT" ] || fail "broker not ready after ${KAFKA_START_TIMEOUT}s"
  sleep 0.5
done
log "ready after $((SECONDS - start))s (Kafka $KAFKA_VERSION, libs: $libs)"
echo "KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT"
