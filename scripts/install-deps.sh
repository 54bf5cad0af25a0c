#!/bin/sh
# Makes sure the build's dependencies are present:
#   - always (for `make test`): doctest's header (Debian package doctest-dev);
#   - with STDLIB=libc++ (`make CXX=clang++ STDLIB=libc++ ...`): clang and
#     LLVM's C++ library (Debian packages clang, libc++-dev, libc++abi-dev).
# Nothing is needed at run time.
#
# On Debian/Ubuntu, as root, it installs what is missing with apt-get
# (after `apt-get update`: the package lists of a fresh machine are empty).
# Elsewhere, or without root, it says exactly what to install and fails.
# `install-deps.sh toolchain` checks the compiler and C++ library only (for
# the library's own build, which needs no doctest).
# POSIX sh: it runs on FreeBSD and macOS too.
set -eu

mode=${1:-all}

CXX=${CXX:-c++}
STDLIB=${STDLIB:-}
CPPFLAGS=${CPPFLAGS:-}  # e.g. -I/usr/local/include, where doctest lives on FreeBSD
stdlib_flag=${STDLIB:+-stdlib=$STDLIB}

# Does `$CXX` compile and link a program using the standard library (with
# the requested one)? An include-only test would miss a missing libc++abi.
have_stdlib() {
    [ -z "$STDLIB" ] && return 0
    tmp=$(mktemp "${TMPDIR:-/tmp}/reactor-deps.XXXXXX")
    ok=1
    printf '#include <string>\n#include <vector>\nint main() { std::vector<std::string> v{"x"}; return static_cast<int>(v.size()) - 1; }\n' |
        "$CXX" -x c++ -std=c++20 $stdlib_flag - -o "$tmp" >/dev/null 2>&1 && "$tmp" && ok=0
    rm -f "$tmp"
    return $ok
}
have_doctest() {
    printf '#include <doctest/doctest.h>\n' | "$CXX" -x c++ -std=c++20 $stdlib_flag $CPPFLAGS -E - >/dev/null 2>&1
}
have_all() {
    have_stdlib || return 1
    [ "$mode" = toolchain ] || have_doctest
}

have_all && exit 0

packages=""
stdlib_ok=yes
if ! have_stdlib; then
    echo "reactor: '$CXX $stdlib_flag' cannot build a C++ program (STDLIB=$STDLIB was asked for)."
    packages="clang libc++-dev libc++abi-dev"
    stdlib_ok=no
fi
# Without a working standard library the doctest probe proves nothing; on
# Debian doctest-dev is installed with the toolchain (a no-op if present).
if [ $stdlib_ok = no ] && command -v apt-get >/dev/null 2>&1; then
    packages="$packages doctest-dev"
elif [ "$mode" != toolchain ] && ! have_doctest; then
    echo "reactor: doctest's header <doctest/doctest.h> is missing (needed by 'make test')."
    packages="$packages doctest-dev"
fi

packages=${packages# }
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "reactor: installing Debian packages: $packages ..."
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || true
        # shellcheck disable=SC2086 # one word per package
        apt-get install -y -qq $packages >/dev/null
        have_all && { echo "reactor: installed: $packages"; exit 0; }
        echo "reactor: apt-get install $packages did not provide a working toolchain." >&2
        exit 1
    fi
    echo "reactor: run as root:  apt-get update && apt-get install -y $packages" >&2
    exit 1
fi
if ! have_stdlib; then
    cat >&2 <<MSG
reactor: install clang with LLVM's libc++ and libc++abi so that
'$CXX -stdlib=$STDLIB' builds C++20 programs:
  FreeBSD, macOS:  already the system's compiler and library: use CXX=c++ (or clang++)
  Fedora:          dnf install clang libcxx-devel libcxxabi-devel
  Arch:            pacman -S clang libc++
MSG
fi
if [ "$mode" != toolchain ] && ! have_doctest; then
    cat >&2 <<'MSG'
reactor: install doctest 2.4 or later so that <doctest/doctest.h> is on the
include path, then run 'make test' again:
  FreeBSD:  pkg install doctest, then make ... CPPFLAGS=-I/usr/local/include
  macOS:    brew install doctest, then make ... CPPFLAGS=-I$(brew --prefix)/include
  Fedora:   dnf install doctest-devel
  Arch:     pacman -S doctest
  other:    the single header from the doctest project, installed as
            /usr/local/include/doctest/doctest.h
MSG
fi
exit 1
