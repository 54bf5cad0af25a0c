// src/work/loop_work.cpp -- queue_work's two thread crossings.
#include "work/loop_work.hpp"

#include <reactor/event_loop.hpp>

namespace reactor::detail {

bool LoopAnchor::alive() const {
    std::lock_guard lock(mutex_);
    return loop_ != nullptr;
}

bool LoopAnchor::post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (loop_ == nullptr) return false;
    loop_->post(std::move(fn));
    return true;
}

void LoopAnchor::detach() {
    std::lock_guard lock(mutex_);
    loop_ = nullptr;
}

WorkId submit_loop_work(const std::shared_ptr<LoopAnchor>& anchor, WorkerPool& pool,
                        std::shared_ptr<LoopWorkBase> work, WorkKind kind) {
    // The completions run on the loop, so the loop (and the anchor) exist
    // while they run; they keep `work` alive until then.
    auto run = [anchor, work] {
        // Queued work of a loop that is gone is dropped unrun: nobody is
        // left to receive its result, and what it captured may be gone too.
        if (!anchor->alive()) return;
        work->execute();
        anchor->post([anchor, work] {
            --anchor->pending;
            work->finish({});
        });
    };
    auto canceled = [anchor, work] {
        anchor->post([anchor, work] {
            --anchor->pending;
            work->finish(std::make_error_code(std::errc::operation_canceled));
        });
    };
    // Counted before submitting: a pool that is shutting down cancels the
    // task inside submit(), and that completion decrements the count.
    ++anchor->pending;
    try {
        return pool.submit(std::move(run), std::move(canceled), kind);
    } catch (...) {
        --anchor->pending;
        throw;
    }
}

}  // namespace reactor::detail
