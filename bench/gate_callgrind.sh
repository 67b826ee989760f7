#!/usr/bin/env bash
# Gate cost in instructions: how many CPU instructions koogate spends per
# authenticated GET it proxies, counted by valgrind's callgrind. Unlike
# requests/s this does not move when other programs share the machine, so a
# change to the gate can be judged on a busy box. nginx proxy_pass serving the
# same requests is counted the same way, as the anchor.
#
#   bash bench/gate_callgrind.sh [SECONDS=20] [TOP=25]
#
# Both proxies run under callgrind in front of the same plain nginx upstream.
# For each: start, wait until it answers, send a few warm-up requests, zero
# the counters, count an idle window (IDLE_SECONDS, default 3) to learn what
# the process spends on its own per second (timers, housekeeping), zero again,
# send keep-alive GETs with wrk for SECONDS (4 connections), dump. Reported:
#   (Ir of the load window - idle Ir/s x load seconds) / requests answered
# and the functions with the most instructions of their own in that window.
# BROWSER=1 sends what a browser sends with a page request (see
# bench/request_headers.sh) instead of the session cookie alone.
# Needs valgrind, wrk and nginx (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
top="${2:-25}"
idle_seconds="${IDLE_SECONDS:-3}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/up/nginx.pid" ] && kill "$(cat "$work/up/nginx.pid")" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for tool in valgrind callgrind_control callgrind_annotate wrk nginx; do
  command -v "$tool" >/dev/null || { echo "install valgrind, wrk and nginx first" >&2; exit 2; }
done

# KOOGATE_BIN=path measures that binary instead (say, an earlier build kept
# for a before/after comparison).
if [ -n "${KOOGATE_BIN:-}" ]; then
  koogate="$KOOGATE_BIN"
else
  cargo build --release --bin koogate --example loadgen >/dev/null 2>&1
  koogate="${CARGO_TARGET_DIR:-target}/release/koogate"
fi

# The upstream: plain nginx, not counted.
mkdir -p "$work/up/logs" "$work/px/logs"
cat >"$work/up/nginx.conf" <<NGINX
worker_processes 1;
pid $work/up/nginx.pid;
error_log $work/up/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server { listen 127.0.0.1:18310; location / { return 200 "hello from the app\n"; } }
}
NGINX
nginx -p "$work/up" -c "$work/up/nginx.conf"

token="bench-session-token"
cookie="Cookie: koogate_session=$token"
source bench/request_headers.sh

wait_for() { # $1 url
  for _ in $(seq 1 600); do curl -sf -H "$cookie" "$1" >/dev/null && return 0; sleep 0.2; done
  echo "nothing answered at $1" >&2; return 1
}

# The last dump callgrind wrote for LABEL (dumps are numbered; the final
# one at exit is not used).
newest() { ls -t "$work/$1".cg.* | head -1; }

