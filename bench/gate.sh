#!/usr/bin/env bash
# Gate benchmark: authenticated GETs through koogate's reverse proxy,
# beside the same requests straight to the upstream and through nginx
# proxy_pass, in one run. The upstream is nginx returning a small body.
#
#   bash bench/gate.sh [SECONDS=15] [CONNECTIONS=32]
#
# BARE=1 adds bench/bare_proxy (hyper's server and client and nothing
# else, shaped like koogate's workers) as a fourth line: what the same
# crates cost without actix-web and without koogate's own work.
#
# TOLD=1 adds a fifth line: nginx proxy_pass telling the app what koogate
# tells it (the same X-Koogate-* values and identity token, captured from
# koogate once, and X-Forwarded-For, -Proto and -Host), so the app reads
# the same ~600 bytes more per request as behind koogate. The difference
# between the nginx lines is what telling the app costs the machine; the
# difference between this one and koogate's is the rest of the gate.
#
# CPU=1 also measures each server's CPU time and context switches per
# request while it serves (perf stat on its processes; needs perf): the app
# for direct, the proxy nginx's workers, koogate, the bare proxy; and, on
# every line, the app's own CPU time per request. The app's work per
# request hardly changes from line to line, so its figure shows how fast
# the machine itself was during that line (see the end of this script).
# The server's CPU time is also split into its own code's (user) and the
# kernel's on its behalf (sockets, waking), from /proc, and its system
# calls are counted per request (perf's raw_syscalls tracepoint, where
# perf may read it): a gap in the kernel's part is the way the server
# talks to sockets, a gap in its own part is its code. (/proc leaves out
# the time the host stole, which the CPU figure counts: the two parts can
# add up to less.)
# Every line also reports the machine's steal time while it ran: the share
# of CPU time the host of a virtual machine gave its other guests.
#
# BROWSER=1 sends, on every line, what a browser sends with a page
# request (Chrome's fifteen headers, the app's own cookies beside
# koogate's) instead of the session cookie alone.
#
# ROUNDS=n (3 unless set) runs direct, nginx and koogate (and the lines
# asked for below) one after another n times, each round starting one line
# further on, and ends with each one's median and the shares of direct: a
# shared machine moves single runs by a fifth either way. ROUNDS a multiple
# of the number of lines puts each line in each place equally often.
#
# FRESH_APP=1 starts the app anew before each line (see fresh_app below).
#
# Needs wrk and nginx (Debian packages: apt-get install -y wrk nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
connections="${2:-32}"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; for pid in "$work/nginx.pid" "$work/proxy/nginx.pid" "$work/told/nginx.pid"; do [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null; done; rm -rf "$work"' EXIT
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "install wrk and nginx first" >&2; exit 2; }

# The same build as bench/lifecycle.sh (the example turns on dev-dependency
# features): one release build serves both scripts.
# KOOGATE_BIN=path measures that binary instead (say, an earlier build kept
# for a before/after comparison).
if [ -n "${KOOGATE_BIN:-}" ]; then
  koogate="$KOOGATE_BIN"
else
  cargo build --release --bin koogate --example loadgen >/dev/null 2>&1
  koogate="${CARGO_TARGET_DIR:-target}/release/koogate"
fi

# The app is one nginx (one worker); nginx as the proxy is another, with
# NGINX_WORKERS workers (1 unless set; koogate runs one worker per core,
# so NGINX_WORKERS=2 is the like-for-like comparison on two cores).
mkdir -p "$work/logs" "$work/proxy/logs"
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  log_format told escape=none '\$http_x_koogate_tenant\t\$http_x_koogate_user\t\$http_x_koogate_role\t\$http_x_koogate_org\t\$http_x_koogate_identity';
  server {
    listen 127.0.0.1:18300;
    location = /told { access_log $work/logs/told.log told; return 200 "told\n"; }
    location / { return 200 "hello from the app\n"; }
  }
}
NGINX
# proxy_conf DIR PORT [LINES]: an nginx proxy_pass to the app in DIR,
# listening on PORT, its location given LINES more.
proxy_conf() {
  mkdir -p "$1/logs"
  cat >"$1/nginx.conf" <<NGINX
worker_processes ${NGINX_WORKERS:-1};
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream app { server 127.0.0.1:18300; keepalive 64; }
  server {
    listen 127.0.0.1:$2;
    location / {
      proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
${3:-}
    }
  }
}
NGINX
}
proxy_conf "$work/proxy" 18301
nginx -p "$work" -c "$work/nginx.conf"
nginx -p "$work/proxy" -c "$work/proxy/nginx.conf"

