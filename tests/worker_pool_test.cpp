// runs-on: every backend
// tests/worker_pool_test.cpp -- WorkerPool and queue_work: work on
// pool threads, results on the loop thread, cancellation, shutdown.
#include "test_util.hpp"
#include "worker_util.hpp"

#include <reactor/worker_pool.hpp>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

TEST_CASE("work runs on a pool thread, done on the loop thread, with the result") {
    EventLoop loop;
    WorkerPool pool(2);
    set_worker_pool(loop, pool);
    std::thread::id work_thread;
    std::thread::id done_thread;
    int result = 0;
    std::error_code result_ec = std::make_error_code(std::errc::io_error);
    const WorkId id = queue_work(loop,
        [&] {
            work_thread = std::this_thread::get_id();
            return 6 * 7;
        },
        [&](std::error_code ec, int value) {
            done_thread = std::this_thread::get_id();
            result_ec = ec;
            result = value;
        });
    CHECK(id);
    CHECK(pending_work(loop) == 1);
    REQUIRE(run_until(loop, [&] { return result != 0; }));
    CHECK_FALSE(result_ec);
    CHECK(result == 42);
    CHECK(done_thread == std::this_thread::get_id());
    CHECK(work_thread != std::this_thread::get_id());
    CHECK(pending_work(loop) == 0);
}

TEST_CASE("done is never called in the iteration that queued the work") {
    EventLoop loop;
    bool done = false;
    queue_work(loop, [] { return 1; }, [&](std::error_code, int) { done = true; });
    CHECK_FALSE(done);  // even if the pool finished already: done goes through post()
    CHECK(run_until(loop, [&] { return done; }));
}

TEST_CASE("a one-thread pool runs work in FIFO order; dones arrive in the same order") {
    EventLoop loop;
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    std::mutex mutex;
    std::vector<int> ran;  // written by the pool thread
    std::vector<int> done;
    for (int i = 0; i < 20; ++i) {
        queue_work(loop,
            [&, i] {
                std::lock_guard lock(mutex);
                ran.push_back(i);
                return i;
            },
            [&](std::error_code ec, int value) {
                CHECK_FALSE(ec);
                done.push_back(value);
            },
            i % 3 == 0 ? WorkKind::Slow : WorkKind::Normal);  // one queue order across kinds
    }
    REQUIRE(run_until(loop, [&] { return done.size() == 20; }));
    std::vector<int> expected;
    for (int i = 0; i < 20; ++i) expected.push_back(i);
    std::lock_guard lock(mutex);
    CHECK(ran == expected);
    CHECK(done == expected);
}

TEST_CASE("results are moved into done: a move-only result works") {
    EventLoop loop;
    std::unique_ptr<int> got;
    bool called = false;
    auto payload = std::make_unique<int>(7);  // a move-only capture, too
    queue_work(loop, [p = std::move(payload)]() mutable { return std::move(p); },
                    [&](std::error_code ec, std::unique_ptr<int> value) {
                        CHECK_FALSE(ec);
                        got = std::move(value);
                        called = true;
                    });
    REQUIRE(run_until(loop, [&] { return called; }));
    REQUIRE(got != nullptr);
    CHECK(*got == 7);
}

TEST_CASE("a large result is moved, not copied: the buffer done sees is the one work made") {
    EventLoop loop;
    const char* made = nullptr;
    const char* seen = nullptr;
    queue_work(loop,
        [&] {
            std::string big(1 << 20, 'x');
            made = big.data();
            return big;
        },
        [&](std::error_code, std::string value) { seen = value.data(); });
    REQUIRE(run_until(loop, [&] { return seen != nullptr; }));
    CHECK(seen == made);
}

TEST_CASE("void work calls done(ec)") {
    EventLoop loop;
    std::atomic<bool> ran{false};
    bool done = false;
    queue_work(loop, [&] { ran = true; },
                    [&](std::error_code ec) {
                        CHECK_FALSE(ec);
                        CHECK(ran.load());
                        done = true;
                    });
    CHECK(run_until(loop, [&] { return done; }));
}

