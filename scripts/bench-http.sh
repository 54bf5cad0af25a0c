#!/usr/bin/env bash
# bench-http.sh -- reactor's http_hello against the peer HTTP servers of
# ../shared/bench (hand-written raw epoll, nginx with one worker, Node.js),
# with wrk, in the same run (issue 6, item 8).
#
#   scripts/bench-http.sh                          # about 8-10 minutes
#   DURATION=3 ROUNDS=1 scripts/bench-http.sh      # a quick look
#   ONLY='reactor|raw_epoll' CONNS=100 scripts/bench-http.sh
#   REACTOR_HTTP_CMD='build/peers/bin/raw_epoll_http {PORT}' scripts/bench-http.sh
#       an A/A run: the same server twice, so reactor/raw_epoll shows the noise
#
# Every run: the server pinned with `taskset -c 0`, started fresh on a free
# port, waited for until it listens, then `wrk -t1 -cC -dDs --latency`
# pinned with `taskset -c 1` (after WARMUP seconds of unrecorded wrk at
# 100 connections), then the server is stopped by PID, and its children by
# PID. For each round and each connection count the servers take turns, in
# the reverse order every other round, so a slow spell on the shared machine
# does not fall on one server only.
#
# Figures per run: requests/s (wrk), the server's CPU seconds over the wrk
# run (utime+stime from /proc/PID/stat, summed over the server and its
# children: nginx's master and worker), requests per server CPU-second,
# p99 latency, wrk's socket errors (connect/read/write/timeout) and its
# non-2xx/3xx count. On this machine one wrk thread saturates near 165-170k
# requests/s, so the fast servers are told apart by requests per CPU-second,
# which is what the goals compare. Printed: every run, then the medians over
# the rounds, then the goals of issue 6 at 100 and 1,000 connections:
#   reactor/nginx >= 1.15, reactor/raw_epoll >= 0.95, reactor/node >= 2.2
# (requests per server CPU-second), and at 10,000 connections: 0 errors and
# 0 non-2xx for reactor. This is a benchmark, not a test: a goal missed is
# printed as FAIL but the exit status stays 0. The exit status is 1 only if
# something broke: wrk is missing, or the reactor server was unavailable,
# did not listen, died, or gave wrk nothing to measure.
#
# env: ROUNDS=3 DURATION=10 (seconds per wrk run) CONNS="100 1000 10000"
#      WARMUP=1 (seconds; 0 = none)  ONLY=<regex on reactor|raw_epoll|nginx|node>
#      REACTOR_HTTP_CMD   the server under test, split on spaces, {PORT}
#                         replaced by the port (appended if absent); default
#                         "$BUILD/examples/http_hello --port {PORT}" (built
#                         with make when missing)
#      REACTOR_PEERS      the peers' sources (default $REPO/../shared/bench;
#                         read-only: copied to $BUILD/peers and built there)
#      BUILD=build  OUT=$BUILD/bench-http (results.tsv, summary.tsv, raw/ wrk
#      outputs and server logs)  BASE_PORT=22000
# Needs: wrk (Debian package wrk), taskset, timeout; nginx (nginx-light) and
# node are optional peers, skipped with a note when absent.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=bench-http
. "$REPO/scripts/bench-lib.sh"
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"100 1000 10000"}
WARMUP=${WARMUP:-1}
ONLY=${ONLY:-.}
OUT=${OUT:-$BUILD/bench-http}
case $OUT in /*) ;; *) OUT=$(pwd)/$OUT ;; esac
DEFAULT_REACTOR_CMD="$BUILD/examples/http_hello --port {PORT}"
REACTOR_CMD=${REACTOR_HTTP_CMD:-$DEFAULT_REACTOR_CMD}
ALL_SERVERS="reactor raw_epoll nginx node"

BROKE=0
broke() { say "BROKEN: $*"; BROKE=1; }

# ---- tools ------------------------------------------------------------------------
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "wrk is missing: installing the Debian package wrk with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        # A fresh machine's package lists are empty: update first.
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq wrk >/dev/null 2>&1
    fi
    if ! command -v wrk >/dev/null 2>&1; then
        say "wrk is missing; run as root:  apt-get update && apt-get install -y wrk"
        exit 1
    fi
fi
for tool in taskset timeout; do
    command -v "$tool" >/dev/null 2>&1 || { say "$tool is missing (Debian: util-linux, coreutils)"; exit 1; }
done

# Each connection is an fd in the server and another in wrk: take the hard
# limit (20,000 on the benchmark machine) for both, inherited from here.
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
ulimit -n "$HARD" 2>/dev/null || say "could not raise the open-file limit to $HARD"
NOFILE=$(ulimit -n)
for c in $CONNS; do
    [ "$c" -lt "$NOFILE" ] || say "warning: $c connections but only $NOFILE fds per process: expect connect errors"
done

mkdir -p "$OUT/raw" || exit 1
RESULTS=$OUT/results.tsv
SUMMARY=$OUT/summary.tsv

# ---- the servers ----------------------------------------------------------------------
# Peers are built from a copy of their sources (the shared folder may be
# read-only); nginx_http.sh also writes its temporary prefixes beside itself.
if [ -d "$PEERS_SRC" ] || [ -d "$PEERS" ]; then
    peer_bin raw_epoll_http || say "cannot build raw_epoll_http"
fi
if [ "$REACTOR_CMD" = "$DEFAULT_REACTOR_CMD" ] && [ ! -x "$BUILD/examples/http_hello" ] &&
        [ -f "$REPO/examples/http_hello.cpp" ]; then
    say "building http_hello"
    make -C "$REPO" -s -j2 BUILD="$BUILD" "$BUILD/examples/http_hello" >&2 || say "building http_hello failed"
fi

server_cmd() {  # name port -> the command line, words separated by spaces
    case $1 in
        reactor)
            if [[ $REACTOR_CMD == *"{PORT}"* ]]; then echo "${REACTOR_CMD//\{PORT\}/$2}"
            else echo "$REACTOR_CMD $2"; fi ;;
        raw_epoll) echo "$PEERS/bin/raw_epoll_http $2" ;;
        nginx)     echo "$PEERS/peers/nginx_http.sh $2" ;;
        node)      echo "node $PEERS/peers/node_http.js $2" ;;
    esac
}
unavailable() {  # name -> why it cannot run (empty if it can)
    local first
    case $1 in
        reactor)
            first=${REACTOR_CMD%% *}
            command -v "$first" >/dev/null 2>&1 || echo "$first does not exist (build examples/http_hello, or set REACTOR_HTTP_CMD)" ;;
        raw_epoll)
            [ -x "$PEERS/bin/raw_epoll_http" ] || echo "$PEERS/bin/raw_epoll_http not built (peers' sources: REACTOR_PEERS=$PEERS_SRC)" ;;
        nginx)
            if ! command -v nginx >/dev/null 2>&1; then echo "nginx not installed (apt-get install nginx-light)"
            elif [ ! -f "$PEERS/peers/nginx_http.sh" ]; then echo "no $PEERS/peers/nginx_http.sh"; fi ;;
        node)
            if ! command -v node >/dev/null 2>&1; then echo "node not installed (apt-get install nodejs)"
            elif [ ! -f "$PEERS/peers/node_http.js" ]; then echo "no $PEERS/peers/node_http.js"; fi ;;
    esac
}
LIST=""
for s in $ALL_SERVERS; do
    [[ $s =~ $ONLY ]] || continue
    why=$(unavailable "$s")
    if [ -z "$why" ]; then LIST="$LIST $s"; continue; fi
    echo "skipped: $s: $why"
    [ "$s" = reactor ] && broke "the reactor server is not available"
done
[ -n "$LIST" ] || { say "no server to measure"; exit 1; }

# ---- processes ----------------------------------------------------------------------
children() {  # pid -> its direct children
    if command -v ps >/dev/null 2>&1; then ps -o pid= --ppid "$1" 2>/dev/null; return; fi
    local f rest
    for f in /proc/[0-9]*/stat; do
        read -r rest < "$f" 2>/dev/null || continue
        rest=${rest##*) }   # after "(command name) ": state ppid ...
        rest=${rest#* }
        [ "${rest%% *}" = "$1" ] && { f=${f#/proc/}; echo "${f%/stat}"; }
    done
}
tree() {  # pid -> the pid and its descendants, space separated
    local all=$1 frontier=$1 next p c
    while [ -n "$frontier" ]; do
        next=""
        for p in $frontier; do
            for c in $(children "$p"); do next="$next $c"; all="$all $c"; done
        done
        frontier=$next
    done
    echo "$all"
}
nginx_prefixes() { find "$PEERS/.tmp" -mindepth 1 -maxdepth 1 -name 'nginx.*' 2>/dev/null | sort; }
SPID=""; SPIDS=""; SPORT=""; NGINX_PREFIX=""; TERM_NOTED=0
start_server() {  # name label; sets SPID SPIDS SPORT
    local name=$1 label=$2 before
    before=$(nginx_prefixes)
    pick_port
    # shellcheck disable=SC2046
    taskset -c 0 $(server_cmd "$name" "$SPORT") < /dev/null > "$OUT/raw/server-$label.log" 2>&1 &
    SPID=$!
    if ! wait_listening "$SPORT" "$SPID"; then
        echo "!! $name did not listen on port $SPORT (log: $OUT/raw/server-$label.log)"
        stop_server
        return 1
    fi
    [ "$name" = nginx ] && sleep 0.3   # the master forks its worker after listening
    SPIDS=$(tree "$SPID")
    if [ "$name" = nginx ]; then
        # nginx_http.sh made a temporary prefix: the one new directory. (The
        # master's /proc/PID/cmdline cannot tell: nginx rewrites its argv into
        # "nginx: master process ...".)
        NGINX_PREFIX=$(comm -13 <(echo "$before") <(nginx_prefixes) | head -n 1)
    fi
    return 0
}
stop_server() {  # TERM the server, then KILL what is left of it and its children
    [ -n "$SPID" ] || return 0
    local p
    stop_pid "$SPID"
    for p in $SPIDS; do
        [ "$p" = "$SPID" ] && continue
        for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    case $NGINX_PREFIX in "$PEERS"/.tmp/nginx.*) rm -rf "$NGINX_PREFIX" ;; esac
    SPID=""; SPIDS=""; NGINX_PREFIX=""
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

# ---- one measured run -------------------------------------------------------------------
to_ms() {  # a wrk duration (850.00us, 1.23ms, 2.00s, 1.00m) -> milliseconds
    awk -v v="$1" 'BEGIN { if (v == "") { print "-"; exit }
        n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n;
        else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}

: > "$RESULTS"
printf 'round\tconns\tserver\treq_s\trequests\tcpu_s\tcpu_pct\treq_per_cpu_s\tp99_ms\terr_connect\terr_read\terr_write\terr_timeout\terrors\tnon2xx\tserver_state\n' > "$RESULTS"

run() {  # round conns name
    local r=$1 c=$2 name=$3 label f t0 t1 c0 c1 url
    label="c$c-$name-r$r"
    f=$OUT/raw/wrk-$label.txt
    start_server "$name" "$label" || { [ "$name" = reactor ] && broke "reactor did not listen (c$c, round $r)"; return; }
    url="http://127.0.0.1:$SPORT/"
    if [ "$WARMUP" -gt 0 ]; then
        taskset -c 1 timeout -k 5 $((WARMUP + 20)) wrk -t1 -c100 -d"${WARMUP}s" "$url" > /dev/null 2>&1
    fi
    # shellcheck disable=SC2086
    c0=$(cpu_ticks $SPIDS)
    t0=$(date +%s.%N)
    taskset -c 1 timeout -k 5 $((DURATION + 40)) wrk -t1 -c"$c" -d"${DURATION}s" --latency "$url" > "$f" 2>&1
    t1=$(date +%s.%N)
    # shellcheck disable=SC2086
    c1=$(cpu_ticks $SPIDS)
    local state=alive
    kill -0 "$SPID" 2>/dev/null || state=died
    stop_server
    # http_hello exits 0 on SIGTERM (issue 6); worth a note, not a failure.
    if [ "$name" = reactor ] && [ "$state" = alive ] && [ "$STOP_STATUS" != 0 ] && [ "$TERM_NOTED" = 0 ]; then
        echo "note: the reactor server exited with status $STOP_STATUS on SIGTERM (http_hello should exit 0)"
        TERM_NOTED=1
    fi

    local rps requests p99 errs non2xx cpu_s pct per_cpu
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
    requests=$(awk '/ requests in / { print $1 }' "$f")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$f")")
    # "Socket errors: connect 0, read 0, write 0, timeout 0" (only when any).
    errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4, $6, $8, $10; found = 1 }
                END { if (!found) print 0, 0, 0, 0 }' "$f")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { n = $NF } END { print n + 0 }' "$f")
    cpu_s=$(awk -v a="$c0" -v b="$c1" -v k="$TCK" 'BEGIN { printf "%.2f", (b - a) / k }')
    pct=$(awk -v s="$cpu_s" -v t0="$t0" -v t1="$t1" 'BEGIN { printf "%.0f", 100 * s / (t1 - t0) }')
    per_cpu=$(awk -v n="${requests:-0}" -v s="$cpu_s" 'BEGIN { if (s > 0 && n > 0) printf "%.0f", n / s; else print "-" }')
    if [ -z "$rps" ]; then
        echo "!! wrk measured nothing against $name (c$c, round $r): $f"
        rps=-; requests=-; per_cpu=-
        [ "$name" = reactor ] && broke "wrk measured nothing against reactor (c$c, round $r)"
    fi
    if [ "$state" = died ]; then
        # Its CPU time went with it: no per-CPU figure for this run.
        cpu_s=-; pct=-; per_cpu=-
        echo "!! $name died during the run (c$c, round $r; log: $OUT/raw/server-$label.log)"
        [ "$name" = reactor ] && broke "reactor died (c$c, round $r)"
    fi
    local total
    total=$(echo "$errs" | awk '{ print $1 + $2 + $3 + $4 }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$c" "$name" "$rps" "$requests" \
        "$cpu_s" "$pct" "$per_cpu" "$p99" "$(echo "$errs" | tr ' ' '\t')" "$total" "$non2xx" "$state" >> "$RESULTS"
    printf 'round %d  c%-6s %-10s %10s req/s  cpu %6s s (%3s%%)  %9s req/cpu-s  p99 %9s ms  errors %s (c/r/w/t %s)  non-2xx %s\n' \
        "$r" "$c" "$name" "$rps" "$cpu_s" "$pct" "$per_cpu" "$p99" "$total" "${errs// //}" "$non2xx"
}

{
    echo "date $(date -Is)  kernel $(uname -r)  cpus $(nproc)  $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
    echo "open files $NOFILE  somaxconn $(cat /proc/sys/net/core/somaxconn 2>/dev/null)  $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1,2)"
    echo "servers:$LIST  (reactor: $REACTOR_CMD)"
    echo "ROUNDS=$ROUNDS DURATION=$DURATION CONNS=\"$CONNS\" WARMUP=$WARMUP  output: $OUT"
} | tee "$OUT/env.txt"
echo

T0=$(date +%s)
for r in $(seq "$ROUNDS"); do
    for c in $CONNS; do
        for s in $(ordered "$r"); do run "$r" "$c" "$s"; done
    done
done
say "measured in $(( $(date +%s) - T0 )) s"

# ---- medians and the goals ----------------------------------------------------------------
column_of() { head -n 1 "$RESULTS" | tr '\t' '\n' | grep -nx "$1" | cut -d: -f1; }
median() {  # column conns server -> the median over the rounds ("" when none)
    local col
    col=$(column_of "$1")
    awk -F'\t' -v k="$col" -v c="$2" -v s="$3" 'NR > 1 && $2 == c && $3 == s && $k != "-" { print $k }' "$RESULTS" | median_of
}
worst() {  # column conns server -> the largest value over the rounds
    local col
    col=$(column_of "$1")
    awk -F'\t' -v k="$col" -v c="$2" -v s="$3" 'NR > 1 && $2 == c && $3 == s && $k != "-" { print $k }' "$RESULTS" |
        sort -g | tail -n 1
}
num() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "") print "-"; else printf "%.*f", d, v }'; }

