// src/loop/event_loop.cpp -- one thread, one poller, many callbacks.
#include <reactor/event_loop.hpp>

#include "base/scope_exit.hpp"
#include "loop/signal_set.hpp"
#include "base/syscall.hpp"
#include "loop/timer_queue.hpp"
#include "loop/trace.hpp"
#include "loop/waker.hpp"
#include "loop/watcher.hpp"

#include <cassert>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

namespace reactor {

namespace {

using detail::make_token;

// A process that writes to a socket whose peer is gone gets SIGPIPE, which
// kills it by default. The library sends with MSG_NOSIGNAL where it exists,
// but a pipe or a user's own write() does not; ignoring the signal once per
// process (as libuv's users and every server does) makes EPIPE an ordinary
// error everywhere. A handler the application installed is left alone.
void ignore_sigpipe_once() {
    static const bool done = [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
            ::signal(SIGPIPE, SIG_IGN);
        }
        return true;
    }();
    (void)done;
}

}  // namespace

// One branch, taken the same way on every call: a constant false when the
// tracer is compiled out (-DREACTOR_NO_TRACE), so the trace_* calls vanish.
inline bool EventLoop::tracing() const noexcept { return detail::kTraceCompiled && trace_ != nullptr; }

EventLoop::Watcher& EventLoop::slot(std::uint32_t index) const {
    // The label kind lives in what was padding: a watcher is still its
    // callback plus 16 bytes, labels or not.
    static_assert(sizeof(Watcher) <= sizeof(IoCallback) + 16);
    return watcher_chunks_[index >> kChunkBits][index & ((1u << kChunkBits) - 1)];
}

EventLoop::EventLoop(std::string_view backend)
    : poller_(Poller::create(backend)),
      owner_(std::this_thread::get_id()),
      now_(Clock::now()),
      timers_(std::make_unique<detail::TimerQueue>()),
      waker_(std::make_unique<detail::Waker>()) {
    ignore_sigpipe_once();
    if (const char* env = std::getenv("REACTOR_TRACE"); env != nullptr && std::strcmp(env, "1") == 0) {
        trace_ = stderr;
    }
    waker_watch_ = watch(waker_->read_fd(), Readable, [this](Events) { waker_->drain(); }, WatchLabel::Waker);
    internal_watchers_ = 1;
}

EventLoop::~EventLoop() {
    // First the attachments, newest first: the worker pool's hand-off stops
    // posting here before anything else is torn down.
    while (!attachments_.empty()) {
        std::unique_ptr<Attachment> last = std::move(attachments_.back().second);
        attachments_.pop_back();
        last.reset();
    }
    if (signals_) {
        unwatch(signals_watch_);
        signals_.reset();
    }
    unwatch(waker_watch_);
    // Callbacks are destroyed without being called; fds belong to their owners.
    // They are destroyed here, while every part of the loop still exists,
    // because what a callback captured may call back into the loop as it
    // dies (a server's core, destroyed, cancels its timeout sweep and
    // unwatches its listener). Watchers go first, then timers, then posted
    // functions; the member destructors then find nothing left to destroy.
    for (std::uint32_t index = 0; index < watcher_slots_; ++index) {
        const Watcher& w = slot(index);
        if (w.live) unwatch(WatcherId{make_token(index, w.generation)});
    }
    reap();
    timers_->clear();
    std::vector<Callback> posted;
    {
        std::lock_guard lock(mutex_);
        posted.swap(pending_);
    }
    posted.clear();
    running_.clear();  // the rest of a batch an exception cut short
    reap();  // what those destructors handed to defer_release()
}

void EventLoop::assert_in_loop_thread() const noexcept {
    assert(in_loop_thread() && "reactor: EventLoop used from a thread that does not own it");
}

EventLoop::TimePoint EventLoop::update_now() noexcept {
    now_ = Clock::now();
    return now_;
}

// ---- watchers ---------------------------------------------------------------

