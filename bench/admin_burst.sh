#!/usr/bin/env bash
# Marketplace latency during a burst of wrong admin passwords: p50/p99 of
# genuine signed V2 newInstance calls alone, then while 200 wrong-password
# posts to /admin/login arrive at once (each with a valid form token).
#
#   bash bench/admin_burst.sh [SECONDS=10] [CONCURRENCY=4] [BURST=200] [PROFILE=release]
#
# SQLite, one koogate process. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
concurrency="${2:-4}"
burst="${3:-200}"
profile="${4:-release}"
key="bench-access-key-0123456789"
port=18093
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

if [ -n "${BIN_DIR:-}" ]; then
  bin="$BIN_DIR"
else
  if [ "$profile" = release ]; then flag=--release; else flag=; fi
  cargo build $flag --bin koogate --example loadgen >/dev/null
  bin="${CARGO_TARGET_DIR:-target}/$([ "$profile" = release ] && echo release || echo debug)"
fi

KOOGATE__SERVER__BIND="127.0.0.1:$port" KOOGATE__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
KOOGATE__MARKETPLACE__ACCESS_KEY="$key" \
KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG=error \
  "$bin/koogate" serve >"$work/koogate.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
base="http://127.0.0.1:$port"

printf '%-34s ' "genuine alone:"
"$bin/examples/loadgen" "$base/koogallery" "$key" "$concurrency" "$seconds"

# One browser's form token, shared by every guess of the burst.
curl -s -c "$work/jar" "$base/admin/login" >"$work/form.html"
token=$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' "$work/form.html" | head -1)
guess() {
  curl -s -o /dev/null -w '%{http_code}\n' -b "$work/jar" \
    --data-urlencode "username=admin" --data-urlencode "password=wrong-$1" \
    --data-urlencode "csrf_token=$token" "$base/admin/login"
}
export -f guess; export work base token
(sleep 2; seq 1 "$burst" | xargs -P "$burst" -I{} bash -c 'guess {}' >"$work/codes") &
burst_pid=$!
printf '%-34s ' "genuine during $burst wrong passwords:"
"$bin/examples/loadgen" "$base/koogallery" "$key" "$concurrency" "$seconds"
wait "$burst_pid"
echo "admin answers: $(sort "$work/codes" | uniq -c | tr '\n' ' ')"
