#!/usr/bin/env bash
# scripts/fuzz.sh -- builds every libFuzzer target tests/fuzz/NAME_fuzz.cpp and
# runs each for $FUZZ_SECONDS seconds (default 60). `make fuzz` calls it.
#
# A target names the library sources it links in a comment line
#   // fuzz-sources: src/http/*.cpp
# (left empty when the code it fuzzes is header-only)
# and finds its seed corpus in tests/fuzz/corpus/NAME/ (and an optional
# dictionary in tests/fuzz/NAME.dict, or the one a comment line names:
#   // fuzz-dict: tests/fuzz/http_parser.dict
# so that targets reading the same language share one). The fuzzer works on a copy of the seeds
# in build/fuzz/corpus-NAME, so the repository's corpus is never polluted;
# the copy keeps growing across runs. Crash, leak and timeout inputs are
# written as build/fuzz/NAME-crash-<sha1> etc.; reproduce one with
#   build/fuzz/NAME build/fuzz/NAME-crash-<sha1>
#
# Exits non-zero if a target fails to build or any run finds a crash.
set -u
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CXX=${FUZZ_CXX:-clang++}
OUT=build/fuzz
FLAGS=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Iinclude -Isrc)

if ! command -v "$FUZZ_CXX" >/dev/null; then
    echo "fuzz: $FUZZ_CXX not found; install clang (Debian: apt-get install clang)" >&2
    exit 1
fi
mkdir -p "$OUT"

# libFuzzer's runtime ships separately from the compiler on Debian.
probe_src=$OUT/.probe.cpp
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    > "$probe_src"
if ! "$FUZZ_CXX" -fsanitize=fuzzer "$probe_src" -o "$OUT/.probe" 2>/dev/null; then
    major=$("$FUZZ_CXX" -dumpversion | cut -d. -f1)
    pkg=libclang-rt-$major-dev
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "fuzz: libFuzzer runtime missing; installing $pkg"
        apt-get install -y "$pkg" >/dev/null || { echo "fuzz: apt-get install $pkg failed" >&2; exit 1; }
    else
        echo "fuzz: libFuzzer runtime missing; install the package $pkg (as root: apt-get install $pkg)" >&2
        exit 1
    fi
fi
rm -f "$probe_src" "$OUT/.probe"

targets=(tests/fuzz/*_fuzz.cpp)
# FUZZ_TARGETS="http_split buffer" runs only those (default: every target).
if [ -n "${FUZZ_TARGETS:-}" ]; then
    targets=()
    for t in $FUZZ_TARGETS; do targets+=("tests/fuzz/${t}_fuzz.cpp"); done
fi
if [ ! -e "${targets[0]}" ]; then
    echo "fuzz: no targets in tests/fuzz/"
    exit 0
fi

status=0
summary=()
for src in "${targets[@]}"; do
    name=$(basename "$src" _fuzz.cpp)
    bin=$OUT/$name
    if [ ! -f "$src" ]; then
        echo "fuzz: no target $src" >&2
        status=1
        summary+=("$name: no such target")
        continue
    fi
    # The library sources the target asked for (word-split globs on purpose).
    globs=$(sed -n 's|^// fuzz-sources:||p' "$src" | head -n 1)
    # None for a target over header-only code (an empty `ls` would list the repository).
    lib_srcs=""
    # shellcheck disable=SC2086
    if [ -n "${globs// /}" ]; then lib_srcs=$(ls $globs 2>/dev/null); fi
    echo "=== building $bin"
    # shellcheck disable=SC2086
    if ! "$FUZZ_CXX" "${FLAGS[@]}" -o "$bin" "$src" $lib_srcs; then
        echo "fuzz: build of $name failed" >&2
        status=1
        summary+=("$name: build failed")
        continue
    fi

    corpus=$OUT/corpus-$name
    mkdir -p "$corpus"
    if [ -d "tests/fuzz/corpus/$name" ]; then cp -n "tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null; fi
    dict=()
    dict_file=$(sed -n 's|^// fuzz-dict: *||p' "$src" | head -n 1)
    [ -n "$dict_file" ] || dict_file=tests/fuzz/$name.dict
    if [ -f "$dict_file" ]; then dict=(-dict="$dict_file"); fi

    echo "=== running $name for ${FUZZ_SECONDS}s"
    log=$OUT/$name.log
    "$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$OUT/$name-" "${dict[@]}" "$corpus" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ $rc -ne 0 ]; then
        tail -n 40 "$log"
        echo "fuzz: $name FOUND A FAILURE (exit $rc); inputs: $(ls "$OUT/$name"-* 2>/dev/null | tr '\n' ' ')" >&2
        status=1
        summary+=("$name: FAILED after ${execs:-?} executions (log: $log)")
    else
        summary+=("$name: ok, ${execs:-?} executions in ${FUZZ_SECONDS}s, corpus $(ls "$corpus" | wc -l) inputs")
    fi
done

printf '%s\n' "${summary[@]}"
exit $status
