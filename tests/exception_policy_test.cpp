// runs-on: every backend
// tests/exception_policy_test.cpp -- the one exception policy, for every
// kind of callback (docs/architecture.md, "One exception policy"): an
// exception escaping a callback leaves run() / run_once(); the loop stays
// consistent; calling it again goes on; nothing that ran runs again and
// nothing queued is lost. HTTP handlers are the one place that catches:
// the client gets 500, also when the Response was held by a timer or a
// queue_work completion that threw.
#include "http_server_util.hpp"
#include "tcp_util.hpp"

#include <reactor/http/server.hpp>
#include <reactor/tcp_server.hpp>
#include <reactor/udp_socket.hpp>
#include <reactor/worker_pool.hpp>

#include <signal.h>

#include <stdexcept>
#include <string>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};

// Runs the loop one iteration at a time until a callback throws Boom
// (returns true) or the deadline passes (false). Any other exception
// fails the test.
bool run_until_boom(EventLoop& loop) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
        try {
            loop.run_once(std::chrono::milliseconds(20));
        } catch (const Boom&) {
            return true;
        }
    }
    return false;
}

}  // namespace

TEST_CASE("a posted function that throws: those before it ran once, those after run next time") {
    CheckedLoop loop;
    std::vector<int> ran;
    loop.post([&] { ran.push_back(1); });
    loop.post([&] {
        ran.push_back(2);
        throw Boom();
    });
    loop.post([&] { ran.push_back(3); });
    loop.post([&] { ran.push_back(4); });
    REQUIRE(run_until_boom(loop));
    CHECK(ran == std::vector<int>{1, 2});
    // Posted after the throw: must come after 3 and 4, which were queued first.
    loop.post([&] { ran.push_back(5); });
    REQUIRE(run_until(loop, [&] { return ran.size() == 5; }));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK(ran == std::vector<int>{1, 2, 3, 4, 5});
}

TEST_CASE("run() itself lets the exception out and can be called again") {
    CheckedLoop loop;
    int after = 0;
    loop.post([] { throw Boom(); });
    loop.post([&] {
        ++after;
        loop.stop();
    });
    CHECK_THROWS_AS(loop.run(), Boom);
    CHECK(after == 0);
    loop.run();  // returns once the second function has stopped it
    CHECK(after == 1);
}

TEST_CASE("a one-shot timer that throws runs once; the timers due with it still run") {
    CheckedLoop loop;
    int thrower = 0, other = 0;
    loop.run_after(std::chrono::milliseconds(1), [&] {
        ++thrower;
        throw Boom();
    });
    loop.run_after(std::chrono::milliseconds(1), [&] { ++other; });
    REQUIRE(run_until_boom(loop));
    REQUIRE(run_until(loop, [&] { return other == 1; }));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK(thrower == 1);
    CHECK(other == 1);
    CHECK(loop.timer_count() == 0);
}

TEST_CASE("a repeating timer that throws stays armed for its next tick, and can be cancelled") {
    CheckedLoop loop;
    int ticks = 0;
    const TimerId id = loop.run_every(std::chrono::milliseconds(5), [&] {
        ++ticks;
        if (ticks == 1) throw Boom();
    });
    REQUIRE(run_until_boom(loop));
    CHECK(ticks == 1);
    CHECK(loop.timer_count() == 1);
    REQUIRE(run_until(loop, [&] { return ticks >= 3; }));
    CHECK(loop.cancel(id));
    CHECK(loop.timer_count() == 0);
    const int seen = ticks;
    run_for(loop, std::chrono::milliseconds(30));
    CHECK(ticks == seen);
}

TEST_CASE("an fd watcher that throws stays registered; the fd is reported again while ready") {
    CheckedLoop loop;
    auto r_w = make_pipe();  // not a structured binding: lambdas capture these (clang 14)
    auto& r = r_w.first;
    auto& w = r_w.second;
    write_all(w.get(), "x");
    int calls = 0;
    std::string got;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) {
        if (++calls == 1) throw Boom();  // level-triggered: the byte is still there
        got += read_some(r.get());
    });
    REQUIRE(run_until_boom(loop));
    REQUIRE(run_until(loop, [&] { return got == "x"; }));
    CHECK(calls == 2);
    CHECK(loop.unwatch(id));

    // A watcher that removes itself and then throws is gone for good.
    write_all(w.get(), "y");
    int gone_calls = 0;
    WatcherId self;
    self = loop.watch(r.get(), Readable, [&](Events) {
        ++gone_calls;
        loop.unwatch(self);
        throw Boom();
    });
    REQUIRE(run_until_boom(loop));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK(gone_calls == 1);
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a signal handler that throws: the other handlers of that signal still run") {
    CheckedLoop loop;
    int first = 0, second = 0;
    const SignalId a = loop.on_signal(SIGUSR1, [&](int) {
        ++first;
        throw Boom();
    });
    const SignalId b = loop.on_signal(SIGUSR1, [&](int) { ++second; });
    ::raise(SIGUSR1);
    REQUIRE(run_until_boom(loop));
    REQUIRE(run_until(loop, [&] { return second == 1; }));
    CHECK(first == 1);
    CHECK(loop.remove_signal(a));
    CHECK(loop.remove_signal(b));
}

TEST_CASE("a queue_work completion that throws: counted as done, the others still complete") {
    CheckedLoop loop;
    int completed = 0;
    queue_work(loop, [] { return 1; }, [&](std::error_code, int) {
        ++completed;
        throw Boom();
    });
    queue_work(loop, [] { return 2; }, [&](std::error_code, int) { ++completed; });
    REQUIRE(run_until_boom(loop));
    REQUIRE(run_until(loop, [&] { return completed == 2 && pending_work(loop) == 0; }));
    CHECK(completed == 2);
}

