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
// The set knows nothing of the loop: EventLoop watches read_fd() and, when
// it is readable, calls read_pipe() then run_due() (and, if a handler threw,
// posts a later run_due() for the calls still owed).
//
// Internal: used by EventLoop only, on the loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace reactor::detail {

class SignalSet {
public:
    using Callback = std::function<void(int)>;

    /// Creates the pipe and takes one of the process-wide routes (64 loops
    /// at most may listen for signals at once). Throws std::system_error
    /// (errc::resource_unavailable_try_again when no route is free, or the
    /// pipe's errno).
    SignalSet();
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

    /// The pipe's read end, for the loop to watch (Readable).
    int read_fd() const noexcept { return read_fd_; }
    /// Reads the signal numbers written to the pipe and queues one call per
    /// handler registered for each.
    void read_pipe();
    /// Makes the queued calls, in order. A handler that throws leaves the
    /// calls after it queued (has_due()), and the exception propagates.
    void run_due();
    /// True while calls are queued.
    bool has_due() const noexcept { return due_next_ < due_.size(); }

private:
    struct Handler {
        std::uint64_t id;
        int signo;
        Callback cb;
    };
    int read_fd_ = -1;
    int write_fd_ = -1;
    int route_ = -1;  // this loop's index in the process-wide route table
    std::vector<Handler> handlers_;
    std::uint64_t next_id_ = 1;
    // The handler calls owed for the signals read from the pipe, in order;
    // due_next_ is the next to make. A handler that throws leaves the rest
    // here, and the loop's posted run_due() makes them (the exception
    // policy: nothing queued is lost).
    struct Call {
        int signo;
        std::uint64_t id;
    };
    std::vector<Call> due_;
    std::size_t due_next_ = 0;
};

}  // namespace reactor::detail
