// reactor/event_loop.hpp -- the loop: fd watchers, timers, cross-thread posts.
//
// One EventLoop belongs to one thread: the thread that constructed it. Every
// method asserts (in debug builds) that it is called on that thread, except
// post(), run_in_loop(), stop() and in_loop_thread(), which any thread may
// call.
//
// One iteration of run_once(), step by step (docs/architecture.md draws it):
//
//   1. compute the poll timeout: the time until the earliest timer (rounded
//      up, so timers never fire early) or the caller's limit, whichever is
//      shorter; -1 (no limit) when there is neither. Posted functions do not
//      enter it: post() has made the waker's fd readable, so the wait
//      returns at once. The one exception is the rest of a posted batch that
//      an exception cut short (below): then the timeout is 0;
//   2. wait in the Poller for ready fds (the waker's and the signal pipe's
//      included);
//   3. update the cached clock now();
//   4. dispatch each ready fd to its watcher's callback, re-checking before
//      each call that the watcher still exists (a callback may remove any
//      watcher; events already fetched for a removed watcher are dropped);
//   5. run every timer whose deadline is <= now(), in deadline order;
//   6. run the functions post()ed so far (the queue is swapped out under the
//      lock and run outside it; functions posted while running wait for the
//      next iteration, so a post() loop cannot starve I/O).
//
// Exceptions (docs/architecture.md, "One exception policy"): an exception
// escaping any callback leaves run() / run_once(), uncaught. The loop stays
// consistent and run() may be called again: nothing that ran runs again (a
// posted function or one-shot timer is spent before its call, a repeating
// timer is re-armed) and nothing queued is lost (the rest of the posted
// batch runs next, ahead of later posts; ready fds are reported again).
//
// Lifetime (docs/architecture.md, "One lifetime rule"): what may die inside
// its own callback stops its I/O at once and hands its memory to
// defer_release(), which drops it when the current dispatch step ends.
//
// Ownership: callbacks are moved into the loop and destroyed when their
// watcher or timer is removed (or, for a one-shot timer, after it ran).
// Destroying the loop destroys every callback it still holds without calling
// it (watchers', then timers', then posted functions'), while the loop is
// still whole, so state a callback captured may unwatch() and cancel() as it
// dies; fds are never closed by the loop.
#pragma once

#include <reactor/poller.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace reactor {

namespace detail {
class SignalSet;
class TimerQueue;
class Waker;
}  // namespace detail

/// Identifies an fd watcher. Carries a generation number, so an id whose
/// watcher was removed never matches a later watcher in the same slot.
struct WatcherId {
    std::uint64_t value = 0;  ///< 0 is never a live watcher
    explicit operator bool() const noexcept { return value != 0; }
    friend bool operator==(WatcherId, WatcherId) = default;
};

/// How the loop tracer (EventLoop::set_trace) names a watcher's fd. A kind
/// costs no memory: it lives in a byte the watcher had spare, and the
/// address a label shows is read from the socket (getsockname/getpeername)
/// only when a trace line is printed. A name is copied into a side table,
/// so only watchers that are given one pay for it.
struct WatchLabel {
    enum Kind : std::uint8_t {
        Fd,          ///< "fd 5": the default
        Named,       ///< the name given to watch(), e.g. "stdin"
        Listener,    ///< "listener 0.0.0.0:7000" (the socket's own address)
        Connection,  ///< "conn 127.0.0.1:51234" (the peer's); traced as open and close
        Connecting,  ///< "connecting 127.0.0.1:7000" (the peer's; a connect() in progress)
        Datagram,    ///< "udp 0.0.0.0:5353" (the socket's own address)
        Waker,       ///< "waker": the fd post() and stop() make readable
        Signals,     ///< "signal pipe": the fd on_signal() makes readable
    };
    WatchLabel() noexcept = default;
    WatchLabel(Kind k) noexcept : kind(k) {}
    WatchLabel(const char* n) noexcept : kind(Named), name(n) {}
    WatchLabel(std::string_view n) noexcept : kind(Named), name(n) {}
    Kind kind = Fd;
    std::string_view name;  ///< for Named; copied by watch()
};

/// Identifies a timer; generation-tagged like WatcherId, so cancelling a
/// timer that already fired (or was cancelled) is a harmless no-op.
struct TimerId {
    std::uint64_t value = 0;  ///< 0 is never a live timer
    explicit operator bool() const noexcept { return value != 0; }
    friend bool operator==(TimerId, TimerId) = default;
};