TEST_CASE("a queue_work completion that throws is destroyed at once, on the loop thread") {
    // What `done` captured (an http::Response, say) belongs to the loop: it
    // must die inside finish(), which runs there, even when `done` throws
    // and the pool thread still holds the task (and so the last reference).
    // Driven directly, holding that reference as the pool thread would.
    struct Witness {
        explicit Witness(bool* a) : alive(a) {}  // make_shared needs it before clang 16
        bool* alive;
        ~Witness() { *alive = false; }
    };
    bool alive = true;
    auto witness = std::make_shared<Witness>(&alive);
    auto done = [witness](std::error_code, int) { throw Boom(); };
    auto work = [] { return 1; };
    auto state = reactor::detail::make_loop_work(std::move(work), std::move(done));
    witness.reset();
    state->execute();
    CHECK_THROWS_AS(state->finish({}), Boom);
    CHECK_FALSE(alive);  // gone with `done`, though `state` is still held
}

TEST_CASE("a TCP message callback that throws: the connection goes on, and so do the others") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    int messages = 0;
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        if (++messages == 1) throw Boom();  // the bytes stay in the buffer
        c->send(in);
    });
    Fd a = tcp_connect(server.local_address());
    write_all(a.get(), "first");
    REQUIRE(run_until_boom(loop));
    // The unconsumed bytes were kept; the next arrival shows them again.
    write_all(a.get(), "+more");
    std::string echoed;
    REQUIRE(read_exactly(loop, a.get(), echoed, 10));
    CHECK(echoed == "first+more");
    // Another connection reads through the thread's scratch block, which
    // the throw must have given back.
    Fd b = tcp_connect(server.local_address());
    write_all(b.get(), "second");
    std::string other;
    REQUIRE(read_exactly(loop, b.get(), other, 6));
    CHECK(other == "second");
}

TEST_CASE("a TCP close callback that throws: the connection is still released and its fd closed") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    int closes = 0;
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) {
        in.consume_all();
        c->close();
    });
    server.on_close([&](const TcpConnectionPtr&, std::error_code) {
        ++closes;
        throw Boom();
    });
    Fd a = tcp_connect(server.local_address());
    REQUIRE(run_until(loop, [&] { return server.connection_count() == 1; }));
    write_all(a.get(), "bye");
    REQUIRE(run_until_boom(loop));
    CHECK(closes == 1);
    CHECK(server.connection_count() == 0);
    std::string rest;
    CHECK(read_to_eof(loop, a.get(), rest));
    run_for(loop, std::chrono::milliseconds(20));
    CHECK(closes == 1);
}

TEST_CASE("a TCP message callback that throws on the final bytes before EOF: the connection still closes") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    int closes = 0;
    server.on_message([](const TcpConnectionPtr&, Buffer&) { throw Boom(); });
    server.on_close([&](const TcpConnectionPtr&, std::error_code) { ++closes; });
    {
        Fd a = tcp_connect(server.local_address());
        REQUIRE(run_until(loop, [&] { return server.connection_count() == 1; }));
        write_all(a.get(), "tail");
        ::shutdown(a.get(), SHUT_WR);
        // The bytes and the EOF may come in one read or two; either way the
        // callback throws at least once and the connection must end.
        REQUIRE(run_until_boom(loop));
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (closes == 0 && std::chrono::steady_clock::now() < deadline) {
            try {
                loop.run_once(std::chrono::milliseconds(20));
            } catch (const Boom&) {
            }
        }
    }
    CHECK(closes == 1);
    CHECK(server.connection_count() == 0);
}

TEST_CASE("a datagram callback that throws keeps its place; later datagrams still arrive") {
    CheckedLoop loop;
    UdpSocket receiver(loop, SocketAddress::parse("127.0.0.1:0"));
    UdpSocket sender(loop, SocketAddress::parse("127.0.0.1:0"));
    std::vector<std::string> got;
    receiver.on_datagram([&](std::string_view data, const SocketAddress&) {
        got.emplace_back(data);
        if (got.size() == 1) throw Boom();
    });
    for (const char* d : {"a", "b", "c"}) CHECK_FALSE(sender.send_to(d, receiver.local_address()));
    REQUIRE(run_until_boom(loop));
    REQUIRE(run_until(loop, [&] { return got.size() == 3; }));
    CHECK(got == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("an HTTP response held by a timer or a work completion that throws is answered with 500") {
    CheckedLoop loop;
    http::Server server(loop, SocketAddress::ipv4_loopback(0));
    server.route("GET", "/timer", [&](const http::Request&, http::Response res) {
        loop.run_after(std::chrono::milliseconds(1), [res]() mutable {
            res.header("X-Never", "sent");
            throw Boom();  // the timer's callback, and the Response in it, die
        });
    });
    server.route("GET", "/work", [&](const http::Request&, http::Response res) {
        queue_work(loop, [] { return 7; }, [res](std::error_code, int) { throw Boom(); });
    });
    for (const char* path : {"/timer", "/work"}) {
        CAPTURE(path);
        HttpClient client(server.local_address());
        client.send(get(path));
        REQUIRE(run_until_boom(loop));
        const HttpReply reply = client.reply(loop);
        CHECK(reply.status == 500);
        CHECK(reply.header("x-never").empty());
    }
    // The server goes on serving on the same loop.
    server.route("GET", "/ok", [](const http::Request&, http::Response res) { res.send("ok"); });
    HttpClient client(server.local_address());
    client.send(get("/ok"));
    CHECK(client.reply(loop).body == "ok");
}
