// tests/portable/poison.hpp -- force-included (-include) into every file of
// `make check-portable`, so that the first unguarded use of a Linux-only
// call fails the build.
//
// It first includes base/platform.hpp (built there with
// REACTOR_FORCE_PORTABLE=1, so every Linux extra is 0) and the system
// headers that declare the Linux-only names, then poisons those names:
// from here on any mention of one, even `#ifdef MSG_NOSIGNAL`, is a compile
// error. A guard must therefore ask base/platform.hpp (`#if
// REACTOR_HAVE_ACCEPT4`), the one place that looks at the system, and a
// disabled branch is never compiled, so a build that passes uses only the
// portable fallbacks. The names: what FreeBSD or macOS lacks or spells
// differently (accept4, pipe2 and SOCK_NONBLOCK are missing on macOS;
// epoll, eventfd, signalfd, timerfd, openat2 are Linux's own; sendfile has
// another signature on each system).
//
// Not applied to tests/kqueue_emu/, which stands in for a kernel and is
// built on epoll on purpose. Test-only: nothing installed includes it.
#pragma once
// Silences "poisoning existing macro" (SOCK_NONBLOCK, ... are macros);
// the poison itself still applies to everything that follows.
#pragma GCC system_header

#include "base/platform.hpp"

#if REACTOR_HAVE_EPOLL || REACTOR_HAVE_EVENTFD || REACTOR_HAVE_ACCEPT4 || REACTOR_HAVE_PIPE2 || \
    REACTOR_HAVE_SOCK_FLAGS || REACTOR_HAVE_MSG_NOSIGNAL || REACTOR_HAVE_OPENAT2 ||            \
    REACTOR_HAVE_SETFSUID
#error "tests/portable/poison.hpp needs REACTOR_FORCE_PORTABLE=1 (make check-portable)"
#endif

// Everything that declares a poisoned name is read before the poison.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fsuid.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#endif

// C++ headers that pull in C headers of their own.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

// Linux's own pollers and descriptors.
#pragma GCC poison epoll_create epoll_create1 epoll_ctl epoll_wait epoll_pwait epoll_event
#pragma GCC poison eventfd eventfd_read eventfd_write signalfd timerfd_create timerfd_settime
#pragma GCC poison inotify_init inotify_init1 inotify_add_watch memfd_create
// Atomic-flag variants macOS lacks (FreeBSD has them, behind the same guard).
#pragma GCC poison accept4 pipe2 dup3 SOCK_NONBLOCK SOCK_CLOEXEC
// Socket and pipe extras.
#pragma GCC poison MSG_NOSIGNAL MSG_MORE TCP_CORK TCP_INFO SOL_TCP SO_DOMAIN SO_PEERCRED
#pragma GCC poison POLLRDHUP F_GETPIPE_SZ F_SETPIPE_SZ SIOCOUTQ
// Files: openat2 and friends, other signatures elsewhere.
#pragma GCC poison openat2 RESOLVE_BENEATH O_PATH O_TMPFILE sendfile splice tee
#pragma GCC poison posix_fadvise sync_file_range fallocate statx
// Processes, threads, time, memory.
#pragma GCC poison setfsuid SYS_setfsuid prctl gettid sched_getcpu pthread_setname_np
#pragma GCC poison sigtimedwait sigwaitinfo ppoll clock_nanosleep CLOCK_BOOTTIME
#pragma GCC poison mallinfo mallinfo2 malloc_trim sysinfo get_nprocs
#pragma GCC poison program_invocation_name program_invocation_short_name TEMP_FAILURE_RETRY
#pragma GCC poison strchrnul memrchr mempcpy secure_getenv
