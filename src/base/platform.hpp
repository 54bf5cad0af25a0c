// src/base/platform.hpp -- every "does this system have X?" decision, in one place.
//
// Each REACTOR_HAVE_* macro is 1 or 0 (test it with #if, never #ifdef), and
// every use of a call or flag that is not plain POSIX is guarded by one of
// them, with a portable fallback beside it. Nothing else in src/, tests/ or
// examples/ tests __linux__, MSG_NOSIGNAL, SOCK_NONBLOCK and the like
// directly: `make check-portable` enforces it (see below).
//
//   macro                        1 on                          fallback where 0
//   REACTOR_HAVE_EPOLL           Linux                         kqueue or poll
//   REACTOR_HAVE_KQUEUE          FreeBSD, macOS, the BSDs;     poll
//                                Linux test build (emulation)
//   REACTOR_HAVE_EVENTFD         Linux                         a non-blocking pipe (loop/waker.cpp)
//   REACTOR_HAVE_SOCK_FLAGS      Linux, the BSDs (not macOS)   socket() then fcntl(): SOCK_NONBLOCK
//                                                              and SOCK_CLOEXEC in socket()'s type
//   REACTOR_HAVE_ACCEPT4         Linux, the BSDs (not macOS)   accept() then fcntl()
//   REACTOR_HAVE_PIPE2           Linux, the BSDs (not macOS)   pipe() then fcntl()
//   REACTOR_HAVE_MSG_NOSIGNAL    where <sys/socket.h> has it   send flags 0; SO_NOSIGPIPE and the
//                                                              loop's SIG_IGN keep SIGPIPE away
//   REACTOR_HAVE_OPENAT2         Linux with <linux/openat2.h>  the portable walk (http/open_beneath.cpp)
//   REACTOR_REUSEPORT_BALANCES   Linux; FreeBSD (SO_REUSEPORT_LB)  TcpServer hands connections off
//   REACTOR_HAVE_SETFSUID        Linux                         (tests only: a root test skips a step)
//   REACTOR_HAVE_MALLINFO2       glibc 2.33+                   (benchmark only: heap not reported)
//
// And one fact that is never forced, because it is about the kernel the
// program runs on, not about which calls it makes (tests use it to expect a
// kernel's own behaviour, e.g. RST or FIN on a close with unread data):
//   REACTOR_KERNEL_LINUX         1 on Linux, also under REACTOR_FORCE_PORTABLE
//
// Any macro may be given on the command line to override the guess. With
// REACTOR_FORCE_PORTABLE=1 every Linux extra above is 0 and the build is
// what a system with plain POSIX plus kqueue would compile: `make
// check-portable` builds everything so, against the kqueue emulation, with
// the Linux-only names poisoned (tests/portable/poison.hpp), and runs the
// suites, so each fallback is compiled and exercised on Linux too.
//
// May use: system headers only. Internal: not installed.
#pragma once

#include <sys/types.h>
#include <sys/socket.h>

#ifndef REACTOR_FORCE_PORTABLE
#define REACTOR_FORCE_PORTABLE 0
#endif

#if defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || defined(__DragonFly__)
#define REACTOR_OS_BSD 1
#else
#define REACTOR_OS_BSD 0
#endif

#ifndef REACTOR_HAVE_EPOLL
#if defined(__linux__) && !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_EPOLL 1
#else
#define REACTOR_HAVE_EPOLL 0
#endif
#endif

// On Linux the test build compiles the kqueue backend against the emulation
// in tests/kqueue_emu/ (which defines REACTOR_KQUEUE_EMULATION), so the
// whole suite runs on it there too.
#ifndef REACTOR_HAVE_KQUEUE
#if defined(__APPLE__) || REACTOR_OS_BSD || defined(REACTOR_KQUEUE_EMULATION)
#define REACTOR_HAVE_KQUEUE 1
#else
#define REACTOR_HAVE_KQUEUE 0
#endif
#endif

#ifndef REACTOR_HAVE_EVENTFD
#if defined(__linux__) && !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_EVENTFD 1
#else
#define REACTOR_HAVE_EVENTFD 0
#endif
#endif

// Atomic non-blocking/close-on-exec flags at creation: with them no other
// thread can fork/exec between socket() and fcntl() and leak the fd.
#ifndef REACTOR_HAVE_SOCK_FLAGS
#if (defined(__linux__) || REACTOR_OS_BSD) && defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && \
    !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_SOCK_FLAGS 1
#else
#define REACTOR_HAVE_SOCK_FLAGS 0
#endif
#endif

#ifndef REACTOR_HAVE_ACCEPT4
#if REACTOR_HAVE_SOCK_FLAGS && (defined(__linux__) || REACTOR_OS_BSD)
#define REACTOR_HAVE_ACCEPT4 1
#else
#define REACTOR_HAVE_ACCEPT4 0
#endif
#endif

#ifndef REACTOR_HAVE_PIPE2
#if (defined(__linux__) || REACTOR_OS_BSD) && !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_PIPE2 1
#else
#define REACTOR_HAVE_PIPE2 0
#endif
#endif

// Linux and FreeBSD have MSG_NOSIGNAL; macOS gained it late.
#ifndef REACTOR_HAVE_MSG_NOSIGNAL
#if defined(MSG_NOSIGNAL) && !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_MSG_NOSIGNAL 1
#else
#define REACTOR_HAVE_MSG_NOSIGNAL 0
#endif
#endif
// The flag to pass to send(): MSG_NOSIGNAL where it exists, else 0.
#if REACTOR_HAVE_MSG_NOSIGNAL
#define REACTOR_MSG_NOSIGNAL MSG_NOSIGNAL
#else
#define REACTOR_MSG_NOSIGNAL 0
#endif

#ifndef REACTOR_HAVE_OPENAT2
#if defined(__linux__) && !REACTOR_FORCE_PORTABLE && defined(__has_include)
#if __has_include(<linux/openat2.h>)
#define REACTOR_HAVE_OPENAT2 1
#else
#define REACTOR_HAVE_OPENAT2 0
#endif
#else
#define REACTOR_HAVE_OPENAT2 0
#endif
#endif

// Does the kernel spread connections over several SO_REUSEPORT listeners?
// Linux 3.9+ does (a hash of the addresses); FreeBSD 12+ with
// SO_REUSEPORT_LB; macOS and older BSDs accept the option but do not.
#ifndef REACTOR_REUSEPORT_BALANCES
#if (defined(__linux__) && !REACTOR_FORCE_PORTABLE) || defined(SO_REUSEPORT_LB)
#define REACTOR_REUSEPORT_BALANCES 1
#else
#define REACTOR_REUSEPORT_BALANCES 0
#endif
#endif

#ifndef REACTOR_HAVE_SETFSUID
#if defined(__linux__) && !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_SETFSUID 1
#else
#define REACTOR_HAVE_SETFSUID 0
#endif
#endif

#ifndef REACTOR_HAVE_MALLINFO2
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)) && \
    !REACTOR_FORCE_PORTABLE
#define REACTOR_HAVE_MALLINFO2 1
#else
#define REACTOR_HAVE_MALLINFO2 0
#endif
#endif

#if defined(__linux__)
#define REACTOR_KERNEL_LINUX 1
#else
#define REACTOR_KERNEL_LINUX 0
#endif
