// src/loop/timer_queue.cpp -- the 4-ary heap behind EventLoop's timers.
#include "loop/timer_queue.hpp"

#include <cassert>
#include <utility>

namespace reactor::detail {

std::uint64_t TimerQueue::add(TimePoint deadline, Duration interval, Callback cb) {
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.cb = std::move(cb);
    s.interval = interval;
    push(Entry{deadline.time_since_epoch().count(), next_sequence_++, slot});
    return (std::uint64_t{s.generation} << 32) | slot;
}

bool TimerQueue::cancel(std::uint64_t id) {
    const auto slot = static_cast<std::uint32_t>(id & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(id >> 32);
    if (slot >= slots_.size()) return false;
    Slot& s = slots_[slot];
    if (s.generation != generation || s.pos == kNotQueued) return false;
    if (s.pos == kRunning) {
        // A repeating timer cancelled from its own callback (or from another
        // callback it triggered): run_due sees the new generation and drops it.
        --running_repeating_;
        if (++s.generation == 0) s.generation = 1;  // ids are never 0
        s.pos = kNotQueued;
        return true;
    }
    remove_at(s.pos);
    s.cb = nullptr;
    free_slot(slot);
    return true;
}

void TimerQueue::clear() {
    std::vector<Callback> dying;
    dying.reserve(heap_.size());
    while (!heap_.empty()) {
        const std::uint32_t slot = heap_.back().slot;
        heap_.pop_back();  // the last entry: the rest is still a heap
        dying.push_back(std::exchange(slots_[slot].cb, nullptr));
        free_slot(slot);
    }
    dying.clear();  // outside the queue's own state, which is consistent again
}

void TimerQueue::free_slot(std::uint32_t slot) {
    Slot& s = slots_[slot];
    ++s.generation;
    if (s.generation == 0) s.generation = 1;  // ids are never 0
    s.pos = kNotQueued;
    free_.push_back(slot);
}

std::size_t TimerQueue::run_due(TimePoint now, CallObserver* observer) {
    const std::int64_t limit = now.time_since_epoch().count();
    const std::uint64_t sequence_limit = next_sequence_;  // entries queued before this call
    std::size_t ran = 0;
    while (!heap_.empty() && heap_.front().deadline <= limit) {
        const Entry top = heap_.front();
        // Timers scheduled by the callbacks of this call wait for the next
        // iteration, so a callback that re-arms itself with zero delay cannot
        // keep the loop here forever (I/O would starve).
        if (top.sequence >= sequence_limit) break;
        remove_at(0);
        Slot& s = slots_[top.slot];
        Callback cb = std::exchange(s.cb, nullptr);
        ++ran;
        if (s.interval.count() <= 0) {
            // One-shot: the id goes stale before the call, so cancel() from
            // inside the callback is the documented no-op.
            free_slot(top.slot);
            if (observer != nullptr) {
                observer->call(cb, Duration::zero());
            } else {
                cb();
            }
            continue;
        }
        // Repeating: next deadline from the previous one, not from now, so the
        // cadence does not drift; ticks the loop missed are skipped. A deadline
        // beyond the end of the clock saturates at its maximum (never due)
        // instead of wrapping into the past, where it would fire at once.
        const std::int64_t interval = s.interval.count();
        std::int64_t next = add_saturating(top.deadline, interval);
        if (next <= limit) {
            // Skip the whole intervals missed, then add one: the first grid
            // point after `limit`. limit - next is taken in unsigned
            // arithmetic, where it cannot wrap (limit >= next); the whole
            // intervals it holds land on or before `limit`, so only the last
            // step can pass the end of the clock, and that one saturates.
            const auto behind = static_cast<std::uint64_t>(limit) - static_cast<std::uint64_t>(next);
            const auto step = static_cast<std::uint64_t>(interval);
            next = static_cast<std::int64_t>(static_cast<std::uint64_t>(next) + behind / step * step);
            next = add_saturating(next, interval);
        }
        const std::uint32_t generation = s.generation;
        s.pos = kRunning;
        ++running_repeating_;
        // May add timers (slots_ may move) or cancel this one. If it throws,
        // the exception leaves run_due() (the loop's exception policy) with
        // the timer re-armed for its next tick, as if the call had returned.
        try {
            if (observer != nullptr) {
                observer->call(cb, Duration(interval));
            } else {
                cb();
            }
        } catch (...) {
            rearm(top.slot, generation, std::move(cb), next);
            throw;
        }
        rearm(top.slot, generation, std::move(cb), next);
    }
    return ran;
}

// After a repeating timer's call: queues it again for `next`, or frees its
// slot if the call cancelled it.
void TimerQueue::rearm(std::uint32_t slot, std::uint32_t generation, Callback cb,
                       std::int64_t next) {
    Slot& after = slots_[slot];
    if (after.generation != generation) {
        // Cancelled while running: free the slot now that the call is over.
        // cancel() already bumped the generation; return the slot.
        free_.push_back(slot);
        return;
    }
    --running_repeating_;
    after.cb = std::move(cb);
    push(Entry{next, next_sequence_++, slot});
}

void TimerQueue::push(Entry e) {
    heap_.push_back(e);
    const auto pos = static_cast<std::uint32_t>(heap_.size() - 1);
    slots_[e.slot].pos = pos;
    sift_up(pos);
}

void TimerQueue::remove_at(std::uint32_t pos) {
    const auto last = static_cast<std::uint32_t>(heap_.size() - 1);
    if (pos != last) {
        place(pos, heap_[last]);
        heap_.pop_back();
        if (pos > 0 && less(heap_[pos], heap_[(pos - 1) / 4])) {
            sift_up(pos);
        } else {
            sift_down(pos);
        }
    } else {
        heap_.pop_back();
    }
}

void TimerQueue::sift_up(std::uint32_t pos) {
    const Entry e = heap_[pos];
    while (pos > 0) {
        const std::uint32_t parent = (pos - 1) / 4;
        if (!less(e, heap_[parent])) break;
        place(pos, heap_[parent]);
        pos = parent;
    }
    place(pos, e);
}

void TimerQueue::sift_down(std::uint32_t pos) {
    const Entry e = heap_[pos];
    const auto n = static_cast<std::uint32_t>(heap_.size());
    for (;;) {
        const std::uint32_t first = 4 * pos + 1;
        if (first >= n) break;
        std::uint32_t best = first;
        const std::uint32_t end = first + 4 < n ? first + 4 : n;
        for (std::uint32_t c = first + 1; c < end; ++c) {
            if (less(heap_[c], heap_[best])) best = c;
        }
        if (!less(heap_[best], e)) break;
        place(pos, heap_[best]);
        pos = best;
    }
    place(pos, e);
}

}  // namespace reactor::detail
