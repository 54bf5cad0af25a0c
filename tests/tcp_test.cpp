// runs-on: every backend
// tests/tcp_test.cpp -- TcpServer and TcpConnection over loopback, against
// plain-socket clients (tcp_util.hpp), on every backend.
#include "tcp_util.hpp"

#include <reactor/tcp_client.hpp>
#include <reactor/tcp_server.hpp>

#include <sys/resource.h>

#include <sys/stat.h>

#include <any>
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

// ---- an allocation counter for the hot-path test below ----------------------
// Replacing the global operator new is allowed in a program; it counts every
// allocation the library and the test make.
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t size) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

void echo(const TcpConnectionPtr& c, Buffer& in) { c->send(in); }

// Drives the loop without building a std::function per call (which would
// allocate and spoil the allocation count).
template <class Pred>
bool spin_until(EventLoop& loop, Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        loop.run_once(std::chrono::milliseconds(50));
    }
    return true;
}

}  // namespace

TEST_CASE("1 MiB is echoed byte-exact") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message(echo);
    Fd client = tcp_connect(server.local_address());
    const std::string data = pattern(1 << 20);
    std::string got;
    std::size_t sent = 0;
    CHECK(run_until(loop, [&] {
        write_some(client.get(), data, sent);
        read_into(client.get(), got);
        return got.size() >= data.size();
    }));
    CHECK(got == data);
    CHECK(server.counters().accepted == 1);
}

TEST_CASE("1,000 concurrent clients each get their own bytes back") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message(echo);
    constexpr std::size_t kClients = 1000;
    std::vector<Fd> clients;
    clients.reserve(kClients);
    // Connect in batches that fit any backlog, letting the server accept.
    while (clients.size() < kClients) {
        for (int i = 0; i < 100; ++i) clients.push_back(tcp_connect(server.local_address()));
        REQUIRE(run_until(loop, [&] { return server.connection_count() == clients.size(); }));
    }
    std::vector<std::string> got(kClients);
    for (std::size_t i = 0; i < kClients; ++i) write_all(clients[i].get(), "client " + std::to_string(i) + "\n");
    CHECK(run_until(loop, [&] {
        bool all = true;
        for (std::size_t i = 0; i < kClients; ++i) {
            read_into(clients[i].get(), got[i]);
            all = all && got[i].size() >= 8 && got[i].back() == '\n';
        }
        return all;
    }));
    for (std::size_t i = 0; i < kClients; ++i) CHECK(got[i] == "client " + std::to_string(i) + "\n");
    CHECK(server.counters().accepted == kClients);
    CHECK(server.counters().current == kClients);
    clients.clear();
    CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));
}

TEST_CASE("client half-close: everything queued is flushed, then the server closes") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message(echo);
    int closes = 0;
    std::error_code close_ec = std::make_error_code(std::errc::io_error);
    server.on_close([&](const TcpConnectionPtr&, std::error_code ec) {
        ++closes;
        close_ec = ec;
    });
    Fd client = tcp_connect(server.local_address());
    const std::string data = pattern(300000);
    write_all(client.get(), data);
    ::shutdown(client.get(), SHUT_WR);
    std::string got;
    CHECK(read_to_eof(loop, client.get(), got));
    CHECK(got == data);
    CHECK(run_until(loop, [&] { return closes == 1; }));
    CHECK_FALSE(close_ec);
}

TEST_CASE("server half-close: shutdown() flushes, sends EOF, and keeps reading") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    TcpConnectionPtr conn;
    std::string received;
    int closes = 0;
    server.on_connect([&](const TcpConnectionPtr& c) {
        conn = c;
        c->send("bye\n");
        c->shutdown();
        CHECK(c->state() == TcpConnection::State::Disconnecting);
        CHECK_FALSE(c->send("refused"));  // no sends after shutdown()
    });
    server.on_message([&](const TcpConnectionPtr&, Buffer& in) { received += in.take_all(); });
    server.on_close([&](const TcpConnectionPtr&, std::error_code ec) {
        CHECK_FALSE(ec);
        ++closes;
    });
    Fd client = tcp_connect(server.local_address());
    std::string got;
    CHECK(read_to_eof(loop, client.get(), got));
    CHECK(got == "bye\n");
    write_all(client.get(), "late words");
    CHECK(run_until(loop, [&] { return received == "late words"; }));
    CHECK(closes == 0);
    client.reset();
    CHECK(run_until(loop, [&] { return closes == 1; }));
    CHECK(conn->state() == TcpConnection::State::Disconnected);
}

