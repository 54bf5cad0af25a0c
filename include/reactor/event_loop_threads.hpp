// reactor/event_loop_threads.hpp -- one loop per thread, N threads.
//
// The way to use more than one core: N threads, each running its own
// EventLoop, with every connection living on exactly one of them (its
// callbacks then never race with each other). A TcpServer with a thread
// count hands accepted connections to next_loop() in turn; other work
// reaches a particular loop through its post(), which wakes that loop.
//
// The default everywhere stays one thread, as in Node: a single loop is
// simpler to reason about and, for I/O-bound work, often fast enough.
// docs/scaling.md measures one loop against two on this machine.
//
// Lifetime: the loops are created on their own threads by the constructor
// and destroyed there by stop() (or the destructor). Whatever lives on a
// loop (connections, timers) must be finished or closed before stop(),
// e.g. with loop(i).post(...) from the owner.
#pragma once

#include <reactor/event_loop.hpp>

#include <atomic>
#include <future>
#include <cstddef>
#include <string_view>
#include <thread>
#include <vector>

namespace reactor {

class EventLoopThreads {
public:
    /// Starts `count` (>= 1) threads, each creating and running one loop on
    /// `backend` (as EventLoop's constructor chooses it), and returns once
    /// every loop exists. Throws std::system_error if a loop cannot be
    /// created (the error raised on the loop's thread, rethrown here; the
    /// threads already started are stopped first), or invalid_argument for
    /// count 0. Any thread.
    explicit EventLoopThreads(std::size_t count, std::string_view backend = {});
    /// stop().
    ~EventLoopThreads();
    EventLoopThreads(const EventLoopThreads&) = delete;
    EventLoopThreads& operator=(const EventLoopThreads&) = delete;

    /// How many loops run.
    std::size_t size() const noexcept { return loops_.size(); }
    /// Loop `i` (< size()). The reference stays valid until stop().
    EventLoop& loop(std::size_t i) const { return *loops_.at(i); }
    /// The loops in turn (round robin). Thread-safe.
    EventLoop& next_loop() noexcept {
        return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
    }

    /// Stops every loop, joins its thread and destroys the loop there.
    /// Idempotent. Must not be called from one of these loops' threads.
    void stop();

private:
    std::vector<EventLoop*> loops_;
    std::vector<std::thread> threads_;
    std::vector<std::promise<void>> releases_;  // lets thread i destroy its loop
    std::atomic<std::size_t> next_{0};
};

}  // namespace reactor
