// runs-on: every backend
// tests/tcp_server_threads_test.cpp -- a TcpServer with several loops:
// connections spread over the loops, each living on exactly one of them,
// with both ways of spreading (SO_REUSEPORT listeners and hand-off).
#include "tcp_util.hpp"

#include <reactor/tcp_server.hpp>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

// What the server's callbacks saw, from whichever loop thread ran them.
struct Seen {
    std::mutex mutex;
    std::map<const TcpConnection*, std::thread::id> home;  // connection -> its loop's thread
    std::map<std::thread::id, int> per_thread;             // connections per loop thread
    bool moved = false;                                    // a connection seen on two threads
    std::atomic<int> opened{0};
    std::atomic<int> closed{0};

    void note(const TcpConnectionPtr& c, bool open) {
        std::lock_guard lock(mutex);
        const auto [it, inserted] = home.emplace(c.get(), std::this_thread::get_id());
        if (!inserted && it->second != std::this_thread::get_id()) moved = true;
        if (open) ++per_thread[std::this_thread::get_id()];
        if (!c->loop().in_loop_thread()) moved = true;
    }
};

void wire(TcpServer& server, Seen& seen) {
    server.on_connect([&seen](const TcpConnectionPtr& c) {
        seen.note(c, true);
        ++seen.opened;
    });
    server.on_message([&seen](const TcpConnectionPtr& c, Buffer& in) {
        seen.note(c, false);
        c->send(in);
    });
    server.on_close([&seen](const TcpConnectionPtr& c, std::error_code) {
        seen.note(c, false);
        ++seen.closed;
    });
}

// Connects `count` plain clients in batches, letting the server's own loop
// run in between (it accepts, or hands off, on this thread).
std::vector<Fd> connect_clients(EventLoop& loop, TcpServer& server, Seen& seen, std::size_t count) {
    std::vector<Fd> clients;
    clients.reserve(count);
    while (clients.size() < count) {
        for (int i = 0; i < 100 && clients.size() < count; ++i) {
            clients.push_back(tcp_connect(server.local_address()));
        }
        REQUIRE(run_until(loop, [&] { return seen.opened.load() == static_cast<int>(clients.size()); }));
    }
    return clients;
}

// Every client sends its own line and must get exactly it back.
void check_echo(EventLoop& loop, std::vector<Fd>& clients) {
    std::vector<std::string> got(clients.size());
    for (std::size_t i = 0; i < clients.size(); ++i) {
        write_all(clients[i].get(), "client " + std::to_string(i) + "\n");
    }
    CHECK(run_until(loop, [&] {
        bool all = true;
        for (std::size_t i = 0; i < clients.size(); ++i) {
            read_into(clients[i].get(), got[i]);
            all = all && !got[i].empty() && got[i].back() == '\n';
        }
        return all;
    }));
    for (std::size_t i = 0; i < clients.size(); ++i) {
        CHECK(got[i] == "client " + std::to_string(i) + "\n");
    }
}

}  // namespace

TEST_CASE("1,000 clients are served across 2 loops, each connection on one loop") {
    for (const Balance balance : {Balance::HandOff, Balance::ReusePort, Balance::Auto}) {
        CAPTURE(static_cast<int>(balance));
        CheckedLoop loop;
        TcpServerOptions options;
        options.threads = 2;
        options.balance = balance;
        Seen seen;  // outlives the server: other loops call into it until then
        TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
        CHECK(server.thread_count() == 2);
        wire(server, seen);

        std::vector<Fd> clients = connect_clients(loop, server, seen, 1000);
        check_echo(loop, clients);
        CHECK(server.counters().accepted == 1000);
        CHECK(server.connection_count() == 1000);
        {
            std::lock_guard lock(seen.mutex);
            CHECK_FALSE(seen.moved);
            REQUIRE(seen.per_thread.size() == 2);  // both loops served some
            CHECK(seen.per_thread.count(std::this_thread::get_id()) == 1);
            if (balance == Balance::HandOff) {
                // Round robin over the two loops: an exact split.
                for (const auto& [thread, n] : seen.per_thread) CHECK(n == 500);
            }
        }
        clients.clear();
        CHECK(run_until(loop, [&] { return seen.closed.load() == 1000; }));
        CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));
    }
}

TEST_CASE("a connection cap counts the connections of every loop") {
    for (const Balance balance : {Balance::HandOff, Balance::ReusePort}) {
        CAPTURE(static_cast<int>(balance));
        CheckedLoop loop;
        TcpServerOptions options;
        options.threads = 2;
        options.balance = balance;
        options.max_connections = 10;
        Seen seen;
        TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
        wire(server, seen);
        std::vector<Fd> clients = connect_clients(loop, server, seen, 10);
        // Twenty more: every one is refused (closed at once), whichever
        // loop's listener the kernel gives it to.
        std::vector<Fd> extra;
        for (int i = 0; i < 20; ++i) extra.push_back(tcp_connect(server.local_address()));
        for (Fd& fd : extra) {
            std::string ignored;
            CHECK(read_to_eof(loop, fd.get(), ignored));
        }
        CHECK(server.counters().refused == 20);
        CHECK(server.counters().accepted == 10);
        CHECK(seen.opened.load() == 10);
        check_echo(loop, clients);
    }
}

