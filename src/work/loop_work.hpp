// src/work/loop_work.hpp -- the bridge between an EventLoop and a WorkerPool.
//
// A queue_work call crosses threads twice: loop -> pool (WorkerPool::submit)
// and pool -> loop (EventLoop::post). The second crossing must not touch a
// loop that has been destroyed meanwhile, so the tasks never hold the loop
// itself; they hold a LoopAnchor, which the loop's work state (an
// EventLoop::Attachment) detaches when the loop destroys it, first thing in
// ~EventLoop:
//
//   EventLoop --owns--> LoopWorkState --owns--> shared_ptr<LoopAnchor>
//   (knows only          { pool chosen }          { mutex, EventLoop* or null,
//    Attachment)                                    pending count }
//                                                     ^--shares-- each queued task
//
// Posting goes through the anchor under its mutex, so a detach() either
// happens before a post (which then drops the completion) or after it
// (the completion is in the loop's queue and is destroyed with the loop).
// The arrows point from the work layer down to the loop only.
//
// Internal: used by the queue_work family (src/work/loop_work.cpp) only.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/worker_pool.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>

namespace reactor::detail {

class LoopAnchor {
public:
    explicit LoopAnchor(EventLoop& loop) : loop_(&loop) {}

    /// False once the loop has begun its destruction. Any thread.
    bool alive() const;
    /// Posts `fn` to the loop if it is alive; returns whether it did. Any thread.
    bool post(std::function<void()> fn);
    /// Called when the loop destroys its work state: later posts are dropped.
    void detach();

    /// queue_work calls whose `done` has not run yet. Loop thread only.
    std::size_t pending = 0;

private:
    mutable std::mutex mutex_;
    EventLoop* loop_;
};

/// One loop's queue_work state, kept in the loop as an attachment.
class LoopWorkState final : public EventLoop::Attachment {
public:
    explicit LoopWorkState(EventLoop& loop) : anchor(std::make_shared<LoopAnchor>(loop)) {}
    ~LoopWorkState() override { anchor->detach(); }

    WorkerPool* pool = nullptr;  // null: WorkerPool::default_pool()
    const std::shared_ptr<LoopAnchor> anchor;
};

}  // namespace reactor::detail
