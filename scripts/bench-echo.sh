#!/usr/bin/env bash
# bench-echo.sh -- reactor's echo_server against the peer servers of
# ../shared/bench (hand-written raw epoll, libuv), in the same run. The peers
# are outside this repository (docs/building.md, "The peers").
#
#   scripts/bench-echo.sh                 # about 4-5 minutes
#   ROUNDS=1 DUR=3 HOLD_N=2000 scripts/bench-echo.sh     # a quick look
#
# Phases (server pinned with `taskset -c 0`, client with `taskset -c 1`;
# servers alternate within each round, the order reversed every other
# round, and each run starts a fresh server):
#   echo   the peers' pingpong client: 100 connections x 16 KiB blocks
#          (MiB/s) and 1,000 connections x 64 B (round trips/s);
#   hold   the peers' hold client: HOLD_N (10,000) connections, each sending
#          a 32-byte line every second for HOLD_T seconds: round-trip p99
#          and the server's RSS growth per connection, idle and after
#          activity (VmRSS of the server PID, measured by `hold -P` exactly
#          as run-peers.sh does). That RSS is user-space memory: socket
#          buffers live in the kernel and do not count.
# Prints every run, then medians and the ratios reactor/raw_epoll and
# reactor/libuv. Goals (issue 3): throughput >= 0.97x raw epoll; p99 <=
# 1.5x raw epoll's; <= 256 B per connection.
#
# env: REACTOR_PEERS  the peers' sources (default $REPO/../shared/bench;
#                     read-only: copied to $BUILD/peers and built there)
#      BUILD=build ROUNDS=3 DUR=5 HOLD_ROUNDS=1 HOLD_N=10000 HOLD_T=10
#      SERVERS="reactor raw_epoll libuv"   (a subset, in this order)
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=bench-echo
BASE_PORT=${BASE_PORT:-21000}
. "$REPO/scripts/bench-lib.sh"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
HOLD_ROUNDS=${HOLD_ROUNDS:-1}
HOLD_N=${HOLD_N:-10000}
HOLD_T=${HOLD_T:-10}
SERVERS=${SERVERS:-"reactor raw_epoll libuv"}
OUT=$BUILD/bench-echo
mkdir -p "$OUT"

# ---- build what is missing ---------------------------------------------------
if [ ! -x "$BUILD/examples/echo_server" ]; then
    say "building echo_server"
    make -C "$REPO" -s -j2 BUILD="$BUILD" "$BUILD/examples/echo_server" >&2 || { say "build failed"; exit 1; }
fi

if [ ! -d "$PEERS_SRC" ]; then
    say "no peers at $PEERS_SRC (set REACTOR_PEERS)"; exit 1
fi
for b in raw_epoll_echo pingpong hold; do
    peer_bin "$b" || { say "cannot build $b"; exit 1; }
done
if [ ! -x "$PEERS/bin/uv_echo" ]; then
    if ! pkg-config --exists libuv 2>/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing libuv1-dev libevent-dev libev-dev"
        apt-get install -y -q libuv1-dev libevent-dev libev-dev >/dev/null 2>&1
    fi
    make -s -C "$PEERS" bin/uv_echo >/dev/null 2>&1 || say "libuv not available: skipping the libuv peer"
fi

server_cmd() {  # name port -> command line
    case $1 in
        reactor)   echo "$BUILD/examples/echo_server --port $2" ;;
        raw_epoll) echo "$PEERS/bin/raw_epoll_echo $2" ;;
        libuv)     echo "$PEERS/bin/uv_echo $2" ;;
    esac
}
available() {  # name -> 0 if its binary exists
    case $1 in
        reactor) [ -x "$BUILD/examples/echo_server" ] ;;
        raw_epoll) [ -x "$PEERS/bin/raw_epoll_echo" ] ;;
        libuv) [ -x "$PEERS/bin/uv_echo" ] ;;
        *) return 1 ;;
    esac
}
LIST=""
for s in $SERVERS; do
    if available "$s"; then LIST="$LIST $s"; else say "skipping $s (not built)"; fi
done

# ---- server lifecycle (started fresh per run, stopped by PID) -----------------
start_server() {  # name; sets SPID and SPORT
    pick_port
    # shellcheck disable=SC2046
    taskset -c 0 $(server_cmd "$1" "$SPORT") < /dev/null > "$OUT/server-$1.log" 2>&1 &
    SPID=$!
    wait_listening "$SPORT" "$SPID" && return 0
    say "$1 did not start"; stop_server; return 1
}
stop_on_exit