/// Identifies a signal handler registered with EventLoop::on_signal.
struct SignalId {
    std::uint64_t value = 0;  ///< 0 is never a live handler
    explicit operator bool() const noexcept { return value != 0; }
    friend bool operator==(SignalId, SignalId) = default;
};

class EventLoop {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using Duration = Clock::duration;
    using Callback = std::function<void()>;
    /// Called with the ready events (a subset of the interest, plus Hangup
    /// and Error, which are always reported). A Hangup reported to a watcher
    /// that wants Readable comes with Readable, since read() then returns
    /// the rest of the data or EOF without blocking.
    using IoCallback = std::function<void(Events)>;
    /// Called with the signal number.
    using SignalCallback = std::function<void(int)>;

    /// Creates a loop owned by the calling thread, on the backend chosen as
    /// Poller::create() chooses (REACTOR_BACKEND, else the best available).
    /// Throws std::system_error if the backend is unknown or unavailable, or
    /// if the kernel refuses a poller or wake-up fd.
    explicit EventLoop(std::string_view backend = {});
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // ---- fd watchers (callback registration) -------------------------------

    /// Calls `cb` whenever `fd` is ready for `interest` (level-triggered:
    /// again on every iteration until the condition is drained). `interest`
    /// may be NoEvents (registered but quiet). The fd stays owned by the
    /// caller, who must unwatch() before closing it. Fails (returns a null id
    /// and sets `ec`) for a negative fd (EBADF) or if the poller refuses the
    /// fd, e.g. EPERM for a regular file or directory (every backend: read
    /// those directly). `label` names the fd in the tracer's lines
    /// (`loop.watch(fd, Readable, cb, "stdin")`); the TCP and UDP classes
    /// pass a kind. Loop thread only.
    WatcherId watch(int fd, Events interest, IoCallback cb, std::error_code& ec, WatchLabel label = {});
    /// As above, but throws std::system_error on failure.
    WatcherId watch(int fd, Events interest, IoCallback cb, WatchLabel label = {});

    /// Changes what a watcher waits for; cheap when unchanged (no syscall),
    /// one syscall otherwise. This is how a connection turns Writable on
    /// when its output buffer fills and off when it drains. Returns
    /// errc::invalid_argument for a stale id. Loop thread only.
    std::error_code set_interest(WatcherId id, Events interest);

    /// Convenience: turns one interest bit on or off, leaving the others.
    std::error_code enable(WatcherId id, Events bits);
    std::error_code disable(WatcherId id, Events bits);

    /// The current interest of a live watcher (NoEvents for a stale id).
    Events interest(WatcherId id) const;

    /// Removes a watcher; its callback is destroyed after the current
    /// dispatch step, never called again (even for events already fetched).
    /// Returns false for a stale or null id. Safe inside any callback,
    /// including the watcher's own. Loop thread only.
    bool unwatch(WatcherId id);

    // ---- timers -------------------------------------------------------------

    /// Runs `cb` once, `delay` after now() (never earlier). Loop thread only.
    /// A delay that reaches past the end of the clock (Duration::max())
    /// saturates at TimePoint::max(): the timer never fires, but stays
    /// pending until cancelled.
    TimerId run_after(Duration delay, Callback cb);
    /// Runs `cb` once at `when` (immediately in the next step if past).
    TimerId run_at(TimePoint when, Callback cb);
    /// Runs `cb` every `interval` (> 0), first after one interval. The next
    /// deadline is computed from the previous deadline, not from when the
    /// callback ran, so the cadence does not drift; if the loop fell behind
    /// by whole intervals, the missed ticks are skipped, not bunched. A
    /// deadline past the end of the clock saturates as in run_after().
    TimerId run_every(Duration interval, Callback cb);
    /// Cancels a pending timer. Returns true if it was pending; false (and
    /// does nothing) for a timer that already fired, was cancelled, or a
    /// null id. Safe inside any callback, including the timer's own (a
    /// repeating timer cancelled from its own callback does not repeat).
    bool cancel(TimerId id);
    /// How many timers are pending.
    std::size_t timer_count() const noexcept;

    // ---- signals ------------------------------------------------------------

