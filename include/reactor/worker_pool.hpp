// reactor/worker_pool.hpp -- a small pool of threads for work that must not
// run on a loop: blocking system calls (files, DNS) and CPU-heavy jobs.
//
// A loop never blocks (DESIGN.md). When a program must call something that
// blocks, it hands the call to a WorkerPool thread and gets the result back
// on its loop as a callback: reactor::queue_work() does the hand-off, and
// reactor::fs and reactor::resolve are built on it. docs/worker-pool.md says
// when to use it.
//
// The pool, in one picture:
//
//   submit()  --> normal_ : [id 3] [id 7] [id 8]      (FIFO)   -+
//   (any thread)  slow_   : [id 5] [id 6]             (FIFO)   -+-> N threads
//                 queued_ : id -> {run, canceled}   (cancel = erase)
//
// Invariants, all under one mutex:
//  - a queued task is in queued_ and its id is in exactly one of the two
//    FIFOs; cancel() erases it from queued_ only, so a FIFO may hold ids of
//    cancelled tasks, which the threads skip;
//  - a thread takes the oldest task (smallest id) among the two FIFO heads,
//    but a Slow task only while fewer than slow_limit() Slow tasks run, so
//    slow work (a resolver that takes seconds) can hold at most half the
//    threads and file reads never wait behind it (libuv met this problem
//    with its one shared queue and added the same kind of cap);
//  - a task runs at most once, and exactly one of run() and canceled() is
//    ever called for it.
//
// Threads start lazily, at the first submit(), all N at once. Destruction
// cancels every queued task (canceled() is called, run() never is) and
// joins the threads, which finish the tasks they are running first.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace reactor {

class EventLoop;

/// Identifies work queued on a WorkerPool (directly or via
/// reactor::queue_work). Ids come from one process-wide 64-bit counter and
/// are never reused, so a stale id, or one from another pool, cancels nothing.
struct WorkId {
    std::uint64_t value = 0;  ///< 0 is never queued work
    explicit operator bool() const noexcept { return value != 0; }
    friend bool operator==(WorkId, WorkId) = default;
};

/// What kind of work a task is, for the pool's scheduling.
enum class WorkKind {
    /// CPU work and local I/O (files): short or at least predictable.
    Normal,
    /// Calls that may wait seconds on the network (getaddrinfo). At most
    /// WorkerPool::slow_limit() of them run at once.
    Slow,
};

/// The error category of queue_work failures ("reactor.work").
enum class WorkError {
    exception_thrown = 1,  ///< the work function threw; see queue_work
};
const std::error_category& work_category() noexcept;
std::error_code make_error_code(WorkError e) noexcept;

class WorkerPool {
public:
    /// The size used when REACTOR_THREADPOOL_SIZE is unset or invalid.
    static constexpr std::size_t kDefaultSize = 4;
    /// The largest size accepted; larger requests are clamped to it.
    static constexpr std::size_t kMaxSize = 1024;

    /// A pool of `threads` threads (clamped to 1..kMaxSize). No thread starts
    /// before the first submit().
    explicit WorkerPool(std::size_t threads);
    /// A pool sized by REACTOR_THREADPOOL_SIZE (see size_from_env()).
    WorkerPool();
    /// Cancels every queued task (calling its canceled() on this thread),
    /// waits for the running ones to finish, joins the threads. Must not be
    /// called from one of the pool's own threads.
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    /// The process-wide pool that loops use unless told otherwise
    /// (reactor::set_worker_pool). Created at the first call, sized by
    /// REACTOR_THREADPOOL_SIZE, destroyed at exit (after waiting for the work
    /// it is running). Thread-safe.
    static WorkerPool& default_pool();

    /// Parses a REACTOR_THREADPOOL_SIZE value: a decimal integer of 1 or
    /// more, clamped to kMaxSize. Anything else (null, empty, 0, negative,
    /// trailing characters) yields kDefaultSize: a typo in the environment
    /// must not stop a server, and the pool works at any size.
    static std::size_t size_from_env(const char* value) noexcept;

