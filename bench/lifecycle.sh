#!/usr/bin/env bash
# Lifecycle benchmark: signed V2 newInstance calls with unique orders at
# concurrency 32 against koogate on SQLite and on PostgreSQL, each without
# and with `provisioning.local_accounts` (every purchase generates a user
# name and password), beside pgbench doing one-row inserts at the same
# concurrency, in one run. Each koogate line ends with its peak resident
# memory (VmHWM). koogate logs at its default level (info, one line per
# marketplace call), as a vendor runs it; RUST_LOG set outside measures
# another (until 2026-11-27 this script ran it at warn).
#
#   bash bench/lifecycle.sh [SECONDS=20] [CONCURRENCY=32]
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
concurrency="${2:-32}"
pg="postgres://postgres@127.0.0.1:5432"
key="bench-access-key-0123456789"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release --bin koogate --example loadgen >/dev/null
bin="${CARGO_TARGET_DIR:-target}/release"
# KOOGATE_BIN=path measures that binary instead (an earlier build kept for
# a before/after comparison); the load generator is still this checkout's.
koogate="${KOOGATE_BIN:-$bin/koogate}"

run_koogate() { # $1 = label, $2 = database url, $3 = port, $4 = local accounts
  KOOGATE__PROVISIONING__LOCAL_ACCOUNTS="${4:-false}" KOOGATE__SERVER__BIND="127.0.0.1:$3" KOOGATE__DATABASE__URL="$2" \
  KOOGATE__MARKETPLACE__ACCESS_KEY="$key" KOOGATE__DATABASE__MAX_CONNECTIONS=32 \
  KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG="${RUST_LOG:-info}" \
    "$koogate" serve >"$work/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && break; sleep 0.1; done
  printf '%-32s ' "koogate $1:"
  "$bin/examples/loadgen" "http://127.0.0.1:$3/koogallery" "$key" "$concurrency" "$seconds" | tr -d '\n'
  echo " peak_rss_mb=$(awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$pid/status")"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

fresh_pg() { psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" -c "CREATE DATABASE kg_bench" >/dev/null; }

run_koogate sqlite "sqlite://$work/bench.db?mode=rwc" 18081
run_koogate sqlite+local_accounts "sqlite://$work/bench-local.db?mode=rwc" 18083 true
fresh_pg
run_koogate postgres "$pg/kg_bench" 18082
fresh_pg
run_koogate postgres+local_accounts "$pg/kg_bench" 18084 true

psql "$pg/kg_bench" -qc "CREATE TABLE pgbench_one_row (id bigserial PRIMARY KEY, order_id text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())" >/dev/null
echo "INSERT INTO pgbench_one_row (order_id) VALUES (md5(random()::text || clock_timestamp()::text));" >"$work/insert.sql"
printf '%-32s ' "pgbench one-row insert:"
pgbench -h 127.0.0.1 -U postgres -n -c "$concurrency" -j 2 -T "$seconds" -f "$work/insert.sql" kg_bench 2>/dev/null |
  awk '/^tps/ {tps=$3} /latency average/ {lat=$4} END {printf "tps=%.0f latency_avg_ms=%s\n", tps, lat}'
