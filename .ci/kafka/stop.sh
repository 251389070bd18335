#!/usr/bin/env bash
# Stop the broker started by start.sh and delete its data dir.
# Uses the same env knobs as start.sh to locate the data dir; safe to run
# when nothing is running.
set -euo pipefail

KAFKA_PORT=${KAFKA_PORT:-19092}
KAFKA_DATA_DIR=${KAFKA_DATA_DIR:-${TMPDIR:-/tmp}/caddy-kafka-ci-$KAFKA_PORT}
pidfile=$KAFKA_DATA_DIR/kafka.pid

if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    # SIGTERM triggers a clean shutdown; give it a moment, then force it so
    # a wedged broker can't hang CI.
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "kafka-ci: stopped broker pid $pid" >&2
  fi
fi
rm -rf "$KAFKA_DATA_DIR"
