#!/usr/bin/env bash
# scripts/soak.sh -- the soak: minutes of load with churn against echo_server,
# http_hello and http_files at once, every byte verified, each server
# sampled once a second; fails if a reply is wrong, a server dies, or memory
# or open fds keep growing after warm-up.
#
#   scripts/soak.sh                    5 minutes (SOAK_MINUTES, default 5)
#   SOAK_SECONDS=60 scripts/soak.sh    the short run CI does
#
# The load, all at once, for the whole run:
#   echo_server  SOAK_ECHO_CONNECTIONS (default 10000) connections: four in
#                five held by loadgen, each sending a 200-byte message a second
#                and checking the echo; one in five (SOAK_CHURN_SLOTS) cycling
#                in scripts/soak_client.py: connect, 1-8 exchanges of 1 byte to
#                256 KiB, then a close, a half-close (the rest of the echo and
#                EOF must follow), a reset with a message in flight, or a
#                message sent and the socket closed unread; and again;
#   http_hello   SOAK_HTTP_CONNECTIONS (default 200) keep-alive connections,
#                a batch every 0.1 s each (3,200 requests a second when the
#                machine keeps up): GET, HEAD, 404s, pipelined
#                bursts, "Connection: close", requests cut off half-sent;
#   http_files   SOAK_FILES_CONNECTIONS (default 16) downloading files of 0
#                bytes to 3 MB: whole, ranges, HEAD, pauses mid-body, and
#                downloads abandoned at a random byte (closed or reset).
# SOAK_SEED fixes the clients' random choices (printed on every run).
#
# Sampled every second for each server: RSS, open fds and CPU time (Linux:
# /proc/PID; elsewhere ps, and lsof for fds -- without lsof the fd checks
# are skipped, and the run says so).
#
# It fails (exit 1) if any client saw a wrong byte, status or framing, a
# connection ended early, a failed connect or a reply slower than 30 s; if a
# server died, or did not exit 0 within 10 s of SIGTERM at the end; if a
# server's peak RSS over the last third of the run is above its peak over
# the second third by more than 10 % + 2 MiB, or its peak of open fds plus
# accept backlog (Linux; connections the kernel holds for it, so a busy
# server catching up does not read as a leak) by more than 5 % + 32 (the
# first third is warm-up); or if, 15 s after the load, a server holds more
# fds than before it. Exit 2: a bad setting or nothing
# to run with.
#
# It prints a summary table and writes
#   $BUILD/soak.svg          the chart: RSS, fds, CPU and throughput per second
#   $BUILD/soak-samples.tsv  the samples
#   $BUILD/soak/             each server's and client's output
# Every process it starts is stopped by PID, however it ends; the whole run
# lasts the soak plus at most about a minute. docs/reliability.md explains
# the rules and the figures.
set -u

usage() { sed -n '2,/^# the rules/p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    "") ;;
    *) echo "soak: no arguments; settings come from the environment (see --help)" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo" || exit 1
BUILD=${BUILD:-build}
export BUILD

if ! command -v python3 >/dev/null 2>&1; then
    echo "soak: python3 is needed (Debian: apt-get install python3)" >&2
    exit 2
fi

# ---- open files: loadgen and the echo server each hold one fd per connection ----
connections=${SOAK_ECHO_CONNECTIONS:-10000}
if ! [[ $connections =~ ^[0-9]+$ ]] || [ "$connections" -eq 0 ]; then
    echo "soak: SOAK_ECHO_CONNECTIONS='$connections' is not a positive whole number" >&2
    exit 2
fi
# The echo server keeps max(32, limit/16) fds in reserve (TcpServerOptions),
# so its limit must leave room for that beyond the connections.
needed=$((connections + connections / 15 + 200))
hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$needed" ]; then
    echo "soak: $connections echo connections need $needed open files per process, but the" >&2
    echo "      hard limit here is $hard: raise it (ulimit -Hn as root), or run with fewer:" >&2
    echo "      SOAK_ECHO_CONNECTIONS=$(( (hard - 200) * 15 / 16 )) scripts/soak.sh" >&2
    exit 2
fi
ulimit -S -n "$hard" 2>/dev/null || ulimit -S -n "$needed" 2>/dev/null

# ---- build what is missing ----------------------------------------------------------
missing=""
for prog in echo_server http_hello http_files loadgen; do
    [ -x "$BUILD/examples/$prog" ] || missing="$missing $BUILD/examples/$prog"
done
if [ -n "$missing" ]; then
    mkdir -p "$BUILD"
    echo "soak: building$missing ..."
    # shellcheck disable=SC2086
    if ! make -j2 BUILD="$BUILD" $missing >"$BUILD/soak-build.log" 2>&1; then
        tail -n 20 "$BUILD/soak-build.log" >&2
        echo "soak: the build failed (whole log: $BUILD/soak-build.log)" >&2
        exit 2
    fi
fi

# exec: Ctrl-C and SIGTERM reach the runner, which stops its children by PID.
exec python3 scripts/soak_run.py