TEST_CASE("with allow_half_close the server may answer after the peer's EOF") {
    CheckedLoop loop;
    TcpServerOptions options;
    options.connection.allow_half_close = true;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    std::string request;
    bool eof_seen = false;
    server.on_message([&](const TcpConnectionPtr&, Buffer& in) { request += in.take_all(); });
    server.on_peer_shutdown([&](const TcpConnectionPtr& c) {
        eof_seen = c->peer_closed();
        // Answer later, from a timer, through the kept handle.
        loop.run_after(std::chrono::milliseconds(20), [c, &request] {
            c->send("answer to " + request);
            c->close();
        });
    });
    Fd client = tcp_connect(server.local_address());
    write_all(client.get(), "question");
    ::shutdown(client.get(), SHUT_WR);
    std::string got;
    CHECK(read_to_eof(loop, client.get(), got));
    CHECK(eof_seen);
    CHECK(got == "answer to question");
}

TEST_CASE("at EOF the message callback sees the unconsumed tail once more") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    std::vector<std::string> lines;
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        std::size_t nl;
        while ((nl = in.find('\n')) != Buffer::npos) {
            lines.push_back(in.take(nl));
            in.consume(1);
        }
        if (c->peer_closed() && !in.empty()) lines.push_back("tail:" + in.take_all());
    });
    Fd client = tcp_connect(server.local_address());
    write_all(client.get(), "one\ntwo\nthree");
    ::shutdown(client.get(), SHUT_WR);
    std::string ignored;
    CHECK(read_to_eof(loop, client.get(), ignored));
    CHECK(lines == std::vector<std::string>{"one", "two", "tail:three"});
}

TEST_CASE("a peer reset in the middle of a transfer closes with an error") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    std::error_code close_ec;
    int closes = 0;
    server.on_connect([](const TcpConnectionPtr& c) { c->send(pattern(16 << 20)); });
    server.on_close([&](const TcpConnectionPtr& c, std::error_code ec) {
        close_ec = ec;
        ++closes;
        CHECK(c->output_bytes() == 0);  // dropped with the connection
    });
    Fd client = tcp_connect(server.local_address());
    std::string got;
    CHECK(run_until(loop, [&] {
        read_into(client.get(), got);
        return got.size() > 100000;
    }));
    const linger hard{1, 0};
    ::setsockopt(client.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    client.reset();  // RST
    CHECK(run_until(loop, [&] { return closes == 1; }));
    CAPTURE(close_ec.message());
    CHECK((close_ec == std::errc::connection_reset || close_ec == std::errc::broken_pipe));
}

TEST_CASE("high-water mark: reading pauses while output piles up, resumes when drained") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.set_high_water_mark(256 * 1024);
    int high_water = 0;
    int drained = 0;
    bool paused_seen = false;
    bool resumed_seen = false;
    server.on_message(echo);
    server.on_high_water([&](const TcpConnectionPtr& c, std::size_t queued) {
        CHECK(queued >= 256 * 1024);
        ++high_water;
        c->pause_reading();
        paused_seen = !c->reading();
    });
    server.on_write_complete([&](const TcpConnectionPtr& c) {
        ++drained;
        c->resume_reading();
        resumed_seen = resumed_seen || c->reading();
    });
    Fd client = tcp_connect(server.local_address());
    // Larger than the loopback socket buffers (several MiB with autotuning),
    // so that the server really has to queue and pause.
    const std::string data = pattern(32 << 20);
    std::size_t sent = 0;
    // Phase 1: send without reading, until the server stops reading.
    CHECK(run_until(loop, [&] {
        write_some(client.get(), data, sent);
        return high_water > 0;
    }));
    CHECK(paused_seen);
    // Paused: the server takes nothing more however long we wait.
    const std::size_t sent_when_paused = sent;
    for (int i = 0; i < 5; ++i) {
        run_for(loop, std::chrono::milliseconds(10));
        write_some(client.get(), data, sent);
    }
    CHECK(sent < data.size());
    CHECK(sent - sent_when_paused < data.size());
    // Phase 2: read; the output drains, reading resumes, all arrives.
    std::string got;
    CHECK(run_until(loop, [&] {
        write_some(client.get(), data, sent);
        read_into(client.get(), got);
        return got.size() >= data.size();
    }));
    CHECK(got == data);
    CHECK(drained > 0);
    CHECK(resumed_seen);
}

