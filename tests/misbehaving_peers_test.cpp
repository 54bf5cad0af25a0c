// runs-on: every backend
// tests/misbehaving_peers_test.cpp -- clients that do what a client should
// not: never read, leave mid-response, trickle a request (slowloris), flood
// the server past its fd limit, half-close and keep reading. Each case
// states its bound -- bytes the server buffers, or time until it closes --
// and checks it; each is over in a few seconds at most.
#include "fault_util.hpp"
#include "http_server_util.hpp"

#include <reactor/http/server.hpp>
#include <reactor/tcp_server.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

using namespace reactor;
using namespace reactor::test;

namespace {

using Clock = std::chrono::steady_clock;

// The most output any connection of `server` holds right now (what the
// library buffers for clients, not the process's RSS).
std::size_t largest_output(TcpServer& server) {
    std::size_t most = 0;
    server.for_each_connection([&](const TcpConnectionPtr& c) { most = std::max(most, c->output_bytes()); });
    return most;
}

}  // namespace

// ---- a flood past the fd limit (first: it forks, best before other tests start threads) --

namespace {

// The child: an HTTP server with RLIMIT_NOFILE 64 and no connection cap, so
// the flood runs it out of fds (the EMFILE path). It serves until the
// parent closes the control pipe, then exits 0 if it paused its listener
// at least once (it did run out) and still held its kept connections.
int flood_server_child(int port_out, int control_in) {
    rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
    EventLoop loop;
    http::ServerOptions options;
    options.tcp.max_connections = TcpServerOptions::kNoConnectionCap;
    http::Server server(loop, SocketAddress::ipv4_loopback(0), options);
    server.route("GET", "/", [](const http::Request& req, http::Response res) {
        res.send("hello " + std::string(req.path()));
    });
    bool stop = false;
    const WatcherId control = loop.watch(control_in, Readable, [&](Events) { stop = true; });
    const std::string port = std::to_string(server.local_address().port()) + "\n";
    if (::write(port_out, port.data(), port.size()) != static_cast<ssize_t>(port.size())) return 11;
    const auto t0 = Clock::now();
    while (!stop && Clock::now() - t0 < std::chrono::seconds(20)) loop.run_once(std::chrono::milliseconds(100));
    loop.unwatch(control);
    return server.tcp().counters().paused >= 1 ? 0 : 2;
}

// One request on a kept-alive plain socket, without a loop (the server is
// in the child): true if the reply is right.
bool served(int fd, const std::string& path) {
    const std::string request = get(path);
    if (::send(fd, request.data(), request.size(), REACTOR_MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        return false;
    }
    std::string in;
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        if (read_into(fd, in) <= 0) return false;
        if (auto reply = take_reply(in)) return reply->status == 200 && reply->body == "hello " + path;
    }
    return false;
}

}  // namespace

