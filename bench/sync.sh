#!/usr/bin/env bash
# Kit sync benchmark: allOrgSync of 10,000 departments and authSync of 500
# users against koogate on SQLite and on PostgreSQL, with koogate's peak
# resident memory.
#
#   bash bench/sync.sh [DEPARTMENTS=10000] [ROUNDS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
departments="${1:-10000}"
rounds="${2:-5}"
pg="postgres://postgres@127.0.0.1:5432"
key="bench-kit-key-0123456789"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_syncbench WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release --bin koogate --example syncbench >/dev/null 2>&1
bin="${CARGO_TARGET_DIR:-target}/release"

run() { # $1 = label, $2 = database url, $3 = port
  KOOGATE__SERVER__BIND="127.0.0.1:$3" KOOGATE__DATABASE__URL="$2" \
  KOOGATE__MARKETPLACE__ACCESS_KEY="$key" KOOGATE__MARKETPLACE__MAX_KIT_BODY_BYTES=16777216 \
  KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG=warn \
    "$bin/koogate" serve >"$work/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && break; sleep 0.1; done
  echo "== koogate on $1"
  "$bin/examples/syncbench" "http://127.0.0.1:$3/koogallery" "$key" "$departments" "$rounds"
  echo "peak resident memory: $(awk '/VmHWM/ {print $2, $3}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run sqlite "sqlite://$work/bench.db?mode=rwc" 18181
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_syncbench WITH (FORCE)" -c "CREATE DATABASE kg_syncbench" >/dev/null 2>&1
run postgres "$pg/kg_syncbench" 18182