EventLoop::Watcher* EventLoop::find(WatcherId id) {
    const auto index = static_cast<std::uint32_t>(id.value & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(id.value >> 32);
    if (id.value == 0 || index >= watcher_slots_) return nullptr;
    Watcher& w = slot(index);
    return (w.live && w.generation == generation) ? &w : nullptr;
}

const EventLoop::Watcher* EventLoop::find(WatcherId id) const {
    return const_cast<EventLoop*>(this)->find(id);
}

WatcherId EventLoop::watch(int fd, Events interest, IoCallback cb, std::error_code& ec, WatchLabel label) {
    assert_in_loop_thread();
    interest &= Readable | Writable;
    // Checked here because a NoEvents watcher reaches the poller only when
    // its interest is first set, which would report the bad fd too late.
    if (fd < 0) {
        ec = std::make_error_code(std::errc::bad_file_descriptor);
        return WatcherId{};
    }
    std::uint32_t index;
    if (!free_watchers_.empty()) {
        index = free_watchers_.back();
        free_watchers_.pop_back();
    } else {
        if ((watcher_slots_ >> kChunkBits) == watcher_chunks_.size()) {
            watcher_chunks_.push_back(std::make_unique<Watcher[]>(std::size_t{1} << kChunkBits));
        }
        index = watcher_slots_++;
    }
    Watcher& w = slot(index);
    const std::uint64_t token = make_token(index, w.generation);
    if (interest != NoEvents) {
        ec = poller_->add(fd, interest, token);
        if (ec) {
            free_watchers_.push_back(index);
            return WatcherId{};
        }
    } else {
        ec.clear();
    }
    w.cb = std::move(cb);
    w.fd = fd;
    w.interest = interest;
    w.live = true;
    w.in_poller = interest != NoEvents;
    w.label = label.kind;
    if (label.kind == WatchLabel::Named) watcher_names_[index] = std::string(label.name);
    ++live_watchers_;
    if (tracing()) trace_watch(w, index, true);
    return WatcherId{token};
}

WatcherId EventLoop::watch(int fd, Events interest, IoCallback cb, WatchLabel label) {
    std::error_code ec;
    const WatcherId id = watch(fd, interest, std::move(cb), ec, label);
    if (ec) detail::throw_error(ec, "reactor: EventLoop::watch");
    return id;
}

std::error_code EventLoop::set_interest(WatcherId id, Events interest) {
    assert_in_loop_thread();
    Watcher* w = find(id);
    if (w == nullptr) return std::make_error_code(std::errc::invalid_argument);
    interest &= Readable | Writable;
    if (interest == w->interest) return {};
    std::error_code ec;
    if (interest == NoEvents) {
        // Unregister rather than register "nothing": epoll would still
        // report EPOLLHUP/EPOLLERR for an fd with no interest, level-
        // triggered, and spin the loop for a paused connection whose peer
        // has gone.
        ec = poller_->remove(w->fd);
        if (!ec) w->in_poller = false;
    } else if (w->in_poller) {
        ec = poller_->modify(w->fd, interest, id.value);
    } else {
        ec = poller_->add(w->fd, interest, id.value);
        if (!ec) w->in_poller = true;
    }
    if (!ec) w->interest = interest;
    return ec;
}

std::error_code EventLoop::enable(WatcherId id, Events bits) {
    const Watcher* w = find(id);
    if (w == nullptr) return std::make_error_code(std::errc::invalid_argument);
    return set_interest(id, w->interest | bits);
}

std::error_code EventLoop::disable(WatcherId id, Events bits) {
    const Watcher* w = find(id);
    if (w == nullptr) return std::make_error_code(std::errc::invalid_argument);
    return set_interest(id, w->interest & ~bits);
}

Events EventLoop::interest(WatcherId id) const {
    const Watcher* w = find(id);
    return w == nullptr ? NoEvents : w->interest;
}

bool EventLoop::unwatch(WatcherId id) {
    assert_in_loop_thread();
    Watcher* w = find(id);
    if (w == nullptr) return false;
    // Before the fd leaves the poller, while it is still open: the label
    // reads the socket's address.
    if (tracing()) trace_watch(*w, static_cast<std::uint32_t>(id.value & 0xffffffffu), false);
    if (w->in_poller) (void)poller_->remove(w->fd);  // fails only if the fd was already closed
    w->live = false;
    w->in_poller = false;
    // The new generation makes this id, and any event already fetched for
    // it, stale at once. The callback may be running right now, so it is
    // destroyed later, in reap().
    if (++w->generation == 0) w->generation = 1;
    dead_watchers_.push_back(static_cast<std::uint32_t>(id.value & 0xffffffffu));
    --live_watchers_;
    return true;
}

void EventLoop::reap() {
    // Destroying a callback or an owner may run destructors that unwatch
    // more watchers or defer more owners, which append to these lists:
    // take each list by value, and go round until both stay empty.
    while (!dead_watchers_.empty() || !deferred_.empty()) {
        std::vector<std::uint32_t> dead;
        dead.swap(dead_watchers_);
        for (std::uint32_t index : dead) {
            // std::exchange, not std::move: a moved-from std::function is
            // unspecified, and libc++ leaves a copy of a small target in it,
            // which would die later, perhaps after the loop. The same holds
            // wherever a callable is taken out of state that outlives it.
            IoCallback cb = std::exchange(slot(index).cb, nullptr);
            slot(index).fd = -1;
            if (slot(index).label == WatchLabel::Named) watcher_names_.erase(index);
            slot(index).label = WatchLabel::Fd;
            free_watchers_.push_back(index);
            cb = nullptr;
        }
        std::vector<std::shared_ptr<void>> owners;
        owners.swap(deferred_);
        owners.clear();
    }
}

void EventLoop::defer_release(std::shared_ptr<void> owner) {
    assert_in_loop_thread();
    if (owner) deferred_.push_back(std::move(owner));
}

void EventLoop::dispatch_io() {
    for (const PollEvent& ev : ready_) {
        const auto index = static_cast<std::uint32_t>(ev.token & 0xffffffffu);
        const auto generation = static_cast<std::uint32_t>(ev.token >> 32);
        if (index >= watcher_slots_) continue;
        Watcher& w = slot(index);
        // Removed (or removed and replaced) by an earlier callback in this
        // batch: the event belongs to a watcher that no longer exists.
        if (!w.live || w.generation != generation) continue;
        // Interest narrowed by an earlier callback: deliver only what is
        // still wanted (Hangup/Error only while something is wanted).
        if (w.interest == NoEvents) continue;
        Events events = ev.events;
        // Readable promises "data or EOF can be read without blocking". A
        // pipe whose writer has gone is reported by Linux as HUP alone
        // (pipe_poll() sets POLLIN only while data is buffered), and macOS's
        // poll() does the same for a socket whose peer closed; read() then
        // returns 0 at once, so a watcher that wants Readable is told so.
        if ((events & Hangup) != 0 && (w.interest & Readable) != 0) events |= Readable;
        events &= w.interest | Hangup | Error;
        if (events == NoEvents) continue;
        if (tracing()) {
            trace_dispatch(w, index, events);
        } else {
            w.cb(events);
        }
    }
}

// ---- timers -----------------------------------------------------------------

TimerId EventLoop::run_after(Duration delay, Callback cb) {
    if (delay < Duration::zero()) delay = Duration::zero();
    // Saturating: a delay past the end of the clock (Duration::max(), say)
    // means never; plain now_ + delay would wrap into the past and fire now.
    return run_at(detail::deadline_after(now_, delay), std::move(cb));
}

TimerId EventLoop::run_at(TimePoint when, Callback cb) {
    assert_in_loop_thread();
    return TimerId{timers_->add(when, Duration::zero(), std::move(cb))};
}

TimerId EventLoop::run_every(Duration interval, Callback cb) {
    assert_in_loop_thread();
    if (interval <= Duration::zero()) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "reactor: run_every needs a positive interval");
    }
    // Saturating, as in run_after(); the queue saturates the re-arms too.
    return TimerId{timers_->add(detail::deadline_after(now_, interval), interval, std::move(cb))};
}

