// runs-on: every backend
// tests/post_test.cpp -- the ways into a loop from outside: post() and
// run_in_loop() from any thread, and stop(), as a specification.
//
// A run() that should return is guarded by a timer at kDeadline that stops
// the loop and records that it had to: a wake-up that never comes fails the
// test instead of hanging it. Every thread is joined before its test ends.
#include "test_util.hpp"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

using Clock = EventLoop::Clock;

/// Stops `loop` after kDeadline if nothing else has; `fired()` tells whether
/// it had to. Cancels itself when the test's scope ends.
class Guard {
public:
    explicit Guard(EventLoop& loop) : loop_(loop) {
        id_ = loop.run_after(kDeadline, [this] {
            fired_ = true;
            loop_.stop();
        });
    }
    ~Guard() { loop_.cancel(id_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    bool fired() const { return fired_; }

private:
    EventLoop& loop_;
    TimerId id_;
    bool fired_ = false;
};

/// Waits (off the loop thread) until `flag` is set or kDeadline passes.
bool wait_for_flag(const std::atomic<bool>& flag) {
    const auto deadline = Clock::now() + kDeadline;
    while (!flag.load()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

}  // namespace

// ---- post() -----------------------------------------------------------------------

TEST_CASE("post: 10,000 functions from each of 4 threads each run exactly once, on the loop thread") {
    constexpr int kThreads = 4;
    constexpr int kPerThread = 10000;
    EventLoop loop;
    const auto loop_thread = std::this_thread::get_id();
    // Touched only by the posted functions, i.e. only on the loop thread.
    std::vector<std::vector<int>> runs(kThreads, std::vector<int>(kPerThread, 0));
    std::vector<int> last(kThreads, -1);
    int total = 0;
    int off_thread = 0;
    int out_of_order = 0;
    bool stop_when_done = false;

    std::atomic<bool> go{false};
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
        posters.emplace_back([&, t] {
            if (!wait_for_flag(go)) return;
            for (int i = 0; i < kPerThread; ++i) {
                loop.post([&, t, i] {
                    if (std::this_thread::get_id() != loop_thread) ++off_thread;
                    ++runs[t][i];
                    if (i != last[t] + 1) ++out_of_order;  // one thread's posts keep their order
                    last[t] = i;
                    if (++total == kThreads * kPerThread && stop_when_done) loop.stop();
                });
            }
        });
    }

    SUBCASE("the loop turns with run_until") {
        go = true;
        CHECK(run_until(loop, [&] { return total == kThreads * kPerThread; }));
    }
    SUBCASE("the loop sleeps in run() and is woken by the posts") {
        stop_when_done = true;
        Guard guard(loop);
        go = true;
        loop.run();
        CHECK_FALSE(guard.fired());
    }
    for (auto& poster : posters) poster.join();

    CHECK(total == kThreads * kPerThread);
    CHECK(off_thread == 0);
    CHECK(out_of_order == 0);
    int not_once = 0;
    for (const auto& per_thread : runs) {
        for (int n : per_thread) not_once += n == 1 ? 0 : 1;
    }
    CHECK(not_once == 0);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("post: functions run in posting order, in a later iteration") {
    EventLoop loop;
    std::vector<int> order;
    for (int i = 0; i < 10; ++i) loop.post([&order, i] { order.push_back(i); });
    CHECK(order.empty());  // post() never runs the function on the spot
    REQUIRE(run_until(loop, [&] { return order.size() == 10; }));
    CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("post: a function posted by a posted function runs in the next iteration") {
    EventLoop loop;
    std::uint64_t outer = 0;
    std::uint64_t inner = 0;
    loop.post([&] {
        outer = loop.iteration();
        loop.post([&] { inner = loop.iteration(); });
        CHECK(inner == 0);  // not run within this pass
    });
    REQUIRE(run_until(loop, [&] { return inner != 0; }));
    // The second post woke the loop, so the next iteration did not wait.
    CHECK(inner == outer + 1);
}

TEST_CASE("post: a function re-posting itself does not starve I/O") {
    EventLoop loop;
    auto r_w = make_pipe();  // not a structured binding: lambdas capture these (clang 14)
    auto& r = r_w.first;
    auto& w = r_w.second;
    int io_calls = 0;
    int reposts_at_io = -1;
    int reposts = 0;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) {
        if (io_calls++ == 0) reposts_at_io = reposts;
        read_some(r.get());
    });
    // Bounded, so that a starving loop fails instead of hanging.
    constexpr int kBound = 100000;
    std::function<void()> again = [&] {
        ++reposts;
        if (reposts == 10) write_all(w.get(), "x");
        if (reposts < kBound && io_calls == 0) loop.post(again);
    };
    loop.post(again);
    REQUIRE(run_until(loop, [&] { return io_calls > 0; }));
    CHECK(reposts_at_io == 10);  // I/O ran in the iteration after the write
    run_for(loop, std::chrono::milliseconds(5));  // let the last re-post run out
    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("post: functions still queued when the loop is destroyed are destroyed, never run") {
    int ran = 0;
    int destroyed = 0;
    auto counted = [&destroyed] {
        return std::shared_ptr<int>(new int(0), [&destroyed](int* p) {
            ++destroyed;
            delete p;
        });
    };
    {
        EventLoop loop;
        for (int i = 0; i < 3; ++i) loop.post([&ran, token = counted()] { ++ran; });
        // One more from another thread, which has finished before the loop dies.
        std::thread other([&] { loop.post([&ran, token = counted()] { ++ran; }); });
        other.join();
        CHECK(destroyed == 0);
    }
    CHECK(ran == 0);
    CHECK(destroyed == 4);
}

// ---- stop() -------------------------------------------------------------------------

TEST_CASE("stop() from a callback makes run() return after the current iteration") {
    EventLoop loop;
    Guard guard(loop);
    std::uint64_t stopped_in = 0;
    auto [r, w] = make_pipe();
    WatcherId id;
    SUBCASE("from a posted function") {
        loop.post([&] {
            stopped_in = loop.iteration();
            loop.stop();
        });
    }
    SUBCASE("from a timer") {
        loop.run_after(std::chrono::milliseconds(1), [&] {
            stopped_in = loop.iteration();
            loop.stop();
        });
    }
    SUBCASE("from an fd watcher") {
        write_all(w.get(), "x");
        id = loop.watch(r.get(), Readable, [&](Events) {
            stopped_in = loop.iteration();
            loop.stop();
        });
    }
    loop.run();
    CHECK_FALSE(guard.fired());
    CHECK(stopped_in != 0);
    CHECK(loop.iteration() == stopped_in);
    if (id) CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("stop() from another thread while run() sleeps in the poller returns promptly") {
    EventLoop loop;
    Guard guard(loop);
    std::atomic<bool> running{false};
    Clock::time_point stop_called{};
    loop.post([&] { running = true; });
    std::thread stopper([&] {
        if (!wait_for_flag(running)) return;
        // Give the loop time to go back to sleep in the poller: nothing is
        // due but the guard, so it waits with a timeout of ~kDeadline.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        stop_called = Clock::now();
        loop.stop();
    });
    loop.run();
    const auto returned = Clock::now();
    stopper.join();
    // Returning at all before the guard shows the wake-up worked.
    CHECK_FALSE(guard.fired());
    CHECK(stop_called != Clock::time_point{});
    CHECK(returned >= stop_called);
}

TEST_CASE("post() from another thread wakes run() sleeping in the poller") {
    EventLoop loop;
    Guard guard(loop);
    std::atomic<bool> running{false};
    loop.post([&] { running = true; });
    std::thread poster([&] {
        if (!wait_for_flag(running)) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        loop.post([&] { loop.stop(); });
    });
    loop.run();
    poster.join();
    CHECK_FALSE(guard.fired());
}

TEST_CASE("stop() before run(): run() returns after one iteration, without waiting") {
    EventLoop loop;
    Guard guard(loop);
    SUBCASE("called on the loop thread") { loop.stop(); }
    SUBCASE("called from another thread") {
        std::thread other([&] { loop.stop(); });
        other.join();
    }
    const std::uint64_t before = loop.iteration();
    loop.run();
    CHECK_FALSE(guard.fired());
    CHECK(loop.iteration() == before + 1);

    // The request was used up: the next run() runs until the next stop().
    int ticks = 0;
    const TimerId every = loop.run_every(std::chrono::milliseconds(1), [&] {
        if (++ticks == 3) loop.stop();
    });
    loop.run();
    CHECK_FALSE(guard.fired());
    CHECK(ticks == 3);
    CHECK(loop.cancel(every));
}

TEST_CASE("run_in_loop runs at once on the loop thread and posts from another, in order") {
    EventLoop loop;
    Guard guard(loop);
    std::vector<int> order;
    // On the loop thread: before run_in_loop returns, ahead of a post made
    // just before it.
    loop.post([&] { order.push_back(2); });
    loop.run_in_loop([&] { order.push_back(1); });
    CHECK(order == std::vector<int>{1});
    // From another thread: not at once, but on the loop thread, after what
    // that thread posted before it.
    std::atomic<bool> ran_on_loop{false};
    std::thread other([&] {
        loop.post([&] { order.push_back(3); });
        loop.run_in_loop([&] {
            ran_on_loop = loop.in_loop_thread();
            order.push_back(4);
            loop.stop();
        });
    });
    loop.run();
    other.join();
    CHECK_FALSE(guard.fired());
    CHECK(ran_on_loop);
    CHECK(order == std::vector<int>{1, 2, 3, 4});
}
