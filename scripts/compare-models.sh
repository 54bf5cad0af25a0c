#!/usr/bin/env bash
# scripts/compare-models.sh -- the same load through every server model, measured.
#
#   CONNECTIONS=1000 DURATION=10 scripts/compare-models.sh
#
# Each model in turn: start the server (pinned to CPU 0 with taskset when
# there are two CPUs), sample it while loadgen (pinned to CPU 1) holds
# CONNECTIONS connections that together send RATE 64-byte messages a
# second for DURATION seconds and verify every echo, then stop it by PID.
# The models (MODELS, in this order by default):
#   blocking  examples/blocking_echo.cpp     one client at a time
#   thread    examples/thread_echo.cpp       a thread per connection (64 KiB stacks)
#   busy      examples/busy_echo.cpp         non-blocking, no poller: spins
#   bare      examples/bare_poller_echo.cpp  raw epoll / kqueue, no library
#   poll      examples/echo_server.cpp with REACTOR_BACKEND=poll
#   epoll     examples/echo_server.cpp with REACTOR_BACKEND=epoll
#
# Environment (all optional):
#   CONNECTIONS  connections held (default 1000)
#   DURATION     seconds of load per model, connecting included (default 10)
#   RATE         messages per second, all connections together (default 10000);
#                each connection sends one every CONNECTIONS*1000/RATE ms
#   SIZE         message bytes, '\n' included (default 64)
#   MODELS       which models, e.g. "thread epoll" (default: all six above)
#   OUT          results folder (default $BUILD/compare-models, BUILD default build)
#   NICE         run the server and loadgen at this niceness, e.g. -10 (negative needs
#                root), each in a session of its own (setsid) whose autogroup gets the
#                same niceness: with autogroup scheduling on (kernel.sched_autogroup_enabled),
#                niceness counts only within a session. On a machine shared with other
#                work, it keeps that work from deciding the figures (default: unchanged)
#
# It prints two tables (service, memory per connection; each column is
# explained under them) and writes into OUT:
#   table.txt             the two tables and the notes, as printed
#   table.md              the same as Markdown tables
#   compare-models.svg    the chart (hand-written SVG, any browser)
#   results.json          every figure of every model, unrounded
#   MODEL.json            loadgen's JSON line      MODEL.loadgen.log  its report
#   MODEL.tsv             server samples, 4 a s    MODEL.log          the server's output
#   MODEL.ss              `ss -tm` of the server's sockets at one moment mid-run
#   MODEL.window          when loadgen started and ended (epoch seconds)
# Server figures come from Linux's /proc (the script says so and stops
# elsewhere). Every process it starts is stopped by PID, on success,
# failure or Ctrl-C; each loadgen run is cut off DURATION + 30 s after its
# start at the latest. Exit status: 0 when every model ran and reported, 1
# otherwise, 2 for a bad setting. docs/load-testing.md explains the figures.
set -u

usage() { sed -n '2,/^# otherwise/p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "compare-models: no arguments; settings come from the environment (see --help)" >&2; exit 2 ;;
esac

connections=${CONNECTIONS:-1000}
duration=${DURATION:-10}
rate=${RATE:-10000}
size=${SIZE:-64}
models=${MODELS:-"blocking thread busy bare poll epoll"}
for pair in "CONNECTIONS:$connections" "DURATION:$duration" "RATE:$rate" "SIZE:$size"; do
    name=${pair%%:*}; value=${pair#*:}
    if ! [[ $value =~ ^[0-9]+$ ]] || [ "$value" -eq 0 ]; then
        echo "compare-models: $name: '$value' is not a positive whole number" >&2
        exit 2
    fi
done
for m in $models; do
    case "$m" in blocking|thread|busy|bare|poll|epoll) ;;
        *) echo "compare-models: MODELS: unknown model '$m' (blocking thread busy bare poll epoll)" >&2; exit 2 ;;
    esac
done
if [ "$size" -lt 2 ]; then echo "compare-models: SIZE must be at least 2" >&2; exit 2; fi
nice_level=${NICE:-}
if [ -n "$nice_level" ] && ! [[ $nice_level =~ ^-?[0-9]+$ ]]; then
    echo "compare-models: NICE: '$nice_level' is not a whole number" >&2
    exit 2
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
REPO=$repo
BENCH_NAME=compare-models
. "$repo/scripts/bench-lib.sh"
out=${OUT:-$BUILD/compare-models}
mkdir -p "$out" || exit 1
loadgen=$BUILD/examples/loadgen

