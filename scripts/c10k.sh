#!/usr/bin/env bash
# scripts/c10k.sh -- the C10K demo: one echo server on one thread holds
# 10,000 connections, each sending a 64-byte message every second for 30
# seconds, and every echo is verified. `make demo` runs it with defaults.
#
#   scripts/c10k.sh [--connections N] [--duration S] [--size BYTES]
#                   [--interval MS] [--server 'CMD'] [--help]
#
# Each option can also come from the environment: C10K_CONNECTIONS,
# C10K_DURATION, C10K_SIZE, C10K_INTERVAL, C10K_SERVER (flags win).
# C10K_SERVER runs another server instead of build/examples/echo_server:
# with "{PORT}" in it, the script picks a free port, substitutes it and
# waits until the port accepts connections; without it, the server must
# print "listening on HOST:PORT" on stdout once ready, as echo_server does.
#   C10K_SERVER='build/peers/bin/raw_epoll_echo {PORT}' scripts/c10k.sh
# (the benchmarks' external epoll peer, docs/building.md "The peers")
#
# What it does: checks the open-file limit, builds what is missing, starts
# the server (pinned to CPU 0 with taskset when there are two CPUs or
# more), samples the server's threads, RSS and CPU time once a second,
# runs loadgen (pinned to CPU 1), and prints one report. It writes
#   $BUILD/c10k.json        loadgen's JSON line
#   $BUILD/c10k.svg         the chart: throughput, p99, connections
#   $BUILD/c10k-server.tsv  the server samples
#   $BUILD/c10k-server.log  the server's output
# Every process it starts is stopped by PID on success, failure or Ctrl-C.
# Exit status 0 only if every connection was established, every message
# verified, and the server stayed on one thread; 1 otherwise; 2 for usage.
# docs/load-testing.md explains the figures and their limits.
set -u

usage() { sed -n '2,/^# docs/p' "$0" | sed 's/^# \{0,1\}//'; }

connections=${C10K_CONNECTIONS:-10000}
duration=${C10K_DURATION:-30}
size=${C10K_SIZE:-64}
interval=${C10K_INTERVAL:-1000}
server_cmd=${C10K_SERVER:-}
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) connections=${2:-}; shift 2 || exit 2 ;;
        --duration) duration=${2:-}; shift 2 || exit 2 ;;
        --size) size=${2:-}; shift 2 || exit 2 ;;
        --interval) interval=${2:-}; shift 2 || exit 2 ;;
        --server) server_cmd=${2:-}; shift 2 || exit 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "c10k: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
