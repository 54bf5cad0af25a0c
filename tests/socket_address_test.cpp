// tests/socket_address_test.cpp -- parsing and printing socket addresses.
#include <reactor/socket_address.hpp>

#include <ostream>  // doctest prints std::error_code through it

#include <doctest/doctest.h>

#include <string>
#include <system_error>

using namespace reactor;

TEST_CASE("IPv4 addresses parse and print back") {
    const SocketAddress a = SocketAddress::parse("127.0.0.1:8080");
    CHECK(a.is_ipv4());
    CHECK(a.port() == 8080);
    CHECK(a.host() == "127.0.0.1");
    CHECK(a.to_string() == "127.0.0.1:8080");
    CHECK(SocketAddress::parse(a.to_string()) == a);
    CHECK(a == SocketAddress::ipv4_loopback(8080));
    CHECK(SocketAddress::parse("0.0.0.0:0") == SocketAddress::ipv4_any(0));
    CHECK(SocketAddress::parse("10.1.2.3:65535").port() == 65535);
}

TEST_CASE("IPv6 addresses need brackets and print with them") {
    const SocketAddress a = SocketAddress::parse("[::1]:8080");
    CHECK(a.is_ipv6());
    CHECK(a.port() == 8080);
    CHECK(a.host() == "::1");
    CHECK(a.to_string() == "[::1]:8080");
    CHECK(a == SocketAddress::ipv6_loopback(8080));
    const SocketAddress b = SocketAddress::parse("[fe80::1:2]:1");
    CHECK(SocketAddress::parse(b.to_string()) == b);
    CHECK(b.with_port(99).port() == 99);
}

TEST_CASE("Unix paths parse and print back") {
    const SocketAddress a = SocketAddress::parse("unix:/tmp/reactor.sock");
    CHECK(a.is_unix());
    CHECK(a.port() == 0);
    CHECK(a.host() == "/tmp/reactor.sock");
    CHECK(a.to_string() == "unix:/tmp/reactor.sock");
    CHECK(SocketAddress::parse(a.to_string()) == a);
    CHECK(SocketAddress::unix_path("/tmp/reactor.sock") == a);
}

TEST_CASE("from_host_port takes a bare numeric host of either family") {
    CHECK(SocketAddress::from_host_port("127.0.0.1", 80).to_string() == "127.0.0.1:80");
    CHECK(SocketAddress::from_host_port("::1", 80).to_string() == "[::1]:80");
    CHECK(SocketAddress::from_host_port("[::1]", 80).to_string() == "[::1]:80");
    CHECK_THROWS_AS(SocketAddress::from_host_port("localhost", 80), std::system_error);
}

TEST_CASE("malformed strings are invalid_argument errors naming the input") {
    const char* bad[] = {"",           "127.0.0.1",      "127.0.0.1:",   "127.0.0.1:65536",
                         "127.0.0.1:x", "1.2.3:80",       "::1:80",       "[::1]",
                         "[::1]80",     "[::1:80",        "unix:",        "256.0.0.1:80",
                         "[127.0.0.1]:80x", "127.0.0.1:-1"};
    for (const char* text : bad) {
        CAPTURE(text);
        std::error_code ec;
        const SocketAddress a = SocketAddress::parse(text, ec);
        CHECK(ec == std::errc::invalid_argument);
        CHECK(a.is_unspecified());
        try {
            SocketAddress::parse(text);
            FAIL("no exception");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::invalid_argument);
            CHECK(std::string(e.what()).find('"' + std::string(text) + '"') != std::string::npos);
        }
    }
}

TEST_CASE("a host name is refused with a pointer to resolve()") {
    try {
        SocketAddress::parse("localhost:80");
        FAIL("no exception");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::invalid_argument);
        CHECK(std::string(e.what()).find("resolve()") != std::string::npos);
    }
}

TEST_CASE("a Unix path longer than sockaddr_un holds is refused") {
    const std::string long_path = "unix:/" + std::string(200, 'x');
    std::error_code ec;
    SocketAddress::parse(long_path, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK_THROWS_AS(SocketAddress::unix_path(std::string(200, 'x')), std::system_error);
}

TEST_CASE("a Unix path with a NUL in it is refused, since it could not round-trip") {
    // Found by tests/fuzz/socket_address_fuzz.cpp (seed corpus/socket_address/unix_nul):
    // "unix:\x1f\0\0\0\x05" parsed, but printed as "unix:\x1f", which parses to
    // a different (shorter) address.
    const std::string text("unix:\x1f\0\0\0\x05", 10);
    std::error_code ec;
    const SocketAddress a = SocketAddress::parse(text, ec);
    CHECK(ec == std::errc::invalid_argument);
    CHECK(a.is_unspecified());
    CHECK_THROWS_AS(SocketAddress::parse(text), std::system_error);
    CHECK_THROWS_AS(SocketAddress::parse(std::string("unix:/tmp/a\0b", 13)), std::system_error);
}

TEST_CASE("the unspecified address prints as empty and compares equal to itself") {
    const SocketAddress a;
    CHECK(a.is_unspecified());
    CHECK(a.to_string().empty());
    CHECK(a.port() == 0);
    CHECK(a == SocketAddress());
    CHECK_FALSE(a == SocketAddress::ipv4_loopback(0));
}