if [ ! -r /proc/self/status ] || [ ! -r /proc/meminfo ]; then
    echo "compare-models: the server figures are read from Linux's /proc, which is not here" >&2
    exit 1
fi
if ! command -v python3 >/dev/null 2>&1; then
    echo "compare-models: python3 writes the table and the chart; install it (Debian: apt-get install python3)" >&2
    exit 1
fi

# ---- build what is missing ------------------------------------------------------
need=(loadgen blocking_echo thread_echo busy_echo bare_poller_echo echo_server)
missing=""
for p in "${need[@]}"; do [ -x "$BUILD/examples/$p" ] || missing=yes; done
if [ -n "$missing" ]; then
    echo "compare-models: building (make -j2 examples BUILD=$BUILD) ..."
    if ! make -C "$repo" -j2 examples BUILD="$BUILD" >"$out/build.log" 2>&1; then
        tail -n 20 "$out/build.log" >&2
        echo "compare-models: the build failed (whole log: $out/build.log)" >&2
        exit 1
    fi
fi

# ---- limits: one fd per connection on each side; one thread per connection ----
needed=$((connections + 200))
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$needed" ]; then
    echo "compare-models: $connections connections need $needed open files per process;" \
         "the hard limit is $hard (ulimit -Hn, or ask for fewer CONNECTIONS)" >&2
    exit 1
fi
ulimit -S -n "$hard" 2>/dev/null || ulimit -S -n "$needed" 2>/dev/null
threads_note=""
if [[ " $models " == *" thread "* ]]; then
    nproc_limit=$(ulimit -u)
    threads_max=$(cat /proc/sys/kernel/threads-max 2>/dev/null || echo unknown)
    threads_note="thread limits: ulimit -u $nproc_limit, kernel.threads-max $threads_max"
    if [ "$nproc_limit" != unlimited ] && [ "$nproc_limit" -lt $((connections + 100)) ]; then
        threads_note="$threads_note -- BELOW $((connections + 100)): thread_echo will turn clients away"
    fi
fi

# ---- pinning ----------------------------------------------------------------------
pin_server_and_client
server_pin=("${SERVER_PIN[@]}")
client_pin=("${CLIENT_PIN[@]}")
pinning=$PINNING
session=()
if [ -n "$nice_level" ]; then
    # nice only warns when it cannot: ask the niceness it got instead.
    if [ "$(nice -n "$nice_level" nice 2>/dev/null)" != "$(($(nice) + nice_level))" ]; then
        echo "compare-models: cannot run at niceness $nice_level here (a negative one needs root)" >&2
        exit 2
    fi
    # setsid execs in place here (a background job of a script leads no
    # process group), so the PIDs stay those of the server and loadgen.
    command -v setsid >/dev/null 2>&1 && session=(setsid)
    server_pin=(nice -n "$nice_level" "${session[@]}" "${server_pin[@]}")
    client_pin=(nice -n "$nice_level" "${session[@]}" "${client_pin[@]}")
    pinning="$pinning, niceness $nice_level"