TEST_CASE("a connection may be closed or dropped inside each of its callbacks") {
    CheckedLoop loop;
    TcpServerOptions options;
    options.connection.allow_half_close = true;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    server.set_high_water_mark(64 * 1024);
    // What each connection does is chosen by the first byte it sends. Its
    // context counts its close callbacks (addresses may be reused, so no
    // map keyed by pointer).
    std::map<TcpConnection*, TcpConnectionPtr> held;  // the user's handles
    int closes = 0;
    server.on_connect([&](const TcpConnectionPtr& c) {
        held[c.get()] = c;
        c->context() = 0;
    });
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        const char what = in[0];
        in.consume_all();
        if (what == 'c') {
            c->send("reply");
            c->close();
        } else if (what == 'f') {
            held.erase(c.get());  // drop the last user handle, then close
            c->force_close();
        } else if (what == 'w') {
            c->send(pattern(4 << 20));  // queued: write-complete will close
        } else if (what == 'h') {
            c->send(pattern(4 << 20));  // crosses the mark: high-water closes
        }
    });
    server.on_write_complete([&](const TcpConnectionPtr& c) { c->force_close(); });
    server.on_high_water([&](const TcpConnectionPtr& c, std::size_t) {
        c->force_close();
        c->force_close();  // twice is harmless
    });
    server.on_peer_shutdown([&](const TcpConnectionPtr& c) { c->close(); });
    server.on_close([&](const TcpConnectionPtr& c, std::error_code) {
        CHECK(++std::any_cast<int&>(c->context()) == 1);
        ++closes;
        held.erase(c.get());  // the user's handle dies inside the callback
    });

    Fd c_close = tcp_connect(server.local_address());
    Fd c_force = tcp_connect(server.local_address());
    Fd c_eof = tcp_connect(server.local_address());
    Fd c_high = tcp_connect(server.local_address());
    REQUIRE(run_until(loop, [&] { return server.connection_count() == 4; }));
    write_all(c_close.get(), "c");
    write_all(c_force.get(), "f");
    write_all(c_high.get(), "h");
    ::shutdown(c_eof.get(), SHUT_WR);
    std::string got_close, ignored;
    CHECK(read_to_eof(loop, c_close.get(), got_close));
    CHECK(got_close == "reply");
    CHECK(read_to_eof(loop, c_force.get(), ignored));
    CHECK(read_to_eof(loop, c_eof.get(), ignored));
    CHECK(run_until(loop, [&] { return read_into(c_high.get(), ignored) <= 0; }));

    // Write-complete: the client reads everything, then sees the close.
    server.set_high_water_mark(64 << 20);
    Fd c_write = tcp_connect(server.local_address());
    write_all(c_write.get(), "w");
    std::string got_write;
    CHECK(read_to_eof(loop, c_write.get(), got_write));
    CHECK(got_write.size() == (4u << 20));

    CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));
    CHECK(closes == 5);
    CHECK(held.empty());
}

TEST_CASE("connect callback may close; the server may be destroyed inside a callback") {
    CheckedLoop loop;
    auto server = std::make_unique<TcpServer>(loop, SocketAddress::ipv4_loopback(0));
    server->on_connect([](const TcpConnectionPtr& c) { c->force_close(); });
    Fd first = tcp_connect(server->local_address());
    std::string ignored;
    CHECK(read_to_eof(loop, first.get(), ignored));

    server->on_connect(nullptr);
    TcpConnectionPtr kept;
    server->on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        kept = c;
        c->send(in);
        server.reset();  // destroys the server and its callbacks' owner
    });
    Fd second = tcp_connect(server->local_address());
    write_all(second.get(), "x");
    CHECK(run_until(loop, [&] { return server == nullptr; }));
    // The handle is still safe: closed, inert.
    REQUIRE(kept);
    CHECK(kept->state() == TcpConnection::State::Disconnected);
    CHECK_FALSE(kept->send("after"));
    CHECK(read_to_eof(loop, second.get(), ignored));
    run_for(loop, std::chrono::milliseconds(5));  // lets the deferred free run
}