    /// Queues `run` to run once on a pool thread. If the task is cancelled
    /// before it starts (cancel(), or the pool's destruction), `canceled`
    /// runs instead, on the cancelling thread, outside the pool's lock; it
    /// may be empty. Exactly one of them is ever called. An exception
    /// escaping `run` is caught and written to stderr (the thread carries
    /// on); queue_work catches them itself and reports them to
    /// its callback. Thread-safe, pool threads included. Starts the threads
    /// on first use; throws std::system_error if not one could be started.
    /// During destruction the task is cancelled at once and the null id
    /// returned.
    WorkId submit(std::function<void()> run, std::function<void()> canceled = {},
                  WorkKind kind = WorkKind::Normal);

    /// Cancels a task that has not started: removes it from the queue and
    /// calls its `canceled` function on this thread before returning true.
    /// Returns false (and does nothing) if the task started, finished, was
    /// cancelled already, or the id is not this pool's. Thread-safe.
    bool cancel(WorkId id);

    /// The number of threads (whether started yet or not).
    std::size_t size() const noexcept { return size_; }
    /// How many Slow tasks may run at once: half the pool, rounded up.
    std::size_t slow_limit() const noexcept { return slow_limit_; }
    /// Threads started so far (0 until the first submit()). Thread-safe.
    std::size_t threads_started() const;
    /// Tasks queued and not yet started (cancelled ones excluded). Thread-safe.
    std::size_t queued() const;

private:
    struct Task {
        std::function<void()> run;
        std::function<void()> canceled;
    };
    void start_threads();  // under mutex_
    void worker_main();
    bool take(std::uint64_t& id, Task& task, bool& slow);  // under mutex_
    void skip_cancelled(std::deque<std::uint64_t>& fifo);  // under mutex_

