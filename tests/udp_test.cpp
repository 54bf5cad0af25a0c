// runs-on: every backend
// tests/udp_test.cpp -- UdpSocket: datagrams with their senders.
#include "tcp_util.hpp"

#include <reactor/udp_socket.hpp>

#include <memory>
#include <vector>

using namespace reactor;
using namespace reactor::test;

TEST_CASE("a UDP round trip carries data and the sender's address") {
    CheckedLoop loop;
    UdpSocket server(loop, SocketAddress::parse("127.0.0.1:0"));
    UdpSocket client(loop, SocketAddress::parse("127.0.0.1:0"));
    SocketAddress seen_from;
    server.on_datagram([&](std::string_view data, const SocketAddress& from) {
        seen_from = from;
        CHECK_FALSE(server.send_to("pong:" + std::string(data), from));
    });
    std::string reply;
    SocketAddress reply_from;
    client.on_datagram([&](std::string_view data, const SocketAddress& from) {
        reply = data;
        reply_from = from;
    });
    CHECK_FALSE(client.send_to("ping", server.local_address()));
    REQUIRE(run_until(loop, [&] { return !reply.empty(); }));
    CHECK(reply == "pong:ping");
    CHECK(seen_from == client.local_address());
    CHECK(reply_from == server.local_address());
}

TEST_CASE("IPv6 datagrams, and many per wake-up without loss of order") {
    CheckedLoop loop;
    UdpSocket a(loop, SocketAddress::parse("[::1]:0"));
    UdpSocket b(loop, SocketAddress::parse("[::1]:0"));
    std::vector<std::string> got;
    b.on_datagram([&](std::string_view data, const SocketAddress&) { got.emplace_back(data); });
    for (int i = 0; i < 100; ++i) CHECK_FALSE(a.send_to(std::to_string(i), b.local_address()));
    REQUIRE(run_until(loop, [&] { return got.size() == 100; }));
    for (int i = 0; i < 100; ++i) CHECK(got[static_cast<std::size_t>(i)] == std::to_string(i));
}

TEST_CASE("a datagram socket may stop itself or be destroyed in its callback") {
    CheckedLoop loop;
    auto receiver = std::make_unique<UdpSocket>(loop, SocketAddress::parse("127.0.0.1:0"));
    UdpSocket sender(loop, SocketAddress::parse("127.0.0.1:0"));
    const SocketAddress to = receiver->local_address();
    int calls = 0;
    receiver->on_datagram([&](std::string_view, const SocketAddress&) {
        ++calls;
        receiver.reset();
    });
    for (int i = 0; i < 5; ++i) CHECK_FALSE(sender.send_to("x", to));
    REQUIRE(run_until(loop, [&] { return receiver == nullptr; }));
    run_for(loop, std::chrono::milliseconds(10));
    CHECK(calls == 1);

    UdpSocket quiet(loop, SocketAddress::parse("127.0.0.1:0"));
    int quiet_calls = 0;
    quiet.on_datagram([&](std::string_view, const SocketAddress&) {
        ++quiet_calls;
        quiet.on_datagram(nullptr);  // stop receiving, from inside
    });
    for (int i = 0; i < 5; ++i) CHECK_FALSE(sender.send_to("y", quiet.local_address()));
    REQUIRE(run_until(loop, [&] { return quiet_calls == 1; }));
    run_for(loop, std::chrono::milliseconds(10));
    CHECK(quiet_calls == 1);
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("send_to reports errors as values") {
    CheckedLoop loop;
    UdpSocket s(loop, SocketAddress::parse("127.0.0.1:0"));
    // A datagram too large for UDP.
    CHECK(s.send_to(std::string(70000, 'x'), s.local_address()) == std::errc::message_size);
    // Wrong family for this socket.
    CHECK(s.send_to("x", SocketAddress::parse("[::1]:9")));
    CHECK_THROWS_AS(UdpSocket(loop, s.local_address()), std::system_error);  // port in use
}
