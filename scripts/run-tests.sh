#!/usr/bin/env bash
# Runs doctest suites and ends with one line "N passed, N failed" (test
# cases, summed over every suite and backend).
#
# A suite whose source carries the line "// runs-on: every backend" touches
# the loop and runs once per backend in $BACKENDS (REACTOR_BACKEND set for
# each run); the others run once. Each run is bounded by a timeout, and a
# suite that crashes or times out counts as one failure beyond what it
# reported.
set -u
BACKENDS=${BACKENDS:-"epoll kqueue poll"}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-300}
passed=0
failed=0
failed_runs=()

run_one() {  # $1 binary, $2 backend or ""
    local bin=$1 backend=$2 out rc label
    label=$(basename "$bin")${backend:+" [backend: $backend]"}
    echo "=== $label"
    if [ -n "$backend" ]; then
        out=$(REACTOR_BACKEND=$backend timeout -k 5 "$SUITE_TIMEOUT" "$bin" --no-colors 2>&1)
    else
        out=$(env -u REACTOR_BACKEND timeout -k 5 "$SUITE_TIMEOUT" "$bin" --no-colors 2>&1)
    fi
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
    if grep -q '^// runs-on: every backend' "$src" 2>/dev/null; then
        for b in $BACKENDS; do run_one "$bin" "$b"; done
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