# Every server runs in its own session (setsid), as nginx puts itself
# when it starts: with autogroup scheduling (Debian's default, see
# /proc/sys/kernel/sched_autogroup_enabled) the kernel shares the CPU
# between sessions first, and a server left in this script's session would
# share one session's part with wrk, where nginx had a part of its own.
#
# koogate logs at its default level (info), as a vendor runs it; RUST_LOG
# set outside measures another.
KOOGATE__SERVER__BIND=127.0.0.1:18302 KOOGATE__DATABASE__URL="sqlite://$work/koogate.db?mode=rwc" \
KOOGATE__UPSTREAM__URL=http://127.0.0.1:18300 KOOGATE__SECURITY__MASTER_KEY="$(head -c 32 /dev/urandom | base64)" \
RUST_LOG="${RUST_LOG:-info}" setsid "$koogate" serve >"$work/koogate.log" 2>&1 &
koogate_pid=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18302/readyz >/dev/null && break; sleep 0.1; done

if [ -n "${BARE:-}" ]; then
  cargo build --release --manifest-path bench/bare_proxy/Cargo.toml \
    --target-dir "${CARGO_TARGET_DIR:-target}/bare_proxy" >/dev/null 2>&1
  setsid "${CARGO_TARGET_DIR:-target}/bare_proxy/release/bare_proxy" 127.0.0.1:18303 127.0.0.1:18300 &
  bare_pid=$!
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18303/ >/dev/null && break; sleep 0.1; done
fi

# A signed-in session, written straight into the database: this measures
# the gate, not the sign-in.
token="bench-session-token"
source bench/request_headers.sh
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

if [ -n "${TOLD:-}" ]; then
  # What koogate tells the app for this session, as the app received it.
  curl -sf -H "Cookie: koogate_session=$token" http://127.0.0.1:18302/told >/dev/null
  IFS=$'\t' read -r t_tenant t_user t_role t_org t_identity <"$work/logs/told.log"
  proxy_conf "$work/told" 18304 "
      proxy_set_header Cookie \"\";
      proxy_set_header X-Koogate-Tenant \"$t_tenant\";
      proxy_set_header X-Koogate-User \"$t_user\";
      proxy_set_header X-Koogate-Role \"$t_role\";
      proxy_set_header X-Koogate-Org \"$t_org\";
      proxy_set_header X-Koogate-Identity \"$t_identity\";
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_set_header X-Forwarded-Host \$host;"
  nginx -p "$work/told" -c "$work/told/nginx.conf"
fi

# The processes serving each label, for CPU=1.
serving() {
  case "$1" in
    direct) pgrep -P "$(cat "$work/nginx.pid")" | paste -sd, ;;
    nginx) pgrep -P "$(cat "$work/proxy/nginx.pid")" | paste -sd, ;;
    told) pgrep -P "$(cat "$work/told/nginx.pid")" | paste -sd, ;;
    koogate) echo "$koogate_pid" ;;
    hyper) echo "$bare_pid" ;;
  esac
}

# FRESH_APP=1 starts the app anew before each line. One session read
# koogate's better figures right after a restart of the app as the app's
# history slowing koogate and not nginx; the next found the machine's own
# speed drifting (every line slowed with it, whichever proxy ran) and a
# restart bringing koogate nothing, but also koogate alone falling into a
# slow state in some lines with a browser's headers (see the README). The
# option stays for studying that; the default keeps one app for the whole
# run, as a vendor's app runs.
fresh_app() {
  [ -z "${FRESH_APP:-}" ] && return 0
  local old
  old="$(cat "$work/nginx.pid")"
  kill "$old"
  while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
  nginx -p "$work" -c "$work/nginx.conf"
  for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18300/ >/dev/null && break; sleep 0.05; done
}

