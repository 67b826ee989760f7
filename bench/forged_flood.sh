#!/usr/bin/env bash
# Forged-call flood: p50/p99 of genuine signed V2 newInstance calls alone
# and while FLOODERS clients post forged (wrong-key) 8 MiB Kit bodies
# without pause; then the database growth per 1,000 forged posts.
#
#   bash bench/forged_flood.sh [SECONDS=10] [CONCURRENCY=4] [FLOODERS=100] [PROFILE=release] [SIGN=short]
#
# SIGN=short forges `x-sign: 00` (refused from the headers, unread);
# SIGN=hex forges 64 random hex digits, so every body is read and its
# HMAC computed before the refusal (the costlier flood).
#
# LINK=1gbit (any `tc` rate) sends the flood as an attacker across a
# network would: from its own network namespace, over a veth pair limited
# to that rate, so it is bounded by the link instead of by how fast a
# process on the same two cores can copy bytes. Needs root and iproute2.
#
# SQLite, one koogate process; the flood is examples/flood.rs. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
concurrency="${2:-4}"
flooders="${3:-100}"
profile="${4:-release}"
sign_kind="${5:-short}"
key="bench-access-key-0123456789"
kit_key="bench-kit-key-0123456789"
port=18091
link="${LINK:-}"
work="$(mktemp -d)"
host=127.0.0.1
flood_in=()
if [ -n "$link" ]; then
  host=10.77.91.1
  ns="kgflood$$"
  ip netns add "$ns"
  ip link add "kgh$$" type veth peer name kgf netns "$ns"
  ip addr add "$host/24" dev "kgh$$"
  ip link set "kgh$$" up
  ip -n "$ns" addr add 10.77.91.2/24 dev kgf
  ip -n "$ns" link set kgf up
  tc -n "$ns" qdisc add dev kgf root tbf rate "$link" burst 256kb latency 50ms
  flood_in=(ip netns exec "$ns")
fi
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$work"
  if [ -n "$link" ]; then ip netns del "$ns" 2>/dev/null || true; ip link del "kgh$$" 2>/dev/null || true; fi
}
trap cleanup EXIT

# BIN_DIR: binaries already built (koogate, examples/loadgen), to compare
# another build; otherwise they are built here.
if [ -n "${BIN_DIR:-}" ]; then
  bin="$BIN_DIR"
else
  if [ "$profile" = release ]; then flag=--release; else flag=; fi
  cargo build $flag --bin koogate --example loadgen --example flood >/dev/null
  bin="${CARGO_TARGET_DIR:-target}/$([ "$profile" = release ] && echo release || echo debug)"
fi

KOOGATE__SERVER__BIND="$host:$port" KOOGATE__DATABASE__URL="sqlite://$work/bench.db?mode=rwc" \
KOOGATE__MARKETPLACE__ACCESS_KEY="$key" KOOGATE__MARKETPLACE__KIT_ACCESS_KEY="$kit_key" \
KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG=error \
  "$bin/koogate" serve >"$work/koogate.log" 2>&1 &
koogate=$!
# CPU seconds (user + system) a process has used so far, from /proc.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
for _ in $(seq 1 100); do curl -sf "http://$host:$port/readyz" >/dev/null && break; sleep 0.1; done
url="http://$host:$port/koogallery"

printf '%-34s ' "genuine alone:"
"$bin/examples/loadgen" "$url" "$key" "$concurrency" "$seconds"

# The flood is one process (examples/flood.rs) sharing one 8 MiB body
# between its clients: a hundred `curl` loops would spend the two cores
# starting processes and reading files, and the measure would be of them.
koogate_before=$(cpu_secs "$koogate")
(TIMEFORMAT='%U %S'; time "${flood_in[@]}" "$bin/examples/flood" "$url" "$flooders" $((seconds + 4)) 8 "$sign_kind" >"$work/flood.txt") 2>"$work/flood.time" &
flood=$!
sleep 2
printf '%-34s ' "genuine under $flooders forged 8 MiB:"
"$bin/examples/loadgen" "$url" "$key" "$concurrency" "$seconds"
wait "$flood"
koogate_after=$(cpu_secs "$koogate")
printf '%-34s ' "the forged posts meanwhile:"
cat "$work/flood.txt"
# Whose CPU the flood burnt: on this machine the attacker shares the two
# cores with koogate, which no attacker across a network does.
awk -v k="$koogate_after" -v b="$koogate_before" -v s="$((seconds + 4))" \
  '{printf "CPU over the %d s flood: koogate %.1f s, the flood generator %.1f s\n", s, k - b, $1 + $2}' \
  "$work/flood.time"
sleep 2

python3 -c 'import json,sys; sys.stdout.write(json.dumps({"tenantId":"t","orderId":"7"*(1024*1024-40)}))' >"$work/mib.json"
forged_sign() {
  if [ "$sign_kind" = hex ]; then head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; else echo 00; fi
}
size() { du -b "$work"/bench.db* | awk '{s+=$1} END {print s}'; }
before=$(size)
seq 1 1000 | xargs -P 20 -I{} curl -s -o /dev/null -H 'Content-Type: application/json' \
  -H "x-sign: $(forged_sign)" -H "x-timestamp: $(date +%s%3N)" -H "x-nonce: n{}" \
  --data-binary @"$work/mib.json" "$url/produceAPI/v2/tenantSync"
sleep 1
echo "database growth per 1,000 forged 1 MiB Kit posts: $(( $(size) - before )) bytes"
