// src/poller/backends.hpp -- the backend constructors behind Poller::create().
//
// Each is defined in its own file (epoll.cpp, kqueue.cpp, poll.cpp) and
// throws std::system_error if the kernel refuses the poller. Which exist is
// decided at compile time by base/platform.hpp. Internal: not installed.
#pragma once

#include <reactor/poller.hpp>

#include "base/platform.hpp"  // REACTOR_HAVE_EPOLL, REACTOR_HAVE_KQUEUE

#include <memory>

namespace reactor::detail {

#if REACTOR_HAVE_EPOLL
std::unique_ptr<Poller> make_epoll_poller();
#endif
#if REACTOR_HAVE_KQUEUE
std::unique_ptr<Poller> make_kqueue_poller();
#endif
std::unique_ptr<Poller> make_poll_poller();

}  // namespace reactor::detail