TEST_CASE("send from another thread is posted to the loop, in order") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    TcpConnectionPtr conn;
    server.on_connect([&](const TcpConnectionPtr& c) { conn = c; });
    Fd client = tcp_connect(server.local_address());
    REQUIRE(run_until(loop, [&] { return conn != nullptr; }));
    std::string expected;
    for (int i = 0; i < 200; ++i) expected += "message " + std::to_string(i) + "\n";
    std::atomic<bool> done{false};
    std::thread sender([&, c = conn] {
        for (int i = 0; i < 200; ++i) CHECK(c->send("message " + std::to_string(i) + "\n"));
        done = true;
    });
    std::string got;
    CHECK(run_until(loop, [&] {
        read_into(client.get(), got);
        return done && got.size() >= expected.size();
    }));
    sender.join();
    CHECK(got == expected);
    conn.reset();
}

TEST_CASE("a kept handle stays safe after the peer left; sends report false") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    TcpConnectionPtr conn;
    bool closed = false;
    SocketAddress peer;
    server.on_connect([&](const TcpConnectionPtr& c) {
        conn = c;
        peer = c->peer_address();
        CHECK(c->local_address() == server.local_address());
        c->context() = 42;
    });
    server.on_close([&](const TcpConnectionPtr&, std::error_code) { closed = true; });
    Fd client = tcp_connect(server.local_address());
    REQUIRE(run_until(loop, [&] { return conn != nullptr; }));
    CHECK(peer.port() != 0);
    client.reset();
    CHECK(run_until(loop, [&] { return closed; }));
    CHECK(conn->state() == TcpConnection::State::Disconnected);
    CHECK_FALSE(conn->send("anyone?"));
    CHECK(conn->fd() == -1);
    CHECK(conn->peer_address().is_unspecified());
    conn->close();
    conn->shutdown();
    conn->force_close();
    conn->resume_reading();
    CHECK(std::any_cast<int>(conn->context()) == 42);
    run_for(loop, std::chrono::milliseconds(5));
    CHECK(server.connection_count() == 0);
}

TEST_CASE("a connection cap refuses the excess and the counters say so") {
    CheckedLoop loop;
    TcpServerOptions options;
    options.max_connections = 2;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    server.on_message(echo);
    Fd a = tcp_connect(server.local_address());
    Fd b = tcp_connect(server.local_address());
    REQUIRE(run_until(loop, [&] { return server.connection_count() == 2; }));
    Fd c = tcp_connect(server.local_address());
    std::string ignored;
    CHECK(read_to_eof(loop, c.get(), ignored));  // refused: closed at once
    const TcpServerCounters counters = server.counters();
    CHECK(counters.accepted == 2);
    CHECK(counters.refused == 1);
    CHECK(counters.current == 2);
    CHECK(counters.paused == 0);
}

TEST_CASE("by default the cap is the open-file limit less a reserve") {
    CheckedLoop loop;
    struct rlimit limit {};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    if (limit.rlim_cur == RLIM_INFINITY) {
        CHECK(server.max_connections() == TcpServerOptions::kNoConnectionCap);
    } else {
        const auto fds = static_cast<std::size_t>(limit.rlim_cur);
        CHECK(server.max_connections() < fds);
        CHECK(fds - server.max_connections() >= 32);
        CHECK(fds - server.max_connections() >= fds / 16);
    }
    TcpServerOptions none;
    none.max_connections = TcpServerOptions::kNoConnectionCap;
    TcpServer uncapped(loop, SocketAddress::ipv4_loopback(0), none);
    CHECK(uncapped.max_connections() == TcpServerOptions::kNoConnectionCap);
}

namespace {

// A server whose connections echo, with `options` for them; records how
// each closed.
struct TimeoutServer {
    TimeoutServer(EventLoop& loop, TcpConnectionOptions options)
        : server(loop, SocketAddress::ipv4_loopback(0), [&] {
              TcpServerOptions o;
              o.connection = options;
              return o;
          }()) {
        server.on_message(echo);
        server.on_close([this](const TcpConnectionPtr&, std::error_code ec) { closes.push_back(ec); });
    }
    TcpServer server;
    std::vector<std::error_code> closes;
};

}  // namespace

TEST_CASE("idle timeout: a connection with no traffic either way is closed with timed_out") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.idle_timeout = std::chrono::milliseconds(150);
    TimeoutServer t(loop, options);
    Fd quiet = tcp_connect(t.server.local_address());
    Fd busy = tcp_connect(t.server.local_address());
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 2; }));
    // `busy` talks every 50 ms for 400 ms: never idle for 150 ms.
    const auto start = std::chrono::steady_clock::now();
    std::string echoed;
    for (int i = 0; i < 8; ++i) {
        write_all(busy.get(), "x");
        run_for(loop, std::chrono::milliseconds(50));
        read_into(busy.get(), echoed);
    }
    CHECK(echoed == "xxxxxxxx");
    REQUIRE(t.closes.size() == 1);
    CHECK(t.closes[0] == std::errc::timed_out);
    std::string rest;
    CHECK(read_to_eof(loop, quiet.get(), rest));
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(150));
    CHECK(t.server.connection_count() == 1);
    busy.reset();
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 0; }));
}

