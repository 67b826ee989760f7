#!/usr/bin/env bash
# Sign-in benchmark: full sign-ins per second (login → simulated auth
# centre → callback → session) against koogate on SQLite, PostgreSQL and
# PostgreSQL + Redis sessions, at concurrency 32.
#
#   bash bench/logins.sh [SECONDS=20] [CONCURRENCY=32]
#
# Needs PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and Redis at
# 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
concurrency="${2:-32}"
pg="postgres://postgres@127.0.0.1:5432"
key="bench-access-key-0123456789"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cargo build --release --bin koogate --example loginbench >/dev/null
bin="${CARGO_TARGET_DIR:-target}/release"

run_koogate() { # $1 = label, $2 = database url, $3 = port, $4 = redis url or ""
  KOOGATE__SERVER__BIND="127.0.0.1:$3" KOOGATE__SERVER__PUBLIC_URL="http://127.0.0.1:$3" \
  KOOGATE__DATABASE__URL="$2" KOOGATE__REDIS__URL="$4" \
  KOOGATE__MARKETPLACE__ACCESS_KEY="$key" KOOGATE__DATABASE__MAX_CONNECTIONS=32 \
  KOOGATE__MARKETPLACE__RSA_PRIVATE_KEY_FILE=tests/data/isv-test-private.pem KOOGATE__SSO__ALLOW_PRIVATE_AUTH_CENTRES=true \
  KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG=warn \
    "$bin/koogate" serve >"$work/$1.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$3/readyz" >/dev/null && break; sleep 0.1; done
  printf '%-26s ' "koogate $1:"
  "$bin/examples/loginbench" "http://127.0.0.1:$3" "$key" tests/data/isv-test-public.pem "$concurrency" "$seconds"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_koogate sqlite "sqlite://$work/bench.db?mode=rwc" 18091 ""
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" -c "CREATE DATABASE kg_bench" >/dev/null
run_koogate postgres "$pg/kg_bench" 18092 ""
psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS kg_bench WITH (FORCE)" -c "CREATE DATABASE kg_bench" >/dev/null
run_koogate postgres+redis "$pg/kg_bench" 18093 "redis://127.0.0.1:6379"
