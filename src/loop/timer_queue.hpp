// src/loop/timer_queue.hpp -- pending timers, ordered by deadline.
//
// Data structure: a 4-ary min-heap of (deadline, sequence, slot) entries
// over a slot table that holds each timer's callback and its position in
// the heap.
//
//        heap_ (4-ary, contiguous)               slots_ (by slot index)
//   [0] (t=5,s=9,slot=2) <-- min           [2] {cb, interval, gen=7, pos=0}
//   [1..4] children of 0                   ...
//   [4i+1 .. 4i+4] children of i
//
// Invariants:
//  - heap_[i].key <= heap_[child].key for every child; the key is
//    (deadline, sequence), so equal deadlines fire in scheduling order;
//  - slots_[heap_[i].slot].pos == i for every queued timer;
//  - a timer id is (generation << 32) | slot; a slot's generation changes
//    whenever its timer fires (one-shot) or is cancelled, so stale ids miss.
//
// Why a 4-ary heap: schedule and cancel are O(log n) with a shallow tree
// (a million timers is 10 levels), the four children of a node share a
// cache line or two, and firing in exact deadline order needs no sorting
// step (a timing wheel would, within a slot). Cancellation removes the
// entry at once (no tombstones), so a million cancelled idle timeouts
// leave no garbage behind. tests/bench/timers.cpp measures it against libuv.
//
// Internal: used by EventLoop only, on the loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace reactor::detail {

/// `ticks + delta`, saturated at the int64 limits instead of wrapping. A
/// deadline past the end of the clock means "never", so it must not wrap
/// around into the past and fire at once. Each bound is compared with a
/// difference that cannot itself wrap (max - delta only for delta > 0).
constexpr std::int64_t add_saturating(std::int64_t ticks, std::int64_t delta) noexcept {
    constexpr std::int64_t kMax = INT64_MAX;
    constexpr std::int64_t kMin = INT64_MIN;
    if (delta > 0 && ticks > kMax - delta) return kMax;
    if (delta < 0 && ticks < kMin - delta) return kMin;
    return ticks + delta;
}

/// `when + delay` on the steady clock, saturated at TimePoint::max() (a
/// timer there never fires) instead of wrapping into the past.
inline std::chrono::steady_clock::time_point deadline_after(
    std::chrono::steady_clock::time_point when, std::chrono::steady_clock::duration delay) noexcept {
    using Clock = std::chrono::steady_clock;
    return Clock::time_point(Clock::duration(
        add_saturating(when.time_since_epoch().count(), delay.count())));
}

class TimerQueue {
public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    using Duration = Clock::duration;
    using Callback = std::function<void()>;

    /// Schedules `cb` at `deadline`; `interval` > 0 makes it repeat. A
    /// repeating timer's next deadline saturates at TimePoint::max() rather
    /// than wrap (so a huge interval never fires twice). Returns the timer
    /// id (never 0).
    std::uint64_t add(TimePoint deadline, Duration interval, Callback cb);

    /// Cancels a pending (or currently running) timer. False for a stale id.
    bool cancel(std::uint64_t id);

    /// The earliest deadline, if any timer is pending.
    std::optional<TimePoint> next_deadline() const {
        if (heap_.empty()) return std::nullopt;
        return TimePoint(Duration(heap_.front().deadline));
    }

    /// Makes each call run_due() does (the loop's tracer times them): it
    /// must call `cb` once and let its exception through.
    class CallObserver {
    public:
        virtual void call(const Callback& cb, Duration interval) = 0;

    protected:
        ~CallObserver() = default;
    };

    /// Runs, in deadline order, every timer whose deadline is <= now and
    /// that was scheduled before this call. Timers the callbacks schedule
    /// wait for the next call, so a zero-delay re-arm cannot spin here
    /// forever. Returns how many callbacks ran. With an `observer`, each
    /// call goes through it (one-shot timers with a zero interval).
    std::size_t run_due(TimePoint now, CallObserver* observer = nullptr);

    std::size_t size() const noexcept { return heap_.size() + running_repeating_; }

    /// Destroys every pending timer's callback without calling it. Their
    /// ids go stale first, so a callback's captured state may cancel (a
    /// no-op) or add timers as it dies. Not from inside run_due().
    void clear();

private:
    static constexpr std::uint32_t kNotQueued = UINT32_MAX;
    static constexpr std::uint32_t kRunning = UINT32_MAX - 1;

    struct Entry {
        std::int64_t deadline;   // steady_clock ticks
        std::uint64_t sequence;  // scheduling order, breaks deadline ties
        std::uint32_t slot;
    };
    struct Slot {
        Callback cb;
        Duration interval{};
        std::uint32_t generation = 1;
        std::uint32_t pos = kNotQueued;  // index in heap_, kRunning, or kNotQueued (free)
    };

    static bool less(const Entry& a, const Entry& b) {
        return a.deadline < b.deadline || (a.deadline == b.deadline && a.sequence < b.sequence);
    }
    void push(Entry e);
    void rearm(std::uint32_t slot, std::uint32_t generation, Callback cb, std::int64_t next);
    void remove_at(std::uint32_t pos);
    void sift_up(std::uint32_t pos);
    void sift_down(std::uint32_t pos);
    void place(std::uint32_t pos, const Entry& e) {
        heap_[pos] = e;
        slots_[e.slot].pos = pos;
    }
    void free_slot(std::uint32_t slot);

    std::vector<Entry> heap_;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    std::uint64_t next_sequence_ = 0;
    std::size_t running_repeating_ = 0;
};

}  // namespace reactor::detail
