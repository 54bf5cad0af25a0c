// src/loop/trace.hpp -- the pieces of the loop tracer (EventLoop::set_trace)
// that need no access to the loop: the compile-time switch, timing a call,
// and a socket's address as text.
//
// The tracer's lines are written by EventLoop's private trace_* functions
// (src/loop/event_loop_trace.cpp); the loop calls them behind one branch on
// tracing(), which a library built with -DREACTOR_NO_TRACE makes a constant
// false, so the compiler drops the calls. Internal: used by EventLoop only.
#pragma once

#include "loop/timer_queue.hpp"

#include <chrono>
#include <cstdio>
#include <string>

namespace reactor::detail {

#ifdef REACTOR_NO_TRACE
inline constexpr bool kTraceCompiled = false;
#else
inline constexpr bool kTraceCompiled = true;
#endif

/// A duration in milliseconds, for printing.
inline double to_ms(std::chrono::steady_clock::duration d) noexcept {
    return std::chrono::duration<double, std::milli>(d).count();
}

/// Calls `fn`, then prints "[reactor]   WHAT ran, took X ms". An exception
/// from `fn` passes through (and the line is not printed).
template <class Fn>
void trace_call(std::FILE* out, const char* what, const Fn& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    std::fprintf(out, "[reactor]   %s ran, took %.3f ms\n", what, to_ms(std::chrono::steady_clock::now() - start));
}

/// The timer queue's observer while tracing: prints each timer it runs.
class TimerTrace final : public TimerQueue::CallObserver {
public:
    explicit TimerTrace(std::FILE* out) noexcept : out_(out) {}
    void call(const TimerQueue::Callback& cb, TimerQueue::Duration interval) override;

private:
    std::FILE* out_;
};

/// The address of a socket as text: its own (getsockname) or, with
/// `peer`, its peer's (getpeername). "127.0.0.1:7000", "[::1]:7000", a Unix
/// path, or empty when the kernel does not say (not a socket, not yet
/// connected, the peer reset).
std::string socket_address_text(int fd, bool peer);

}  // namespace reactor::detail
