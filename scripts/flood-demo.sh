#!/usr/bin/env bash
# scripts/flood-demo.sh -- a client that sends and never reads, against two
# echo servers: raw_echo (no backpressure: its memory grows with every byte)
# and echo_server (a high-water mark: it stops reading, its memory stays flat).
#
#   scripts/flood-demo.sh
#   FLOOD_RATE=64 FLOOD_MIB=512 scripts/flood-demo.sh
#
# For each server in turn: start it, sample its RSS five times a second,
# run the flood client (scripts/measure-models.py flood-client: one
# connection, FLOOD_RATE MiB/s, never a read) until FLOOD_SECONDS have
# passed or FLOOD_MIB MiB are sent, whichever comes first, keep sampling
# for 1.5 s after the client left, then stop the server by PID.
#
# Why raw_echo grows: the client never reads, so its receive buffer fills,
# then the server's send buffer, then every send() says EAGAIN, and
# examples/raw_echo.cpp keeps reading and appends what it cannot send to
# the client's `pending` string, without limit. examples/echo_server.cpp
# pauses reading from a connection whose output passed the high-water mark
# (1 MiB): the bytes then wait in the kernel's buffers, which are bounded,
# and the client's send() blocks. That is backpressure.
#
# Environment (all optional):
#   FLOOD_SECONDS  longest run of the client per server (default 10)
#   FLOOD_MIB      stop the client after this many MiB (default 256): the cap that
#                  keeps raw_echo's memory bounded
#   FLOOD_RATE     MiB per second the client sends, at most (default 32)
#   OUT            results folder (default $BUILD/flood, BUILD default build)
#
# It prints each server's RSS once a second and writes into OUT:
#   flood.txt    the same table      flood.svg   the chart (hand-written SVG)
#   SERVER.tsv   the samples         SERVER.log  the server's output
#   SERVER.sent  bytes the client sent and why it stopped
# Linux only (/proc). Every process it starts is stopped by PID, on success,
# failure or Ctrl-C. Exit status: 0 when raw_echo grew by at least half of
# what it was sent (less the kernel's buffers) and echo_server by less than
# 16 MiB; 1 otherwise; 2 for a bad setting.
set -u

