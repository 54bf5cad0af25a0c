#!/usr/bin/env bash
# Runs doctest suites and ends with one line "N passed, N failed" (test
# cases, summed over every suite and backend).
#
# A suite whose source carries the line "// runs-on: every backend" touches
# the loop and runs once per backend in $BACKENDS (REACTOR_BACKEND set for
# each run); the others run once. A suite that also carries
# "// kqueue: every flavour" runs its kqueue part once per emulated kernel in
# $KQUEUE_FLAVORS (REACTOR_KQUEUE_FLAVOR; Linux only, where kqueue is the
# emulation in tests/kqueue_emu/; empty on a real BSD). Each run is bounded
# by a timeout, and a suite that crashes or times out counts as one failure
# beyond what it reported.
#
# Portable: bash 3.2 (macOS) and the BSDs' userland. The bound is GNU
# timeout(1), or gtimeout (Homebrew's coreutils), or else a watchdog of
# our own.
set -u
BACKENDS=${BACKENDS:-"epoll kqueue poll"}
KQUEUE_FLAVORS=${KQUEUE_FLAVORS:-}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-300}
passed=0
failed=0
failed_runs=()

if command -v timeout >/dev/null 2>&1; then
    timeout_cmd=timeout
elif command -v gtimeout >/dev/null 2>&1; then
    timeout_cmd=gtimeout
else
    timeout_cmd=
fi

# Runs "$@" for at most $SUITE_TIMEOUT seconds (then TERM, 5 s later KILL);
# exit status 124 if it timed out, as timeout(1) says.
bounded() {
    if [ -n "$timeout_cmd" ]; then
        "$timeout_cmd" -k 5 "$SUITE_TIMEOUT" "$@"
        return
    fi
    local marker pid dog rc
    marker=$(mktemp "${TMPDIR:-/tmp}/reactor-timeout.XXXXXX")
    "$@" &
    pid=$!
    # The watchdog looks once a second and kills only the pid it was given.
    (
        i=0
        while kill -0 "$pid" 2>/dev/null; do
            if [ "$i" -ge "$SUITE_TIMEOUT" ]; then
                echo timeout >"$marker"
                kill -TERM "$pid" 2>/dev/null
                j=0
                while [ "$j" -lt 5 ] && kill -0 "$pid" 2>/dev/null; do
                    sleep 1
                    j=$((j + 1))
                done
                kill -KILL "$pid" 2>/dev/null
                exit 0
            fi
            sleep 1
            i=$((i + 1))
        done
    ) >/dev/null 2>&1 &
    dog=$!
    wait "$pid"
    rc=$?
    # The suite is over: stop the watchdog (its last `sleep 1` ends by itself).
    kill "$dog" 2>/dev/null
    wait "$dog" 2>/dev/null
    if [ -s "$marker" ]; then rc=124; fi
    rm -f "$marker"
    return $rc
}

run_one() {  # $1 binary, $2 backend or "", $3 kqueue flavour or ""
    local bin=$1 backend=$2 flavour=${3:-} out rc label
    label=$(basename "$bin")${backend:+" [backend: $backend${flavour:+, flavour: $flavour}]"}
    echo "=== $label"
    # A subshell: the variables are set (or unset) for this run only.
    out=$(
        if [ -n "$backend" ]; then export REACTOR_BACKEND=$backend; else unset REACTOR_BACKEND; fi
        if [ -n "$flavour" ]; then export REACTOR_KQUEUE_FLAVOR=$flavour; else unset REACTOR_KQUEUE_FLAVOR; fi
        bounded "$bin" --no-colors 2>&1
    )
    rc=$?
    local summary
    summary=$(printf '%s\n' "$out" | grep -E '^\[doctest\] test cases:' | tail -n 1)
    if [ $rc -ne 0 ] || [ -z "$summary" ]; then printf '%s\n' "$out"; fi
    if [ -n "$summary" ]; then
        echo "$summary"
        local p f
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

for bin in "$@"; do
    name=$(basename "$bin")
    src="tests/$name.cpp"
    flavours=
    if [ -n "$KQUEUE_FLAVORS" ] && grep -q '^// kqueue: every flavour' "$src" 2>/dev/null; then
        flavours=$KQUEUE_FLAVORS
    fi
    if grep -q '^// runs-on: every backend' "$src" 2>/dev/null; then
        for b in $BACKENDS; do
            if [ "$b" = kqueue ] && [ -n "$flavours" ]; then
                for f in $flavours; do run_one "$bin" "$b" "$f"; done
            else
                run_one "$bin" "$b"
            fi
        done
    elif [ -n "$flavours" ]; then
        for f in $flavours; do run_one "$bin" "" "$f"; done
    else
        run_one "$bin" ""
    fi
done

if [ ${#failed_runs[@]} -gt 0 ]; then
    echo "failed runs:"
    printf '  %s\n' "${failed_runs[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