fi
# Gives the autogroup of PID $1 the niceness NICE, once setsid has made it a
# session of its own (field 6 of /proc/PID/stat is the session): before
# that, the autogroup is this script's.
boost() {
    local pid=$1 stat
    [ -n "$nice_level" ] && [ ${#session[@]} -gt 0 ] || return 0
    for _ in $(seq 1 100); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 0
        stat=${stat##*) }
        # shellcheck disable=SC2086
        set -- $stat  # $4 is field 6
        if [ "$4" = "$pid" ]; then
            [ -w "/proc/$pid/autogroup" ] && echo "$nice_level" >"/proc/$pid/autogroup" 2>/dev/null
            return 0
        fi
        sleep 0.02
    done
    return 0
}

interval=$(awk -v c="$connections" -v r="$rate" 'BEGIN {printf "%.3f", c * 1000 / r}')
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)

# ---- stop everything we start, however we leave (bench-lib.sh) --------------------
server_pid=""
sampler_pid=""
loadgen_pid=""
watchdog_pid=""
PID_VARS=(watchdog_pid loadgen_pid sampler_pid server_pid)
stop_vars_on_exit

now() { date +%s.%N; }
# The interpreter itself, not a wrapper (pyenv's shim is a shell script):
# the sampler's PID must be the sampler's.
python=$(python3 -c 'import sys; print(sys.executable)')
measure=("$python" "$repo/scripts/measure-models.py")

# ---- one model -----------------------------------------------------------------------
run_model() {  # $1 model name
    local model=$1 program backend="" label
    case "$model" in
        blocking) program=blocking_echo; label="blocking_echo" ;;
        thread) program=thread_echo; label="thread_echo" ;;
        busy) program=busy_echo; label="busy_echo" ;;
        bare) program=bare_poller_echo; label="bare_poller_echo" ;;
        poll) program=echo_server; backend=poll; label="echo_server poll" ;;
        epoll) program=echo_server; backend=epoll; label="echo_server epoll" ;;
    esac
    local log=$out/$model.log port
    rm -f "$out/$model".{json,loadgen.log,tsv,tsv.slab.json,ss,window,log}
    pick_port
    port=$SPORT
    echo "--- $label: $connections connections, port $port"
    # No shell between: the PID we hold is the server's (nice and taskset exec it).
    REACTOR_BACKEND=$backend "${server_pin[@]}" "$BUILD/examples/$program" --port "$port" \
        >"$log" 2>&1 </dev/null &
    server_pid=$!
    boost "$server_pid"
    if ! port_from_log "$log" "$server_pid" >/dev/null; then
        echo "compare-models: $label did not start (see $log)" >&2
        stop_var server_pid
        return 1
    fi
    # The sampler (measure-models.py sample): the server's threads, RSS,
    # address space, CPU time and fds four times a second, and once, 60 %
    # into the run, `ss -tm` of the server's sockets.
    local t_start t_end snapshot_at
    snapshot_at=$(awk -v n="$(now)" -v d="$duration" 'BEGIN {s = d * 0.6; if (s < 1.5) s = 1.5; printf "%.3f", n + 0.5 + s}')
    "${measure[@]}" sample --pid "$server_pid" --out "$out/$model.tsv" --port "$port" \
        --ss-out "$out/$model.ss" --snapshot-at "$snapshot_at" &
    sampler_pid=$!
    # A few samples before the load: the baseline.
    for _ in $(seq 1 100); do
        [ -f "$out/$model.tsv" ] && [ "$(wc -l <"$out/$model.tsv")" -ge 3 ] && break
        sleep 0.1
    done

    t_start=$(now)
    "${client_pin[@]}" "$loadgen" echo --host 127.0.0.1 --port "$port" --connections "$connections" \
        --size "$size" --interval "$interval" --duration "$duration" --json \
        >"$out/$model.json" 2>"$out/$model.loadgen.log" &
    loadgen_pid=$!
    boost "$loadgen_pid"
    ( sleep $((duration + 30)); kill "$loadgen_pid" 2>/dev/null ) &
    watchdog_pid=$!
    wait "$loadgen_pid"
    loadgen_pid=""
    t_end=$(now)
    stop_var watchdog_pid
    echo "$t_start $t_end" >"$out/$model.window"
    sleep 0.5  # samples after the end
    stop_var sampler_pid
    stop_var server_pid
    if [ ! -s "$out/$model.json" ]; then
        echo "compare-models: loadgen reported nothing for $label (see $out/$model.loadgen.log)" >&2
        return 1
    fi
    grep -E '^(connections|requests|latency|errors|result) ' "$out/$model.loadgen.log" | sed 's/^/    /'
    return 0
}

echo "compare-models: $connections connections, $rate messages/s in all (one every $interval ms each)," \
     "${size}-byte messages, $duration s per model; $pinning"
[ -n "$threads_note" ] && echo "compare-models: $threads_note"
echo "compare-models: load average $(cut -d' ' -f1-3 /proc/loadavg) at the start"
ran=()
failed=0
for model in $models; do
    if run_model "$model"; then ran+=("$model"); else failed=1; fi
    sleep 1
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

[ ${#ran[@]} -gt 0 ] || exit 1
"${measure[@]}" report --out "$out" --connections "$connections" \
    --duration "$duration" --rate "$rate" --size "$size" --interval "$interval" \
    --clk-tck "$clk_tck" --pinning "$pinning" --load-end "$load_end" \
    --models "${ran[@]}" || failed=1
exit $failed
