// runs-on: every backend
// tests/tcp_client_test.cpp -- TcpClient: connect, refusal, timeout, retry,
// cancel, on every backend.
#include "tcp_util.hpp"

#include <reactor/resolve.hpp>
#include <reactor/tcp_client.hpp>
#include <reactor/tcp_server.hpp>

#include <memory>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

// A loopback port with nobody listening: bind one, note it, close it.
std::uint16_t free_port() {
    Socket s = Socket::create(AF_INET, SOCK_STREAM);
    REQUIRE_FALSE(s.bind(SocketAddress::ipv4_loopback(0)));
    return s.local_address().port();
}

struct Outcome {
    bool called = false;
    int calls = 0;
    std::error_code ec;
    TcpConnectionPtr conn;
    TcpClient::ConnectCallback callback() {
        return [this](std::error_code e, const TcpConnectionPtr& c) {
            called = true;
            ++calls;
            ec = e;
            conn = c;
        };
    }
};

}  // namespace

TEST_CASE("connect succeeds, and the connection talks both ways") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    TcpClient client(loop, server.local_address());
    std::string echoed;
    client.on_message([&](const TcpConnectionPtr&, Buffer& in) { echoed += in.take_all(); });
    Outcome out;
    client.connect(out.callback());
    CHECK(client.connecting());
    CHECK_FALSE(out.called);  // never from inside connect()
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK_FALSE(out.ec);
    REQUIRE(out.conn);
    CHECK(out.conn->connected());
    CHECK(client.connection() == out.conn);
    CHECK(out.conn->peer_address() == server.local_address());
    out.conn->send("round trip");
    CHECK(run_until(loop, [&] { return echoed == "round trip"; }));

    // A second connect while connected is refused, asynchronously.
    Outcome again;
    client.connect(again.callback());
    CHECK(run_until(loop, [&] { return again.called; }));
    CHECK(again.ec == std::errc::already_connected);

    bool closed = false;
    client.on_close([&](const TcpConnectionPtr&, std::error_code) { closed = true; });
    out.conn->close();
    CHECK(run_until(loop, [&] { return closed && client.connection() == nullptr; }));
}

TEST_CASE("a refused connect reports ECONNREFUSED") {
    CheckedLoop loop;
    TcpClient client(loop, SocketAddress::ipv4_loopback(free_port()));
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK(out.ec == std::errc::connection_refused);
    CHECK_FALSE(out.conn);
    CHECK(out.calls == 1);
    CHECK(client.attempts() == 1);
    CHECK_FALSE(client.connecting());
}

// A real timeout on loopback, without a non-routable address: a listener
// with backlog 0 whose accept queue is already full (and which never
// accepts). Linux then drops further SYNs, so the handshake stalls and
// only our timer can end it. (Should a kernel accept the SYN anyway, the
// connect succeeds and the test fails loudly rather than passing blindly.)
TEST_CASE("a connect that stalls times out with ETIMEDOUT") {
    Socket listener = Socket::create(AF_INET, SOCK_STREAM);
    REQUIRE_FALSE(listener.bind(SocketAddress::ipv4_loopback(0)));
    REQUIRE_FALSE(listener.listen(0));
    const SocketAddress where = listener.local_address();
    std::vector<Socket> fillers;
    for (int i = 0; i < 4; ++i) {
        fillers.push_back(Socket::create(AF_INET, SOCK_STREAM));
        (void)fillers.back().connect(where);
    }
    CheckedLoop loop;
    run_for(loop, std::chrono::milliseconds(50));  // let the fillers' handshakes settle
    TcpClientOptions options;
    options.connect_timeout = std::chrono::milliseconds(150);
    TcpClient client(loop, where, options);
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK(out.ec == std::errc::timed_out);
    CHECK_FALSE(out.conn);
}

