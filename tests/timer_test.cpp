// runs-on: every backend
// tests/timer_test.cpp -- EventLoop's timers, as a specification: order,
// never early, the cancel paths, ids that cannot alias, cadence without
// drift, fairness with I/O, and a million pending timers.
//
// Waits are bounded (run_until / run_for); nothing asserts that the machine
// is fast, only that a timer is never early and that order and counts hold.
// Every test ends with timer_count() == 0 and no live watcher.
#include "test_util.hpp"
#include "loop/timer_queue.hpp"

#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

using Clock = EventLoop::Clock;
using TimePoint = EventLoop::TimePoint;
using Duration = EventLoop::Duration;
using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr auto kQuiet = milliseconds(30);

}  // namespace

// ---- order and punctuality -------------------------------------------------------

TEST_CASE("timers fire in deadline order, whatever the order they were scheduled in") {
    EventLoop loop;
    std::vector<int> delays_us(100);
    std::iota(delays_us.begin(), delays_us.end(), 0);
    for (int& d : delays_us) d *= 250;  // 0, 250us, ..., 24.75ms: all distinct
    std::mt19937 rng(20240601);
    std::shuffle(delays_us.begin(), delays_us.end(), rng);

    std::vector<int> fired;
    for (int d : delays_us) {
        loop.run_after(microseconds(d), [&fired, d] { fired.push_back(d); });
    }
    CHECK(loop.timer_count() == 100);
    REQUIRE(run_until(loop, [&] { return fired.size() == 100; }));
    CHECK(std::is_sorted(fired.begin(), fired.end()));
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("timers with the same deadline fire in the order they were scheduled") {
    EventLoop loop;
    std::vector<int> fired;
    SUBCASE("run_at, one time point") {
        const TimePoint when = loop.now() + milliseconds(2);
        for (int i = 0; i < 50; ++i) loop.run_at(when, [&fired, i] { fired.push_back(i); });
    }
    SUBCASE("run_after, one delay (now() is the same for every call)") {
        for (int i = 0; i < 50; ++i) loop.run_after(milliseconds(2), [&fired, i] { fired.push_back(i); });
    }
    SUBCASE("interleaved with an earlier and a later deadline") {
        const TimePoint when = loop.now() + milliseconds(2);
        for (int i = 0; i < 50; ++i) {
            loop.run_at(when, [&fired, i] { fired.push_back(i); });
            loop.run_at(when + milliseconds(1), [&fired] { fired.push_back(1000); });
            loop.run_at(when - milliseconds(1), [&fired] { fired.push_back(-1); });
        }
        REQUIRE(run_until(loop, [&] { return fired.size() == 150; }));
        CHECK(std::count(fired.begin(), fired.begin() + 50, -1) == 50);
        CHECK(std::count(fired.end() - 50, fired.end(), 1000) == 50);
        fired = std::vector<int>(fired.begin() + 50, fired.end() - 50);
    }
    REQUIRE(run_until(loop, [&] { return fired.size() == 50; }));
    std::vector<int> expected(50);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(fired == expected);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a timer never fires before its deadline") {
    EventLoop loop;
    // Sub-millisecond delays matter most: the poll timeout is in whole
    // milliseconds, so it must be rounded up, never down.
    const Duration delays[] = {Duration::zero(), microseconds(1), microseconds(300),
                               microseconds(999), milliseconds(1), microseconds(1500),
                               milliseconds(2), microseconds(7300), milliseconds(10)};
    int fired = 0;
    int early = 0;
    for (int round = 0; round < 3; ++round) {
        for (const Duration d : delays) {
            const TimePoint deadline = loop.now() + d;
            loop.run_after(d, [&, deadline] {
                ++fired;
                if (Clock::now() < deadline || loop.now() < deadline) ++early;
            });
        }
        // Let some time pass between rounds, so later rounds start from a
        // different phase of the millisecond.
        run_for(loop, milliseconds(3));
    }
    REQUIRE(run_until(loop, [&] { return fired == 3 * static_cast<int>(std::size(delays)); }));
    CHECK(early == 0);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("run_at a time in the past fires in the next iteration") {
    EventLoop loop;
    bool fired = false;
    std::uint64_t fired_in = 0;
    SUBCASE("one second ago") {
        loop.run_at(loop.now() - std::chrono::seconds(1), [&] {
            fired = true;
            fired_in = loop.iteration();
        });
    }
    SUBCASE("run_after with a negative delay behaves the same") {
        loop.run_after(-milliseconds(5), [&] {
            fired = true;
            fired_in = loop.iteration();
        });
    }
    const std::uint64_t before = loop.iteration();
    // With nothing else to do, this iteration would wait the whole limit if
    // the timer were not already due.
    loop.run_once(kDeadline);
    CHECK(fired);
    CHECK(fired_in == before + 1);
    CHECK(loop.timer_count() == 0);
}

// ---- cancel -------------------------------------------------------------------------

TEST_CASE("cancel before the timer fires: returns true, the callback never runs") {
    EventLoop loop;
    bool ran = false;
    const TimerId id = loop.run_after(milliseconds(5), [&] { ran = true; });
    CHECK(loop.timer_count() == 1);
    CHECK(loop.cancel(id));
    CHECK(loop.timer_count() == 0);
    SUBCASE("cancel twice: the second is a no-op") { CHECK_FALSE(loop.cancel(id)); }
    SUBCASE("nothing else") {}
    run_for(loop, kQuiet);
    CHECK_FALSE(ran);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("cancel after the timer fired returns false") {
    EventLoop loop;
    int ran = 0;
    const TimerId id = loop.run_after(milliseconds(1), [&] { ++ran; });
    REQUIRE(run_until(loop, [&] { return ran > 0; }));
    CHECK_FALSE(loop.cancel(id));
    CHECK_FALSE(loop.cancel(TimerId{}));  // the null id, too
    CHECK(ran == 1);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("cancel from inside the timer's own callback") {
    EventLoop loop;
    SUBCASE("one-shot: it already fired, so cancel returns false") {
        TimerId id;
        int ran = 0;
        bool cancelled = true;
        id = loop.run_after(milliseconds(1), [&] {
            ++ran;
            cancelled = loop.cancel(id);
        });
        REQUIRE(run_until(loop, [&] { return ran > 0; }));
        CHECK_FALSE(cancelled);
        run_for(loop, kQuiet);
        CHECK(ran == 1);
    }
    SUBCASE("repeating: cancel returns true and it never repeats") {
        TimerId id;
        int ran = 0;
        bool cancelled = false;
        bool cancelled_again = true;
        id = loop.run_every(milliseconds(2), [&] {
            ++ran;
            CHECK(loop.timer_count() == 1);  // pending while its callback runs
            cancelled = loop.cancel(id);
            cancelled_again = loop.cancel(id);
            CHECK(loop.timer_count() == 0);
        });
        REQUIRE(run_until(loop, [&] { return ran > 0; }));
        CHECK(cancelled);
        CHECK_FALSE(cancelled_again);
        run_for(loop, kQuiet);  // many intervals
        CHECK(ran == 1);
    }
    SUBCASE("repeating, after some ticks") {
        TimerId id;
        int ran = 0;
        id = loop.run_every(milliseconds(1), [&] {
            if (++ran == 3) CHECK(loop.cancel(id));
        });
        REQUIRE(run_until(loop, [&] { return ran >= 3; }));
        run_for(loop, kQuiet);
        CHECK(ran == 3);
    }
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a callback cancelling another timer due in the same iteration: it does not run") {
    EventLoop loop;
    // Both are due before the iteration starts; equal deadlines run in
    // scheduling order, so `first` runs first and cancels `second`.
    const TimePoint when = loop.now() + milliseconds(1);
    bool first_ran = false;
    bool second_ran = false;
    bool cancelled = false;
    TimerId second;
    loop.run_at(when, [&] {
        first_ran = true;
        cancelled = loop.cancel(second);
    });
    SUBCASE("one-shot victim") { second = loop.run_at(when, [&] { second_ran = true; }); }
    SUBCASE("repeating victim") {
        second = loop.run_every(when - loop.now(), [&] { second_ran = true; });
    }
    std::this_thread::sleep_for(milliseconds(2));  // both are overdue now
    loop.run_once(kDeadline);
    CHECK(first_ran);
    CHECK(cancelled);
    run_for(loop, kQuiet);
    CHECK_FALSE(second_ran);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a stale TimerId cancels nothing, even after its slot is reused") {
    EventLoop loop;
    int a_ran = 0;
    int b_ran = 0;
    const TimerId a = loop.run_after(Duration::zero(), [&] { ++a_ran; });
    REQUIRE(run_until(loop, [&] { return a_ran > 0; }));
    const TimerId b = loop.run_after(milliseconds(1), [&] { ++b_ran; });
    // The slot (low 32 bits) was reused; the generation (high bits) differs.
    CHECK((b.value & 0xffffffffu) == (a.value & 0xffffffffu));
    CHECK(a != b);
    CHECK_FALSE(loop.cancel(a));
    CHECK(loop.timer_count() == 1);
    REQUIRE(run_until(loop, [&] { return b_ran > 0; }));
    CHECK(a_ran == 1);
    CHECK(b_ran == 1);
    CHECK(loop.timer_count() == 0);
}

// ---- fairness -------------------------------------------------------------------------

TEST_CASE("a timer re-arming itself with zero delay does not starve I/O") {
    EventLoop loop;
    auto r_w = make_pipe();  // not a structured binding: lambdas capture these (clang 14)
    auto& r = r_w.first;
    auto& w = r_w.second;
    int io_calls = 0;
    int rearms_at_io = -1;
    int rearms = 0;
    const WatcherId wid = loop.watch(r.get(), Readable, [&](Events) {
        if (io_calls++ == 0) rearms_at_io = rearms;
        read_some(r.get());
    });
    // After 10 re-arms the timer makes the pipe readable; it keeps re-arming
    // up to a bound far beyond what fair scheduling needs, so a starving
    // loop fails this test instead of hanging it.
    constexpr int kBound = 100000;
    TimerId tid;
    std::function<void()> tick = [&] {
        ++rearms;
        if (rearms == 10) write_all(w.get(), "x");
        if (rearms < kBound && io_calls == 0) tid = loop.run_after(Duration::zero(), tick);
    };
    tid = loop.run_after(Duration::zero(), tick);
    REQUIRE(run_until(loop, [&] { return io_calls > 0; }));
    // Each iteration runs due timers once, then the next iteration polls:
    // the watcher runs one iteration after the write.
    CHECK(rearms_at_io == 10);
    loop.cancel(tid);
    CHECK(loop.timer_count() == 0);
    CHECK(loop.unwatch(wid));
    CHECK(loop.watcher_count() == 0);
}

// ---- repeating timers -------------------------------------------------------------------

TEST_CASE("a repeating timer keeps its cadence: each deadline follows the previous one") {
    EventLoop loop;
    const Duration interval = milliseconds(20);
    struct Tick {
        TimePoint now;
        std::uint64_t iteration;
    };
    std::vector<Tick> ticks;
    const TimePoint start = loop.now();  // run_every counts from now()
    const TimerId id = loop.run_every(interval, [&] {
        ticks.push_back({loop.now(), loop.iteration()});
        // The second tick stalls the loop for three and a half intervals.
        if (ticks.size() == 2) std::this_thread::sleep_for(interval * 7 / 2);
    });
    REQUIRE(run_until(loop, [&] { return ticks.size() >= 6; }));
    CHECK(loop.cancel(id));

    // Replay the schedule the specification implies and check each tick
    // against it: the first deadline is start + interval; the next is the
    // previous deadline + interval, or, if the loop has already passed that,
    // the first multiple of the interval (counted from start) after now.
    TimePoint due = start + interval;
    for (std::size_t k = 0; k < ticks.size(); ++k) {
        INFO("tick " << k);
        CHECK(ticks[k].now >= due);  // never early
        CHECK(ticks[k].now >= start + interval * static_cast<int>(k + 1));
        TimePoint next = due + interval;
        if (next <= ticks[k].now) next = start + interval * ((ticks[k].now - start) / interval + 1);
        due = next;
    }
    // The tick after the stall was overdue by then (its deadline came from
    // the previous deadline, not from when the stalled callback returned),
    // so it ran in the very next iteration...
    CHECK(ticks[2].iteration == ticks[1].iteration + 1);
    // ... and the ticks missed during the stall were skipped, not bunched:
    // fewer ticks than whole intervals elapsed.
    const auto elapsed_intervals = (ticks.back().now - start) / interval;
    CHECK(static_cast<long>(ticks.size()) <= static_cast<long>(elapsed_intervals) - 2);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("the timer heap's repeating deadlines form an arithmetic progression") {
    // The same rule as above on the loop's internal queue, driven by a
    // synthetic clock, so every deadline can be checked exactly.
    detail::TimerQueue queue;
    const TimePoint t0 = TimePoint{} + std::chrono::hours(1);
    const Duration step = milliseconds(10);
    int ticks = 0;
    queue.add(t0 + step, step, [&] { ++ticks; });
    REQUIRE(queue.next_deadline());
    CHECK(*queue.next_deadline() == t0 + step);

    CHECK(queue.run_due(t0 + step - Duration(1)) == 0);  // one tick early: nothing
    CHECK(queue.run_due(t0 + step) == 1);
    CHECK(*queue.next_deadline() == t0 + 2 * step);
    // Run 3 ms late: the next deadline stays on the grid (no drift).
    CHECK(queue.run_due(t0 + 2 * step + milliseconds(3)) == 1);
    CHECK(*queue.next_deadline() == t0 + 3 * step);
    // Stalled past three deadlines: one late tick, the missed ones skipped.
    CHECK(queue.run_due(t0 + 6 * step + milliseconds(5)) == 1);
    CHECK(*queue.next_deadline() == t0 + 7 * step);
    CHECK(queue.run_due(t0 + 7 * step) == 1);
    CHECK(*queue.next_deadline() == t0 + 8 * step);
    CHECK(ticks == 4);
    CHECK(queue.size() == 1);
}

TEST_CASE("run_every with a zero or negative interval throws std::system_error") {
    EventLoop loop;
    for (const Duration bad : {Duration::zero(), Duration(-milliseconds(1))}) {
        try {
            loop.run_every(bad, [] {});
            FAIL("run_every accepted a non-positive interval");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::invalid_argument);
        }
    }
    CHECK(loop.timer_count() == 0);
}

// ---- delays past the end of the clock ------------------------------------------------------

// A delay so long that now() + delay does not fit the clock saturates at
// TimePoint::max(): the timer never fires (it used to wrap into the past and
// fire at once). It stays pending and can be cancelled like any other.
TEST_CASE("a delay past the end of the clock never fires and can be cancelled") {
    EventLoop loop;
    // The smallest delay that overflows: one tick past TimePoint::max().
    const Duration just_past = (TimePoint::max() - loop.now()) + Duration(1);
    bool fired = false;
    TimerId id;
    SUBCASE("run_after(Duration::max())") {
        id = loop.run_after(Duration::max(), [&] { fired = true; });
    }
    SUBCASE("run_after one tick past the end of the clock") {
        id = loop.run_after(just_past, [&] { fired = true; });
    }
    SUBCASE("run_after exactly to the end of the clock") {
        id = loop.run_after(just_past - Duration(1), [&] { fired = true; });
    }
    SUBCASE("run_every(Duration::max())") {
        id = loop.run_every(Duration::max(), [&] { fired = true; });
    }
    SUBCASE("run_every one tick past the end of the clock") {
        id = loop.run_every(just_past, [&] { fired = true; });
    }
    SUBCASE("run_at(TimePoint::max())") {
        id = loop.run_at(TimePoint::max(), [&] { fired = true; });
    }
    // A nearer timer still fires on time: the far one does not hold up the
    // poll timeout either way.
    bool near_fired = false;
    loop.run_after(milliseconds(5), [&] { near_fired = true; });
    run_for(loop, milliseconds(50));
    CHECK(near_fired);
    CHECK_FALSE(fired);
    CHECK(loop.timer_count() == 1);
    CHECK(loop.cancel(id));
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a repeating timer whose next deadline would pass the end of the clock saturates") {
    // The re-arm path, on the queue with a synthetic clock: the first
    // deadline fits, the second (deadline + interval) does not. It must land
    // on TimePoint::max(), not wrap into the past and fire again at once.
    detail::TimerQueue queue;
    const TimePoint t0 = TimePoint{} + std::chrono::hours(1);
    const Duration interval = Duration::max() / 2 + Duration(1);
    int ticks = 0;
    queue.add(t0 + interval, interval, [&] { ++ticks; });
    CHECK(queue.run_due(t0 + interval) == 1);
    REQUIRE(queue.next_deadline());
    CHECK(*queue.next_deadline() == TimePoint::max());
    CHECK(queue.run_due(t0 + interval + Duration(1)) == 0);
    CHECK(ticks == 1);

    // Late by whole intervals near the end of the clock: the skip-ahead
    // saturates too.
    detail::TimerQueue late;
    const TimePoint start = TimePoint::max() - milliseconds(25);
    late.add(start, milliseconds(10), [&] { ++ticks; });
    CHECK(late.run_due(TimePoint::max() - Duration(1)) == 1);
    REQUIRE(late.next_deadline());
    CHECK(*late.next_deadline() == TimePoint::max());
    CHECK(ticks == 2);
}

TEST_CASE("saturating deadline arithmetic") {
    using detail::add_saturating;
    constexpr std::int64_t kMax = INT64_MAX;
    constexpr std::int64_t kMin = INT64_MIN;
    CHECK(add_saturating(1, 2) == 3);
    CHECK(add_saturating(kMax - 1, 1) == kMax);
    CHECK(add_saturating(kMax - 1, 2) == kMax);
    CHECK(add_saturating(1, kMax) == kMax);
    CHECK(add_saturating(-1, kMax) == kMax - 1);
    CHECK(add_saturating(kMin + 1, -1) == kMin);
    CHECK(add_saturating(kMin + 1, -2) == kMin);
    CHECK(add_saturating(-1, kMin) == kMin);
    CHECK(add_saturating(kMax, kMin) == -1);
    const TimePoint t = TimePoint{} + std::chrono::hours(1);
    CHECK(detail::deadline_after(t, Duration::max()) == TimePoint::max());
    CHECK(detail::deadline_after(t, milliseconds(1)) == t + milliseconds(1));
}

// ---- counting and scale --------------------------------------------------------------------

TEST_CASE("timer_count() tracks pending timers") {
    EventLoop loop;
    CHECK(loop.timer_count() == 0);
    bool fired = false;
    std::size_t count_inside = 99;
    loop.run_after(Duration::zero(), [&] {
        fired = true;
        count_inside = loop.timer_count();
    });
    const TimerId later = loop.run_after(std::chrono::hours(1), [] {});
    const TimerId every = loop.run_every(std::chrono::hours(1), [] {});
    CHECK(loop.timer_count() == 3);
    REQUIRE(run_until(loop, [&] { return fired; }));
    CHECK(count_inside == 2);  // a one-shot is no longer pending while it runs
    CHECK(loop.timer_count() == 2);
    CHECK(loop.cancel(later));
    CHECK(loop.timer_count() == 1);
    CHECK(loop.cancel(every));
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a million timers scheduled and cancelled leave nothing pending") {
    EventLoop loop;
    constexpr std::size_t kTimers = 1000000;
    std::mt19937 rng(7);
    std::uniform_int_distribution<int> delay_ms(1000, 1000000);
    std::vector<TimerId> ids;
    ids.reserve(kTimers);
    int ran = 0;
    for (std::size_t i = 0; i < kTimers; ++i) {
        ids.push_back(loop.run_after(milliseconds(delay_ms(rng)), [&ran] { ++ran; }));
    }
    CHECK(loop.timer_count() == kTimers);
    // Cancel in random order: most removals are from the middle of the heap.
    std::shuffle(ids.begin(), ids.end(), rng);
    std::size_t cancelled = 0;
    for (std::size_t i = 0; i < kTimers; ++i) {
        cancelled += loop.cancel(ids[i]) ? 1 : 0;
        if (i == kTimers / 2) CHECK(loop.timer_count() == kTimers - cancelled);
    }
    CHECK(cancelled == kTimers);
    CHECK(loop.timer_count() == 0);
    // Every id is stale now.
    std::size_t cancelled_again = 0;
    for (std::size_t i = 0; i < kTimers; i += 1000) cancelled_again += loop.cancel(ids[i]) ? 1 : 0;
    CHECK(cancelled_again == 0);
    // The emptied queue works as new.
    bool fired = false;
    loop.run_after(Duration::zero(), [&] { fired = true; });
    REQUIRE(run_until(loop, [&] { return fired; }));
    CHECK(ran == 0);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("destroying the loop destroys pending timers' callbacks without calling them") {
    struct CancelsOnDeath {
        EventLoop* loop;
        TimerId other;
        ~CancelsOnDeath() { loop->cancel(other); }  // must be safe in ~EventLoop
    };
    auto state = std::make_shared<int>(0);
    const std::weak_ptr<int> watch_state = state;
    int ran = 0;
    {
        EventLoop loop;
        const TimerId first = loop.run_after(std::chrono::hours(1), [&ran, state] { ++ran; });
        auto dying = std::shared_ptr<CancelsOnDeath>(new CancelsOnDeath{&loop, first});
        loop.run_every(std::chrono::hours(1), [&ran, dying] { ++ran; });
        loop.run_after(std::chrono::hours(2), [&ran, dying] { ++ran; });
        state.reset();
        CHECK(loop.timer_count() == 3);
    }
    CHECK(ran == 0);
    CHECK(watch_state.expired());
}