TEST_CASE("an exception thrown by work reaches done as an error, not a crash") {
    EventLoop loop;
    SUBCASE("a done that takes the std::exception_ptr gets the exception itself") {
        std::error_code got;
        std::string what;
        int value = -1;
        queue_work(loop, []() -> int { throw std::runtime_error("disk on fire"); },
                        [&](std::error_code ec, int result, std::exception_ptr error) {
                            got = ec;
                            value = result;
                            try {
                                std::rethrow_exception(error);
                            } catch (const std::exception& e) {
                                what = e.what();
                            }
                        });
        REQUIRE(run_until(loop, [&] { return bool(got); }));
        CHECK(got == WorkError::exception_thrown);
        CHECK(got.category().name() == std::string("reactor.work"));
        CHECK(value == 0);  // a default-constructed result
        CHECK(what == "disk on fire");
    }
    SUBCASE("a plain done gets the error code (what() goes to stderr)") {
        std::error_code got;
        queue_work(loop, [] { throw 42; }, [&](std::error_code ec) { got = ec; });
        REQUIRE(run_until(loop, [&] { return bool(got); }));
        CHECK(got == WorkError::exception_thrown);
        CHECK_FALSE(got.message().empty());
    }
}

TEST_CASE("work cancelled before it starts never runs; done gets operation_canceled") {
    EventLoop loop;
    Gate gate;  // declared before the pool: work may wait at it until ~WorkerPool
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    std::atomic<bool> blocker_started{false};
    bool blocker_done = false;
    // Occupy the only thread, so the next work stays queued.
    queue_work(loop,
        [&] {
            blocker_started = true;
            return gate.wait();
        },
        [&](std::error_code ec, bool opened) {
            CHECK_FALSE(ec);
            CHECK(opened);
            blocker_done = true;
        });
    REQUIRE(run_until(loop, [&] { return blocker_started.load(); }));

    std::atomic<bool> ran{false};
    std::error_code got;
    int calls = 0;
    const WorkId id = queue_work(loop, [&] { ran = true; },
                                      [&](std::error_code ec) {
                                          got = ec;
                                          ++calls;
                                      });
    CHECK(pool.queued() == 1);
    CHECK(cancel_work(loop, id));
    CHECK(calls == 0);  // done comes later, on the loop
    CHECK_FALSE(cancel_work(loop, id));  // cancelled already: a stale id
    REQUIRE(run_until(loop, [&] { return calls == 1; }));
    CHECK(got == std::errc::operation_canceled);

    gate.open();
    REQUIRE(run_until(loop, [&] { return blocker_done; }));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK_FALSE(ran.load());
    CHECK(calls == 1);
    CHECK(pending_work(loop) == 0);
}

TEST_CASE("cancelling work that started returns false; done gets the real result") {
    EventLoop loop;
    Gate gate;  // declared before the pool: work may wait at it until ~WorkerPool
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    std::atomic<bool> started{false};
    std::error_code got = std::make_error_code(std::errc::io_error);
    int value = 0;
    const WorkId id = queue_work(loop,
        [&] {
            started = true;
            gate.wait();
            return 5;
        },
        [&](std::error_code ec, int v) {
            got = ec;
            value = v;
        });
    REQUIRE(run_until(loop, [&] { return started.load(); }));
    CHECK_FALSE(cancel_work(loop, id));
    gate.open();
    REQUIRE(run_until(loop, [&] { return value != 0; }));
    CHECK_FALSE(got);
    CHECK(value == 5);
    CHECK_FALSE(cancel_work(loop, id));   // finished: stale
    CHECK_FALSE(cancel_work(loop, WorkId{}));
}

TEST_CASE("slow work occupies at most half the pool; normal work still runs promptly") {
    EventLoop loop;
    Gate gate;  // declared before the pool: work may wait at it until ~WorkerPool
    WorkerPool pool(4);
    set_worker_pool(loop, pool);
    CHECK(pool.slow_limit() == 2);
    std::atomic<int> slow_started{0};
    int slow_done = 0;
    for (int i = 0; i < 4; ++i) {
        queue_work(loop,
            [&] {
                ++slow_started;
                gate.wait();
            },
            [&](std::error_code ec) {
                CHECK_FALSE(ec);
                ++slow_done;
            },
            WorkKind::Slow);
    }
    bool fast_done = false;
    queue_work(loop, [] { return 1; }, [&](std::error_code, int) { fast_done = true; });
    // Without the cap the four slow jobs would hold all four threads and the
    // fast one would wait for the gate (which only opens below).
    CHECK(run_until(loop, [&] { return fast_done; }));
    CHECK(run_until(loop, [&] { return slow_started.load() == 2; }));
    run_for(loop, std::chrono::milliseconds(30));
    CHECK(slow_started.load() == 2);
    gate.open();
    REQUIRE(run_until(loop, [&] { return slow_done == 4; }));
    CHECK(slow_started.load() == 4);
}

