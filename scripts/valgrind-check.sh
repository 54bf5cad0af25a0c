#!/usr/bin/env bash
# scripts/valgrind-check.sh -- runs doctest suites under valgrind's memcheck
# and ends with one line "N passed, N failed" (test cases, summed).
#
#   scripts/valgrind-check.sh                  the CI subset below, on epoll and poll
#   VALGRIND_SUITES="tcp_test timer_test" VALGRIND_BACKENDS="epoll poll" \
#       scripts/valgrind-check.sh
#
# Each suite runs as
#   valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible
# so an invalid read or write, a use of uninitialised memory, a bad free, or
# a leak makes the run fail; a failing run counts as one failure beyond
# the test cases the suite reported. A suite whose source carries
# "// runs-on: every backend" runs once per backend in VALGRIND_BACKENDS
# (default "epoll poll", the two real backends on Linux), the others once.
# Each run is bounded by VALGRIND_SUITE_TIMEOUT seconds (default 900).
# No suppression file: none was needed (docs/reliability.md, "Valgrind and
# sanitizers", says how to add one, with the reason, if that changes).
#
# The default subset (docs/reliability.md lists each suite's time under
# valgrind and why the rest is left out) took 6 minutes (372 s wall, 156 s
# CPU) on two cores shared with other work. The examples the suites start
# as child processes run natively: memcheck follows only the suite itself.
#
# Brings the suites and the test examples up to date in $BUILD first (default
# build: the plain -O2 -g build; valgrind needs no special one;
# VALGRIND_BUILD=0 skips that). Exit status 0 only if every run passed.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
BACKENDS=${VALGRIND_BACKENDS:-epoll poll}
SUITE_TIMEOUT=${VALGRIND_SUITE_TIMEOUT:-900}
# The CI subset: the core, TCP and HTTP suites. Left out, with the reason:
#   emfile_test    lowers RLIMIT_NOFILE to 64 in a forked child, which memcheck
#                  refuses (it keeps fds of its own at the top of the table),
#                  and asserts CPU time under half the wall time, which under
#                  memcheck measures valgrind, not the server;
#   examples_test  only drives the example programs in child processes,
#                  which memcheck does not follow (they run natively);
#   kqueue_emu_test, loadgen_test, docs_test
#                  test the test-only kqueue emulation, the load generator
#                  and the documentation, not the library.
# The kqueue backend is left out for the same reason as kqueue_emu_test: on
# Linux it runs on the emulation.
DEFAULT_SUITES="buffer_test socket_address_test socket_test histogram_test
    timer_test post_test signal_test event_loop_test event_loop_threads_test trace_test
    poller_conformance_test worker_pool_test fs_test resolve_test exception_policy_test
    tcp_test tcp_client_test tcp_server_threads_test udp_test
    http_parser_test http_response_test http_response_queue_test http_static_files_test
    http_server_test http_hello_test http_files_test"
SUITES=${VALGRIND_SUITES:-$DEFAULT_SUITES}

# As root on Debian, install valgrind if it is missing; otherwise say what to install.
if ! command -v valgrind >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "valgrind-check: installing valgrind (apt-get)" >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; } >&2 || true
fi
if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind-check: valgrind not found (Debian: apt-get install valgrind)" >&2
    exit 1
fi

bins=()
for s in $SUITES; do
    [ -f "tests/$s.cpp" ] || { echo "valgrind-check: no suite tests/$s.cpp" >&2; exit 1; }
    bins+=("$BUILD/tests/$s")
done
# The suites that drive the examples need the test build of them.
test_examples=()
for e in examples/*.cpp examples/*/; do
    e=${e%/}; e=${e%.cpp}
    test_examples+=("$BUILD/test-examples/${e#examples/}")
done
if [ "${VALGRIND_BUILD:-1}" != 0 ]; then
    mkdir -p "$BUILD"
    if ! make -j2 BUILD="$BUILD" "${bins[@]}" "${test_examples[@]}" >"$BUILD/valgrind-build.log" 2>&1; then
        tail -n 20 "$BUILD/valgrind-build.log" >&2
        echo "valgrind-check: the build failed (whole log: $BUILD/valgrind-build.log)" >&2
        exit 1
    fi
fi

