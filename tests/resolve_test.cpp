// runs-on: every backend
// tests/resolve_test.cpp -- reactor::resolve: getaddrinfo on the pool.
//
// Nothing here depends on the machine's /etc/hosts or on a DNS server: a
// fresh debootstrap chroot has no /etc/hosts and the test machines have no
// network. So the names looked up are numeric addresses (getaddrinfo answers
// them itself) and the special-use names of RFC 6761, which resolve()
// answers without the name service: "localhost" and "*.localhost" (the
// loopback addresses) and "*.invalid" (no such name).
#include "test_util.hpp"
#include "worker_util.hpp"

#include <reactor/resolve.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include <netdb.h>
#include <netinet/in.h>

using namespace reactor;
using namespace reactor::test;

namespace {

struct Answer {
    bool done = false;
    std::error_code ec;
    std::vector<ResolvedAddress> addresses;
};

Answer lookup(EventLoop& loop, const std::string& host, std::uint16_t port,
              int family = AF_UNSPEC, std::chrono::milliseconds limit = kDeadline) {
    Answer a;
    resolve(loop, host, port, family, [&](std::error_code ec, std::vector<ResolvedAddress> addrs) {
        CHECK(loop.in_loop_thread());
        a.ec = ec;
        a.addresses = std::move(addrs);
        a.done = true;
    });
    REQUIRE(run_until(loop, [&] { return a.done; }, limit));
    return a;
}

bool is_loopback(const ResolvedAddress& a) {
    if (a.family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&a.storage);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a.family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

bool contains(const Answer& a, const std::string& text) {
    return std::any_of(a.addresses.begin(), a.addresses.end(),
                       [&](const ResolvedAddress& addr) { return addr.to_string() == text; });
}

}  // namespace

TEST_CASE("a numeric IPv4 address resolves to itself") {
    EventLoop loop;
    const Answer a = lookup(loop, "127.0.0.1", 80);
    CHECK_FALSE(a.ec);
    REQUIRE(a.addresses.size() == 1);
    CHECK(a.addresses[0].family == AF_INET);
    CHECK(a.addresses[0].length == sizeof(sockaddr_in));
    CHECK(a.addresses[0].sockaddr_ptr()->sa_family == AF_INET);
    CHECK(a.addresses[0].port() == 80);
    CHECK(a.addresses[0].to_string() == "127.0.0.1:80");
}

TEST_CASE("a numeric IPv6 address resolves to itself") {
    EventLoop loop;
    const Answer a = lookup(loop, "::1", 443);
    CHECK_FALSE(a.ec);
    REQUIRE(a.addresses.size() == 1);
    CHECK(a.addresses[0].family == AF_INET6);
    CHECK(a.addresses[0].to_string() == "[::1]:443");
}

TEST_CASE("localhost names resolve to both loopback addresses, without /etc/hosts or DNS") {
    EventLoop loop;
    // "reactor-test.localhost" is in no /etc/hosts and no DNS zone: it can
    // only resolve through resolve()'s own RFC 6761 rule, which the plain
    // "localhost" spellings share.
    for (const char* name : {"localhost", "LocalHost.", "reactor-test.localhost"}) {
        CAPTURE(name);
        const Answer a = lookup(loop, name, 8080);
        CHECK_FALSE(a.ec);
        CHECK(a.addresses.size() == 2);
        CHECK(contains(a, "127.0.0.1:8080"));
        CHECK(contains(a, "[::1]:8080"));
        for (const ResolvedAddress& addr : a.addresses) {
            CAPTURE(addr.to_string());
            CHECK(is_loopback(addr));
        }
    }
}

TEST_CASE("a localhost name asked for one family gives that family's loopback address") {
    EventLoop loop;
    const Answer v4 = lookup(loop, "localhost", 8080, AF_INET);
    CHECK_FALSE(v4.ec);
    REQUIRE(v4.addresses.size() == 1);
    CHECK(v4.addresses[0].to_string() == "127.0.0.1:8080");

    const Answer v6 = lookup(loop, "api.localhost", 8080, AF_INET6);
    CHECK_FALSE(v6.ec);
    REQUIRE(v6.addresses.size() == 1);
    CHECK(v6.addresses[0].to_string() == "[::1]:8080");
}

TEST_CASE("an empty host means the loopback addresses, as localhost does") {
    EventLoop loop;
    const Answer a = lookup(loop, "", 9);
    CHECK_FALSE(a.ec);
    CHECK(a.addresses.size() == 2);
    CHECK(contains(a, "127.0.0.1:9"));
    CHECK(contains(a, "[::1]:9"));
}

TEST_CASE("a name under .invalid fails with EAI_NONAME and no addresses") {
    EventLoop loop;
    // Answered by resolve() itself (RFC 6761: never sent to a DNS server),
    // so the ordinary deadline is enough even with no network.
    for (const char* name : {"no-such-host.invalid", "NO-SUCH-HOST.INVALID."}) {
        CAPTURE(name);
        const Answer a = lookup(loop, name, 80);
        REQUIRE(a.ec);
        CAPTURE(a.ec.message());
        CHECK(a.addresses.empty());
        CHECK(a.ec == make_resolve_error(EAI_NONAME));
        CHECK(a.ec.message() == ::gai_strerror(EAI_NONAME));
    }
}

TEST_CASE("a numeric address of the wrong family fails with getaddrinfo's error") {
    EventLoop loop;
    const Answer a = lookup(loop, "127.0.0.1", 80, AF_INET6);
    REQUIRE(a.ec);
    CAPTURE(a.ec.message());
    CHECK(a.addresses.empty());
    // glibc says EAI_ADDRFAMILY, the BSDs EAI_NONAME: either way it is
    // getaddrinfo's own answer, in the resolver category, with its message.
    CHECK(a.ec.category() == resolve_category());
    CHECK(a.ec.message() == ::gai_strerror(a.ec.value()));
}

TEST_CASE("resolver errors read as gai_strerror says, in the reactor.resolve category") {
    const std::error_code ec = make_resolve_error(EAI_NONAME);
    CHECK(ec.category().name() == std::string("reactor.resolve"));
    CHECK(ec.message() == ::gai_strerror(EAI_NONAME));
    CHECK(ec != std::error_code(EAI_NONAME, std::system_category()));
}

TEST_CASE("resolve is slow work: it waits for a slow slot while normal work goes ahead") {
    EventLoop loop;
    Gate gate;
    WorkerPool pool(2);  // slow limit 1
    set_worker_pool(loop, pool);
    std::atomic<bool> slow_started{false};
    bool slow_done = false;
    queue_work(loop,
        [&] {
            slow_started = true;
            gate.wait();
        },
        [&](std::error_code) { slow_done = true; }, WorkKind::Slow);
    REQUIRE(run_until(loop, [&] { return slow_started.load(); }));

    Answer a;
    resolve(loop, "127.0.0.1", 1, [&](std::error_code ec, std::vector<ResolvedAddress> addrs) {
        a.ec = ec;
        a.addresses = std::move(addrs);
        a.done = true;
    });
    bool resolved_before_normal = true;
    bool normal_done = false;
    // Queued after the lookup: were resolve Normal work, the free thread
    // would take the lookup first (FIFO) and its result would come first.
    queue_work(loop, [] {}, [&](std::error_code) {
        normal_done = true;
        resolved_before_normal = a.done;
    });
    REQUIRE(run_until(loop, [&] { return normal_done; }));
    CHECK_FALSE(resolved_before_normal);
    gate.open();
    REQUIRE(run_until(loop, [&] { return a.done && slow_done; }));
    CHECK_FALSE(a.ec);
    CHECK(a.addresses.size() == 1);
}

TEST_CASE("a lookup cancelled before it starts reports operation_canceled") {
    EventLoop loop;
    Gate gate;
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    std::atomic<bool> started{false};
    bool unblocked = false;
    queue_work(loop,
        [&] {
            started = true;
            gate.wait();
        },
        [&](std::error_code) { unblocked = true; });
    REQUIRE(run_until(loop, [&] { return started.load(); }));
    Answer a;
    const WorkId id =
        resolve(loop, "127.0.0.1", 1, [&](std::error_code ec, std::vector<ResolvedAddress> addrs) {
            a.ec = ec;
            a.addresses = std::move(addrs);
            a.done = true;
        });
    CHECK(cancel_work(loop, id));
    REQUIRE(run_until(loop, [&] { return a.done; }));
    CHECK(a.ec == std::errc::operation_canceled);
    CHECK(a.addresses.empty());
    gate.open();
    REQUIRE(run_until(loop, [&] { return unblocked; }));
}