# The machine's steal time and all its CPU time so far (/proc/stat, in
# ticks): on a virtual machine the host takes CPU time from it when its
# other guests are busy, and every line run meanwhile is slower.
cpu_times() {
  awk '/^cpu / {print $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat
}
# The user and system CPU time of the processes PIDS (comma-separated)
# so far, in ticks, from /proc/PID/stat.
cpu_ticks() {
  for pid in ${1//,/ }; do cat "/proc/$pid/stat"; done |
    awk '{usr += $14; sys += $15} END {print usr + 0, sys + 0}'
}
# Counting system calls needs perf to read tracepoints (root, or
# kernel.perf_event_paranoid at -1); without it the lines leave them out.
events=task-clock,context-switches
if [ -n "${CPU:-}" ] && perf stat -e raw_syscalls:sys_enter -x, -o /dev/null true >/dev/null 2>&1; then
  events="$events,raw_syscalls:sys_enter"
fi
ticks_per_second="$(getconf CLK_TCK)"
run() { # $1 label, $2 url, $3 round; prints one line and keeps it in $work/runs
  local line before perf_pid= app_pid= ticks=
  fresh_app
  if [ -n "${CPU:-}" ]; then
    ticks="$(cpu_ticks "$(serving "$1")")"
    perf stat -e "$events" -x, -o "$work/perf" -p "$(serving "$1")" \
      -- sleep "$seconds" >/dev/null 2>&1 &
    perf_pid=$!
    perf stat -e task-clock -x, -o "$work/perf.app" -p "$(serving direct)" \
      -- sleep "$seconds" >/dev/null 2>&1 &
    app_pid=$!
  fi
  before="$(cpu_times)"
  line="$(wrk -t2 -c"$connections" -d"${seconds}s" --latency "${headers[@]}" "$2" |
    awk '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} END {printf "requests/s=%s p50=%s p99=%s", rps, p50, p99}')"
  line="$line $(echo "$before $(cpu_times)" | awk '{printf "steal=%.1f", ($4 > $2) ? 100 * ($3 - $1) / ($4 - $2) : 0}')"
  if [ -n "$perf_pid" ]; then
    wait "$perf_pid" "$app_pid" || true
    line="$line $(awk -F, -v rps="${line#requests/s=}" -v s="$seconds" '
      /task-clock/ {ms=$1} /context-switches/ {cs=$1} /raw_syscalls/ {calls=$1}
      END {n=(rps+0)*s; printf "cpu_us=%.1f switches=%.2f", ms*1000/n, cs/n
        if (calls != "") printf " syscalls=%.2f", calls/n}' "$work/perf")"
    line="$line $(echo "$ticks $(cpu_ticks "$(serving "$1")")" | awk -v rps="${line#requests/s=}" \
      -v s="$seconds" -v hz="$ticks_per_second" '{n=(rps+0)*s
        printf "user_us=%.1f kernel_us=%.1f", ($3-$1)*1e6/hz/n, ($4-$2)*1e6/hz/n}')"
    line="$line $(awk -F, -v rps="${line#requests/s=}" -v s="$seconds" '
      /task-clock/ {printf "app_us=%.1f", $1*1000/((rps+0)*s)}' "$work/perf.app")"
  fi
  printf '%-16s %s\n' "$1:" "$line"
  echo "$1 round=$3 $line" >>"$work/runs"
}
# Others' work on the machine moves these figures: say how busy it was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
labels=(direct nginx koogate)
[ -n "${BARE:-}" ] && labels+=(hyper)
[ -n "${TOLD:-}" ] && labels+=(told)
declare -A url=([direct]=18300 [nginx]=18301 [koogate]=18302 [hyper]=18303 [told]=18304)
for round in $(seq 1 "${ROUNDS:-3}"); do
  echo "round $round"
  # Each round starts one place further along the list: a line's place in
  # the round (what ran just before it, how warm the machine is) moved
  # its figure by more than the differences measured here.
  for i in "${!labels[@]}"; do
    label="${labels[$(((i + round - 1) % ${#labels[@]}))]}"
    run "$label" "http://127.0.0.1:${url[$label]}/" "$round"
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "koogate peak resident memory: $(awk '/VmHWM/ {print $2, $3}' "/proc/$koogate_pid/status")"
python3 - "$work/runs" <<'PY'
import statistics, sys
def seconds(text):  # wrk prints 812.00us, 1.52ms, 2.00s
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)
# Each line's figures by name; those a line did not measure are NaN.
MEASURED = ("cpu_us", "switches", "app_us", "user_us", "kernel_us", "syscalls")
runs = {}  # label -> [figures of each line]
by_round = {}  # round -> label -> requests/s
for line in open(sys.argv[1]):
    label, *fields = line.split()
    values = dict(f.split("=") for f in fields)
    figures = {"rps": float(values["requests/s"]), "p50": seconds(values["p50"]),
               "p99": seconds(values["p99"]), "steal": float(values["steal"])}
    figures.update((name, float(values.get(name, "nan"))) for name in MEASURED)
    runs.setdefault(label, []).append(figures)
    by_round.setdefault(values["round"], {})[label] = figures["rps"]
median = {label: {name: statistics.median(row[name] for row in rows) for name in rows[0]}
          for label, rows in runs.items()}
direct = median["direct"]
print(f"medians of {len(runs['direct'])} rounds:")
for label in [label for label in ("direct", "nginx", "koogate", "hyper", "told") if label in median]:
    m = median[label]
    rps, p50, p99 = m["rps"], m["p50"], m["p99"]
    line = f"  {label + ':':9s}{rps:9.0f} requests/s ({rps / direct['rps']:.2f} of direct)  p50 {p50 * 1e3:.2f} ms  p99 {p99 * 1e3:.2f} ms"
    if m["cpu_us"] == m["cpu_us"]:  # measured (CPU=1)
        line += f"  {m['cpu_us']:.1f} us CPU (its own code {m['user_us']:.1f}, the kernel {m['kernel_us']:.1f})"
        line += f" and {m['switches']:.2f} switches"
        if m["syscalls"] == m["syscalls"]:  # counted
            line += f" and {m['syscalls']:.2f} system calls"
        line += " per request"
        if label != "direct":
            line += f" (the app {m['app_us']:.1f})"
    if label != "direct":
        line += f"  p50 added {(p50 - direct['p50']) * 1e3:.2f} ms"
    print(line + f"  steal {m['steal']:.1f}%")
for label in [label for label in ("koogate", "hyper", "told") if label in median]:
    print(f"  {label}'s share / nginx's share: {median[label]['rps'] / median['nginx']['rps']:.2f}")
if "told" in median:
    print(f"  koogate's share / told nginx's share: {median['koogate']['rps'] / median['told']['rps']:.2f}")
# The machine's own speed drifts by a fifth or more within a run (other
# programs on the host): every line of a slow stretch is slow, the app's
# CPU per request rising with the proxy's. A share taken within each round
# (lines seconds apart) is less moved by that than one of medians taken
# across the whole run.
print("shares within each round (median, lowest-highest):")
for label in [label for label in ("koogate", "hyper", "told") if label in median]:
    shares = sorted(r[label] / r["nginx"] for r in by_round.values() if label in r and "nginx" in r)
    print(f"  {label} / nginx: {statistics.median(shares):.2f} ({shares[0]:.2f}-{shares[-1]:.2f})")
measured = [row for label, rows in runs.items() if label != "direct" for row in rows
            if row["cpu_us"] == row["cpu_us"] and row["app_us"] == row["app_us"]]  # not NaN
if len(measured) >= 3:
    r = statistics.correlation([row["cpu_us"] for row in measured], [row["app_us"] for row in measured])
    print(f"  the app's CPU per request against the server's, line by line: r = {r:.2f} "
          "(near 1: the machine's speed, not the server, moved the lines)")
PY
