// src/work/loop_work.cpp -- queue_work's two thread crossings.
#include "work/loop_work.hpp"

namespace reactor {
namespace detail {

namespace {

const char kWorkStateKey = 0;  // its address names the attachment

LoopWorkState* find_state(const EventLoop& loop) {
    return static_cast<LoopWorkState*>(loop.attachment(&kWorkStateKey));
}

LoopWorkState& state(EventLoop& loop) {
    if (LoopWorkState* s = find_state(loop)) return *s;
    auto created = std::make_unique<LoopWorkState>(loop);
    LoopWorkState& s = *created;
    loop.attach(&kWorkStateKey, std::move(created));
    return s;
}

}  // namespace

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

WorkId submit_loop_work(EventLoop& loop, std::shared_ptr<LoopWorkBase> work, WorkKind kind) {
    loop.assert_in_loop_thread();
    LoopWorkState& st = state(loop);
    const std::shared_ptr<LoopAnchor>& anchor = st.anchor;
    WorkerPool& pool = st.pool != nullptr ? *st.pool : WorkerPool::default_pool();
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

}  // namespace detail

bool cancel_work(EventLoop& loop, WorkId id) {
    loop.assert_in_loop_thread();
    return id.value != 0 && worker_pool(loop).cancel(id);
}

void set_worker_pool(EventLoop& loop, WorkerPool& pool) {
    loop.assert_in_loop_thread();
    // Ids are cancelled through the current pool: switching with work in
    // flight would make that work uncancellable.
    if (pending_work(loop) != 0 && &pool != &worker_pool(loop)) {
        throw std::system_error(std::make_error_code(std::errc::operation_in_progress),
                                "reactor: set_worker_pool with work pending");
    }
    detail::state(loop).pool = &pool;
}

WorkerPool& worker_pool(const EventLoop& loop) {
    const detail::LoopWorkState* s = detail::find_state(loop);
    return s != nullptr && s->pool != nullptr ? *s->pool : WorkerPool::default_pool();
}

std::size_t pending_work(const EventLoop& loop) {
    const detail::LoopWorkState* s = detail::find_state(loop);
    return s != nullptr ? s->anchor->pending : 0;
}

}  // namespace reactor