TEST_CASE("retry with backoff: the server appears after the first attempt failed") {
    CheckedLoop loop;
    const std::uint16_t port = free_port();
    TcpClientOptions options;
    options.max_attempts = 20;
    options.initial_backoff = std::chrono::milliseconds(20);
    options.max_backoff = std::chrono::milliseconds(80);
    TcpClient client(loop, SocketAddress::ipv4_loopback(port), options);
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return client.attempts() >= 2; }));
    CHECK_FALSE(out.called);  // failures are retried, not reported
    TcpServer server(loop, SocketAddress::ipv4_loopback(port));
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK_FALSE(out.ec);
    CHECK(out.conn);
    CHECK(client.attempts() >= 2);
    CHECK(run_until(loop, [&] { return server.connection_count() == 1; }));
}

TEST_CASE("retries end with the last error once attempts run out") {
    CheckedLoop loop;
    TcpClientOptions options;
    options.max_attempts = 3;
    options.initial_backoff = std::chrono::milliseconds(5);
    TcpClient client(loop, SocketAddress::ipv4_loopback(free_port()), options);
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK(out.ec == std::errc::connection_refused);
    CHECK(client.attempts() == 3);
    CHECK(out.calls == 1);
}

TEST_CASE("cancel ends a connect under way with operation_canceled") {
    CheckedLoop loop;
    TcpClientOptions options;
    options.max_attempts = 0;  // forever
    options.initial_backoff = std::chrono::milliseconds(10);
    TcpClient client(loop, SocketAddress::ipv4_loopback(free_port()), options);
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return client.attempts() >= 2; }));
    client.cancel();
    CHECK_FALSE(client.connecting());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK(out.ec == std::errc::operation_canceled);
    const unsigned attempts = client.attempts();
    run_for(loop, std::chrono::milliseconds(50));
    CHECK(client.attempts() == attempts);  // no more attempts after cancel
    CHECK(out.calls == 1);
}

TEST_CASE("a client may be destroyed inside its connect and close callbacks") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    auto client = std::make_unique<TcpClient>(loop, server.local_address());
    TcpConnectionPtr kept;
    client->connect([&](std::error_code ec, const TcpConnectionPtr& c) {
        CHECK_FALSE(ec);
        kept = c;
        client.reset();
    });
    REQUIRE(run_until(loop, [&] { return client == nullptr; }));
    REQUIRE(kept);
    CHECK(kept->state() == TcpConnection::State::Disconnected);  // abandoned with its client
    CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));

    auto second = std::make_unique<TcpClient>(loop, server.local_address());
    bool closed = false;
    second->on_close([&](const TcpConnectionPtr&, std::error_code) {
        closed = true;
        second.reset();
    });
    second->connect([](std::error_code, const TcpConnectionPtr& c) {
        if (c) c->force_close();
    });
    CHECK(run_until(loop, [&] { return closed; }));
    CHECK(second == nullptr);
    run_for(loop, std::chrono::milliseconds(5));
}

TEST_CASE("connecting to a Unix-domain path") {
    const std::string path = "/tmp/reactor-client-test-" + std::to_string(::getpid()) + ".sock";
    ::unlink(path.c_str());
    CheckedLoop loop;
    {
        TcpServer server(loop, SocketAddress::unix_path(path));
        TcpClient client(loop, SocketAddress::unix_path(path));
        Outcome out;
        client.connect(out.callback());
        REQUIRE(run_until(loop, [&] { return out.called; }));
        CHECK_FALSE(out.ec);
        CHECK(out.conn);
    }
    ::unlink(path.c_str());
    run_for(loop, std::chrono::milliseconds(5));
}

// ---- by host name ------------------------------------------------------------

