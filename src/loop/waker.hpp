// src/loop/waker.hpp -- wakes a loop that is blocked in its poller.
//
// Linux: one eventfd (a counter; one fd). Elsewhere: a non-blocking pipe
// (the classic self-pipe). The loop watches read_fd() for Readable and
// calls drain() when it fires; any thread may call wake().
// Internal: used by EventLoop only.
#pragma once

namespace reactor::detail {

class Waker {
public:
    Waker();  // throws std::system_error if the kernel refuses the fds
    ~Waker();
    Waker(const Waker&) = delete;
    Waker& operator=(const Waker&) = delete;

    int read_fd() const noexcept { return read_fd_; }
    /// Makes read_fd() readable. Thread-safe, async-signal-safe, never blocks
    /// (a full pipe already means "awake").
    void wake() noexcept;
    /// Consumes pending wake-ups. Loop thread.
    void drain() noexcept;

private:
    int read_fd_ = -1;
    int write_fd_ = -1;  // == read_fd_ for eventfd
};

}  // namespace reactor::detail
