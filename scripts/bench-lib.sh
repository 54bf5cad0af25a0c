# scripts/bench-lib.sh -- what the benchmark and load scripts share: the
# build and peer directories, picking a free port, waiting until a server
# listens, stopping the processes a script started by their PIDs, pinning
# server and client to CPUs, reading a process's CPU time, and the
# statistics (medians, ratios, RESULT fields, round order). Sourced right
# after the script sets REPO (and BENCH_NAME, its name in messages;
# BASE_PORT if it wants another first port), not run:
#   REPO=$(cd "$(dirname "$0")/.." && pwd)
#   BENCH_NAME=bench-echo
#   . "$REPO/scripts/bench-lib.sh"
#
# Everything reads /proc directly, so neither ss nor netstat nor ps is
# needed on a minimal machine. A server is only ever stopped by the PID its
# script started, never by name.

# ---- where things are ----------------------------------------------------------
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
# The peers of ../shared/bench are built from a copy of their sources in
# $PEERS (the shared folder may be read-only).
PEERS_SRC=${REACTOR_PEERS:-$REPO/../shared/bench}
PEERS=$BUILD/peers

say() { echo "[${BENCH_NAME:-bench}] $*" >&2; }

peer_bin() {  # name -> 0 once $PEERS/bin/name is built (copying the peers' sources first)
    if [ -d "$PEERS_SRC" ] && [ ! -d "$PEERS" ]; then cp -r "$PEERS_SRC" "$PEERS"; fi
    [ -d "$PEERS" ] || return 1
    [ -x "$PEERS/bin/$1" ] || make -s -C "$PEERS" "bin/$1" >&2
}

# /proc/net/tcp{,6} list every TCP socket: local address in column 2 as
# HEXIP:HEXPORT, state in column 4 (0A = LISTEN).
port_seen() {  # port [state] -> 0 if some socket uses it (in that state)
    awk -v p="$(printf '%04X' "$1")" -v st="${2:-}" \
        'FNR > 1 { n = split($2, a, ":"); if (a[n] == p && (st == "" || $4 == st)) found = 1 }
         END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Sets SPORT (not printed: a $(...) subshell would lose the count), so each
# run gets a port of its own even while the last one's sockets linger.
NEXT_PORT=${BASE_PORT:-22000}
pick_port() {  # sets SPORT to a port no socket uses now, counting up from BASE_PORT
    while port_seen "$NEXT_PORT"; do NEXT_PORT=$((NEXT_PORT + 1)); done
    SPORT=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
}

# Polls every 0.1 s, for at most `tries` polls (default 100: 10 s), and
# gives up early if the process died.
wait_listening() {  # port pid [tries] -> 0 once something listens on port
    local i
    for ((i = 0; i < ${3:-100}; i++)); do
        port_seen "$1" 0A && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    port_seen "$1" 0A
}

# SIGTERM (the examples shut down gracefully and exit 0 on it), up to 5 s
# to go, then SIGKILL. The pid must be a child of this shell: its exit
# status is left in STOP_STATUS.
STOP_STATUS=0
stop_pid() {  # pid (none: nothing to do)
    local i
    STOP_STATUS=0
    [ -n "${1:-}" ] || return 0
    kill -TERM "$1" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    STOP_STATUS=$?
}

# ---- several processes, held in variables ---------------------------------------------
# A script names in PID_VARS the variables that hold the PIDs it starts, in
# the order to stop them; a variable is empty while its process is not
# running. stop_var stops one and empties it; stop_vars_on_exit stops them
# all however the script leaves (end, failure, Ctrl-C, SIGTERM).
PID_VARS=()
stop_var() {  # variable name
    stop_pid "${!1}"
    printf -v "$1" '%s' ''
}
stop_vars() {
    local v
    for v in "${PID_VARS[@]}"; do stop_var "$v"; done
}
stop_vars_on_exit() {
    trap stop_vars EXIT
    trap 'echo >&2; say "interrupted"; exit 130' INT TERM
}

# A server started with --port 0 prints "listening on HOST:PORT" once it
# listens (every example server does). Polls its log every 0.1 s, for at
# most 10 s, and gives up early if it died.
port_from_log() {  # log pid -> prints the port; 0 once found
    local i line
    for ((i = 0; i < 100; i++)); do
        line=$(grep -m1 -oE 'listening on [^ ]+:[0-9]+' "$1" 2>/dev/null)
        if [ -n "$line" ]; then echo "${line##*:}"; return 0; fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Pinning for a load run: the server on CPU 0 and the client on CPU 1, when
# there are two CPUs and taskset. Sets the arrays SERVER_PIN and CLIENT_PIN
# (empty when not pinned; put them before a command) and PINNING, a phrase
# for the report.
pin_server_and_client() {
    local cpus
    cpus=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
    SERVER_PIN=()
    CLIENT_PIN=()
    if command -v taskset >/dev/null 2>&1 && [ "$cpus" -ge 2 ]; then
        SERVER_PIN=(taskset -c 0)
        CLIENT_PIN=(taskset -c 1)
        PINNING="server on CPU 0, loadgen on CPU 1"
    else
        PINNING="not pinned (needs taskset and two CPUs)"
    fi
}

TCK=$(getconf CLK_TCK)
cpu_ticks() {  # pids... -> their utime+stime summed, in clock ticks (TCK per second)
    local t=0 p v
    for p in "$@"; do
        # Fields after "(comm) ": state is 1, utime 12, stime 13.
        v=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
        t=$((t + ${v:-0}))
    done
    echo "$t"
}

# ---- one server at a time, by PID ---------------------------------------------------
# The script's start_server sets SPID; stop_server ends it however the
# script leaves (stop_on_exit installs the traps).
SPID=""
stop_server() {
    [ -n "$SPID" ] || return 0
    stop_pid "$SPID"
    SPID=""
}
stop_on_exit() {
    trap 'stop_server' EXIT
    trap 'stop_server; exit 130' INT TERM
}

# ---- statistics ------------------------------------------------------------------------
median_of() {  # numbers on stdin, one a line -> their median ("" when none)
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2];
                                         else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() {  # a b [decimals, default 3] -> a / b, or "-" when either is missing or b is 0
    awk -v a="$1" -v b="$2" -v d="${3:-3}" \
        'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.*f", d, a / b }'
}
field() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" | head -n 1; }  # key=value from a RESULT line on stdin
ordered() {  # round -> the servers of $LIST, reversed on even rounds (so neither always goes first)
    if [ $(($1 % 2)) = 0 ]; then echo "$LIST" | tr ' ' '\n' | tac | tr '\n' ' '; else echo "$LIST"; fi
}
