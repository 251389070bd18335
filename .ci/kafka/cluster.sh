#!/usr/bin/env bash
# A production-shaped Kafka on 127.0.0.1 for the cluster suite
# (internal/cluster): three KRaft nodes (each broker+controller) of Apache
# Kafka from Maven Central, topics of replication factor 3 with
# min.insync.replicas 2, StandardAuthorizer with ACLs, and these listeners per
# node:
#
#   PLAINTEXT  2909N  principal ANONYMOUS, a super user: tests read back here
#   SASL_SSL   2910N  SCRAM-SHA-512, users "admin" (super user) and "gateway"
#   SSL        2911N  client certificates required; CN=gateway -> User:gateway
#   PROXIED    2913N  plaintext, advertised as 127.0.0.1:2914N, where the
#                     tests' fault-injecting proxy listens (toxiproxy)
#   PROXIED_SASL 2915N  SASL_SSL as above, advertised as 127.0.0.1:2916N,
#                     behind the proxy too
#   PROXIED_SSL  2917N  SSL with client certificates, as above, advertised as
#                     127.0.0.1:2918N, behind the proxy too
#   CONTROLLER 2912N
#
# The gateway's principal (User:gateway, by SCRAM or by certificate) may write
# and describe topics prefixed "ok-", only describe those prefixed "denied-",
# and nothing else. The script makes a CA, broker and client certificates
# (an expired one, and one from a CA the brokers do not trust) with openssl.
#
# Usage:
#   cluster.sh [up]     start all three (fresh), print the connection env
#   cluster.sh node N   start node N again on its data (after a kill or stop)
#   cluster.sh down     stop all three and delete the data
# `up` prints, on stdout only, lines KEY=VALUE (eval them), as start.sh does.
# Progress goes to stderr. Knobs (env): KAFKA_VERSION, KAFKA_CACHE_DIR,
# KAFKA_CLUSTER_DIR (default $TMPDIR/caddy-kafka-cluster), KAFKA_CLUSTER_PORT_BASE
# (default 29000: ports base+9N, base+10N, ...), KAFKA_HEAP (default 384m),
# KAFKA_START_TIMEOUT (seconds, per node).
# The single-broker start.sh / stop.sh are unchanged and independent of this.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_VERSION=${KAFKA_VERSION:-4.1.1}
KAFKA_CACHE_DIR=${KAFKA_CACHE_DIR:-$HOME/.cache/caddy-kafka}
dir=${KAFKA_CLUSTER_DIR:-${TMPDIR:-/tmp}/caddy-kafka-cluster}
base=${KAFKA_CLUSTER_PORT_BASE:-29000}
heap=${KAFKA_HEAP:-384m}
start_timeout=${KAFKA_START_TIMEOUT:-120}
libs=$KAFKA_CACHE_DIR/kafka-$KAFKA_VERSION/libs
certs=$dir/certs
# Test-only secrets: the cluster lives on loopback for the length of a run.
store_pass=changeit
admin_pass=admin-secret
gateway_pass=gateway-secret

