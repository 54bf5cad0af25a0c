#!/usr/bin/env bash
# bench-scaling.sh -- one loop against two: the same server with
# --threads 1 and --threads 2, in the same run, rounds alternating.
#
#   scripts/bench-scaling.sh              # about 3 minutes
#   ROUNDS=1 DUR=3 scripts/bench-scaling.sh
#
# Workloads (each only if its server and client exist):
#   echo  build/examples/echo_server, two of the peers' pingpong clients at
#         once (CONNS/2 connections each, 64-byte blocks): round trips/s;
#   http  build/examples/http_hello, wrk -t2 -c$HTTP_CONNS: requests/s.
# Placement: this machine has two cores and the load generator needs CPU
# too, so pinning the server to one core and the client to the other (as
# the single-thread benchmarks do) would leave a second loop nowhere to
# run. Here the server and the clients all share both cores
# (`taskset -c 0,1`) in both configurations: only the number of loops
# changes. With more cores than this, give the server its own.
#
# Prints every run, then medians and the ratio 2 loops / 1 loop.
#
# env: BUILD=build ROUNDS=3 DUR=5 CONNS=1000 HTTP_CONNS=200
#      REACTOR_PEERS (the peers' sources, default $REPO/../shared/bench)
#      WORKLOADS="echo http"
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH_NAME=bench-scaling
. "$REPO/scripts/bench-lib.sh"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
CONNS=${CONNS:-1000}
HTTP_CONNS=${HTTP_CONNS:-200}
WORKLOADS=${WORKLOADS:-"echo http"}
OUT=$BUILD/bench-scaling
CPUS=0,1
mkdir -p "$OUT"

make -C "$REPO" -s -j2 BUILD="$BUILD" examples >&2 || { say "build failed"; exit 1; }
peer_bin pingpong

LIST=""
for w in $WORKLOADS; do
    case $w in
        echo) if [ -x "$PEERS/bin/pingpong" ]; then LIST="$LIST echo"; else say "skipping echo: no pingpong client (set REACTOR_PEERS)"; fi ;;
        http) if [ -x "$BUILD/examples/http_hello" ] && command -v wrk >/dev/null; then LIST="$LIST http"
              else say "skipping http: needs build/examples/http_hello and wrk (apt-get install wrk)"; fi ;;
    esac
done
[ -n "$LIST" ] || { say "nothing to measure"; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null

start_server() {  # workload threads; sets SPID and SPORT
    pick_port
    local prog=echo_server
    [ "$1" = http ] && prog=http_hello
    taskset -c $CPUS "$BUILD/examples/$prog" --port "$SPORT" --threads "$2" < /dev/null > "$OUT/server.log" 2>&1 &
    SPID=$!
    wait_listening "$SPORT" "$SPID" && return 0
    say "$prog --threads $2 did not start"; stop_server; return 1
}
stop_on_exit

RESULTS=$OUT/results.tsv
: > "$RESULTS"

run_echo() {  # -> round trips/s (two clients summed)
    local half=$((CONNS / 2)) a b
    taskset -c $CPUS timeout $((DUR + 30)) "$PEERS/bin/pingpong" -p "$SPORT" -c "$half" -s 64 -t "$DUR" > "$OUT/pp1" 2>&1 &
    a=$!
    taskset -c $CPUS timeout $((DUR + 30)) "$PEERS/bin/pingpong" -p "$SPORT" -c "$half" -s 64 -t "$DUR" > "$OUT/pp2" 2>&1
    wait "$a"
    local r1 r2
    r1=$(grep '^RESULT' "$OUT/pp1" | field rt_s); r2=$(grep '^RESULT' "$OUT/pp2" | field rt_s)
    [ -n "$r1" ] && [ -n "$r2" ] && awk -v a="$r1" -v b="$r2" 'BEGIN { printf "%.0f", a + b }'
}

run_http() {  # -> requests/s
    taskset -c $CPUS timeout $((DUR + 30)) wrk -t2 -c"$HTTP_CONNS" -d"${DUR}s" "http://127.0.0.1:$SPORT/" > "$OUT/wrk" 2>&1
    if grep -q 'Non-2xx\|Socket errors' "$OUT/wrk"; then say "wrk reported errors: $(grep 'Non-2xx\|Socket errors' "$OUT/wrk")"; fi
    awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$OUT/wrk"
}

for r in $(seq "$ROUNDS"); do
    order="1 2"
    [ $((r % 2)) = 0 ] && order="2 1"
    for w in $LIST; do
        for t in $order; do
            start_server "$w" "$t" || continue
            c0=$(cpu_ticks "$SPID")
            if [ "$w" = echo ]; then rate=$(run_echo); else rate=$(run_http); fi
            c1=$(cpu_ticks "$SPID")
            stop_server
            cpu=$(awk -v t=$((c1 - c0)) -v k="$TCK" -v d="$DUR" 'BEGIN { printf "%.2f", t / k / d }')
            printf 'round %d  %-4s  %d loop(s)  %10s per s   server CPU %s cores\n' "$r" "$w" "$t" "${rate:-FAIL}" "$cpu"
            [ -n "$rate" ] && printf '%s\t%s\t%s\t%s\n' "$w" "$t" "$rate" "$cpu" >> "$RESULTS"
        done
    done
done

median() {  # workload threads column
    awk -F'\t' -v w="$1" -v t="$2" -v c="$3" '$1 == w && $2 == t { print $c }' "$RESULTS" | median_of
}
echo
printf '%-6s %14s %14s %10s %18s\n' median "1 loop" "2 loops" ratio "server CPU (1 / 2)"
for w in $LIST; do
    a=$(median "$w" 1 3); b=$(median "$w" 2 3)
    x=$(ratio "$b" "$a" 2); [ "$x" = - ] || x=${x}x
    printf '%-6s %14s %14s %10s %18s\n' "$w" "${a:--}" "${b:--}" "$x" "$(median "$w" 1 4) / $(median "$w" 2 4)"
done
echo "(echo: round trips/s, two pingpong clients of $((CONNS / 2)) connections; http: requests/s, wrk -t2 -c$HTTP_CONNS;"
echo " server and clients share cores $CPUS; raw figures: $RESULTS)"