# Test cases left out under valgrind (they run in every other leg), each
# for a reason that is about time, not memory:
excluded_cases() {  # $1 suite name; prints a doctest --test-case-exclude pattern
    case $1 in
        # Sends 32 MiB without reading until the server's queue passes its
        # high-water mark, within the suites' 10 s bound. Under memcheck the
        # server drains so slowly that the kernel's loopback buffers
        # (autotuned up to tcp_rmem's maximum, 32 MiB on Debian 12) keep
        # absorbing the echo and the mark is not reached in time. Natively
        # it takes 0.6 s of CPU.
        tcp_test) echo "high-water mark: reading pauses while output piles up*" ;;
        # Measures send_timeout against the wall clock from the request on,
        # with a 32 MiB response: under memcheck the server copies it so
        # slowly that the close overshoots the 2.5 s bound. (Its neighbour,
        # "a slow reader making progress", was left out too until its cut-off
        # turned out to be a library bug, stamps older than the write; it
        # runs here since that was fixed.)
        http_server_test) echo "send_timeout: a client that reads nothing is cut off*" ;;
        # A 0.3 s --send-timeout against a 1 s stall of the reader, then a
        # 10 s bound to see the close: it failed once in five memcheck runs
        # on a loaded VM (the connection was still open), with no memcheck
        # error; the server is a native child process, only the client is
        # under memcheck.
        http_files_test) echo "http_files --send-timeout: a download nobody reads is cut off*" ;;
    esac
}

VALGRIND=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full
          --errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible
          --num-callers=30 --quiet)
passed=0
failed=0
failed_runs=()
timings=()

# CPU seconds (user + system) used so far by finished children, from the
# shell's `times` (portable, unlike GNU time): valgrind runs a program's
# threads one at a time, so this is about what the run takes on an idle core.
children_cpu() {  # sets cpu_now; `times` must run in this shell, not in $(...)
    times >"$times_file"
    cpu_now=$(tail -n 1 "$times_file" | awk '{
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60 + a[2] }
        printf "%.1f", t }')
}
times_file=$(mktemp "${TMPDIR:-/tmp}/valgrind-check.XXXXXX")
trap 'rm -f "$times_file"' EXIT

run_one() {  # $1 binary, $2 backend or ""
    local bin=$1 backend=$2 out rc label start secs summary p f cpu0 cpu name exclude=()
    name=$(basename "$bin")
    label=$name${backend:+" [backend: $backend]"}
    if [ -n "$(excluded_cases "$name")" ]; then exclude=(--test-case-exclude="$(excluded_cases "$name")"); fi
    echo "=== $label"
    start=$(date +%s)
    children_cpu
    cpu0=$cpu_now
    if [ -n "$backend" ]; then
        out=$(REACTOR_BACKEND=$backend REACTOR_EXAMPLES="$BUILD/test-examples" \
              timeout -k 10 "$SUITE_TIMEOUT" "${VALGRIND[@]}" "$bin" --no-colors "${exclude[@]}" 2>&1)
    else
        out=$(env -u REACTOR_BACKEND REACTOR_EXAMPLES="$BUILD/test-examples" \
              timeout -k 10 "$SUITE_TIMEOUT" "${VALGRIND[@]}" "$bin" --no-colors "${exclude[@]}" 2>&1)
    fi
    rc=$?
    secs=$(( $(date +%s) - start ))
    children_cpu
    cpu=$(awk -v a="$cpu0" -v b="$cpu_now" 'BEGIN {printf "%.0f", b - a}')
    timings+=("$(printf '%5d s wall %5d s CPU  %s' "$secs" "$cpu" "$label")")
    summary=$(printf '%s\n' "$out" | grep -E '^\[doctest\] test cases:' | tail -n 1)
    # The tail of the output, each line cut short: a failed CHECK on a
    # 32 MiB string prints all of it.
    if [ $rc -ne 0 ] || [ -z "$summary" ]; then printf '%s\n' "$out" | tail -n 200 | cut -c1-1000; fi
    if [ -n "$summary" ]; then
        echo "$summary  (${secs} s wall, ${cpu} s CPU)"
        p=$(printf '%s' "$summary" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
        f=$(printf '%s' "$summary" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
        passed=$((passed + p)); failed=$((failed + f))
        if [ $rc -ne 0 ] && [ "$f" = 0 ]; then failed=$((failed + 1)); fi
    else
        failed=$((failed + 1))
    fi
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "!!! $label timed out after ${SUITE_TIMEOUT}s"
        failed_runs+=("$label (exit $rc)")
    fi
}

total_start=$(date +%s)
for bin in "${bins[@]}"; do
    name=$(basename "$bin")
    if grep -q '^// runs-on: every backend' "tests/$name.cpp"; then
        for b in $BACKENDS; do run_one "$bin" "$b"; done
    else
        run_one "$bin" ""
    fi
done

echo "time under valgrind, per run:"
printf '  %s\n' "${timings[@]}"
children_cpu
echo "  total $(( $(date +%s) - total_start )) s wall, $cpu_now s CPU"
if [ ${#failed_runs[@]} -gt 0 ]; then
    echo "failed runs:"
    printf '  %s\n' "${failed_runs[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