TEST_CASE("the slow limit is half the pool, rounded up, at least one") {
    CHECK(WorkerPool(1).slow_limit() == 1);
    CHECK(WorkerPool(2).slow_limit() == 1);
    CHECK(WorkerPool(3).slow_limit() == 2);
    CHECK(WorkerPool(4).slow_limit() == 2);
    CHECK(WorkerPool(0).size() == 1);  // clamped: a pool always has a thread
}

TEST_CASE("threads start lazily, all at the first submit") {
    Gate gate;  // declared before the pool: work may wait at it until ~WorkerPool
    WorkerPool pool(3);
    CHECK(pool.threads_started() == 0);
    pool.submit([&] { gate.open(); });
    CHECK(pool.threads_started() == 3);
    CHECK(gate.wait());
}

TEST_CASE("destroying a pool cancels its queued work and never runs it") {
    std::atomic<int> ran{0};
    std::atomic<int> cancelled{0};
    std::atomic<bool> first_started{false};
    Gate gate;
    {
        WorkerPool pool(1);
        pool.submit([&] {
            first_started = true;
            gate.wait();
            ++ran;
        });
        for (int i = 0; i < 5; ++i) {
            pool.submit([&] { ++ran; },
                        [&] {
                            // The destructor cancels queued work before it waits
                            // for the running task, so this is where the gate opens.
                            ++cancelled;
                            gate.open();
                        });
        }
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (!first_started && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        REQUIRE(first_started.load());
    }  // ~WorkerPool: cancel the five, let the first finish, join
    CHECK(ran.load() == 1);  // the running task finished
    CHECK(cancelled.load() == 5);
}

TEST_CASE("a loop's queued work is cancelled when its pool is destroyed") {
    EventLoop loop;
    std::vector<std::error_code> got;
    std::atomic<bool> ran_queued{false};
    Gate gate;  // outlives the pool, whose destructor waits for the work at the gate
    std::atomic<bool> started{false};
    {
        WorkerPool pool(1);
        set_worker_pool(loop, pool);
        queue_work(loop,
            [&] {
                started = true;
                gate.wait(std::chrono::milliseconds(200));  // the destructor waits for it
            },
            [&](std::error_code ec) { got.push_back(ec); });
        REQUIRE(run_until(loop, [&] { return started.load(); }));
        queue_work(loop, [&] { ran_queued = true; }, [&](std::error_code ec) { got.push_back(ec); });
    }
    REQUIRE(run_until(loop, [&] { return got.size() == 2; }));
    CHECK(pending_work(loop) == 0);
    CHECK_FALSE(ran_queued.load());
    // One cancellation (the queued work) and one result (the running work),
    // in whichever order they were posted.
    const int cancelled = (got[0] == std::errc::operation_canceled) +
                          (got[1] == std::errc::operation_canceled);
    CHECK(cancelled == 1);
    CHECK((!got[0] || !got[1]));
}

TEST_CASE("a loop destroyed with work in flight does not crash, and its queued work never runs") {
    Gate gate;  // declared before the pool: work may wait at it until ~WorkerPool
    WorkerPool pool(1);  // outlives the loop
    std::atomic<bool> started{false};
    std::atomic<bool> finished{false};
    std::atomic<bool> ran_queued{false};
    std::atomic<int> dones{0};
    auto token = std::make_shared<int>(0);  // counts what the dones still hold
    {
        EventLoop loop;
        set_worker_pool(loop, pool);
        queue_work(loop,
            [&] {
                started = true;
                gate.wait();
                finished = true;
                return std::string(1000, 'r');
            },
            [&, token](std::error_code, std::string) { ++dones; });
        queue_work(loop, [&] { ran_queued = true; }, [&, token](std::error_code) { ++dones; });
        REQUIRE(run_until(loop, [&] { return started.load(); }));
    }  // ~EventLoop while the first work runs and the second is queued
    gate.open();
    // The pool drops both: the first after it finishes, the second unrun.
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (token.use_count() > 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(token.use_count() == 1);  // both dones were destroyed...
    CHECK(dones.load() == 0);       // ...without being called
    CHECK(finished.load());
    CHECK_FALSE(ran_queued.load());
}

TEST_CASE("several loops on several threads share one pool") {
    WorkerPool pool(2);
    std::atomic<int> total{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&] {
            // An exception must not escape a thread (it would terminate the
            // suite): a loop that cannot be made counts as a failure below.
            try {
                EventLoop loop;
                set_worker_pool(loop, pool);
                int done = 0;
                for (int i = 0; i < 50; ++i) {
                    queue_work(loop, [i] { return i; },
                                    [&](std::error_code ec, int) {
                                        if (!ec) ++done;
                                    });
                }
                run_until(loop, [&] { return done == 50; });
                total += done;
            } catch (const std::exception&) {
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(total.load() == 150);
}

TEST_CASE("work may queue more work; set_worker_pool refuses to switch with work pending") {
    EventLoop loop;
    WorkerPool pool(1);
    WorkerPool other(1);
    set_worker_pool(loop, pool);
    CHECK(&worker_pool(loop) == &pool);
    int stage = 0;
    queue_work(loop, [] { return 1; },
                    [&](std::error_code, int) {
                        stage = 1;
                        queue_work(loop, [] { return 2; },
                                        [&](std::error_code, int v) { stage = v; });
                    });
    CHECK_THROWS_AS(set_worker_pool(loop, other), std::system_error);
    set_worker_pool(loop, pool);  // the same pool: allowed
    REQUIRE(run_until(loop, [&] { return stage == 2; }));
    set_worker_pool(loop, other);
    CHECK(&worker_pool(loop) == &other);
}

TEST_CASE("loops use the process-wide default pool unless told otherwise") {
    EventLoop loop;
    CHECK(&worker_pool(loop) == &WorkerPool::default_pool());
    CHECK(WorkerPool::default_pool().size() >= 1);
}

TEST_CASE("REACTOR_THREADPOOL_SIZE: a positive decimal, clamped; anything else means 4") {
    CHECK(WorkerPool::size_from_env(nullptr) == 4);
    CHECK(WorkerPool::size_from_env("") == 4);
    CHECK(WorkerPool::size_from_env("1") == 1);
    CHECK(WorkerPool::size_from_env("16") == 16);
    CHECK(WorkerPool::size_from_env("0") == 4);
    CHECK(WorkerPool::size_from_env("-3") == 4);
    CHECK(WorkerPool::size_from_env("8 ") == 4);
    CHECK(WorkerPool::size_from_env("eight") == 4);
    CHECK(WorkerPool::size_from_env("0x10") == 4);
    CHECK(WorkerPool::size_from_env("5000") == WorkerPool::kMaxSize);
    CHECK(WorkerPool::size_from_env("99999999999999999999999") == WorkerPool::kMaxSize);

    const char* saved = std::getenv("REACTOR_THREADPOOL_SIZE");
    const std::string restore = saved ? saved : "";
    ::setenv("REACTOR_THREADPOOL_SIZE", "3", 1);
    CHECK(WorkerPool().size() == 3);
    ::setenv("REACTOR_THREADPOOL_SIZE", "lots", 1);
    CHECK(WorkerPool().size() == WorkerPool::kDefaultSize);
    if (saved) {
        ::setenv("REACTOR_THREADPOOL_SIZE", restore.c_str(), 1);
    } else {
        ::unsetenv("REACTOR_THREADPOOL_SIZE");
    }
}

TEST_CASE("examples/cpu_block reports the loop's lag both ways and exits on its own") {
    auto out_status = run_command(example_path("cpu_block") + " 2>&1");  // not a structured binding: lambdas capture these (clang 14)
    auto& out = out_status.first;
    auto& status = out_status.second;
    CHECK(status == 0);
    CAPTURE(out);
    const auto figure = [&](const std::string& label) {
        const auto at = out.find(label);
        REQUIRE(at != std::string::npos);
        const auto lag = out.find("max lag", at);
        REQUIRE(lag != std::string::npos);
        return std::stod(out.substr(lag + 7));
    };
    // 500 ms of computing inside a callback delays the next 10 ms tick by at
    // least 490 ms, whatever the machine's speed. The pool figure depends on
    // the machine's load, so it is only printed.
    CHECK(figure("on the loop thread") >= 490.0);
    CHECK(figure("on the pool") >= 0.0);
    CHECK(out.find("conclusion:") != std::string::npos);
}
