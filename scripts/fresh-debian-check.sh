#!/usr/bin/env bash
# Proves that the README's commands work on a minimal Debian 12 ("bookworm")
# that has nothing but build-essential, git and python3: builds such a system
# with debootstrap in a chroot, clones this repository's HEAD into it and runs
# `make test` there as root (and `make demo` when scripts/c10k.sh exists).
# This is what catches a missing install step, e.g. doctest-dev, which
# scripts/install-deps.sh must fetch with apt on its own.
#
# usage (as root):  scripts/fresh-debian-check.sh [CHROOT_DIR]
#   CHROOT_DIR    where to build the system (default: a new dir under /tmp);
#                 it must not exist yet, and it is deleted at the end
#   MIRROR=URL    Debian mirror (default: the one this host's apt uses)
#   KEEP_CHROOT=1 keep the chroot afterwards (it is unmounted either way)
#   DEBOOTSTRAP_CACHE=DIR  package cache shared between runs (default
#                 /var/cache/reactor-debootstrap), so a second run downloads
#                 nothing; the chroot itself is still new every time
#
# Only committed work is checked: the chroot gets a clone of HEAD.
# Exit status: 0 if `make test` (and `make demo`, when run) passed.
set -euo pipefail

repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
commit=$(git -C "$repo" rev-parse HEAD)
suite=bookworm

if [ "$(id -u)" != 0 ]; then
    echo "fresh-debian-check: must run as root (debootstrap, chroot, mount)" >&2
    exit 2
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "fresh-debian-check: installing debootstrap ..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# The mirror this host's apt already uses for the main suite: only that one is
# known to be reachable from here. deb822 files (*.sources) list "URIs:" and
# "Suites:" in one stanza; one-line files (*.list) say "deb URL SUITE ...".
host_mirror() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            /^[[:space:]]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
            /^URIs:/         { uri = $2 }
            /^Suites:/       { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
            END              { if (uri != "" && ok) print uri }' "$f"
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '$1 == "deb" {
            for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { u = $i; s = $(i + 1); break }
            if (s == suite) { print u; exit } }' "$f"
    done
}
mirror=${MIRROR:-$(host_mirror | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

root=${1:-}
if [ -z "$root" ]; then
    root=$(mktemp -d /tmp/reactor-debian.XXXXXX)
    rmdir "$root"
fi
if [ -e "$root" ]; then
    echo "fresh-debian-check: $root already exists; give a new directory" >&2
    exit 2
fi
root=$(realpath -m "$root")
cache=${DEBOOTSTRAP_CACHE:-/var/cache/reactor-debootstrap}
log=$root.log

# Unmount everything under the chroot, deepest first, before anything is
# deleted: removing a tree with /dev still bind-mounted in it would delete
# the host's device nodes.
mounted_under_root() {
    awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r
}
cleanup() {
    local status=$? m
    for m in $(mounted_under_root); do
        umount "$m" 2>/dev/null || umount -l "$m" || true
    done
    if [ -n "$(mounted_under_root)" ]; then
        echo "fresh-debian-check: could not unmount everything under $root; left in place" >&2
    elif [ "${KEEP_CHROOT:-0}" = 1 ]; then
        echo "fresh-debian-check: chroot kept in $root"
    elif [ -d "$root" ]; then
        rm -rf --one-file-system "$root"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "fresh-debian-check: Debian $suite from $mirror into $root (log: $log)"
mkdir -p "$cache"
start=$(date +%s)
# minbase: apt and dpkg only; the three packages a user is assumed to have
# (plus certificates, so that git and apt could use https) are added on top.
if ! debootstrap --variant=minbase --cache-dir="$cache" \
        --include=build-essential,git,python3,ca-certificates \
        "$suite" "$root" "$mirror" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "fresh-debian-check: debootstrap failed (log: $log)" >&2
    exit 1
fi
echo "fresh-debian-check: system ready in $(( $(date +%s) - start )) s"

mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
# apt inside needs name resolution; the chroot has no resolver of its own.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# No /etc/hosts on purpose: debootstrap writes none, and neither do many
# minimal containers, so "localhost" is not in any hosts file there. The
# tests must pass anyway (resolve() answers localhost names itself, RFC 6761);
# writing one here would hide exactly the failure this check once caught.
if [ -e "$root/etc/hosts" ]; then
    echo "fresh-debian-check: note: debootstrap created /etc/hosts; it is left as it is"
else
    echo "fresh-debian-check: the chroot has no /etc/hosts (as debootstrap leaves it)"
fi

# The clone is made from the host (the chroot cannot see this path), then
# owned by the chroot's root like a clone made there.
git clone -q --no-local "$repo" "$root/root/reactor"
git -C "$root/root/reactor" checkout -q --detach "$commit"
echo "fresh-debian-check: cloned $commit"

# Inside: a clean environment as a user's root shell would have, no stdin.
in_chroot() {
    chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 CI=true \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        "$@" </dev/null
}
if in_chroot dpkg -s doctest-dev >/dev/null 2>&1; then
    echo "fresh-debian-check: doctest-dev is already installed in the chroot?" >&2
    exit 1
fi

status=0
echo "fresh-debian-check: make test (inside the chroot)"
start=$(date +%s)
in_chroot bash -c 'cd /root/reactor && make test' 2>&1 | tee -a "$log" || status=1
echo "fresh-debian-check: make test took $(( $(date +%s) - start )) s, exit $status"

if [ -f "$root/root/reactor/scripts/c10k.sh" ]; then
    demo_env=()
    if grep -q C10K_DURATION "$root/root/reactor/scripts/c10k.sh"; then
        demo_env=(C10K_DURATION=5)
    fi
    echo "fresh-debian-check: make demo ${demo_env[*]} (inside the chroot)"
    if ! in_chroot env "${demo_env[@]}" bash -c 'cd /root/reactor && make demo' 2>&1 \
            | tee -a "$log"; then
        echo "fresh-debian-check: make demo failed"
        status=1
    fi
else
    echo "fresh-debian-check: scripts/c10k.sh does not exist yet: make demo skipped"
fi

if [ $status -eq 0 ]; then
    echo "fresh-debian-check: PASSED on a fresh Debian $suite"
else
    echo "fresh-debian-check: FAILED (log: $log)"
fi
exit $status