echo
echo "medians over $ROUNDS round(s); the goals compare requests per server CPU-second"
printf '%-7s %-10s %10s %9s %6s %12s %10s %8s %8s\n' conns server "req/s" "cpu s" "cpu%" "req/cpu-s" "p99 ms" errors non-2xx
printf 'conns\tserver\treq_s\tcpu_s\tcpu_pct\treq_per_cpu_s\tp99_ms\terrors\tnon2xx\n' > "$SUMMARY"
for c in $CONNS; do
    for s in $LIST; do
        rps=$(num "$(median req_s "$c" "$s")" 0); cpu=$(num "$(median cpu_s "$c" "$s")" 2)
        pct=$(num "$(median cpu_pct "$c" "$s")" 0); per=$(num "$(median req_per_cpu_s "$c" "$s")" 0)
        p99=$(num "$(median p99_ms "$c" "$s")" 3); err=$(num "$(median errors "$c" "$s")" 0)
        non=$(num "$(median non2xx "$c" "$s")" 0)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$s" "$rps" "$cpu" "$pct" "$per" "$p99" "$err" "$non" >> "$SUMMARY"
        printf '%-7s %-10s %10s %9s %6s %12s %10s %8s %8s\n' "$c" "$s" "$rps" "$cpu" "$pct" "$per" "$p99" "$err" "$non"
    done