bool EventLoop::cancel(TimerId id) {
    assert_in_loop_thread();
    return id.value != 0 && timers_->cancel(id.value);
}

std::size_t EventLoop::timer_count() const noexcept { return timers_->size(); }

// ---- signals ----------------------------------------------------------------

SignalId EventLoop::on_signal(int signo, SignalCallback cb) {
    assert_in_loop_thread();
    if (!signals_) {
        auto signals = std::make_unique<detail::SignalSet>();
        signals_watch_ = watch(signals->read_fd(), Readable, [this](Events) { deliver_signals(true); }, WatchLabel::Signals);
        signals_ = std::move(signals);
        ++internal_watchers_;
    }
    return SignalId{signals_->add(signo, std::move(cb))};
}

void EventLoop::deliver_signals(bool read_pipe) {
    try {
        if (read_pipe) {
            signals_->read_pipe();
        }
        signals_->run_due();
    } catch (...) {
        // The exception policy: a handler that threw leaves the calls owed
        // after it queued, and they are made in a later iteration.
        if (signals_->has_due()) post([this] { deliver_signals(false); });
        throw;
    }
}

bool EventLoop::remove_signal(SignalId id) {
    assert_in_loop_thread();
    return signals_ && id.value != 0 && signals_->remove(id.value);
}

// ---- state of the layers above the loop -------------------------------------

EventLoop::Attachment* EventLoop::attachment(const void* key) const noexcept {
    assert_in_loop_thread();
    for (const auto& [k, value] : attachments_) {
        if (k == key) return value.get();
    }
    return nullptr;
}

