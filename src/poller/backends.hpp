// src/poller/backends.hpp -- the backend constructors behind Poller::create().
//
// Each is defined in its own file (epoll.cpp, kqueue.cpp, poll.cpp) and
// throws std::system_error if the kernel refuses the poller. Which exist is
// decided at compile time by the macros below. Internal: not installed.
#pragma once

#include <reactor/poller.hpp>

#include <memory>

#if defined(__linux__)
#define REACTOR_HAVE_EPOLL 1
#else
#define REACTOR_HAVE_EPOLL 0
#endif

// kqueue exists on the BSDs and macOS. On Linux the test build compiles the
// same backend against the emulation in tests/kqueue_emu/ (which defines
// REACTOR_KQUEUE_EMULATION), so the whole suite runs on it there too.
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__OpenBSD__) || defined(__DragonFly__) || defined(REACTOR_KQUEUE_EMULATION)
#define REACTOR_HAVE_KQUEUE 1
#else
#define REACTOR_HAVE_KQUEUE 0
#endif

namespace reactor::detail {

#if REACTOR_HAVE_EPOLL
std::unique_ptr<Poller> make_epoll_poller();
#endif
#if REACTOR_HAVE_KQUEUE
std::unique_ptr<Poller> make_kqueue_poller();
#endif
std::unique_ptr<Poller> make_poll_poller();

}  // namespace reactor::detail