TEST_CASE("read timeout: a peer that goes quiet is closed even while we keep sending") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.read_timeout = std::chrono::milliseconds(100);
    TimeoutServer t(loop, options);
    TcpConnectionPtr conn;
    t.server.on_connect([&](const TcpConnectionPtr& c) { conn = c; });
    Fd client = tcp_connect(t.server.local_address());
    REQUIRE(run_until(loop, [&] { return conn != nullptr; }));
    // Our side sends (write progress, so not idle), the peer sends nothing.
    TimerId ticker = loop.run_every(std::chrono::milliseconds(20), [&] { conn->send("tick"); });
    REQUIRE(run_until(loop, [&] { return !t.closes.empty(); }));
    loop.cancel(ticker);
    CHECK(t.closes[0] == std::errc::timed_out);
    conn.reset();
}

TEST_CASE("write timeout: a peer that stops reading is cut off, also during close()") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.write_timeout = std::chrono::milliseconds(150);
    TimeoutServer t(loop, options);
    // 16 MiB, then close(): more than the socket buffers hold, so the rest
    // waits for a reader that never comes (Disconnecting for ever, before).
    t.server.on_connect([](const TcpConnectionPtr& c) {
        c->send(pattern(16 << 20));
        c->close();
    });
    Fd client = tcp_connect(t.server.local_address());
    REQUIRE(run_until(loop, [&] { return !t.closes.empty(); }));
    CHECK(t.closes[0] == std::errc::timed_out);
    CHECK(t.server.connection_count() == 0);
}

TEST_CASE("a reader that keeps up is never hit by the write timeout") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.write_timeout = std::chrono::milliseconds(100);
    options.read_timeout = std::chrono::milliseconds(100);
    TimeoutServer t(loop, options);
    const std::string big = pattern(8 << 20);
    t.server.on_connect([&](const TcpConnectionPtr& c) {
        c->send(big);
        c->shutdown();
    });
    Fd client = tcp_connect(t.server.local_address());
    std::string got;
    // Read what has arrived every few milliseconds: steady progress, well
    // within 100 ms. (A reader so slow that the kernel's send buffer frees
    // no room for 100 ms is exactly what the write timeout cuts off.) The
    // read timeout applies as well, so the client sends a byte now and then.
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (got.size() < big.size() && std::chrono::steady_clock::now() < deadline) {
        loop.run_once(std::chrono::milliseconds(5));
        if (read_into(client.get(), got) <= 0) break;
        (void)::send(client.get(), "k", 1, REACTOR_MSG_NOSIGNAL);
    }
    CHECK(got.size() == big.size());
    CHECK((got == big));  // parenthesised: doctest would print 8 MiB
    client.reset();
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 0; }));
    for (std::error_code ec : t.closes) CHECK(ec != std::errc::timed_out);
}

// The loop's clock is read once per iteration. A callback that runs long and
// then writes must not have its write stamped with the iteration's start:
// the next sweep would see the stall (or idle) clock as already run down
// and close a connection whose peer has done nothing wrong.

TEST_CASE("write timeout: the stall clock starts when output is queued, not when the iteration began") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.write_timeout = std::chrono::milliseconds(1000);  // swept every 250 ms
    TimeoutServer t(loop, options);
    const std::string big = pattern(8 << 20);  // more than the socket buffers hold
    t.server.on_connect([&](const TcpConnectionPtr& c) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a slow callback
        c->send(big);
    });
    Fd client = tcp_connect(t.server.local_address());
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 1; }));
    // The reader waits 400 ms, long enough for a sweep, then reads at full
    // speed: the output has been queued for 400 ms, within the 1 s limit.
    run_for(loop, std::chrono::milliseconds(400));
    CHECK(t.closes.empty());
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (got.size() < big.size() && std::chrono::steady_clock::now() < deadline) {
        loop.run_once(std::chrono::milliseconds(5));
        if (read_into(client.get(), got) <= 0) break;  // EOF or reset: cut off
    }
    CHECK(got.size() == big.size());
    CHECK(t.closes.empty());
    client.reset();
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 0; }));
    for (std::error_code ec : t.closes) CHECK(ec != std::errc::timed_out);
}

