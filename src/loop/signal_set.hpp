// src/loop/signal_set.hpp -- POSIX signals delivered as callbacks on a loop.
//
// Mechanism: the self-pipe. A process-wide sigaction handler writes the
// signal number into a pipe owned by each loop that asked for that signal;
// the loop watches the pipe's read end like any fd and runs the callbacks on
// its own thread, where they may do anything (unlike a signal handler).
//
// Why not signalfd on Linux: signalfd only sees signals that are blocked in
// every thread of the process, and a library cannot block them in threads it
// did not create (a test runner's, a logger's); an unblocked thread would
// take the signal's default action and kill the process. Why not
// EVFILT_SIGNAL on kqueue: it also needs the signal ignored or blocked
// process-wide, and it would make signals depend on the poller backend. The
// self-pipe works the same on every backend and every POSIX system.
//
// The handler is async-signal-safe: it reads lock-free atomics and calls
// write(2) only. Tables (routes_) are process-wide, at most kMaxLoops loops
// may listen for signals at once.
//
// Internal: used by EventLoop only, on the loop thread.
#pragma once

#include <reactor/event_loop.hpp>

#include <cstdint>
#include <functional>
#include <vector>

namespace reactor::detail {

class SignalSet {
public:
    using Callback = std::function<void(int)>;

    /// Creates the pipe, registers it with `loop` and takes one of the
    /// process-wide routes (64 loops at most may listen for signals at
    /// once). Throws std::system_error (errc::resource_unavailable_try_again
    /// when no route is free, or the pipe's errno).
    explicit SignalSet(EventLoop& loop);
    ~SignalSet();
    SignalSet(const SignalSet&) = delete;
    SignalSet& operator=(const SignalSet&) = delete;

    /// Adds a handler for `signo`; returns its id. Throws std::system_error:
    /// errc::invalid_argument for a signal that cannot be caught (SIGKILL,
    /// SIGSTOP) or is out of range.
    std::uint64_t add(int signo, Callback cb);
    /// Removes a handler; false for a stale id. Safe inside a handler.
    bool remove(std::uint64_t id);
    bool empty() const noexcept { return handlers_.empty(); }

private:
    struct Handler {
        std::uint64_t id;
        int signo;
        Callback cb;
    };
    void on_readable();
    void run_due();

    EventLoop& loop_;
    int read_fd_ = -1;
    int write_fd_ = -1;
    int route_ = -1;  // this loop's index in the process-wide route table
    WatcherId watch_;
    std::vector<Handler> handlers_;
    std::uint64_t next_id_ = 1;
    // The handler calls owed for the signals read from the pipe, in order;
    // due_next_ is the next to make. A handler that throws leaves the rest
    // here, and a posted run_due() makes them (the exception policy:
    // nothing queued is lost).
    struct Call {
        int signo;
        std::uint64_t id;
    };
    std::vector<Call> due_;
    std::size_t due_next_ = 0;
};

}  // namespace reactor::detail
