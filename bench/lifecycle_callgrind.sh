#!/usr/bin/env bash
# Instructions koogate spends per signed V2 newInstance call on PostgreSQL,
# counted by callgrind (repeatable whatever else the machine is doing):
# one run with no calls (start-up and idle work), one with SECONDS of load
# at concurrency 8; the difference over the number of calls, then the
# functions that cost the most, inclusive.
#
#   bash bench/lifecycle_callgrind.sh [SECONDS=20]
#
# Under valgrind the CPU's SHA extensions are hidden, so the signature's
# HMACs count as software SHA-256 (about 145,000 instructions a call that a
# real run spends a few thousand cycles on).
#
# koogate logs at its default level (info), as a vendor runs it; RUST_LOG
# set outside measures another.
#
# Needs valgrind and PostgreSQL at 127.0.0.1:5432 (user postgres, trust).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
pg="postgres://postgres@127.0.0.1:5432"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_callgrind WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
command -v valgrind >/dev/null || { echo "install valgrind first" >&2; exit 2; }
cargo build --release --bin koogate --example loadgen >/dev/null 2>&1
bin="${CARGO_TARGET_DIR:-target}/release"
# KOOGATE_BIN=path measures that binary instead (an earlier build kept for
# a before/after comparison); the load generator is still this checkout's.
koogate="${KOOGATE_BIN:-$bin/koogate}"

run() { # $1 = seconds of load (0: start-up and idle only)
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_callgrind WITH (FORCE)" -c "CREATE DATABASE kg_callgrind" >/dev/null 2>&1
  KOOGATE__SERVER__BIND=127.0.0.1:18099 KOOGATE__DATABASE__URL="$pg/kg_callgrind" KOOGATE__MARKETPLACE__ACCESS_KEY=k \
  KOOGATE__DATABASE__MAX_CONNECTIONS=32 KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG="${RUST_LOG:-info}" \
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.$1" "$koogate" serve >"$work/log.$1" 2>&1 &
  local pid=$!
  for _ in $(seq 1 300); do curl -sf http://127.0.0.1:18099/readyz >/dev/null && break; sleep 0.2; done
  if [ "$1" != 0 ]; then
    "$bin/examples/loadgen" http://127.0.0.1:18099/koogallery k 8 "$1" >"$work/calls.$1"
    # Idle as long as the loaded run was, so both count the same background work.
  else
    sleep "$seconds"
  fi
  kill -INT "$pid"; wait "$pid" || true
}
run 0
run "$seconds"
idle=$(awk '/^summary:/ {print $2}' "$work/cg.0")
loaded=$(awk '/^summary:/ {print $2}' "$work/cg.$seconds")
calls=$(sed -n 's/^calls=\([0-9]*\).*/\1/p' "$work/calls.$seconds")
echo "load: $(cat "$work/calls.$seconds")"
echo "koogate instructions per call: $(( (loaded - idle) / calls )) (idle run $idle, loaded run $loaded, $calls calls)"
echo "most costly, inclusive (per call):"
callgrind_annotate --inclusive=yes "$work/cg.$seconds" 2>/dev/null |
  grep -E 'koogate::(lifecycle|store|inbound|marketplace)|sea_query::backend|malloc.c:malloc$|core::fmt::write$' |
  head -15 | sed 's/([^)]*)//' | awk -v c="$calls" '{gsub(",", "", $1); printf "  %8d  %s\n", $1 / c, $2}'
