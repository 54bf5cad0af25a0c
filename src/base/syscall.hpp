// src/base/syscall.hpp -- the one place where -1/errno becomes std::error_code.
//
// Every system call in the library goes through these helpers, so EINTR is
// retried in one place and errors leave the kernel as values (STYLE.md,
// habit 8). Internal: not installed.
#pragma once

#include <cerrno>
#include <system_error>

// The fault-injection seam. Every socket and poller system call the library
// makes is written REACTOR_SYS(name)(args...). In the shipped library that
// is the plain ::name(args...): no cost at all. The test library is built
// with -DREACTOR_FAULT_INJECTION, and there it is reactor::fault::name
// (tests/fault/), which asks the test's schedule whether to fail the call,
// cut it short or let it through, then makes the real call
// (docs/reliability.md, "Fault injection").
#ifdef REACTOR_FAULT_INJECTION
#include "fault/syscalls.hpp"
#define REACTOR_SYS(name) ::reactor::fault::name
#else
#define REACTOR_SYS(name) ::name
#endif

namespace reactor::detail {

/// The error code for the current errno.
inline std::error_code last_error() noexcept {
    return {errno, std::system_category()};
}

/// Calls `fn()` until it does not fail with EINTR. Returns its result; on
/// failure (-1) stores the errno in `ec`, else clears `ec`.
template <class Fn>
auto retry_eintr(std::error_code& ec, Fn&& fn) -> decltype(fn()) {
    for (;;) {
        auto r = fn();
        if (r != -1) {
            ec.clear();
            return r;
        }
        if (errno != EINTR) {
            ec = last_error();
            return r;
        }
    }
}

/// Throws std::system_error for `ec` with a message naming what failed.
[[noreturn]] inline void throw_error(std::error_code ec, const char* what) {
    throw std::system_error(ec, what);
}

}  // namespace reactor::detail