per_unit() {  # ticks, (units per second over DUR) -> CPU microseconds per unit
    awk -v t="$1" -v rate="$2" -v d="$DUR" -v k="$TCK" \
        'BEGIN { if (rate + 0 == 0) print "-"; else printf "%.3f", t / k * 1e6 / (rate * d) }'
}

RESULTS=$OUT/results.tsv
: > "$RESULTS"
record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RESULTS"; }  # metric server value

# ---- echo phase -----------------------------------------------------------------
for r in $(seq "$ROUNDS"); do
    for s in $(ordered "$r"); do
        start_server "$s" || continue
        c0=$(cpu_ticks "$SPID")
        big=$(taskset -c 1 timeout $((DUR + 30)) "$PEERS/bin/pingpong" -p "$SPORT" -c 100 -s 16384 -t "$DUR" | grep '^RESULT')
        c1=$(cpu_ticks "$SPID")
        small=$(taskset -c 1 timeout $((DUR + 30)) "$PEERS/bin/pingpong" -p "$SPORT" -c 1000 -s 64 -t "$DUR" | grep '^RESULT')
        c2=$(cpu_ticks "$SPID")
        stop_server
        mib=$(echo "$big" | field mib_s); rts=$(echo "$small" | field rt_s)
        bad=$(( $(echo "$big" | field mismatches) + $(echo "$small" | field mismatches) ))
        # Server CPU per unit of work: steadier than throughput on a shared machine.
        cpu_mib=$(per_unit $((c1 - c0)) "$mib"); cpu_rt=$(per_unit $((c2 - c1)) "$rts")
        printf 'round %d  %-9s  100x16KiB %8s MiB/s (%s us CPU/MiB)   1000x64B %8s rt/s (%s us CPU/rt)   mismatches %s\n' \
            "$r" "$s" "${mib:-FAIL}" "$cpu_mib" "${rts:-FAIL}" "$cpu_rt" "$bad"
        [ -n "$mib" ] && record echo_16k_mib_s "$s" "$mib" && record echo_16k_cpu_us_per_mib "$s" "$cpu_mib"
        [ -n "$rts" ] && record echo_64b_rt_s "$s" "$rts" && record echo_64b_cpu_us_per_rt "$s" "$cpu_rt"
    done
done

# ---- hold phase -------------------------------------------------------------------
for r in $(seq "$HOLD_ROUNDS"); do
    for s in $(ordered "$r"); do
        start_server "$s" || continue
        res=$(taskset -c 1 timeout $((HOLD_T + 90)) "$PEERS/bin/hold" -p "$SPORT" -n "$HOLD_N" -t "$HOLD_T" \
              -r 1000 -m line -P "$SPID" -w 1000 -T 30 | grep '^RESULT')
        stop_server
        p99=$(echo "$res" | field p99_us); idle=$(echo "$res" | field b_per_conn_idle)
        active=$(echo "$res" | field b_per_conn_active); conn=$(echo "$res" | field connected)
        printf 'hold  %d  %-9s  connected %s  replies %s/%s  bad %s  p99 %s us  RSS/conn idle %s B, active %s B\n' \
            "$r" "$s" "${conn:-?}" "$(echo "$res" | field replies)" "$(echo "$res" | field sent)" \
            "$(echo "$res" | field bad)" "${p99:-FAIL}" "${idle:-?}" "${active:-?}"
        [ -n "$p99" ] && record hold_p99_us "$s" "$p99"
        [ -n "$idle" ] && record hold_rss_idle_b "$s" "$idle"
        [ -n "$active" ] && record hold_rss_active_b "$s" "$active"
    done
done

# ---- summary: medians and ratios ------------------------------------------------------
median() {  # metric server
    awk -F'\t' -v m="$1" -v s="$2" '$1 == m && $2 == s { print $3 }' "$RESULTS" | median_of
}

echo
printf '%-26s %12s %12s %12s %14s %14s\n' "median" reactor raw_epoll libuv reactor/raw reactor/libuv
for m in echo_16k_mib_s echo_16k_cpu_us_per_mib echo_64b_rt_s echo_64b_cpu_us_per_rt hold_p99_us hold_rss_idle_b hold_rss_active_b; do
    a=$(median "$m" reactor); b=$(median "$m" raw_epoll); c=$(median "$m" libuv)
    printf '%-26s %12s %12s %12s %14s %14s\n' "$m" "${a:--}" "${b:--}" "${c:--}" "$(ratio "$a" "$b")" "$(ratio "$a" "$c")"
done
echo "(goals: echo throughput ratios >= 0.97 (CPU per unit: lower is better, <= 1.03);"
echo " hold_p99 ratio <= 1.5; reactor RSS per connection <= 256 B)"
echo "raw figures: $RESULTS"
