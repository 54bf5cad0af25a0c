#!/usr/bin/env bash
# bench-trace-cost.sh -- what the loop tracer costs when it is compiled in but
# off: echo_server built as usual (tracer compiled in, REACTOR_TRACE unset)
# against echo_server built with -DREACTOR_NO_TRACE (tracer compiled out),
# in the same run.
#
#   scripts/bench-trace-cost.sh                     # 3 rounds x 2 servers x 10 s
#   ROUNDS=1 DUR=3 scripts/bench-trace-cost.sh      # a quick look
#
# Each run starts a fresh server pinned to CPU 0 (`taskset -c 0`) and drives
# it with the repository's loadgen pinned to CPU 1: CONNS (100) connections,
# each sending a 64-byte message as soon as the previous echo came back. The
# two builds alternate within each round, in the opposite order every other
# round. Printed: each run's round trips per second and the server's CPU
# time per round trip, then the medians and the ratio traced/untraced (1.00
# means no cost; above 1 for CPU, below 1 for throughput, means a cost).
#
# env: BUILD=build (the untraced build goes to $BUILD/notrace)
#      ROUNDS=3 DUR=10 CONNS=100 SIZE=64
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
NOTRACE=$BUILD/notrace
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-10}
CONNS=${CONNS:-100}
SIZE=${SIZE:-64}
OUT=$BUILD/bench-trace-cost
mkdir -p "$OUT"

say() { echo "[bench-trace-cost] $*" >&2; }

# ---- build both servers and the load generator --------------------------------
make -C "$REPO" -s -j2 BUILD="$BUILD" "$BUILD/examples/echo_server" "$BUILD/examples/loadgen" >&2 ||
    { say "build failed"; exit 1; }
# CPPFLAGS from the environment: the Makefile appends its own to it.
CPPFLAGS=-DREACTOR_NO_TRACE make -C "$REPO" -s -j2 BUILD="$NOTRACE" "$NOTRACE/examples/echo_server" >&2 ||
    { say "build of the untraced server failed"; exit 1; }

BASE_PORT=${BASE_PORT:-23000}
. "$REPO/scripts/bench-lib.sh"

server_bin() {  # traced|untraced
    case $1 in
        traced) echo "$BUILD/examples/echo_server" ;;
        untraced) echo "$NOTRACE/examples/echo_server" ;;
    esac
}

SPID=""
stop_server() {
    [ -n "$SPID" ] || return 0
    stop_pid "$SPID"
    SPID=""
}
trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

json_field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }  # a number from loadgen's JSON line

RESULTS=$OUT/results.tsv
: > "$RESULTS"
for r in $(seq "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="traced untraced"; else order="untraced traced"; fi
    for s in $order; do
        pick_port
        env -u REACTOR_TRACE taskset -c 0 "$(server_bin "$s")" --port "$SPORT" < /dev/null > "$OUT/server-$s.log" 2>&1 &
        SPID=$!
        if ! wait_listening "$SPORT" "$SPID"; then say "$s did not start"; stop_server; continue; fi
        c0=$(cpu_ticks "$SPID")
        json=$(taskset -c 1 timeout $((DUR + 30)) "$BUILD/examples/loadgen" echo --port "$SPORT" \
               --connections "$CONNS" --size "$SIZE" --duration "$DUR" --json 2> "$OUT/loadgen-$s.log")
        c1=$(cpu_ticks "$SPID")
        stop_server
        rts=$(echo "$json" | json_field replies_per_s)
        errors=$(echo "$json" | json_field errors_total)
        cpu=$(awk -v t=$((c1 - c0)) -v k="$TCK" -v rate="${rts:-0}" -v d="$DUR" \
              'BEGIN { if (rate + 0 == 0) print ""; else printf "%.3f", t / k * 1e6 / (rate * d) }')
        printf 'round %d  %-9s  %10s round trips/s   %8s us server CPU per round trip   errors %s\n' \
            "$r" "$s" "${rts:-FAIL}" "${cpu:--}" "${errors:-?}"
        [ -n "$rts" ] && printf 'rt_s\t%s\t%s\n' "$s" "$rts" >> "$RESULTS"
        [ -n "$cpu" ] && printf 'cpu_us\t%s\t%s\n' "$s" "$cpu" >> "$RESULTS"
    done
done

median() {  # metric server
    awk -F'\t' -v m="$1" -v s="$2" '$1 == m && $2 == s { print $3 }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'; }
echo
printf '%-34s %12s %12s %16s\n' "median of $ROUNDS" traced untraced traced/untraced
for m in rt_s cpu_us; do
    a=$(median "$m" traced); b=$(median "$m" untraced)
    label=$([ "$m" = rt_s ] && echo "round trips/s" || echo "server CPU us per round trip")
    printf '%-34s %12s %12s %16s\n' "$label" "${a:--}" "${b:--}" "$(ratio "$a" "$b")"
done
echo "raw figures: $RESULTS"
