// src/work/worker_pool.cpp -- the threads behind queue_work, fs and resolve.
#include <reactor/worker_pool.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace reactor {

// ---- the "reactor.work" error category -------------------------------------

namespace {

class WorkCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reactor.work"; }
    std::string message(int value) const override {
        switch (static_cast<WorkError>(value)) {
            case WorkError::exception_thrown: return "the work function threw an exception";
        }
        return "unknown reactor.work error";
    }
};

// Ids are process-wide so that an id can never name a task of another pool.
std::atomic<std::uint64_t> next_work_id{1};

std::size_t clamp_size(std::size_t n) {
    return std::clamp<std::size_t>(n, 1, WorkerPool::kMaxSize);
}

void write_stderr(const std::string& line) noexcept {
    // One fputs of the whole line, so lines from several threads do not mix.
    std::fputs(line.c_str(), stderr);
}

std::string describe(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception not derived from std::exception";
    }
}

}  // namespace

const std::error_category& work_category() noexcept {
    static const WorkCategory category;
    return category;
}

std::error_code make_error_code(WorkError e) noexcept {
    return {static_cast<int>(e), work_category()};
}

void detail::report_work_exception(const std::exception_ptr& error) noexcept {
    try {
        write_stderr("reactor: queue_work: work threw: " + describe(error) + "\n");
    } catch (...) {
        // Out of memory while reporting: the error code still says what happened.
    }
}

// ---- construction and shutdown ----------------------------------------------

std::size_t WorkerPool::size_from_env(const char* value) noexcept {
    if (value == nullptr || *value < '0' || *value > '9') return kDefaultSize;
    std::size_t n = 0;
    for (const char* p = value; *p != '\0'; ++p) {
        if (*p < '0' || *p > '9') return kDefaultSize;
        // Saturate instead of overflowing: "99999999999999999999" means "many".
        n = std::min<std::size_t>(n * 10 + static_cast<std::size_t>(*p - '0'), kMaxSize + 1);
    }
    return n == 0 ? kDefaultSize : clamp_size(n);
}

WorkerPool::WorkerPool(std::size_t threads)
    : size_(clamp_size(threads)), slow_limit_((size_ + 1) / 2) {}

WorkerPool::WorkerPool() : WorkerPool(size_from_env(std::getenv("REACTOR_THREADPOOL_SIZE"))) {}

WorkerPool& WorkerPool::default_pool() {
    // A function-local static: created on first use (thread-safe), destroyed
    // at exit, which joins the threads after they finish what they run.
    static WorkerPool pool;
    return pool;
}

WorkerPool::~WorkerPool() {
    std::vector<Task> cancelled;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        // Queue order, so that cancellations are reported in the order the
        // work was submitted.
        std::vector<std::uint64_t> ids;
        for (auto& [id, task] : queued_) ids.push_back(id);
        std::sort(ids.begin(), ids.end());
        for (std::uint64_t id : ids) cancelled.push_back(std::move(queued_[id]));
        queued_.clear();
        normal_.clear();
        slow_.clear();
    }
    wake_.notify_all();
    for (Task& task : cancelled) {
        if (task.canceled) task.canceled();
    }
    cancelled.clear();
    for (std::thread& t : threads_) t.join();
}

void WorkerPool::start_threads() {
    threads_.reserve(size_);
    while (threads_.size() < size_) {
        try {
            threads_.emplace_back([this] { worker_main(); });
        } catch (const std::system_error&) {
            // The system refused a thread (EAGAIN: a limit was reached). A
            // smaller pool still works; none at all cannot.
            if (threads_.empty()) throw;
            break;
        }
    }
}

std::size_t WorkerPool::threads_started() const {
    std::lock_guard lock(mutex_);
    return threads_.size();
}

std::size_t WorkerPool::queued() const {
    std::lock_guard lock(mutex_);
    return queued_.size();
}

// ---- submitting and cancelling ----------------------------------------------

WorkId WorkerPool::submit(std::function<void()> run, std::function<void()> canceled,
                          WorkKind kind) {
    std::unique_lock lock(mutex_);
    if (stopping_) {
        lock.unlock();
        if (canceled) canceled();
        return WorkId{};
    }
    if (threads_.empty()) start_threads();
    const std::uint64_t id = next_work_id.fetch_add(1, std::memory_order_relaxed);
    queued_.emplace(id, Task{std::move(run), std::move(canceled)});
    (kind == WorkKind::Slow ? slow_ : normal_).push_back(id);
    lock.unlock();
    wake_.notify_one();
    return WorkId{id};
}

bool WorkerPool::cancel(WorkId id) {
    Task task;
    {
        std::lock_guard lock(mutex_);
        const auto it = queued_.find(id.value);
        if (it == queued_.end()) return false;
        task = std::move(it->second);
        queued_.erase(it);
        // The id stays in its FIFO; take() skips it.
    }
    if (task.canceled) task.canceled();
    return true;
}

// ---- the threads ------------------------------------------------------------

void WorkerPool::skip_cancelled(std::deque<std::uint64_t>& fifo) {
    while (!fifo.empty() && queued_.find(fifo.front()) == queued_.end()) fifo.pop_front();
}

bool WorkerPool::take(std::uint64_t& id, Task& task, bool& slow) {
    skip_cancelled(normal_);
    skip_cancelled(slow_);
    const bool slow_allowed = !slow_.empty() && slow_running_ < slow_limit_;
    // Ids grow with submission, so the smaller head is the older task.
    if (!normal_.empty() && (!slow_allowed || normal_.front() < slow_.front())) {
        id = normal_.front();
        normal_.pop_front();
        slow = false;
    } else if (slow_allowed) {
        id = slow_.front();
        slow_.pop_front();
        slow = true;
        ++slow_running_;
    } else {
        return false;
    }
    const auto it = queued_.find(id);
    task = std::move(it->second);
    queued_.erase(it);
    return true;
}

void WorkerPool::worker_main() {
    std::unique_lock lock(mutex_);
    for (;;) {
        std::uint64_t id = 0;
        Task task;
        bool slow = false;
        wake_.wait(lock, [&] { return stopping_ || take(id, task, slow); });
        if (id == 0) return;  // stopping, and nothing was taken
        lock.unlock();
        try {
            task.run();
        } catch (...) {
            // queue_work catches its own; this is a direct submit()'s.
            try {
                write_stderr("reactor: WorkerPool: task threw: " +
                             describe(std::current_exception()) + "\n");
            } catch (...) {
            }
        }
        // Destroy what the task captured outside the lock: destructors may
        // submit more work.
        task = Task{};
        lock.lock();
        if (slow) {
            --slow_running_;
            // A Slow task may be waiting for the slot just freed; this thread
            // looks at the queue first anyway, but another may be idle.
            if (!slow_.empty()) wake_.notify_one();
        }
    }
}

}  // namespace reactor