for pair in "connections:$connections" "duration:$duration" "size:$size" "interval:$interval"; do
    name=${pair%%:*}; value=${pair#*:}
    if ! [[ $value =~ ^[0-9]+$ ]] || { [ "$name" != interval ] && [ "$value" -eq 0 ]; }; then
        echo "c10k: --$name: '$value' is not a positive whole number" >&2
        exit 2
    fi
done

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
REPO=$repo
BENCH_NAME=c10k
. "$repo/scripts/bench-lib.sh"
loadgen=$BUILD/examples/loadgen
echo_server=$BUILD/examples/echo_server
mkdir -p "$BUILD"
json_out=$BUILD/c10k.json
svg_out=$BUILD/c10k.svg
samples=$BUILD/c10k-server.tsv
server_log=$BUILD/c10k-server.log

# ---- stop everything we start, however we leave (bench-lib.sh) --------------
server_pid=""
sampler_pid=""
loadgen_pid=""
PID_VARS=(loadgen_pid sampler_pid server_pid)
stop_vars_on_exit

# ---- the open-file limit: one fd per connection on each side, plus a few ----
# The server's default connection cap keeps max(32, limit/16) fds in reserve
# (TcpServerOptions::max_connections), so its limit must leave room for that.
needed=$((connections + connections / 15 + 132))
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$needed" ]; then
    cat >&2 <<EOF
c10k: $connections connections need $needed open files per process (each side holds
one fd per connection), but the hard limit here is $hard. Raise it, then run again:
  - this shell:   ulimit -Hn $needed && ulimit -n $needed   (raising the hard limit needs root)
  - for a user:   "$(id -un) - nofile $needed" in /etc/security/limits.conf, then log in again
  - for a service: LimitNOFILE=$needed in its systemd unit
or ask for fewer: scripts/c10k.sh --connections $((hard - 100))
EOF
    exit 1
fi
ulimit -S -n "$hard" 2>/dev/null || ulimit -S -n "$needed" 2>/dev/null
soft=$(ulimit -n)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$needed" ]; then
    echo "c10k: cannot raise the open-file limit to $needed (it is $soft; try 'ulimit -n $needed')" >&2
    exit 1
fi

# ---- build what is missing ----------------------------------------------------
if [ ! -x "$loadgen" ] || { [ -z "$server_cmd" ] && [ ! -x "$echo_server" ]; }; then
    echo "c10k: building (make -j2 all BUILD=$BUILD) ..."
    if ! make -C "$repo" -j2 all BUILD="$BUILD" >"$BUILD/c10k-build.log" 2>&1; then
        tail -n 20 "$BUILD/c10k-build.log" >&2
        echo "c10k: the build failed (whole log: $BUILD/c10k-build.log)" >&2
        exit 1
    fi
fi
if [ ! -x "$loadgen" ]; then
    echo "c10k: $loadgen was not built" >&2
    exit 1
fi
if [ -z "$server_cmd" ] && [ ! -x "$echo_server" ]; then
    echo "c10k: $echo_server was not built; point C10K_SERVER at another echo server," >&2
    echo "      e.g. C10K_SERVER='/path/to/server --port {PORT}'" >&2
    exit 1
fi

# ---- CPU pinning: server on CPU 0, loadgen on CPU 1, when there are two -----
pin_server_and_client

# ---- start the server -------------------------------------------------------------
server_alive() { [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; }

port=""
if [ -n "$server_cmd" ] && [[ $server_cmd == *"{PORT}"* ]]; then
    pick_port  # a port no socket uses, below the ephemeral range
    port=$SPORT
    command_line=${server_cmd//\{PORT\}/$port}
else
    command_line=${server_cmd:-"$echo_server --port 0"}
fi
echo "c10k: starting the server: $command_line"
# exec: the PID we hold is the server itself, not a shell around it.
"${SERVER_PIN[@]}" bash -c "exec $command_line" >"$server_log" 2>&1 </dev/null &
server_pid=$!

if [ -n "$port" ]; then
    wait_listening "$port" "$server_pid" && ready=yes || ready=""
else
    port=$(port_from_log "$server_log" "$server_pid") && ready=yes || ready=""
fi
if [ -z "$ready" ]; then
    if server_alive; then
        echo "c10k: the server did not become ready within 10 s" >&2
    else
        echo "c10k: the server exited at start" >&2
    fi
    tail -n 5 "$server_log" >&2
    exit 1
fi

# ---- sample the server once a second -----------------------------------------------
clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
read_proc() {  # prints "threads rss_kb cpu_ticks" for the server, or nothing
    local status stat rest
    status=$(cat "/proc/$server_pid/status" 2>/dev/null) || return 1
    stat=$(cat "/proc/$server_pid/stat" 2>/dev/null) || return 1
    rest=${stat##*) }  # the fields after the command name, which may hold spaces
    # shellcheck disable=SC2086
    set -- $rest       # $1 is field 3 (state); utime and stime are fields 14 and 15
    printf '%s %s %s\n' \
        "$(awk '/^Threads:/ {print $2}' <<<"$status")" \
        "$(awk '/^VmRSS:/ {print $2}' <<<"$status")" \
        "$(( ${12} + ${13} ))"
}
if [ ! -r "/proc/$server_pid/status" ]; then
    echo "c10k: /proc/$server_pid is not readable: server figures need Linux's /proc" >&2
    exit 1
fi
read -r _ baseline_rss _ < <(read_proc)
t0=$(date +%s.%N)
printf 't_s\tthreads\trss_kb\tcpu_ticks\n' >"$samples"
(
    while sample=$(read_proc); do
        printf '%s\t%s\n' "$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {printf "%.1f", a - b}')" \
            "${sample// /$'\t'}" >>"$samples"
        sleep 1
    done
) &
sampler_pid=$!

# ---- run loadgen --------------------------------------------------------------------
echo "c10k: $connections connections to 127.0.0.1:$port, ${size}-byte messages every ${interval} ms" \
     "for ${duration} s; $PINNING"
read -r _ _ cpu_start < <(read_proc)
"${CLIENT_PIN[@]}" "$loadgen" echo --host 127.0.0.1 --port "$port" --connections "$connections" \
    --size "$size" --interval "$interval" --duration "$duration" --json --svg "$svg_out" \
    >"$json_out" &
loadgen_pid=$!
wait "$loadgen_pid"
loadgen_rc=$?
loadgen_pid=""
t1=$(date +%s.%N)
final=$(read_proc)
stop_var sampler_pid

# ---- the report ----------------------------------------------------------------------
json=$(cat "$json_out" 2>/dev/null)
json_field() { grep -oE "\"$1\":[^,}]*" <<<"$json" | head -n1 | cut -d: -f2- | tr -d '"'; }
if [ -z "$json" ]; then
    echo "c10k: loadgen produced no JSON (exit status $loadgen_rc)" >&2
    exit 1
fi

failed=()
server_line="ran to the end"
if [ -z "$final" ]; then
    server_line="EXITED during the run (see $server_log)"
    failed+=("the server exited")
    final="0 0 $cpu_start"
fi
read -r _ final_rss cpu_end <<<"$final"
peak_rss=$(awk -F'\t' -v r="$final_rss" 'NR > 1 && $3 > r {r = $3} END {print r + 0}' "$samples")
max_threads=$(awk -F'\t' 'NR > 1 && $2 > m {m = $2} END {print m + 0}' "$samples")
min_threads=$(awk -F'\t' 'NR > 1 && (m == "" || $2 < m) {m = $2} END {print m + 0}' "$samples")
nsamples=$(($(wc -l <"$samples") - 1))

established=$(json_field established)
per_conn=$(awk -v p="$peak_rss" -v b="$baseline_rss" -v n="$established" \
    'BEGIN {if (n > 0) printf "%.0f", (p - b) * 1024 / n; else print "n/a"}')
cpu_pct=$(awk -v s="$cpu_start" -v e="$cpu_end" -v hz="$clk_tck" -v a="$t0" -v b="$t1" \
    'BEGIN {w = b - a; if (w > 0) printf "%.1f", (e - s) / hz / w * 100; else print "n/a"}')

[ "$established" = "$connections" ] || failed+=("$established of $connections connections established")
[ "$(json_field errors_total)" = 0 ] || failed+=("$(json_field errors_total) reply errors")
[ "$(json_field ok)" = true ] || [ ${#failed[@]} -gt 0 ] || failed+=("loadgen reported a failure")
if [ "$max_threads" -eq 1 ] && [ "$min_threads" -eq 1 ]; then
    thread_line="yes: Threads was 1 in all $nsamples samples"
else
    thread_line="NO: Threads ranged from $min_threads to $max_threads"
    failed+=("the server used $max_threads threads")
fi

# "connect_failures":{"ECONNREFUSED":3,"ETIMEDOUT":1} -> "ECONNREFUSED 3, ETIMEDOUT 1"
connect_failures=$(grep -oE '"connect_failures":\{[^}]*\}' <<<"$json" |
    sed -e 's/"connect_failures":{//' -e 's/}$//' -e 's/"//g' -e 's/:/ /g' -e 's/,/, /g')
ms() { awk -v us="$(json_field "$1")" 'BEGIN {printf "%.3f ms", us / 1000}'; }
round() { awk -v v="$1" -v d="$2" 'BEGIN {printf "%.*f", d, v}'; }
# loadgen writes all_established_s = -1 when some connection never opened.
if [ "$established" = "$connections" ] && awk -v t="$(json_field all_established_s)" 'BEGIN {exit !(t >= 0)}'; then
    established_line="all established in $(round "$(json_field all_established_s)" 2) s"
else
    established_line="not all established"
fi
cat <<EOF

======================== C10K report ========================
connections held     $established of $connections, $established_line; failed $(json_field connect_failed)${connect_failures:+ ($connect_failures)}
messages verified    $(json_field replies) of $(json_field requests) sent, $(round "$(json_field replies_per_s)" 0) per second
errors               mismatch $(json_field mismatch), timeout $(json_field timeout), closed $(json_field closed)
round trip           p50 $(ms p50)  p90 $(ms p90)  p99 $(ms p99)  p99.9 $(ms p99_9)  max $(ms max)
server RSS           baseline $baseline_rss kB, peak $peak_rss kB: $per_conn bytes per connection
                     (VmRSS counts the process's own memory; kernel socket buffers are not in it)
server CPU           $cpu_pct % of one CPU over the run
one thread           $thread_line
server               $server_line
files                $json_out  loadgen's JSON line
                     $svg_out  the chart (open it in a browser)
                     $samples  server samples, one a second
                     $server_log  the server's output
EOF
if [ ${#failed[@]} -eq 0 ]; then
    echo "result               OK"
    exit 0
fi
printf 'result               FAILED: %s\n' "$(IFS=';'; echo "${failed[*]}" | sed 's/;/; /g')"
exit 1
