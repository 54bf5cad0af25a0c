// tests/fuzz/socket_address_fuzz.cpp -- libFuzzer target for SocketAddress's
// text forms. Built and run by scripts/fuzz.sh (`make fuzz`); not a doctest
// suite.
// fuzz-sources: src/net/socket_address.cpp
//
// The whole input is given to parse() (both overloads) and to unix_path();
// with its first two bytes taken as a port, the rest goes to
// from_host_port(). The only exception any of them may throw is
// std::system_error with errc::invalid_argument (anything else escapes and
// libFuzzer reports it). Checked:
//   - the two parse() overloads agree: the error_code one fails exactly when
//     the throwing one throws, returning the unspecified address, and the
//     throwing one's message quotes the input;
//   - whatever parses is IPv4, IPv6 or Unix, and round-trips:
//     parse(a.to_string()) == a with the same family and port, and
//     to_string() of that is the same text again;
//   - the port printed is the port(), the host printed is host() (in
//     brackets for IPv6), a Unix address prints "unix:" + its path, and for
//     a Unix address parsed from "unix:PATH", host() is PATH;
//   - from_host_port() keeps the port it was given and round-trips the same
//     way, and from_host_port(a.host(), a.port()) == a for IP addresses;
//   - with_port() changes the port and nothing else of an IP address.
#include <reactor/socket_address.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

#include "fuzz_check.hpp"

using reactor::SocketAddress;

namespace {

bool is_invalid_argument(const std::system_error& e) {
    return e.code() == std::make_error_code(std::errc::invalid_argument);
}

// The checks every successfully made address must pass.
void check_address(const SocketAddress& a) {
    FUZZ_CHECK(a.is_ipv4() || a.is_ipv6() || a.is_unix());
    FUZZ_CHECK(a.length() > 0 && a.length() <= SocketAddress::capacity());
    FUZZ_CHECK(a == a);
    const std::string text = a.to_string();
    FUZZ_CHECK(!text.empty());
    const std::string host = a.host();
    if (a.is_ipv4()) {
        FUZZ_CHECK(text == host + ':' + std::to_string(a.port()));
    } else if (a.is_ipv6()) {
        FUZZ_CHECK(text == '[' + host + "]:" + std::to_string(a.port()));
    } else {
        FUZZ_CHECK(a.port() == 0);
        FUZZ_CHECK(text == "unix:" + host);
    }

    std::error_code ec;
    const SocketAddress back = SocketAddress::parse(text, ec);
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(back == a);
    FUZZ_CHECK(back.family() == a.family());
    FUZZ_CHECK(back.port() == a.port());
    FUZZ_CHECK(back.length() == a.length());
    FUZZ_CHECK(back.to_string() == text);
    FUZZ_CHECK(SocketAddress::parse(text) == a);

    if (!a.is_unix()) {
        FUZZ_CHECK(SocketAddress::from_host_port(host, a.port()) == a);
        const std::uint16_t other = static_cast<std::uint16_t>(a.port() ^ 0x5a5a);
        const SocketAddress moved = a.with_port(other);
        FUZZ_CHECK(moved.port() == other);
        FUZZ_CHECK(moved.family() == a.family());
        FUZZ_CHECK(moved.host() == host);
        FUZZ_CHECK(moved.with_port(a.port()) == a);
        FUZZ_CHECK(!(moved == a));
    } else {
        FUZZ_CHECK(a.with_port(80) == a);
    }
}

void check_parse(std::string_view text) {
    std::error_code ec;
    const SocketAddress quiet = SocketAddress::parse(text, ec);
    bool threw = false;
    SocketAddress loud;
    try {
        loud = SocketAddress::parse(text);
    } catch (const std::system_error& e) {
        FUZZ_CHECK(is_invalid_argument(e));
        // The message quotes the input (what() stops at a NUL).
        if (text.find('\0') == std::string_view::npos) {
            FUZZ_CHECK(std::string_view(e.what()).find(text) != std::string_view::npos);
        }
        threw = true;
    }
    FUZZ_CHECK(threw == static_cast<bool>(ec));
    if (ec) {
        FUZZ_CHECK(ec == std::make_error_code(std::errc::invalid_argument));
        FUZZ_CHECK(quiet.is_unspecified());
        FUZZ_CHECK(quiet.length() == 0);
        FUZZ_CHECK(quiet.to_string().empty());
        return;
    }
    FUZZ_CHECK(quiet == loud);
    check_address(quiet);
    if (text.substr(0, 5) == "unix:") {
        FUZZ_CHECK(quiet.is_unix());
        FUZZ_CHECK(quiet.host() == text.substr(5));
    } else {
        FUZZ_CHECK(!quiet.is_unix());
        // The port is the digits after the last colon.
        const std::string_view digits = text.substr(text.rfind(':') + 1);
        unsigned port = 0;
        for (char c : digits) port = port * 10 + static_cast<unsigned>(c - '0');
        FUZZ_CHECK(port == quiet.port());
        FUZZ_CHECK(quiet.is_ipv6() == (text.front() == '['));
    }
}

void check_host_port(std::string_view host, std::uint16_t port) {
    SocketAddress a;
    try {
        a = SocketAddress::from_host_port(host, port);
    } catch (const std::system_error& e) {
        FUZZ_CHECK(is_invalid_argument(e));
        return;
    }
    FUZZ_CHECK(a.is_ipv4() || a.is_ipv6());
    FUZZ_CHECK(a.port() == port);
    check_address(a);
}

void check_unix_path(std::string_view path) {
    SocketAddress a;
    try {
        a = SocketAddress::unix_path(path);
    } catch (const std::system_error& e) {
        FUZZ_CHECK(is_invalid_argument(e));
        FUZZ_CHECK(path.empty() || path.size() >= sizeof(sockaddr_un::sun_path));
        return;
    }
    FUZZ_CHECK(a.is_unix());
    FUZZ_CHECK(a.port() == 0);
    // A path with a NUL cannot be told apart from the path up to it once
    // printed; only a NUL-free path has to round-trip.
    if (path.find('\0') == std::string_view::npos) {
        FUZZ_CHECK(a.host() == path);
        check_address(a);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_parse(input);
    check_unix_path(input);
    if (size >= 2) {
        const auto port = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
        check_host_port(input.substr(2), port);
    }
    return 0;
}