TEST_CASE("shutdown() closes the connections of every loop, then calls done once") {
    for (const Balance balance : {Balance::HandOff, Balance::ReusePort}) {
        CAPTURE(static_cast<int>(balance));
        CheckedLoop loop;
        TcpServerOptions options;
        options.threads = 3;
        options.balance = balance;
        Seen seen;
        TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
        wire(server, seen);
        std::vector<Fd> clients = connect_clients(loop, server, seen, 60);
        int done = 0;
        bool done_on_loop = false;
        server.shutdown(std::chrono::milliseconds(200), [&] {
            ++done;
            done_on_loop = loop.in_loop_thread();
        });
        CHECK_FALSE(server.listening());
        CHECK(run_until(loop, [&] { return done == 1; }));
        CHECK(done_on_loop);
        CHECK(seen.closed.load() == 60);
        CHECK(server.connection_count() == 0);
        for (Fd& fd : clients) {
            std::string ignored;
            CHECK(read_to_eof(loop, fd.get(), ignored));
        }
        run_for(loop, std::chrono::milliseconds(20));
        CHECK(done == 1);
    }
}

TEST_CASE("destroying the server closes every loop's connections without callbacks") {
    for (const Balance balance : {Balance::HandOff, Balance::ReusePort}) {
        CAPTURE(static_cast<int>(balance));
        CheckedLoop loop;
        Seen seen;
        std::vector<Fd> clients;
        {
            TcpServerOptions options;
            options.threads = 2;
            options.balance = balance;
            TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
            wire(server, seen);
            clients = connect_clients(loop, server, seen, 40);
        }
        CHECK(seen.closed.load() == 0);  // no callback after the destructor
        for (Fd& fd : clients) {
            std::string ignored;
            CHECK(read_to_eof(loop, fd.get(), ignored));
        }
        run_for(loop, std::chrono::milliseconds(20));
        CHECK(seen.closed.load() == 0);
    }
}

TEST_CASE("a server destroyed before its loop ever ran starts nothing") {
    CheckedLoop loop;
    TcpServerOptions options;
    options.threads = 2;
    { TcpServer server(loop, SocketAddress::ipv4_loopback(0), options); }
    run_for(loop, std::chrono::milliseconds(10));
}

TEST_CASE("a Unix-domain server with threads hands connections off") {
    const std::string path = "/tmp/reactor-threads-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    CheckedLoop loop;
    {
        TcpServerOptions options;
        options.threads = 2;  // Auto: hand-off, since SO_REUSEPORT is for TCP
        Seen seen;
        TcpServer server(loop, SocketAddress::unix_path(path), options);
        wire(server, seen);
        std::vector<Fd> clients = connect_clients(loop, server, seen, 20);
        check_echo(loop, clients);
        std::lock_guard lock(seen.mutex);
        CHECK(seen.per_thread.size() == 2);
    }
    ::unlink(path.c_str());
}

TEST_CASE("bad thread settings are clear errors") {
    CheckedLoop loop;
    TcpServerOptions zero;
    zero.threads = 0;
    CHECK_THROWS_AS(TcpServer(loop, SocketAddress::ipv4_loopback(0), zero), std::system_error);
    TcpServerOptions unix_reuse;
    unix_reuse.threads = 2;
    unix_reuse.balance = Balance::ReusePort;
    const std::string path = "/tmp/reactor-threads-bad-" + std::to_string(::getpid()) + ".sock";
    CHECK_THROWS_AS(TcpServer(loop, SocketAddress::unix_path(path), unix_reuse), std::system_error);
    ::unlink(path.c_str());
}

TEST_CASE("the high-water mark set after start reaches the other loops") {
    CheckedLoop loop;
    TcpServerOptions options;
    options.threads = 2;
    options.balance = Balance::HandOff;
    std::atomic<int> high{0};
    std::atomic<int> connected{0};
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    server.on_high_water([&](const TcpConnectionPtr&, std::size_t) { ++high; });
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        in.consume_all();
        c->send(std::string(16 << 20, 'x'));  // more than the socket buffers take
        ++connected;
    });
    run_for(loop, std::chrono::milliseconds(5));  // the server starts its loops
    server.set_high_water_mark(1);
    Fd a = tcp_connect(server.local_address());
    Fd b = tcp_connect(server.local_address());  // the second goes to the other loop
    write_all(a.get(), "go");
    write_all(b.get(), "go");
    CHECK(run_until(loop, [&] { return connected.load() == 2; }));
    CHECK(run_until(loop, [&] { return high.load() == 2; }));
}