    /// Runs `cb` on the loop thread each time the process receives `signo`
    /// (deliveries that arrive close together may be coalesced into one
    /// call, as the kernel coalesces signals). Several handlers per signal
    /// and per loop are allowed; they run in registration order. While any
    /// handler is registered, the signal's previous disposition is replaced
    /// (and restored when the last handler anywhere is removed). Works the
    /// same on every backend (a self-pipe; src/loop/signal_set.hpp says why not
    /// signalfd). Throws std::system_error (invalid_argument) for SIGKILL,
    /// SIGSTOP or an out-of-range number. Loop thread only.
    SignalId on_signal(int signo, SignalCallback cb);
    /// Removes a signal handler; false for a stale id. Safe inside any
    /// callback, the handler's own included. Loop thread only.
    bool remove_signal(SignalId id);

    // ---- state of the layers above the loop ---------------------------------

    /// The base of per-loop state that a layer built on the loop keeps in
    /// it, so the loop need not know that layer: the worker pool's hand-off
    /// (reactor::queue_work, include/reactor/worker_pool.hpp) keeps its pool
    /// and its pending count in one.
    class Attachment {
    public:
        virtual ~Attachment() = default;
    };
    /// The attachment stored under `key` (by convention the address of a
    /// static object of the layer that owns it), or nullptr. Loop thread only.
    Attachment* attachment(const void* key) const noexcept;
    /// Stores `value` under `key`, destroying the one stored there before.
    /// ~EventLoop destroys the attachments first of all, newest first, while
    /// the rest of the loop is whole: what they do as they die (the
    /// worker pool's hand-off stops posting here) happens before any
    /// callback is destroyed. Loop thread only.
    void attach(const void* key, std::unique_ptr<Attachment> value);

    // ---- running ------------------------------------------------------------

    /// Runs iterations until stop() is called. Loop thread only.
    void run();
    /// Runs one iteration, waiting at most `max_wait` for something to
    /// happen (Duration::max(): only as long as the next timer, or forever).
    void run_once(Duration max_wait = Duration::max());
    /// Makes run() return after the current iteration. Any thread; it wakes
    /// the loop if it is waiting in the poller. A stop() before run() makes
    /// the next run() return after one iteration, which does not wait.
    /// From another thread, run() may return before this call does: keep
    /// the loop alive until stop() has returned (EventLoopThreads does).
    void stop();

    /// Runs `fn` on the loop thread: at once, before returning, when called
    /// there (an exception from `fn` then reaches the caller), else as
    /// post() does. The one way for a method that any thread may call to
    /// do its work on the loop (TcpConnection::close(), say). `fn` must be
    /// copyable when called from another thread (it becomes a Callback).
    /// Any thread.
    template <class Fn>
    void run_in_loop(Fn&& fn) {
        if (in_loop_thread()) {
            std::forward<Fn>(fn)();
        } else {
            post(Callback(std::forward<Fn>(fn)));
        }
    }

    /// Runs `fn` on the loop thread, in a later iteration, in posting order.
    /// Thread-safe: this is the way into the loop from other threads; it
    /// wakes the loop if it is waiting (eventfd on Linux, a pipe elsewhere).
    /// Functions still queued when the loop is destroyed are destroyed
    /// without running.
    void post(Callback fn);

    /// The one lifetime rule (docs/architecture.md, "One lifetime rule"):
    /// anything that can be closed or destroyed from inside one of its own
    /// callbacks stops its I/O and callbacks at once, then hands its memory
    /// here. The loop keeps `owner` until the current dispatch step ends
    /// (the ready fds, the due timers or the posted functions being run),
    /// then drops it, outside every callback. A std::unique_ptr converts,
    /// so both shared and sole owners use it. Destroying the loop drops
    /// what is still held. Loop thread only.
    void defer_release(std::shared_ptr<void> owner);
    /// Owners handed to defer_release() and not yet dropped.
    std::size_t deferred_count() const noexcept { return deferred_.size(); }
    /// Functions posted and not yet run. Loop thread only.
    std::size_t posted_count() const;

    /// The loop's clock, read once per iteration (after the wait); cheap.
    TimePoint now() const noexcept { return now_; }
    /// Reads the clock afresh and updates now().
    TimePoint update_now() noexcept;

    /// True when called on the loop's thread. Any thread.
    bool in_loop_thread() const noexcept { return std::this_thread::get_id() == owner_; }
    /// Asserts (debug builds) that the caller is on the loop's thread.
    void assert_in_loop_thread() const noexcept;