done

mark() { awk -v r="$1" -v g="$2" 'BEGIN { if (r == "-") print "n/a"; else if (r + 0 >= g + 0) print "PASS"; else print "FAIL" }'; }

echo
echo "goals of issue 6 (a benchmark, not a test: the exit status ignores them)"
if [[ " $LIST " != *" reactor "* ]]; then
    echo "  reactor was not measured: no ratios"
else
    for c in $CONNS; do
        case $c in 100|1000) ;; *) continue ;; esac
        me=$(median req_per_cpu_s "$c" reactor)
        for peer_goal in nginx:1.15 raw_epoll:0.95 node:2.2; do
            peer=${peer_goal%%:*}; goal=${peer_goal##*:}
            if [[ " $LIST " != *" $peer "* ]]; then
                printf '  c%-6s reactor/%-10s  (%s not measured)\n' "$c" "$peer" "$peer"; continue
            fi
            r=$(ratio "$me" "$(median req_per_cpu_s "$c" "$peer")" 2)
            printf '  c%-6s reactor/%-10s %6sx requests per CPU-second   goal >= %-5s %s\n' \
                "$c" "$peer" "$r" "$goal" "$(mark "$r" "$goal")"
        done
    done
    for c in $CONNS; do
        [ "$c" = 10000 ] || continue
        e=$(worst errors "$c" reactor); n=$(worst non2xx "$c" reactor)
        if [ -z "$e" ]; then echo "  c10000 reactor: no measurement"; continue; fi
        verdict=FAIL; [ "$e" = 0 ] && [ "$n" = 0 ] && verdict=PASS
        printf '  c10000 reactor: %s errors, %s non-2xx (the worst of %s round(s): connect %s, read %s, write %s, timeout %s)   goal 0 and 0   %s\n' \
            "$e" "$n" "$ROUNDS" "$(worst err_connect "$c" reactor)" "$(worst err_read "$c" reactor)" \
            "$(worst err_write "$c" reactor)" "$(worst err_timeout "$c" reactor)" "$verdict"
    done
fi
echo "every run: $RESULTS   medians: $SUMMARY   wrk outputs and server logs: $OUT/raw/"
if [ "$BROKE" = 1 ]; then say "something broke (see BROKEN above): exit status 1"; exit 1; fi
exit 0
