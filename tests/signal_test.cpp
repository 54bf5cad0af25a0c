// runs-on: every backend
// tests/signal_test.cpp -- EventLoop::on_signal: signals as loop callbacks.
#include "test_util.hpp"

#include <atomic>
#include <csignal>
#include <string>
#include <unistd.h>
#include <system_error>
#include <thread>

using namespace reactor;
using namespace reactor::test;

TEST_CASE("a signal runs its handler on the loop thread") {
    EventLoop loop;
    int calls = 0;
    std::thread::id ran_on;
    const SignalId id = loop.on_signal(SIGUSR1, [&](int signo) {
        CHECK(signo == SIGUSR1);
        ran_on = std::this_thread::get_id();
        ++calls;
    });
    CHECK(loop.watcher_count() == 0);  // the signal pipe is the loop's own
    // The kernel may deliver a process-directed signal to any thread; the
    // sender stays alive (and busy in sleeps) until the handler ran, because
    // ThreadSanitizer defers a thread's signals to its next intercepted call
    // and would drop them if the thread exited first.
    std::atomic<bool> handled{false};
    std::thread sender([&] {
        ::kill(::getpid(), SIGUSR1);
        for (int i = 0; i < 10000 && !handled.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    CHECK(run_until(loop, [&] { return calls == 1; }));
    handled = true;
    sender.join();
    CHECK(ran_on == std::this_thread::get_id());
    CHECK(loop.remove_signal(id));
    CHECK_FALSE(loop.remove_signal(id));
}

TEST_CASE("several handlers per signal run in registration order, and removal works") {
    EventLoop loop;
    std::string order;
    const SignalId a = loop.on_signal(SIGUSR2, [&](int) { order += 'a'; });
    const SignalId b = loop.on_signal(SIGUSR2, [&](int) { order += 'b'; });
    ::raise(SIGUSR2);
    CHECK(run_until(loop, [&] { return order.size() == 2; }));
    CHECK(order == "ab");
    CHECK(loop.remove_signal(a));
    ::raise(SIGUSR2);
    CHECK(run_until(loop, [&] { return order.size() == 3; }));
    CHECK(order == "abb");
    CHECK(loop.remove_signal(b));
}

TEST_CASE("a handler may remove itself and others while running") {
    EventLoop loop;
    int first = 0;
    int second = 0;
    SignalId id_first;
    SignalId id_second;
    id_first = loop.on_signal(SIGUSR1, [&](int) {
        ++first;
        loop.remove_signal(id_first);
        loop.remove_signal(id_second);  // its turn has not come: it must not run
    });
    id_second = loop.on_signal(SIGUSR1, [&](int) { ++second; });
    ::raise(SIGUSR1);
    CHECK(run_until(loop, [&] { return first == 1; }));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK(second == 0);
}

TEST_CASE("uncatchable or out-of-range signals are refused with a clear error") {
    EventLoop loop;
    CHECK_THROWS_AS(loop.on_signal(SIGKILL, [](int) {}), std::system_error);
    CHECK_THROWS_AS(loop.on_signal(SIGSTOP, [](int) {}), std::system_error);
    CHECK_THROWS_AS(loop.on_signal(0, [](int) {}), std::system_error);
    CHECK_THROWS_AS(loop.on_signal(100000, [](int) {}), std::system_error);
}

TEST_CASE("two loops both receive a signal both listen for") {
    EventLoop loop;
    int here = 0;
    std::atomic<int> there{0};
    std::atomic<bool> ready{false};
    std::atomic<bool> done{false};
    std::thread other([&] {
        EventLoop second;
        const SignalId id = second.on_signal(SIGUSR2, [&](int) { ++there; });
        ready = true;
        run_until(second, [&] { return there.load() == 1 && done.load(); });
        second.remove_signal(id);
    });
    const SignalId id = loop.on_signal(SIGUSR2, [&](int) { ++here; });
    CHECK(run_until(loop, [&] { return ready.load(); }));
    ::kill(::getpid(), SIGUSR2);
    CHECK(run_until(loop, [&] { return here == 1 && there.load() == 1; }));
    done = true;
    other.join();
    loop.remove_signal(id);
}