# measure LABEL PID URL: prints instructions per request and the top functions.
measure() {
  local label="$1" pid="$2" url="$3" out="$work/$1.out"
  for _ in 1 2 3 4 5 6 7 8; do curl -sf -H "$cookie" "$url" >/dev/null; done
  callgrind_control -z "$pid" >/dev/null 2>&1
  sleep "$idle_seconds"
  callgrind_control -d idle "$pid" >/dev/null 2>&1
  local idle_ir
  idle_ir="$(callgrind_annotate "$(newest "$label")" 2>/dev/null |
    awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')"
  callgrind_control -z "$pid" >/dev/null 2>&1
  local started ended
  started="$(date +%s.%N)"
  # wrk counts the answers; the few in flight at the end are noise.
  wrk -t2 -c4 -d"${seconds}s" "${headers[@]}" "$url" >"$out"
  ended="$(date +%s.%N)"
  callgrind_control -d load "$pid" >/dev/null 2>&1
  local dump answered load_ir
  dump="$(newest "$label")"
  answered="$(awk '/requests in/ {print $1; exit}' "$out")"
  callgrind_annotate --inclusive=no --threshold=100 "$dump" >"$work/$label.annotate" 2>/dev/null
  # KEEP_DUMPS=dir keeps the load window's dump (callgrind_annotate --tree=caller).
  if [ -n "${KEEP_DUMPS:-}" ]; then mkdir -p "$KEEP_DUMPS" && cp "$dump" "$KEEP_DUMPS/$label.callgrind"; fi
  load_ir="$(awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}' "$work/$label.annotate")"
  local non2xx
  non2xx="$(awk '/Non-2xx/ {print $NF}' "$out")"
  python3 - "$label" "$load_ir" "$idle_ir" "$idle_seconds" "$started" "$ended" "$answered" "${non2xx:-0}" <<'PY'
import sys
label, load, idle, idle_s, t0, t1, n, bad = sys.argv[1:]
load, idle, idle_s, n, bad = int(load), int(idle), float(idle_s), int(n), int(bad)
seconds = float(t1) - float(t0)
work = load - idle / idle_s * seconds
print(f"{label}: {n} requests ({bad} not 2xx) in {seconds:.1f} s under callgrind; "
      f"window {load:,} Ir, idle {idle / idle_s:,.0f} Ir/s; "
      f"{work / n:,.0f} instructions per request")
PY
  echo "  top functions by own instructions (load window):"
  # (callgrind_annotate 3.19 also lists the thread entry points at ~100%.)
  awk -v top="$top" 'f && NF && n < top && $2 !~ /^\((9[0-9]|100)\./ {print "   ", $0; n++}
    /^-+$/ {d++} d == 3 && !f {f = 1}' \
    "$work/$label.annotate"
}

# koogate, under callgrind, with a session row written straight into its
# database (this measures the gate, not the sign-in). koogate logs at its
# default level (info), as a vendor runs it; RUST_LOG set outside measures
# another.
KOOGATE__SERVER__BIND=127.0.0.1:18312 KOOGATE__DATABASE__URL="sqlite://$work/koogate.db?mode=rwc" \
KOOGATE__UPSTREAM__URL=http://127.0.0.1:18310 \
KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" RUST_LOG="${RUST_LOG:-info}" \
valgrind --tool=callgrind --callgrind-out-file="$work/koogate.cg.%p" \
  "$koogate" serve >"$work/koogate.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:18312/readyz >/dev/null && break; sleep 0.2; done
python3 - "$work/koogate.db" "$token" <<'PY'
import hashlib, sqlite3, sys, time
db, token = sys.argv[1], sys.argv[2]
now = int(time.time() * 1000)
con = sqlite3.connect(db)
con.execute("""INSERT INTO sessions (id_hash, tenant_id, app_id, instance_id, user_name, name, role,
  org_code, email_sealed, access_token_sealed, refresh_token_sealed, access_expires_at, created_at,
  last_seen_at, expires_at) VALUES (?, 't-bench', 'app', NULL, 'bench', 'Bench', 'user', '10',
  NULL, 'x', NULL, ?, ?, ?, ?)""", (hashlib.sha256(token.encode()).hexdigest(), now + 86400000, now, now, now + 86400000))
con.commit()
PY
wait_for http://127.0.0.1:18312/
measure koogate "${pids[0]}" http://127.0.0.1:18312/

# nginx proxy_pass, one worker, no master, under callgrind.
cat >"$work/px/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
master_process off;
pid $work/px/nginx.pid;
error_log $work/px/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream app { server 127.0.0.1:18310; keepalive 64; }
  server {
    listen 127.0.0.1:18311;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
valgrind --tool=callgrind --callgrind-out-file="$work/nginx.cg.%p" \
  nginx -p "$work/px" -c "$work/px/nginx.conf" >"$work/px/valgrind.log" 2>&1 &
pids+=($!)
wait_for http://127.0.0.1:18311/
measure nginx "${pids[1]}" http://127.0.0.1:18311/
