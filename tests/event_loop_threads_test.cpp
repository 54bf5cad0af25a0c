// runs-on: every backend
// tests/event_loop_threads_test.cpp -- N loops on N threads.
#include "test_util.hpp"

#include <reactor/event_loop_threads.hpp>

#include <atomic>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

using namespace reactor;
using namespace reactor::test;

TEST_CASE("each loop runs on its own thread and post() reaches the right one") {
    EventLoopThreads threads(3);
    REQUIRE(threads.size() == 3);
    std::mutex m;
    std::set<std::thread::id> seen;
    std::atomic<int> ran{0};
    for (std::size_t i = 0; i < threads.size(); ++i) {
        EventLoop& loop = threads.loop(i);
        CHECK_FALSE(loop.in_loop_thread());
        loop.post([&, &l = loop] {
            CHECK(l.in_loop_thread());
            std::lock_guard lock(m);
            seen.insert(std::this_thread::get_id());
            ++ran;
        });
    }
    EventLoop here;
    CHECK(run_until(here, [&] { return ran.load() == 3; }));
    std::lock_guard lock(m);
    CHECK(seen.size() == 3);
    CHECK(seen.count(std::this_thread::get_id()) == 0);
}

TEST_CASE("next_loop() hands out the loops in turn") {
    EventLoopThreads threads(2);
    EventLoop* a = &threads.next_loop();
    EventLoop* b = &threads.next_loop();
    CHECK(a != b);
    CHECK(&threads.next_loop() == a);
    CHECK(&threads.next_loop() == b);
}

TEST_CASE("timers run on the loops' own threads, and stop() joins them") {
    std::atomic<int> fired{0};
    {
        EventLoopThreads threads(2);
        for (std::size_t i = 0; i < 2; ++i) {
            EventLoop& loop = threads.loop(i);
            loop.post([&loop, &fired] { loop.run_after(std::chrono::milliseconds(1), [&fired] { ++fired; }); });
        }
        EventLoop here;
        CHECK(run_until(here, [&] { return fired.load() == 2; }));
        threads.stop();
        CHECK(threads.size() == 0);
        threads.stop();  // idempotent
    }
    CHECK(fired.load() == 2);
}

TEST_CASE("a bad backend or a zero count is an error, not a hang") {
    CHECK_THROWS_AS(EventLoopThreads(0), std::system_error);
    CHECK_THROWS_AS(EventLoopThreads(2, "no-such-backend"), std::system_error);
}