    const std::size_t size_;
    const std::size_t slow_limit_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::unordered_map<std::uint64_t, Task> queued_;
    std::deque<std::uint64_t> normal_;
    std::deque<std::uint64_t> slow_;
    std::size_t slow_running_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// ---- work handed off from a loop (docs/worker-pool.md) ----------------------
//
// These free functions are the loop's way onto a pool. They keep their
// per-loop state (the pool chosen, the pending count) in an
// EventLoop::Attachment, so the loop itself knows nothing of the pool
// (src/work/loop_work.hpp draws the hand-off).

namespace detail {

/// The type-erased half of one queue_work call. execute() runs on a pool
/// thread; finish() later runs on the loop thread, exactly once, with no
/// error (after execute()) or with operation_canceled (instead of it). The
/// happens-before edge between them is the loop's post() queue.
class LoopWorkBase {
public:
    virtual ~LoopWorkBase() = default;
    virtual void execute() noexcept = 0;
    virtual void finish(std::error_code ec) = 0;
};

/// Writes "reactor: queue_work: work threw: <what()>" to stderr: the fate
/// of an exception whose `done` callback does not take a std::exception_ptr.
void report_work_exception(const std::exception_ptr& error) noexcept;

/// queue_work's non-template half (src/work/loop_work.cpp).
WorkId submit_loop_work(EventLoop& loop, std::shared_ptr<LoopWorkBase> work, WorkKind kind);

/// The state of one queue_work call, type-erased: execute() on the pool
/// thread, finish() on the loop thread (tests drive it directly).
template <class Work, class Done>
std::shared_ptr<LoopWorkBase> make_loop_work(Work work, Done done) {
    using Result = std::decay_t<std::invoke_result_t<Work&>>;
    constexpr bool kVoid = std::is_void_v<Result>;
    static_assert(kVoid || std::is_default_constructible_v<Result>,
                  "queue_work: the result type must be default-constructible: `done` receives "
                  "R{} with an error");
    static_assert(kVoid || std::is_move_constructible_v<Result>,
                  "queue_work: the result type must be movable");
    struct Empty {};

    // The state of this one call. The result is kept in place and moved
    // into `done`, never copied. `work` is destroyed on the pool thread
    // right after it ran; `done` and the result are destroyed on the loop
    // thread right after `done` ran, whichever thread drops the last
    // reference to this object.
    class Job final : public LoopWorkBase {
    public:
        Job(Work w, Done d) : work_(std::move(w)), done_(std::move(d)) {}

        void execute() noexcept override {
            try {
                if constexpr (kVoid) {
                    (*work_)();
                } else {
                    result_.emplace((*work_)());
                }
            } catch (...) {
                exception_ = std::current_exception();
            }
            work_.reset();
        }

        void finish(std::error_code ec) override {
            // `done` and the result die here, on the loop thread, whether
            // `done` returns or throws (the exception then leaves the loop):
            // the last reference to this object may be the pool thread's,
            // and what `done` captured (an http::Response, say) belongs to
            // the loop.
            struct Release {
                Job& self;
                ~Release() {
                    self.done_.reset();
                    self.result_.reset();
                    self.work_.reset();
                    self.exception_ = nullptr;
                }
            } release{*this};
            if (!ec && exception_) ec = make_error_code(WorkError::exception_thrown);
            const auto call = [&](auto&&... result) {
                if constexpr (std::is_invocable_v<Done&, std::error_code, decltype(result)...,
                                                  std::exception_ptr>) {
                    (*done_)(ec, std::forward<decltype(result)>(result)..., exception_);
                } else {
                    static_assert(std::is_invocable_v<Done&, std::error_code, decltype(result)...>,
                                  "queue_work: `done` must be callable as done(std::error_code, R) "
                                  "(done(std::error_code) when work returns void), optionally with a "
                                  "trailing std::exception_ptr");
                    if (exception_) report_work_exception(exception_);
                    (*done_)(ec, std::forward<decltype(result)>(result)...);
                }
            };
            if constexpr (kVoid) {
                call();
            } else if (!ec && result_) {
                call(std::move(*result_));
            } else {
                call(Result{});
            }
        }

    private:
        std::optional<Work> work_;
        std::optional<Done> done_;
        std::optional<std::conditional_t<kVoid, Empty, Result>> result_;
        std::exception_ptr exception_;
    };
    return std::make_shared<Job>(std::move(work), std::move(done));
}

}  // namespace detail

/// Runs `work()` on `loop`'s WorkerPool, then `done` on the loop's thread,
/// in a later iteration (via post()): `done(ec, result)` with the value
/// `work` returned (moved, never copied), or `done(ec)` when `work` returns
/// void. `ec` is empty on success; WorkError::exception_thrown
/// ("reactor.work") if `work` threw, with a default-constructed result;
/// std::errc::operation_canceled if the work was cancelled before it
/// started (cancel_work(), or the pool's destruction). A `done` that takes
/// a trailing std::exception_ptr gets the exception itself; otherwise its
/// what() is written to stderr. `done` runs exactly once, and never both
/// after `work` ran and with operation_canceled. Work and Done need only be
/// movable.
///
/// If the loop is destroyed first: queued work never starts; work that
/// started finishes on its thread, and its `done` is destroyed there
/// without being called (run the loop until pending_work(loop) is 0 to
/// avoid that). Loop thread only. Throws std::system_error if the pool
/// cannot start a thread.
template <class Work, class Done>
WorkId queue_work(EventLoop& loop, Work work, Done done, WorkKind kind = WorkKind::Normal) {
    return detail::submit_loop_work(loop, detail::make_loop_work(std::move(work), std::move(done)), kind);
}

/// Cancels queue_work'ed work that has not started: returns true, and its
/// `done` receives operation_canceled in a later iteration. False if it
/// already started (its `done` gets the real result) or finished, or for a
/// stale id. Loop thread only.
bool cancel_work(EventLoop& loop, WorkId id);
/// Makes later queue_work calls on `loop` (and fs, resolve) use `pool`,
/// which must outlive the loop's use of it, instead of
/// WorkerPool::default_pool(). Throws std::system_error
/// (operation_in_progress) while work queued on the previous pool is
/// pending. Loop thread only.
void set_worker_pool(EventLoop& loop, WorkerPool& pool);
/// The pool queue_work uses for `loop`. Loop thread only.
WorkerPool& worker_pool(const EventLoop& loop);
/// queue_work calls on `loop` whose `done` has not run yet. Loop thread only.
std::size_t pending_work(const EventLoop& loop);

}  // namespace reactor

template <>
struct std::is_error_code_enum<reactor::WorkError> : std::true_type {};
