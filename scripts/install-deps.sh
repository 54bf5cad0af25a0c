#!/bin/sh
# Makes sure the test dependency is present: doctest's header (Debian package
# doctest-dev). Nothing is needed at run time; this is for `make test` only.
#
# On Debian/Ubuntu, as root, it installs the package with apt. Elsewhere, or
# without root, it says exactly what to install and fails.
set -eu

CXX=${CXX:-c++}
have_doctest() {
    printf '#include <doctest/doctest.h>\n' | "$CXX" -x c++ -std=c++20 -E - >/dev/null 2>&1
}

have_doctest && exit 0

echo "reactor: doctest's header <doctest/doctest.h> is missing (needed by 'make test')."
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        echo "reactor: installing Debian package doctest-dev with apt-get ..."
        export DEBIAN_FRONTEND=noninteractive
        # The package lists of a fresh machine are empty: update first.
        apt-get update -qq || true
        apt-get install -y -qq doctest-dev >/dev/null
        have_doctest && { echo "reactor: doctest-dev installed."; exit 0; }
        echo "reactor: apt-get install doctest-dev did not provide the header." >&2
        exit 1
    fi
    echo "reactor: run as root:  apt-get update && apt-get install -y doctest-dev" >&2
    exit 1
fi
cat >&2 <<'MSG'
reactor: install doctest 2.4 or later so that <doctest/doctest.h> is on the
include path, then run 'make test' again:
  FreeBSD:  pkg install doctest
  macOS:    brew install doctest
  Fedora:   dnf install doctest-devel
  Arch:     pacman -S doctest
  other:    the single header from the doctest project, installed as
            /usr/local/include/doctest/doctest.h
MSG
exit 1
