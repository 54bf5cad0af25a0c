// src/work/loop_work.hpp -- the bridge between an EventLoop and a WorkerPool.
//
// A queue_work call crosses threads twice: loop -> pool (WorkerPool::submit)
// and pool -> loop (EventLoop::post). The second crossing must not touch a
// loop that has been destroyed meanwhile, so the tasks never hold the loop
// itself; they hold a LoopAnchor, shared with the loop, which the loop
// detaches in its destructor:
//
//   EventLoop --owns--> shared_ptr<LoopAnchor> <--shares-- each queued task
//                        { mutex, EventLoop* or null, pending count }
//
// Posting goes through the anchor under its mutex, so a detach() either
// happens before a post (which then drops the completion) or after it
// (the completion is in the loop's queue and is destroyed with the loop).
//
// Internal: used by EventLoop only.
#pragma once

#include <reactor/worker_pool.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>

namespace reactor {
class EventLoop;
}

namespace reactor::detail {

class LoopAnchor {
public:
    explicit LoopAnchor(EventLoop& loop) : loop_(&loop) {}

    /// False once the loop has begun its destruction. Any thread.
    bool alive() const;
    /// Posts `fn` to the loop if it is alive; returns whether it did. Any thread.
    bool post(std::function<void()> fn);
    /// Called first thing by ~EventLoop: later posts are dropped.
    void detach();

    /// queue_work calls whose `done` has not run yet. Loop thread only.
    std::size_t pending = 0;

private:
    mutable std::mutex mutex_;
    EventLoop* loop_;
};

/// Submits `work` to `pool` on behalf of the loop behind `anchor`. When it
/// has run, work->finish({}) is posted to the loop; if it is cancelled
/// before it started, work->finish(operation_canceled) is; if the loop is
/// destroyed first, neither (the work does not even start if it has not).
/// Loop thread only. Throws what WorkerPool::submit throws.
WorkId submit_loop_work(const std::shared_ptr<LoopAnchor>& anchor, WorkerPool& pool,
                        std::shared_ptr<LoopWorkBase> work, WorkKind kind);

}  // namespace reactor::detail
