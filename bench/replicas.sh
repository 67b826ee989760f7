#!/usr/bin/env bash
# Scale-out benchmark: signed V2 newInstance calls (each a new order) at
# concurrency 32 against 1 and then 3 koogate replicas on one PostgreSQL
# and Redis, beside pgbench's one-row insert in the same run; resident
# memory of each replica idle, and after the load.
#
#   bash bench/replicas.sh [SECONDS=20] [CONCURRENCY=32]
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust), Redis at
# 127.0.0.1:6379, and pgbench.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
concurrency="${2:-32}"
pg="postgres://postgres@127.0.0.1:5432"
key="bench-access-key-0123456789"
master="$(head -c 32 /dev/urandom | base64)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release --bin koogate --example loadgen >/dev/null
bin="${CARGO_TARGET_DIR:-target}/release"

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

run() { # $1 = number of replicas
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" -c "CREATE DATABASE kg_bench" >/dev/null
  local pids=() urls=()
  for i in $(seq 1 "$1"); do
    local port=$((18100 + i))
    KOOGATE__SERVER__BIND="127.0.0.1:$port" KOOGATE__DATABASE__URL="$pg/kg_bench" \
    KOOGATE__REDIS__URL="redis://127.0.0.1:6379" KOOGATE__MARKETPLACE__ACCESS_KEY="$key" \
    KOOGATE__DATABASE__MAX_CONNECTIONS=$((32 / $1 + 2)) KOOGATE__SECURITY__MASTER_KEY="$master" \
    RUST_LOG=warn "$bin/koogate" serve >"$work/replica-$i.log" 2>&1 &
    pids+=($!)
    urls+=("http://127.0.0.1:$port/koogallery")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  done
  sleep 2
  local idle=""; for p in "${pids[@]}"; do idle+="$(rss_mb "$p") "; done
  printf '%-24s ' "koogate x$1:"
  "$bin/examples/loadgen" "$(IFS=,; echo "${urls[*]}")" "$key" "$concurrency" "$seconds"
  local loaded=""; for p in "${pids[@]}"; do loaded+="$(rss_mb "$p") "; done
  echo "                         RSS MB idle: ${idle}after load: ${loaded}"
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
}

run 1
run 3

psql "$pg/kg_bench" -qc "CREATE TABLE pgbench_one_row (id bigserial PRIMARY KEY, order_id text NOT NULL UNIQUE, created_at timestamptz NOT NULL DEFAULT now())" >/dev/null
echo "INSERT INTO pgbench_one_row (order_id) VALUES (md5(random()::text || clock_timestamp()::text));" >"$work/insert.sql"
printf '%-24s ' "pgbench one-row insert:"
pgbench -h 127.0.0.1 -U postgres -n -c "$concurrency" -j 2 -T "$seconds" -f "$work/insert.sql" kg_bench 2>/dev/null |
  awk '/^tps/ {tps=$3} /latency average/ {lat=$4} END {printf "tps=%.0f latency_avg_ms=%s\n", tps, lat}'