TEST_CASE("a connect flood past the fd limit: the server keeps its connections and recovers") {
    int port_pipe[2], control_pipe[2];
    REQUIRE(::pipe(port_pipe) == 0);
    REQUIRE(::pipe(control_pipe) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(port_pipe[0]);
        ::close(control_pipe[1]);
        ::_exit(flood_server_child(port_pipe[1], control_pipe[0]));
    }
    ::close(port_pipe[1]);
    ::close(control_pipe[0]);
    Fd port_in(port_pipe[0]), control_out(control_pipe[1]);
    const std::string port_text = read_line_blocking(port_in.get());
    REQUIRE_FALSE(port_text.empty());
    const auto where = SocketAddress::ipv4_loopback(static_cast<std::uint16_t>(std::stoi(port_text)));

    // One connection served and closed while fds are plentiful, as in any
    // server's life. Under UBSan it also matters: the vptr check needs a
    // spare fd the first time it meets a type, so the close path must not
    // be new at exhaustion (tests/emfile_test.cpp does the same).
    {
        Fd warm = tcp_connect(where);
        CHECK(served(warm.get(), "/warm"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // Three keep-alive clients, served before the flood.
    std::vector<Fd> kept;
    for (int i = 0; i < 3; ++i) {
        kept.push_back(tcp_connect(where));
        CHECK(served(kept.back().get(), "/before/" + std::to_string(i)));
    }
    // The flood: 200 connections against 64 fds; they complete in the
    // kernel's backlog whether or not the child accepts them.
    std::vector<Fd> flood;
    for (int i = 0; i < 200; ++i) {
        Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
        REQUIRE(fd.get() >= 0);
        ::fcntl(fd.get(), F_SETFL, O_NONBLOCK);
        (void)::connect(fd.get(), where.native(), where.length());
        flood.push_back(std::move(fd));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // Out of fds, the server still serves the connections it holds.
    for (std::size_t i = 0; i < kept.size(); ++i) {
        CHECK(served(kept[i].get(), "/during/" + std::to_string(i)));
    }
    // The flood leaves; a newcomer is served again (it may be refused while
    // the server still learns of the flood's end, one EOF at a time, so it
    // retries as a real client would).
    flood.clear();
    bool recovered = false;
    const auto until = Clock::now() + kDeadline;
    while (!recovered && Clock::now() < until) {
        try {
            Fd late = tcp_connect(where);
            recovered = served(late.get(), "/after");
        } catch (const std::system_error&) {
        }
        if (!recovered) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(recovered);
    for (std::size_t i = 0; i < kept.size(); ++i) {
        CHECK(served(kept[i].get(), "/after/" + std::to_string(i)));
    }
    control_out.reset();
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 2: it never ran out of fds, so this proved nothing
}

// ---- a reader that never reads ---------------------------------------------------------------

TEST_CASE("a client that never reads: the server buffers at most max_output_bytes plus one response") {
    // The bound: reading stops once the connection's queued output reaches
    // max_output_bytes, so what is queued is at most that, plus the one
    // response that crossed it. The client pipelines far more requests than
    // that and never reads a byte; the send timeout then closes it.
    CheckedLoop loop;
    http::ServerOptions options;
    options.max_output_bytes = 64 * 1024;
    options.send_timeout = std::chrono::milliseconds(800);
    constexpr std::size_t kBody = 8 * 1024;
    http::Server server(loop, SocketAddress::ipv4_loopback(0), options);
    const std::string body(kBody, 'b');
    std::size_t handled = 0;
    server.route("GET", "/big", [&](const http::Request&, http::Response res) {
        ++handled;
        res.send(body);
    });
    RawPeer peer(server.local_address());
    const int small = 4096;
    ::setsockopt(peer.fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    for (int i = 0; i < 4000; ++i) peer.out += get("/big");

    std::size_t most = 0;
    const auto t0 = Clock::now();
    REQUIRE(drive(loop, [&] { return server.tcp().connection_count() == 1; }));
    CHECK(drive(loop, [&] {
        write_some(peer.fd.get(), peer.out, peer.sent);  // writes, never reads
        most = std::max(most, largest_output(server.tcp()));
        return server.tcp().connection_count() == 0;
    }));
    const auto took = Clock::now() - t0;
    const std::size_t response = kBody + 200;  // body and head
    INFO("largest output " << most << " bytes; " << handled << " requests handled");
    CHECK(most <= options.max_output_bytes + response);
    CHECK(most > 0);
    CHECK(handled < 4000);  // it stopped reading requests
    // The send timeout (800 ms, checked every 200 ms) closed it.
    CHECK(took >= options.send_timeout);
    CHECK(took < std::chrono::seconds(3));
}

TEST_CASE("a client that never reads a streamed file: one slice is buffered, then the send timeout closes it") {
    CheckedLoop loop;
    http::ServerOptions options;
    options.send_timeout = std::chrono::milliseconds(600);
    http::Server server(loop, SocketAddress::ipv4_loopback(0), options);
    TempDir dir("reactor-never-reads");
    constexpr std::size_t kSize = 8 * 1024 * 1024;
    write_file(dir / "big.bin", stream_pattern(kSize, 3));
    server.route("GET", "/big.bin", [&](const http::Request&, http::Response res) {
        auto s = std::make_shared<FileStream>();
        s->file = Fd(::open((dir / "big.bin").c_str(), O_RDONLY | O_CLOEXEC));
        s->size = kSize;
        s->slice = 64 * 1024;
        s->response = res;
        res.send_head(kSize);
        stream_file(loop, s);
    });
    HttpClient client(server.local_address());
    client.send(get("/big.bin"));
    REQUIRE(drive(loop, [&] { return server.tcp().connection_count() == 1; }));
    std::size_t most = 0;
    const auto t0 = Clock::now();
    CHECK(drive(loop, [&] {
        most = std::max(most, largest_output(server.tcp()));
        return server.tcp().connection_count() == 0;
    }));
    const auto took = Clock::now() - t0;
    INFO("largest output " << most);
    // The next slice is read only once the last one drained: what waits in
    // the library is at most one slice (plus the head).
    CHECK(most <= 64 * 1024 + 512);
    CHECK(most > 0);
    // Closed by the send timeout (600 ms, checked every 150 ms).
    CHECK(took >= options.send_timeout);
    CHECK(took < std::chrono::seconds(3));
    drive(loop, [&] { return pending_work(loop) == 0; });
}

// ---- a client that leaves mid-response ----------------------------------------------------

TEST_CASE("clients that leave mid-response at random points, closing or resetting: the server serves on") {
    const std::uint64_t seed = fault::seed_from_env();
    INFO("seed " << seed << " (replay: REACTOR_FAULT_SEED=" << seed << ")");
    std::mt19937_64 random(seed);
    CheckedLoop loop;
    http::Server server(loop, SocketAddress::ipv4_loopback(0));
    TempDir dir("reactor-leavers");
    constexpr std::size_t kSize = 600 * 1000;
    const std::string file = stream_pattern(kSize, 5);
    write_file(dir / "f.bin", file);
    server.route("GET", "/file", [&](const http::Request&, http::Response res) {
        auto s = std::make_shared<FileStream>();
        s->file = Fd(::open((dir / "f.bin").c_str(), O_RDONLY | O_CLOEXEC));
        s->size = kSize;
        s->response = res;
        res.send_head(kSize);
        stream_file(loop, s);
    });
    server.route("GET", "/chunked", [&](const http::Request&, http::Response res) {
        res.start_chunked();
        for (int i = 0; i < 200; ++i) res.write(std::string(1000, static_cast<char>('a' + i % 26)));
        res.end();
    });
    for (int round = 0; round < 30; ++round) {
        CAPTURE(round);
        HttpClient client(server.local_address());
        client.send(get("/file") + get("/chunked") + get("/file"));
        // Read a random amount (anything from nothing to most of it), then leave.
        const std::size_t stop_at = random() % (2 * kSize);
        drive(loop, [&] {
            client.pump();
            return client.in.size() >= stop_at || client.eof;
        });
        if (random() % 2 == 0) {
            linger reset{1, 0};  // close with RST
            ::setsockopt(client.fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        }
        client.fd.reset();
        // The server lets go of it: no connection, no work left behind.
        CHECK(drive(loop, [&] { return server.tcp().connection_count() == 0 && pending_work(loop) == 0; },
                    nullptr, std::chrono::seconds(3)));
    }
    // And serves the next client whole.
    HttpClient last(server.local_address());
    last.send(get("/file"));
    const HttpReply reply = last.reply(loop);
    CHECK(reply.status == 200);
    CHECK(reply.body == file);
    last.fd.reset();
    CHECK(drive(loop, [&] { return server.tcp().connection_count() == 0 && pending_work(loop) == 0; }));
}

// ---- slowloris ----------------------------------------------------------------------------

TEST_CASE("slowloris: a head or a body trickled a byte at a time is cut off by its timeout") {
    CheckedLoop loop;
    http::ServerOptions options;
    options.header_timeout = std::chrono::milliseconds(400);
    options.body_timeout = std::chrono::milliseconds(400);
    http::Server server(loop, SocketAddress::ipv4_loopback(0), options);
    server.route("", "/", [](const http::Request&, http::Response res) { res.send("done"); });
    // The bound: the timeout plus one tick (a quarter of it) plus slack for
    // a loaded machine.
    const auto bound = std::chrono::milliseconds(400 + 100 + 700);

    auto trickle = [&](const std::string& head, const std::string& body_part) {
        HttpClient client(server.local_address());
        client.send(head);
        const auto t0 = Clock::now();
        std::size_t next = 0;
        const std::string drip = body_part.empty() ? std::string(100000, 'x') : body_part;
        auto last_drip = Clock::now();
        drive(loop, [&] {
            if (Clock::now() - last_drip > std::chrono::milliseconds(40) && next < drip.size()) {
                // One byte every 40 ms: always "in progress", never done.
                (void)::send(client.fd.get(), drip.data() + next, 1, REACTOR_MSG_NOSIGNAL);
                ++next;
                last_drip = Clock::now();
            }
            client.pump();
            return client.eof;
        });
        const auto took = Clock::now() - t0;
        CHECK(client.eof);
        CHECK(took < bound);
        CHECK(took >= std::chrono::milliseconds(400));
        CHECK(next > 3);  // it did trickle for a while
        auto reply = take_reply(client.in, false, true);
        REQUIRE(reply);
        CHECK(reply->status == 408);
    };
    SUBCASE("on the head") {
        // The head never ends: header after header, a byte at a time.
        trickle("GET / HTTP/1.1\r\nHost: x\r\n", std::string(100000, 'X').insert(0, "X-Slow: "));
    }
    SUBCASE("on the body") {
        trickle("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "");
    }
    SUBCASE("a connection that sends nothing is closed silently") {
        HttpClient client(server.local_address());
        const auto t0 = Clock::now();
        CHECK(client.wait_eof(loop));
        CHECK(Clock::now() - t0 < bound);
        CHECK(client.in.empty());
    }
    CHECK(drive(loop, [&] { return server.tcp().connection_count() == 0; }));
}

// ---- half-close -----------------------------------------------------------------------------

TEST_CASE("a client that half-closes and keeps reading") {
    CheckedLoop loop;
    TempDir dir("reactor-half-close");
    constexpr std::size_t kSize = 300 * 1000;
    const std::string file = stream_pattern(kSize, 9);
    write_file(dir / "f.bin", file);
    int later_pending = 0;  // timers still to fire, so the test ends with none
    auto routes = [&](http::Server& server) {
        server.route("GET", "/now", [](const http::Request&, http::Response res) { res.send("now"); });
        server.route("GET", "/later", [&](const http::Request&, http::Response res) {
            ++later_pending;
            loop.run_after(std::chrono::milliseconds(100), [res, &later_pending]() mutable {
                --later_pending;
                res.send("later");
            });
        });
        server.route("GET", "/file", [&](const http::Request&, http::Response res) {
            auto s = std::make_shared<FileStream>();
            s->file = Fd(::open((dir / "f.bin").c_str(), O_RDONLY | O_CLOEXEC));
            s->size = kSize;
            s->response = res;
            res.send_head(kSize);
            stream_file(loop, s);
        });
    };
    const std::string requests = get("/now") + get("/file") + get("/later") + get("/now");

    SUBCASE("half-close allowed: every response owed still arrives, then EOF") {
        http::ServerOptions options;
        options.tcp.connection.allow_half_close = true;
        http::Server server(loop, SocketAddress::ipv4_loopback(0), options);
        routes(server);
        HttpClient client(server.local_address());
        client.send(requests);
        REQUIRE(::shutdown(client.fd.get(), SHUT_WR) == 0);
        const auto replies = client.replies(loop, 4);
        REQUIRE(replies.size() == 4);
        CHECK(replies[0].body == "now");
        CHECK(replies[1].body == file);
        CHECK(replies[2].body == "later");
        CHECK(replies[3].body == "now");
        CHECK(client.wait_eof(loop));
        CHECK(client.in.empty());
        CHECK(drive(loop, [&] {
            return server.tcp().connection_count() == 0 && pending_work(loop) == 0 && later_pending == 0;
        }));
    }
    SUBCASE("by default EOF means gone: what was written is flushed, the rest dropped, then EOF") {
        http::Server server(loop, SocketAddress::ipv4_loopback(0));
        routes(server);
        HttpClient client(server.local_address());
        client.send(requests);
        REQUIRE(::shutdown(client.fd.get(), SHUT_WR) == 0);
        CHECK(client.wait_eof(loop));
        // What arrived is whole replies, in order and right, then at most
        // the start of the next one: its head and a body shorter than its
        // Content-Length (the file being streamed when the EOF came), which
        // the client can tell from a whole one.
        const std::vector<std::string> want = {"now", file, "later", "now"};
        std::size_t k = 0;
        while (auto reply = take_reply(client.in, false, false)) {
            REQUIRE(k < want.size());
            CHECK(reply->status == 200);
            CHECK(reply->body == want[k]);
            ++k;
        }
        CHECK(k >= 1);  // answered in the same pass that read the requests
        if (!client.in.empty()) {
            REQUIRE(k < want.size());
            const std::size_t end = client.in.find("\r\n\r\n");
            REQUIRE(end != std::string::npos);
            const std::string rest = client.in.substr(end + 4);
            CHECK(rest.size() < want[k].size());
            CHECK(is_prefix(rest, want[k]));
        }
        CHECK(drive(loop, [&] {
            return server.tcp().connection_count() == 0 && pending_work(loop) == 0 && later_pending == 0;
        }));
    }
    SUBCASE("a plain TCP echo with half-close allowed: all the echo, then EOF") {
        TcpServerOptions options;
        options.connection.allow_half_close = true;
        TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
        server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
        server.on_peer_shutdown([](const TcpConnectionPtr& c) { c->shutdown(); });
        RawPeer peer(server.local_address());
        peer.out = stream_pattern(256 * 1024, 1);
        bool shut = false;
        CHECK(drive(loop, [&] {
            peer.pump();
            if (!shut && peer.sent == peer.out.size()) {
                shut = ::shutdown(peer.fd.get(), SHUT_WR) == 0;  // then reads on
            }
            return peer.closed();
        }));
        CHECK(shut);
        CHECK(peer.state == 0);  // EOF, not a reset
        CHECK(peer.in == peer.out);
        CHECK(drive(loop, [&] { return server.connection_count() == 0; }));
    }
}