    /// The poller backend in use: "epoll", "kqueue" or "poll".
    std::string_view backend() const noexcept { return poller_->name(); }
    /// How many fd watchers are live (the wake-up watcher excluded).
    std::size_t watcher_count() const noexcept { return live_watchers_ - internal_watchers_; }
    /// Iterations run so far.
    std::uint64_t iteration() const noexcept { return iteration_; }

    /// The loop tracer, a teaching and debugging aid: prints each
    /// iteration to `out` (nullptr turns it off): the poll timeout and what
    /// decided it, why the wait ended (ready fds, posted work, a signal, a
    /// timer due, the timeout) and how long it took, each ready fd with its
    /// label (WatchLabel) and events, each callback's duration, each timer
    /// and posted function run, and connections opening and closing.
    /// docs/tutorial/03-one-iteration.md reads a trace line by line.
    /// Setting REACTOR_TRACE=1 in the environment turns it on, to stderr,
    /// for every loop at construction. Off, it costs one predictable branch
    /// per ready fd, timer, posted function and watch/unwatch; a library
    /// built with -DREACTOR_NO_TRACE compiles it out (set_trace is then
    /// ignored). Loop thread only.
    void set_trace(std::FILE* out) noexcept { trace_ = out; }

private:
    struct Watcher;
    Watcher* find(WatcherId id);
    const Watcher* find(WatcherId id) const;
    void dispatch_io();
    std::size_t run_posted();
    int poll_timeout_ms(Duration max_wait, const char** why) const;
    // The tracer's lines (src/loop/event_loop.cpp, "tracing").
    bool tracing() const noexcept;
    void trace_woke(int timeout, const char* why, TimePoint before_wait);
    void trace_dispatch(Watcher& w, std::uint32_t index, Events events);
    void trace_watch(const Watcher& w, std::uint32_t index, bool added);
    std::string trace_label(const Watcher& w, std::uint32_t index) const;
    void deliver_signals(bool read_pipe);

    std::unique_ptr<Poller> poller_;
    std::thread::id owner_;
    TimePoint now_;
    std::uint64_t iteration_ = 0;
    std::FILE* trace_ = nullptr;

    // Watchers live in a slot table indexed by the low 32 bits of their id;
    // the high 32 bits are the slot's generation, which changes when the
    // watcher is removed, so old ids and already-fetched events never match
    // a later watcher in the same slot. Slots are allocated in fixed chunks,
    // so a callback running in place stays put while other callbacks add
    // watchers. A removed watcher's slot (and callback) is reclaimed only
    // after the current dispatch step (reap()), since the callback being
    // run may be the one removed.
    static constexpr std::uint32_t kChunkBits = 8;
    std::vector<std::unique_ptr<Watcher[]>> watcher_chunks_;
    std::uint32_t watcher_slots_ = 0;
    std::vector<std::uint32_t> free_watchers_;
    std::vector<std::uint32_t> dead_watchers_;
    std::size_t live_watchers_ = 0;
    std::size_t internal_watchers_ = 0;  // the waker's and the signal pipe's
    std::vector<PollEvent> ready_;
    // Names given to watch() (WatchLabel::Named), by slot index: only named
    // watchers have an entry, so the others pay nothing for labels.
    std::unordered_map<std::uint32_t, std::string> watcher_names_;
    Watcher& slot(std::uint32_t index) const;
    // Ends a dispatch step: frees removed watchers' callbacks and drops the
    // owners handed to defer_release(), until neither is left (dropping one
    // may run destructors that remove or hand over more).
    void reap();
    std::vector<std::shared_ptr<void>> deferred_;

    std::unique_ptr<detail::TimerQueue> timers_;

    // Cross-thread queue. pending_ is guarded by mutex_; wake_pending_
    // avoids one wake-up write per post() while the loop is already awake.
    std::unique_ptr<detail::Waker> waker_;
    WatcherId waker_watch_;
    mutable std::mutex mutex_;
    std::vector<Callback> pending_;
    std::vector<Callback> running_;
    std::size_t running_next_ = 0;  // next of running_ to run (see run_posted)
    bool wake_pending_ = false;
    bool stop_requested_ = false;  // guarded by mutex_

    std::unique_ptr<detail::SignalSet> signals_;  // created by the first on_signal()
    WatcherId signals_watch_;                      // its pipe's read end

    std::vector<std::pair<const void*, std::unique_ptr<Attachment>>> attachments_;
};

}  // namespace reactor
