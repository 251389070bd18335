#!/usr/bin/env bash
# Stop the registry started by start.sh and delete its data dir.
# Uses the same env knobs as start.sh to locate the data dir; safe to run
# when nothing is running.
set -euo pipefail

REGISTRY_PORT=${REGISTRY_PORT:-28080}
REGISTRY_DATA_DIR=${REGISTRY_DATA_DIR:-${TMPDIR:-/tmp}/caddy-kafka-registry-$REGISTRY_PORT}
pidfile=$REGISTRY_DATA_DIR/registry.pid

if [ -f "$pidfile" ]; then
  pid=$(cat "$pidfile")
  if kill "$pid" 2>/dev/null; then
    # SIGTERM shuts Quarkus down cleanly; force it after 15 s so a wedged
    # registry can't hang CI.
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    echo "registry-ci: stopped registry pid $pid" >&2
  fi
fi
rm -rf "$REGISTRY_DATA_DIR"
