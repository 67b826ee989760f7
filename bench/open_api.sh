#!/usr/bin/env bash
# Open API benchmark, in one run:
#  1. signed V2 newInstance calls/s against koogate on SQLite without the
#     Open API, then with it configured (every purchase queues an order
#     fetch, the fetcher and usage pusher run against `koogate sim open-api`);
#  2. `koogate reconcile` of every instance those runs created, against the
#     sim at RATE requests/s: wall time beside the time the rate allows, and
#     peak resident memory.
#
#   bash bench/open_api.sh [SECONDS=20] [CONCURRENCY=32] [RATE=100]
#
# PROFILE=debug uses the debug binaries (no release build).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
concurrency="${2:-32}"
rate="${3:-100}"
profile="${PROFILE:-release}"
key="bench-access-key-0123456789"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

if [ "$profile" = release ]; then
  cargo build --release --bin koogate --example loadgen >/dev/null
else
  cargo build --bin koogate --example loadgen >/dev/null
fi
bin="${CARGO_TARGET_DIR:-target}/$profile"
master="$(head -c 32 /dev/urandom | base64)"

KOOGATE_SIM_ACCESS_KEY="$key" "$bin/koogate" sim open-api --bind 127.0.0.1:19100 \
  --access-key-id bench-ak --secret-access-key bench-sk >"$work/sim.log" 2>&1 &
open_api=(KOOGATE__OPEN_API__BASE_URL=http://127.0.0.1:19100
  KOOGATE__OPEN_API__ACCESS_KEY_ID=bench-ak KOOGATE__OPEN_API__SECRET_ACCESS_KEY=bench-sk
  KOOGATE__OPEN_API__MAX_REQUESTS_PER_SEC="$rate")

run_koogate() { # $1 = label, $2 = port, then extra VAR=value settings
  local label="$1" port="$2"
  shift 2
  env KOOGATE__SERVER__BIND="127.0.0.1:$port" \
    KOOGATE__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
    KOOGATE__MARKETPLACE__ACCESS_KEY="$key" KOOGATE__SECURITY__MASTER_KEY="$master" \
    RUST_LOG=warn "$@" "$bin/koogate" serve >"$work/$label.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
  printf '%-26s ' "newInstance $label:"
  "$bin/examples/loadgen" "http://127.0.0.1:$port/koogallery" "$key" "$concurrency" "$seconds"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

run_koogate "without Open API" 18091
run_koogate "with Open API" 18092 "${open_api[@]}"

instances="$(sqlite3 "$work/bench.db" "SELECT count(*) FROM instances WHERE status <> 'released'" 2>/dev/null ||
  python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM instances WHERE status <> 'released'\").fetchone()[0])" "$work/bench.db")"
allowed="$(python3 -c "print(f'{$instances / $rate:.1f}')")"
start="$(date +%s.%N)"
env KOOGATE__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" "${open_api[@]}" RUST_LOG=warn \
  /usr/bin/time -f "%M" -o "$work/rss" "$bin/koogate" reconcile 2>"$work/reconcile.err" | tail -1
end="$(date +%s.%N)"
python3 -c "
took = $end - $start
print(f'reconcile: {$instances} instances at $rate/s in {took:.1f} s (the rate allows {$allowed} s: +{(took / max($allowed, 0.001) - 1) * 100:.1f}%), peak RSS {int(open(\"$work/rss\").read().split()[-1]) / 1024:.1f} MiB')
"