log() { echo "kafka-cluster: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
plain_port() { echo $((base + 90 + $1)); }
sasl_port() { echo $((base + 100 + $1)); }
ssl_port() { echo $((base + 110 + $1)); }
ctrl_port() { echo $((base + 120 + $1)); }
proxied_port() { echo $((base + 130 + $1)); }
proxy_port() { echo $((base + 140 + $1)); }
proxied_sasl_port() { echo $((base + 150 + $1)); }
proxy_sasl_port() { echo $((base + 160 + $1)); }
proxied_ssl_port() { echo $((base + 170 + $1)); }
proxy_ssl_port() { echo $((base + 180 + $1)); }
list() { local f=$1 out=; for n in 1 2 3; do out+=${out:+,}127.0.0.1:$($f "$n"); done; echo "$out"; }

jvm() {
  local n=$1; shift
  java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:TieredStopAtLevel=1 -Xss512k \
    -XX:ActiveProcessorCount=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -cp "$libs/*" "$@"
}

prereqs() {
  if ! command -v java >/dev/null || ! command -v mvn >/dev/null || ! command -v openssl >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing java, maven and/or openssl via apt-get"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          openjdk-17-jre-headless maven openssl; } >&2 || die "apt-get install failed"
    fi
  fi
  for c in java mvn openssl; do command -v $c >/dev/null || die "$c not found"; done
  if [ ! -f "$libs/.complete" ]; then
    log "fetching Kafka $KAFKA_VERSION jars with mvn into $libs"
    rm -rf "$libs.tmp"
    mvn -q -B -f "$here/pom.xml" -Dmaven.repo.local="$KAFKA_CACHE_DIR/m2" \
      -Dkafka.version="$KAFKA_VERSION" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$libs.tmp" 2>&1 |
      sed 's/\x1b\[[0-9;]*m//g' >&2 || die "mvn could not fetch Kafka $KAFKA_VERSION"
    rm -rf "$libs" && mv "$libs.tmp" "$libs" && touch "$libs/.complete"
  fi
}

# sign CA NAME CN [startdate enddate]: a key and a certificate for CN signed
# by CA (openssl ca, which, unlike x509 -req, can date a certificate in the
# past: the expired one).
sign() {
  local ca=$1 name=$2 cn=$3 start=${4:-} end=${5:-}
  openssl req -new -newkey rsa:2048 -nodes -keyout "$certs/$name.key" \
    -subj "/CN=$cn" -out "$certs/$name.csr" 2>/dev/null
  local dates=(-days 30)
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl ca -batch -config "$certs/$ca.cnf" -notext -in "$certs/$name.csr" \
    -out "$certs/$name.crt" "${dates[@]}" -extensions ext 2>/dev/null ||
    die "openssl ca could not sign $name"
}

make_ca() {
  local ca=$1 cn=$2
  mkdir -p "$certs/$ca.db"
  : >"$certs/$ca.db/index.txt"
  echo 01 >"$certs/$ca.db/serial"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 30 -subj "/CN=$cn" \
    -keyout "$certs/$ca.key" -out "$certs/$ca.crt" 2>/dev/null
  cat >"$certs/$ca.cnf" <<EOF
[ca]
default_ca = this
[this]
dir = $certs/$ca.db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $certs/$ca.crt
private_key = $certs/$ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
[ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
EOF
}

make_certs() {
  rm -rf "$certs" && mkdir -p "$certs"
  make_ca ca "caddy-kafka test CA"
  make_ca rogue "an untrusted CA"
  sign ca broker broker
  sign ca gateway gateway
  sign ca expired gateway 20200101000000Z 20200102000000Z
  sign rogue untrusted gateway
  openssl pkcs12 -export -in "$certs/broker.crt" -inkey "$certs/broker.key" \
    -certfile "$certs/ca.crt" -name broker -out "$certs/broker.p12" -passout pass:$store_pass
  rm -f "$certs"/*.csr
}

node_config() {
  local n=$1 nd=$dir/node$1
  mkdir -p "$nd/logs"
  cat >"$nd/server.properties" <<EOF
process.roles=broker,controller
node.id=$n
controller.quorum.voters=1@127.0.0.1:$(ctrl_port 1),2@127.0.0.1:$(ctrl_port 2),3@127.0.0.1:$(ctrl_port 3)
listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),SASL_SSL://127.0.0.1:$(sasl_port "$n"),SSL://127.0.0.1:$(ssl_port "$n"),PROXIED://127.0.0.1:$(proxied_port "$n"),PROXIED_SASL://127.0.0.1:$(proxied_sasl_port "$n"),PROXIED_SSL://127.0.0.1:$(proxied_ssl_port "$n"),CONTROLLER://127.0.0.1:$(ctrl_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(plain_port "$n"),SASL_SSL://127.0.0.1:$(sasl_port "$n"),SSL://127.0.0.1:$(ssl_port "$n"),PROXIED://127.0.0.1:$(proxy_port "$n"),PROXIED_SASL://127.0.0.1:$(proxy_sasl_port "$n"),PROXIED_SSL://127.0.0.1:$(proxy_ssl_port "$n")
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,PROXIED:PLAINTEXT,PROXIED_SASL:SASL_SSL,PROXIED_SSL:SSL,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$nd/logs
num.partitions=3
default.replication.factor=3
min.insync.replicas=2
auto.create.topics.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
group.initial.rebalance.delay.ms=0
# Fail over within seconds: a paused broker is fenced after the session
# timeout, a stuck follower leaves the ISR after replica.lag.time.max.ms.
broker.session.timeout.ms=6000
broker.heartbeat.interval.ms=1000
replica.lag.time.max.ms=8000
controlled.shutdown.enable=true
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
background.threads=2
log.cleaner.enable=false
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
# The plaintext listeners (tests, inter-broker, controllers) are ANONYMOUS.
super.users=User:ANONYMOUS;User:admin
allow.everyone.if.no.acl.found=false
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.proxied_sasl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$certs/broker.p12
ssl.keystore.password=$store_pass
ssl.key.password=$store_pass
ssl.truststore.type=PEM
ssl.truststore.location=$certs/ca.crt
listener.name.ssl.ssl.client.auth=required
listener.name.proxied_ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]*).*\$/\$1/,DEFAULT
EOF
}

ready() { grep -q "Kafka Server started" "$dir/node$1/server.log" 2>/dev/null; }

launch() {
  local n=$1 nd=$dir/node$1
  if [ -f "$nd/kafka.pid" ] && kill -0 "$(cat "$nd/kafka.pid")" 2>/dev/null; then
    die "node $n already runs (pid $(cat "$nd/kafka.pid"))"
  fi
  for p in $(plain_port "$n") $(sasl_port "$n") $(ssl_port "$n") $(ctrl_port "$n") $(proxied_port "$n") $(proxied_sasl_port "$n") $(proxied_ssl_port "$n"); do
    ! port_open "$p" || die "port $p is already in use"
  done
  [ -f "$nd/server.log" ] && mv "$nd/server.log" "$nd/server.log.$(date +%s%N)"
  nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" -cp "$libs/*" \
    kafka.Kafka "$nd/server.properties" </dev/null >"$nd/server.log" 2>&1 &
  echo $! >"$nd/kafka.pid"
  log "node $n pid $! starting"
}

wait_ready() {
  local n=$1 start=$SECONDS nd=$dir/node$1
  until port_open "$(plain_port "$n")" && ready "$n"; do
    if ! kill -0 "$(cat "$nd/kafka.pid")" 2>/dev/null; then
      tail -n 40 "$nd/server.log" >&2; die "node $n exited during startup"
    fi
    if [ $((SECONDS - start)) -ge "$start_timeout" ]; then
      tail -n 40 "$nd/server.log" >&2; die "node $n not ready after ${start_timeout}s"
    fi
    sleep 0.5
  done
  log "node $n ready after $((SECONDS - start))s"
}

acl() {
  jvm 0 org.apache.kafka.tools.AclCommand --bootstrap-server "127.0.0.1:$(plain_port 1)" "$@" >/dev/null ||
    die "kafka-acls $* failed"
}

up() {
  prereqs
  down_quiet
  mkdir -p "$dir"
  cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka.server.KafkaApis
logger.kafka.level = WARN
EOF
  make_certs
  local cluster_id=-
  while [[ $cluster_id == -* ]]; do
    cluster_id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  for n in 1 2 3; do
    node_config "$n"
    # SCRAM users go into the bootstrap metadata, so they exist before any
    # client connects.
    jvm "$n" kafka.tools.StorageTool format -t "$cluster_id" -c "$dir/node$n/server.properties" \
      --add-scram "SCRAM-SHA-512=[name=admin,password=$admin_pass]" \
      --add-scram "SCRAM-SHA-512=[name=gateway,password=$gateway_pass]" \
      >"$dir/node$n/format.log" 2>&1 || { cat "$dir/node$n/format.log" >&2; die "format of node $n failed"; }
  done
  local t0=$SECONDS
  for n in 1 2 3; do launch "$n"; done
  for n in 1 2 3; do wait_ready "$n"; done
  acl --add --allow-principal User:gateway --operation Write --operation Describe \
    --topic ok- --resource-pattern-type prefixed
  acl --add --allow-principal User:gateway --operation Describe \
    --topic denied- --resource-pattern-type prefixed
  log "cluster ready after $((SECONDS - t0))s (Kafka $KAFKA_VERSION, data: $dir)"
  cat <<EOF
KAFKA_CLUSTER_DIR=$dir
KAFKA_CLUSTER_SCRIPT=$here/cluster.sh
KAFKA_CLUSTER_PLAINTEXT=$(list plain_port)
KAFKA_CLUSTER_SASL_SSL=$(list sasl_port)
KAFKA_CLUSTER_SSL=$(list ssl_port)
KAFKA_CLUSTER_PROXIED=$(list proxied_port)
KAFKA_CLUSTER_PROXY=$(list proxy_port)
KAFKA_CLUSTER_PROXIED_SASL=$(list proxied_sasl_port)
KAFKA_CLUSTER_PROXY_SASL=$(list proxy_sasl_port)
KAFKA_CLUSTER_PROXIED_SSL=$(list proxied_ssl_port)
KAFKA_CLUSTER_PROXY_SSL=$(list proxy_ssl_port)
KAFKA_CLUSTER_CA=$certs/ca.crt
KAFKA_CLUSTER_CERTS=$certs
KAFKA_CLUSTER_SASL_USER=gateway
KAFKA_CLUSTER_SASL_PASSWORD=$gateway_pass
KAFKA_CLUSTER_ADMIN_PASSWORD=$admin_pass
KAFKA_CLUSTER_ALLOWED_PREFIX=ok-
KAFKA_CLUSTER_DENIED_PREFIX=denied-
EOF
}

stop_node() {
  local pidf=$dir/node$1/kafka.pid pid
  [ -f "$pidf" ] || return 0
  pid=$(cat "$pidf")
  kill -CONT "$pid" 2>/dev/null || true
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

down_quiet() {
  [ -d "$dir" ] || return 0
  # All at once: one by one, the last would wait for a quorum that is gone.
  for n in 1 2 3; do
    [ -f "$dir/node$n/kafka.pid" ] && kill -CONT "$(cat "$dir/node$n/kafka.pid")" 2>/dev/null &&
      kill "$(cat "$dir/node$n/kafka.pid")" 2>/dev/null || true
  done
  for n in 1 2 3; do stop_node "$n"; done
  rm -rf "$dir"
}

case ${1:-up} in
  up) up ;;
  node) [[ ${2:-} =~ ^[123]$ ]] || die "usage: cluster.sh node 1|2|3"
        launch "$2"; wait_ready "$2" ;;
  down) down_quiet; log "stopped" ;;
  *) die "usage: cluster.sh [up|node N|down]" ;;
esac