void EventLoop::attach(const void* key, std::unique_ptr<Attachment> value) {
    assert_in_loop_thread();
    for (auto& [k, old] : attachments_) {
        if (k == key) {
            std::swap(old, value);
            return;  // the previous one dies here, as `value` leaves scope
        }
    }
    attachments_.emplace_back(key, std::move(value));
}

// ---- running ----------------------------------------------------------------

int EventLoop::poll_timeout_ms(Duration max_wait, const char** why) const {
    // The rest of a posted batch that an exception cut short is due now.
    if (running_next_ < running_.size()) {
        *why = "the rest of a posted batch";
        return 0;
    }
    Duration wait = max_wait;
    *why = "the caller's limit";
    if (auto next = timers_->next_deadline()) {
        const Duration until = *next > now_ ? *next - now_ : Duration::zero();
        if (until < wait) {
            wait = until;
            *why = "the next timer";
        }
    }
    if (wait == Duration::max()) {
        *why = "no timer pending";
        return -1;
    }
    // Round up: a timer must never fire early. Cap to what poll() takes.
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
    return ms > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : static_cast<int>(ms);
}

void EventLoop::run_once(Duration max_wait) {
    assert_in_loop_thread();
    ++iteration_;
    update_now();  // time may have passed between iterations (callbacks, caller)
    const char* why = nullptr;
    const int timeout = poll_timeout_ms(max_wait, &why);
    const TimePoint before_wait = now_;
    if (std::error_code ec = poller_->wait(ready_, timeout)) {
        // EBADF/EINVAL/ENOMEM from the wait itself: not a per-fd condition the
        // loop can repair; a caller can catch it and shut down cleanly.
        detail::throw_error(ec, "reactor: poller wait");
    }
    update_now();
    if (tracing()) trace_woke(timeout, why, before_wait);
    // The exception policy: a callback's exception leaves run_once() from
    // the phase it was thrown in. Each phase keeps its own state consistent
    // on that path (the posted batch remembers where it stopped, a
    // repeating timer is re-armed, ready fds not yet dispatched are still
    // ready and come back on the next wait, level-triggered), and the step
    // still ends with reap(), so nothing that ran runs again and nothing
    // queued is lost.
    const detail::ScopeExit end_step([this] { reap(); });
    dispatch_io();
    reap();
    std::size_t timers_ran;
    if (tracing()) {
        detail::TimerTrace timer_trace{trace_};
        timers_ran = timers_->run_due(now_, &timer_trace);
    } else {
        timers_ran = timers_->run_due(now_);
    }
    reap();
    const std::size_t posted_ran = run_posted();
    reap();
    if (tracing() && (timers_ran != 0 || posted_ran != 0)) {
        std::fprintf(trace_, "[reactor]   timers run: %zu, posted functions run: %zu (timers pending: %zu)\n",
                     timers_ran, posted_ran, timers_->size());
    }
}

std::size_t EventLoop::run_posted() {
    // A batch cut short by an exception is finished first: its functions
    // were posted before anything now pending.
    if (running_next_ == running_.size()) {
        running_.clear();
        running_next_ = 0;
        std::lock_guard lock(mutex_);
        running_.swap(pending_);
        wake_pending_ = false;
    }
    std::size_t ran = 0;
    while (running_next_ < running_.size()) {
        // Moved out before the call, so a function that throws is consumed
        // with the others that ran: none runs twice.
        const Callback fn = std::exchange(running_[running_next_++], nullptr);
        ++ran;
        if (tracing()) {
            detail::trace_call(trace_, "posted function", fn);
        } else {
            fn();
        }
    }
    running_.clear();
    running_next_ = 0;
    return ran;
}

void EventLoop::post(Callback fn) {
    bool wake;
    {
        std::lock_guard lock(mutex_);
        pending_.push_back(std::move(fn));
        wake = !wake_pending_;
        wake_pending_ = true;
    }
    if (wake) waker_->wake();
}

std::size_t EventLoop::posted_count() const {
    assert_in_loop_thread();
    std::lock_guard lock(mutex_);
    return pending_.size() + (running_.size() - running_next_);
}

void EventLoop::stop() {
    {
        std::lock_guard lock(mutex_);
        stop_requested_ = true;
    }
    // Wake even on the loop thread: a stop() made there before run() would
    // otherwise leave run()'s first iteration asleep in the poller with
    // nothing to wake it. Inside a callback the extra wake-up costs one
    // iteration that does not wait.
    waker_->wake();
}

void EventLoop::run() {
    assert_in_loop_thread();
    for (;;) {
        run_once();
        std::lock_guard lock(mutex_);
        if (stop_requested_) {
            stop_requested_ = false;
            return;
        }
    }
}

}  // namespace reactor
