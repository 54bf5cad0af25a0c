#!/usr/bin/env bash
# Timer benchmark: reactor (build/bench/timers) against the same workload
# written with libuv (peers/uv_timers.c from the shared bench folder), in the
# same run, alternating, ROUNDS rounds each, pinned to one CPU.
#
# usage: scripts/bench-timers.sh            N=1000000 ROUNDS=3 CPU=0 by default
#   BENCH_DIR=path   the peers' folder, outside the repository (default:
#                    ../shared/bench beside it; docs/building.md, "The peers")
#
# Each program prints "RESULT schedule_ns=X cancel_ns=Y fire_ns=Z fired=K":
# CPU time per scheduled timer, per cancelled timer and per fired timer. The
# total compared is the CPU time per scheduled timer over the whole workload,
#   total = (schedule_ns*N + cancel_ns*cancelled + fire_ns*fired) / N
# which is schedule + cancel/2 + fire/2 when every second timer is cancelled.
# Printed: every RESULT line, the median of each figure per program, and the
# ratio reactor/libuv of the median totals (the goal is <= 0.5).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-1000000}
rounds=${ROUNDS:-3}
cpu=${CPU:-0}
out=$repo/build/bench

pin=()
if command -v taskset >/dev/null 2>&1; then pin=(taskset -c "$cpu"); fi

echo "== building build/bench/timers (make bench)"
make -C "$repo" -s -j2 bench >/dev/null

# The libuv peer is compiled from its source, never copied into the repo.
bench_dir=${BENCH_DIR:-}
if [ -z "$bench_dir" ]; then
    if [ -f "$repo/../shared/bench/peers/uv_timers.c" ]; then bench_dir=$repo/../shared/bench; fi
fi
have_peer=0
if [ -n "$bench_dir" ] && [ -f "$bench_dir/peers/uv_timers.c" ]; then
    if ! pkg-config --exists libuv 2>/dev/null && [ "$(id -u)" = 0 ] \
            && command -v apt-get >/dev/null 2>&1; then
        echo "== installing libuv1-dev for the peer"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libuv1-dev >/dev/null || true
    fi
    if pkg-config --exists libuv 2>/dev/null; then
        mkdir -p "$out/peers"
        # shellcheck disable=SC2046  # pkg-config's output is meant to be split
        ${CC:-cc} -O2 -g -Wall -Wextra -std=gnu11 -o "$out/peers/uv_timers" \
            "$bench_dir/peers/uv_timers.c" $(pkg-config --cflags --libs libuv)
        have_peer=1
        echo "== built the libuv peer ($(pkg-config --modversion libuv)) from $bench_dir"
    else
        echo "== libuv1-dev not available: the libuv peer is skipped"
    fi
else
    echo "== peers/uv_timers.c not found (set BENCH_DIR): the libuv peer is skipped"
fi

results=$(mktemp "${TMPDIR:-/tmp}/reactor-bench-timers.XXXXXX")
trap 'rm -f "$results"' EXIT

run() {  # $1 label, then the command
    local label=$1 line
    shift
    line=$("${pin[@]}" "$@" "$n" | grep '^RESULT ') || { echo "$label failed" >&2; exit 1; }
    printf '%-8s %s\n' "$label" "$line"
    echo "$label $line" >>"$results"
}

echo "== N=$n, $rounds rounds, alternating${pin:+, pinned to CPU $cpu}"
for ((r = 1; r <= rounds; r++)); do
    run reactor "$out/timers"
    if [ $have_peer = 1 ]; then run libuv "$out/peers/uv_timers"; fi
done

# Medians per program and the ratio of the totals.
awk -v n="$n" '
    function median(list, k,    a, m, i, j, t) {
        m = split(list, a, " ")
        for (i = 2; i <= m; i++)
            for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    {
        p = $1
        for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        cancelled = int((n + 1) / 2); fired = v["fired"]
        total = (v["schedule_ns"] * n + v["cancel_ns"] * cancelled + v["fire_ns"] * fired) / n
        s[p] = s[p] " " v["schedule_ns"]; c[p] = c[p] " " v["cancel_ns"]
        f[p] = f[p] " " v["fire_ns"]; t[p] = t[p] " " total
        if (!(p in seen)) { seen[p] = 1; order[++np] = p }
    }
    END {
        print "== medians (ns of CPU time; total = per scheduled timer, whole workload)"
        for (k = 1; k <= np; k++) {
            p = order[k]
            ms[p] = median(s[p]); mc[p] = median(c[p]); mf[p] = median(f[p]); mt[p] = median(t[p])
            printf "%-8s schedule_ns=%.1f cancel_ns=%.1f fire_ns=%.1f total_ns=%.1f\n",
                   p, ms[p], mc[p], mf[p], mt[p]
        }
        if (("reactor" in seen) && ("libuv" in seen))
            printf "RATIO reactor/libuv: schedule %.2f, cancel %.2f, fire %.2f, total %.2f (goal: total <= 0.50)\n",
                   ms["reactor"] / ms["libuv"], mc["reactor"] / mc["libuv"],
                   mf["reactor"] / mf["libuv"], mt["reactor"] / mt["libuv"]
    }' "$results"
