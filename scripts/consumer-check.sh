#!/usr/bin/env bash
# Consumer check: installs reactor into a temporary prefix and builds a tiny
# program against the installed copy, the way a user of the library would:
#   1. with pkg-config, against the shared library (run with LD_LIBRARY_PATH);
#   2. with pkg-config's include flags and libreactor.a (no run-time lib);
#   3. with CMake, find_package(reactor) + reactor::reactor (if cmake exists),
#      then again with reactor::reactor_static after moving the whole prefix
#      (the CMake package computes its paths from its own location);
#   4. make install DESTDIR=... stages the files under DESTDIR and the
#      pkg-config file names the final prefix.
# Each program runs a loop with a 10 ms timer and a pipe watcher and prints
# "consumer ok". docs/building.md shows the same commands.
#
# usage: scripts/consumer-check.sh      (from anywhere; JOBS=2 by default)
# Exits non-zero on the first failure; removes its temporary files.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/reactor-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cxx=${CXX:-c++}

step() { echo "--- consumer-check: $*"; }
fail() { echo "consumer-check: FAILED: $*" >&2; exit 1; }

# Runs a built consumer and insists on its one line of output.
run_consumer() {  # $1 label, then the command
    local label=$1 out
    shift
    out=$("$@" 2>&1) || fail "$label exited $?: $out"
    case $out in
        "consumer ok"*) echo "$label: $out" ;;
        *) fail "$label printed: $out" ;;
    esac
}

step "make install PREFIX=$prefix"
make -C "$repo" -s -j"${JOBS:-2}" install PREFIX="$prefix" >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "make install"; }
for f in include/reactor/reactor.hpp lib/libreactor.a lib/libreactor.so lib/libreactor.so.0 \
         lib/pkgconfig/reactor.pc lib/cmake/reactor/reactorConfig.cmake \
         lib/cmake/reactor/reactorConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
done

mkdir -p "$work/app"
cat >"$work/app/main.cpp" <<'EOF'
// A tiny consumer of the installed reactor: a 10 ms timer writes one byte
// into a pipe, the pipe's watcher reads it and stops the loop.
#include <reactor/reactor.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <unistd.h>

int main() {
    using namespace std::chrono_literals;
    int fds[2];
    if (pipe(fds) != 0) return 1;
    reactor::EventLoop loop;
    char got = 0;
    auto watcher = loop.watch(fds[0], reactor::Readable, [&](reactor::Events) {
        if (read(fds[0], &got, 1) != 1) got = 0;
        loop.stop();
    });
    loop.run_after(10ms, [&] {
        if (write(fds[1], "x", 1) != 1) loop.stop();
    });
    auto limit = loop.run_after(5s, [&] { loop.stop(); });  // never hang
    loop.run();
    loop.cancel(limit);
    loop.unwatch(watcher);
    close(fds[0]);
    close(fds[1]);
    if (got != 'x') {
        std::fprintf(stderr, "consumer: the pipe watcher did not see the byte\n");
        return 1;
    }
    std::printf("consumer ok (backend %s)\n", std::string(loop.backend()).c_str());
    return 0;
}
EOF

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
step "pkg-config reactor: version $(pkg-config --modversion reactor)," \
     "flags: $(pkg-config --cflags --libs reactor)"

step "pkg-config, shared library"
# shellcheck disable=SC2046  # pkg-config's output is meant to be split
"$cxx" -std=c++20 -o "$work/app/consumer_shared" "$work/app/main.cpp" \
    $(pkg-config --cflags --libs reactor)
readelf -d "$work/app/consumer_shared" | grep -q 'NEEDED.*libreactor\.so\.0' \
    || fail "consumer_shared is not linked against libreactor.so.0"
run_consumer consumer_shared env LD_LIBRARY_PATH="$prefix/lib" "$work/app/consumer_shared"

step "pkg-config, static library"
# shellcheck disable=SC2046
"$cxx" -std=c++20 -o "$work/app/consumer_static" "$work/app/main.cpp" \
    $(pkg-config --cflags reactor) "$(pkg-config --variable=libdir reactor)/libreactor.a" -pthread
if readelf -d "$work/app/consumer_static" | grep -q 'NEEDED.*libreactor'; then
    fail "consumer_static still needs libreactor.so"
fi
run_consumer consumer_static env -u LD_LIBRARY_PATH "$work/app/consumer_static"

if command -v cmake >/dev/null 2>&1; then
    cat >"$work/app/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(consumer CXX)
find_package(reactor 0.1 REQUIRED)
add_executable(consumer main.cpp)
target_link_libraries(consumer PRIVATE reactor::reactor)
EOF
    step "cmake, find_package(reactor) + reactor::reactor"
    cmake -S "$work/app" -B "$work/cmake-shared" -DCMAKE_PREFIX_PATH="$prefix" \
        >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "cmake configure"; }
    cmake --build "$work/cmake-shared" >"$work/cmake.log" 2>&1 \
        || { cat "$work/cmake.log" >&2; fail "cmake build"; }
    # CMake gives build-tree binaries an rpath to the imported library's
    # directory, so no LD_LIBRARY_PATH is needed here.
    run_consumer "cmake consumer (shared)" env -u LD_LIBRARY_PATH "$work/cmake-shared/consumer"

    step "cmake, reactor::reactor_static, prefix moved after install"
    mv "$prefix" "$work/moved"
    mkdir -p "$work/app-static"
    cp "$work/app/main.cpp" "$work/app-static/"
    sed 's/reactor::reactor)/reactor::reactor_static)/' "$work/app/CMakeLists.txt" \
        >"$work/app-static/CMakeLists.txt"
    cmake -S "$work/app-static" -B "$work/cmake-static" -DCMAKE_PREFIX_PATH="$work/moved" \
        >"$work/cmake.log" 2>&1 || { cat "$work/cmake.log" >&2; fail "cmake configure (static)"; }
    cmake --build "$work/cmake-static" >"$work/cmake.log" 2>&1 \
        || { cat "$work/cmake.log" >&2; fail "cmake build (static)"; }
    run_consumer "cmake consumer (static)" env -u LD_LIBRARY_PATH "$work/cmake-static/consumer"
    mv "$work/moved" "$prefix"
else
    step "cmake not found: CMake package check skipped"
fi

step "make install DESTDIR=$work/stage PREFIX=/opt/reactor"
make -C "$repo" -s install DESTDIR="$work/stage" PREFIX=/opt/reactor >"$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "make install DESTDIR=..."; }
[ -e "$work/stage/opt/reactor/lib/libreactor.so.0" ] || fail "DESTDIR install misses the library"
grep -qx 'prefix=/opt/reactor' "$work/stage/opt/reactor/lib/pkgconfig/reactor.pc" \
    || fail "the staged reactor.pc does not name the final prefix /opt/reactor"

echo "consumer-check: all consumer builds passed"
