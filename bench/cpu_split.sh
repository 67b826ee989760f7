#!/usr/bin/env bash
# Where the time of a lifecycle call goes: CPU ticks of koogate, PostgreSQL,
# the load generator and Redis over a 12 s load of signed newInstance calls.
#   bash bench/cpu_split.sh [REDIS_URL]   (empty: nonces in the database)
set -e
cd "$(dirname "$0")/.."
psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS kg_prof WITH (FORCE)" -c "CREATE DATABASE kg_prof" 2>&1 | grep -v NOTICE || true
cargo build --release --bin koogate --example loadgen >/dev/null 2>&1
bin="${CARGO_TARGET_DIR:-target}/release"
KOOGATE__SERVER__BIND=127.0.0.1:18090 KOOGATE__DATABASE__URL=postgres://postgres@127.0.0.1:5432/kg_prof KOOGATE__REDIS__URL="${1:-}" KOOGATE__MARKETPLACE__ACCESS_KEY=k KOOGATE__DATABASE__MAX_CONNECTIONS=32 KOOGATE__SECURITY__MASTER_KEY=$(head -c 32 /dev/urandom | base64) RUST_LOG=warn $bin/koogate > /tmp/kprof.log 2>&1 &
kpid=$!
sleep 1
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
pgticks() { local t=0; for p in $(pgrep -u postgres postgres); do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $t; }
redticks() { local p; p=$(pgrep -x redis-server | head -1); awk '{print $14+$15}' /proc/$p/stat; }
k0=$(ticks $kpid); p0=$(pgticks); r0=$(redticks)
$bin/examples/loadgen http://127.0.0.1:18090/koogallery k 32 12 &
lpid=$!
sleep 11.5; l1=$(ticks $lpid); k1=$(ticks $kpid); p1=$(pgticks); r1=$(redticks)
wait $lpid
echo "cpu seconds over the run: koogate=$(( (k1-k0) ))cs postgres=$(( (p1-p0) ))cs loadgen=${l1}cs redis=$(( r1-r0 ))cs (cs = 1/100 s)"
kill $kpid