usage() { sed -n '2,/^# 16 MiB/p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "flood-demo: no arguments; settings come from the environment (see --help)" >&2; exit 2 ;;
esac

seconds=${FLOOD_SECONDS:-10}
max_mib=${FLOOD_MIB:-256}
rate=${FLOOD_RATE:-32}
for pair in "FLOOD_SECONDS:$seconds" "FLOOD_MIB:$max_mib" "FLOOD_RATE:$rate"; do
    name=${pair%%:*}; value=${pair#*:}
    if ! [[ $value =~ ^[0-9]+$ ]] || [ "$value" -eq 0 ]; then
        echo "flood-demo: $name: '$value' is not a positive whole number" >&2
        exit 2
    fi
done
if [ "$max_mib" -gt 4096 ] || [ "$seconds" -gt 600 ]; then
    echo "flood-demo: FLOOD_MIB is at most 4096 and FLOOD_SECONDS at most 600 (raw_echo holds what it is sent)" >&2
    exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
REPO=$repo
BENCH_NAME=flood-demo
. "$repo/scripts/bench-lib.sh"
out=${OUT:-$BUILD/flood}
mkdir -p "$out" || exit 1

if [ ! -r /proc/self/status ]; then
    echo "flood-demo: the server's memory is read from Linux's /proc, which is not here" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "flood-demo: the client and the chart need python3 (Debian: apt-get install python3)" >&2
    exit 1
fi
if [ ! -x "$BUILD/examples/raw_echo" ] || [ ! -x "$BUILD/examples/echo_server" ]; then
    echo "flood-demo: building (make -j2 examples BUILD=$BUILD) ..."
    if ! make -C "$repo" -j2 examples BUILD="$BUILD" >"$out/build.log" 2>&1; then
        tail -n 20 "$out/build.log" >&2
        echo "flood-demo: the build failed (whole log: $out/build.log)" >&2
        exit 1
    fi
fi
# The interpreter itself, not a wrapper: the PIDs we hold must be the programs'.
python=$(python3 -c 'import sys; print(sys.executable)')
measure=("$python" "$repo/scripts/measure-models.py")

# Every process we start, stopped by PID however we leave (bench-lib.sh).
server_pid=""
sampler_pid=""
client_pid=""
watchdog_pid=""
PID_VARS=(watchdog_pid client_pid sampler_pid server_pid)
stop_vars_on_exit

now() { date +%s.%N; }

run_server() {  # $1 example name
    local name=$1 log=$out/$1.log port=""
    rm -f "$out/$name".{tsv,tsv.slab.json,log,sent,window}
    "$BUILD/examples/$name" --port 0 >"$log" 2>&1 </dev/null &
    server_pid=$!
    if ! port=$(port_from_log "$log" "$server_pid"); then
        echo "flood-demo: $name did not start (see $log)" >&2
        stop_var server_pid
        return 1
    fi
    echo "--- $name on port $port: a client sends up to $max_mib MiB at $rate MiB/s for at most $seconds s, reading nothing"
    "${measure[@]}" sample --pid "$server_pid" --out "$out/$name.tsv" --interval 0.2 &
    sampler_pid=$!
    for _ in $(seq 1 100); do
        [ -f "$out/$name.tsv" ] && [ "$(wc -l <"$out/$name.tsv")" -ge 3 ] && break
        sleep 0.1
    done
    local t_start t_end
    t_start=$(now)
    "${measure[@]}" flood-client --port "$port" --seconds "$seconds" --max-mib "$max_mib" --rate "$rate" \
        --out "$out/$name.sent" &
    client_pid=$!
    ( sleep $((seconds + 30)); kill "$client_pid" 2>/dev/null ) &
    watchdog_pid=$!
    wait "$client_pid"
    client_pid=""
    t_end=$(now)
    stop_var watchdog_pid
    echo "$t_start $t_end" >"$out/$name.window"
    sleep 1.5  # the client has gone: what does the server give back?
    stop_var sampler_pid
    stop_var server_pid
    [ -s "$out/$name.sent" ] || { echo "flood-demo: the client reported nothing for $name" >&2; return 1; }
    return 0
}

failed=0
ran=()
for server in raw_echo echo_server; do
    if run_server "$server"; then ran+=("$server"); else failed=1; fi
done
[ ${#ran[@]} -gt 0 ] || exit 1
echo
"${measure[@]}" flood --out "$out" --servers "${ran[@]}" \
    --subtitle "one connection, up to $rate MiB/s and $max_mib MiB, never read; RSS from /proc, 5 samples a second; scripts/flood-demo.sh" \
    || failed=1
[ $failed -eq 0 ] || exit 1

# The claim, checked: raw_echo holds what it could not send; echo_server does not.
verdict=$("$python" - "$out" <<'EOF'
import sys
out = sys.argv[1]
def peak_growth(name):
    rows = [l.split("\t") for l in open(f"{out}/{name}.tsv").read().splitlines()[1:]]
    rss = [int(r[2]) for r in rows]
    return (max(rss) - rss[0]) * 1024
def sent(name):
    return int(open(f"{out}/{name}.sent").read().split()[0])
kernel_slack = 32 << 20  # both sockets' buffers, autotuned: what never reaches the server
raw_ok = peak_growth("raw_echo") >= (sent("raw_echo") - kernel_slack) / 2
flat_ok = peak_growth("echo_server") < 16 << 20
print("OK" if raw_ok and flat_ok else
      f"UNEXPECTED: raw_echo grew {peak_growth('raw_echo') >> 20} MiB of {sent('raw_echo') >> 20} MiB sent; "
      f"echo_server grew {peak_growth('echo_server') >> 20} MiB")
EOF
)
echo "result: $verdict"
[ "$verdict" = OK ]