TEST_CASE("idle timeout: counts from a reply written late in a slow callback") {
    CheckedLoop loop;
    TcpConnectionOptions options;
    options.idle_timeout = std::chrono::milliseconds(1000);
    TimeoutServer t(loop, options);
    t.server.on_message([](const TcpConnectionPtr& c, Buffer& in) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        echo(c, in);
    });
    Fd client = tcp_connect(t.server.local_address());
    REQUIRE(run_until(loop, [&] { return t.server.connection_count() == 1; }));
    write_all(client.get(), "ping");
    std::string got;
    REQUIRE(read_exactly(loop, client.get(), got, 4));
    CHECK(got == "ping");
    const auto replied = std::chrono::steady_clock::now();
    // Idle since the reply, not since the request arrived 1.5 s before it.
    run_for(loop, std::chrono::milliseconds(400));
    CHECK(t.closes.empty());
    std::string rest;
    CHECK(read_to_eof(loop, client.get(), rest));
    CHECK(rest.empty());
    CHECK(std::chrono::steady_clock::now() - replied >= std::chrono::milliseconds(900));
    REQUIRE(t.closes.size() == 1);
    CHECK(t.closes[0] == std::errc::timed_out);
}

TEST_CASE("a client's connection has the same timeouts") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    TcpClientOptions options;
    options.connection.idle_timeout = std::chrono::milliseconds(100);
    TcpClient client(loop, server.local_address(), options);
    std::error_code closed_with;
    bool closed = false;
    client.on_close([&](const TcpConnectionPtr&, std::error_code ec) {
        closed = true;
        closed_with = ec;
    });
    client.connect([](std::error_code, const TcpConnectionPtr&) {});
    REQUIRE(run_until(loop, [&] { return closed; }));
    CHECK(closed_with == std::errc::timed_out);
}

TEST_CASE("shutdown(grace) closes gently, forces the stragglers, then reports done") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_connect([](const TcpConnectionPtr& c) { c->send(pattern(16 << 20)); });
    Fd reader = tcp_connect(server.local_address());  // never reads: a straggler
    REQUIRE(run_until(loop, [&] { return server.connection_count() == 1; }));
    bool done = false;
    server.shutdown(std::chrono::milliseconds(50), [&] { done = true; });
    CHECK_FALSE(server.listening());
    CHECK(run_until(loop, [&] { return done; }));
    CHECK(server.connection_count() == 0);
}

TEST_CASE("a Unix-domain stream server works the same way") {
    const std::string path = "/tmp/reactor-tcp-test-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    CheckedLoop loop;
    {
        TcpServer server(loop, SocketAddress::unix_path(path));
        server.on_message(echo);
        CHECK(server.local_address().to_string() == "unix:" + path);
        Fd client = tcp_connect(server.local_address());
        write_all(client.get(), "over a path");
        std::string got;
        CHECK(read_exactly(loop, client.get(), got, 11));
        CHECK(got == "over a path");
    }
    ::unlink(path.c_str());
    run_for(loop, std::chrono::milliseconds(5));
}

TEST_CASE("an echo in steady state allocates nothing per message") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message(echo);
    Fd client = tcp_connect(server.local_address());
    const std::string message(64, 'm');
    char reply[64];
    auto round_trip = [&] {
        if (::send(client.get(), message.data(), message.size(), 0) != 64) return false;
        std::size_t got = 0;
        return spin_until(loop, [&] {
            const ssize_t n = ::read(client.get(), reply, sizeof reply - got);
            if (n > 0) got += static_cast<std::size_t>(n);
            return got == message.size();
        });
    };
    for (int i = 0; i < 20; ++i) REQUIRE(round_trip());  // warm up: scratch, vectors
    const long before = g_allocations.load();
    for (int i = 0; i < 1000; ++i) REQUIRE(round_trip());
    CHECK(g_allocations.load() - before == 0);
}

TEST_CASE("the connection object stays small") {
    // docs/tcp.md adds this to the control block, the server's table slot
    // and the loop's watcher slot for the per-connection total.
    // 96 with the two activity stamps and libstdc++'s 16-byte std::any (the
    // user context); libc++'s std::any is 32 bytes, so 112 there.
    CHECK(sizeof(TcpConnection) <= 80 + sizeof(std::any));
    CHECK(sizeof(Buffer) == sizeof(void*));
}