TEST_CASE("by host name: a numeric host connects through the lookup") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    TcpClient client(loop, "127.0.0.1", server.local_address().port());
    CHECK(client.host() == "127.0.0.1");
    CHECK(client.server_address().family() == AF_UNSPEC);  // not looked up yet
    std::string echoed;
    client.on_message([&](const TcpConnectionPtr&, Buffer& in) { echoed += in.take_all(); });
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK_FALSE(out.ec);
    REQUIRE(out.conn);
    CHECK(client.server_address() == server.local_address());
    CHECK(client.attempts() == 1);
    out.conn->send("by name");
    CHECK(run_until(loop, [&] { return echoed == "by name"; }));
    out.conn->close();
    CHECK(run_until(loop, [&] { return client.connection() == nullptr; }));
}

TEST_CASE("by host name: the addresses are tried in order until one connects") {
    CheckedLoop loop;
    // The empty host means the loopback addresses, ::1 and 127.0.0.1, in the
    // resolver's order. Listen on the LAST one only, with the same port free
    // on the others, so the client must be refused first and walk on.
    std::vector<ResolvedAddress> order;
    bool answered = false;
    resolve(loop, "", 0, [&](std::error_code ec, std::vector<ResolvedAddress> found) {
        REQUIRE_FALSE(ec);
        order = std::move(found);
        answered = true;
    });
    REQUIRE(run_until(loop, [&] { return answered; }));
    REQUIRE(order.size() >= 2);
    const SocketAddress last = SocketAddress::from_native(order.back().sockaddr_ptr(), order.back().length);
    TcpServer server(loop, last);  // port 0: the kernel picks
    const std::uint16_t port = server.local_address().port();
    TcpClient client(loop, "", port);
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK_FALSE(out.ec);
    REQUIRE(out.conn);
    CHECK(client.server_address() == server.local_address());
    CHECK(client.attempts() == 1);  // one attempt, several addresses
    out.conn->force_close();
    CHECK(run_until(loop, [&] { return client.connection() == nullptr; }));
}

TEST_CASE("by host name: every address refused ends with the last refusal") {
    CheckedLoop loop;
    TcpClient client(loop, "127.0.0.1", free_port());
    Outcome out;
    client.connect(out.callback());
    REQUIRE(run_until(loop, [&] { return out.called; }));
    CHECK(out.ec == std::errc::connection_refused);
    CHECK_FALSE(out.conn);
}

TEST_CASE("by host name: a name that does not resolve is a resolver error") {
    CheckedLoop loop;
    TcpClientOptions options;
    options.max_attempts = 2;
    options.initial_backoff = std::chrono::milliseconds(1);
    TcpClient client(loop, "no-such-host.invalid", 80, options);
    Outcome out;
    client.connect(out.callback());
    // With no network a resolver may wait for its server: a wider bound.
    REQUIRE(run_until(loop, [&] { return out.called; }, std::chrono::seconds(60)));
    CAPTURE(out.ec.message());
    CHECK(out.ec.category() == resolve_category());
    CHECK_FALSE(out.conn);
    CHECK(client.attempts() == 2);  // a failed lookup is retried like any attempt
    CHECK(out.calls == 1);
}

TEST_CASE("by host name: cancel and destruction during the lookup call nothing late") {
    CheckedLoop loop;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    Outcome cancelled;
    {
        TcpClient client(loop, "127.0.0.1", server.local_address().port());
        client.connect(cancelled.callback());
        run_for(loop, std::chrono::milliseconds(0));  // the attempt (and lookup) starts
        client.cancel();
        CHECK(run_until(loop, [&] { return cancelled.called; }));
        CHECK(cancelled.ec == std::errc::operation_canceled);
        run_for(loop, std::chrono::milliseconds(50));  // a late answer is ignored
        CHECK(cancelled.calls == 1);
        CHECK_FALSE(client.connection());
    }
    Outcome dropped;
    {
        TcpClient client(loop, "127.0.0.1", server.local_address().port());
        client.connect(dropped.callback());
        run_for(loop, std::chrono::milliseconds(0));
    }  // destroyed with the lookup under way
    run_for(loop, std::chrono::milliseconds(50));
    CHECK_FALSE(dropped.called);
    CHECK(server.connection_count() == 0);
}
