// runs-on: every backend
// tests/resolve_test.cpp -- reactor::resolve: getaddrinfo on the pool.
//
// The machine has no network: only "localhost", numeric addresses and a
// name under .invalid (RFC 2606: never resolves) are looked up.
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

TEST_CASE("localhost resolves to loopback addresses only, without duplicates") {
    EventLoop loop;
    const Answer a = lookup(loop, "localhost", 8080);
    CHECK_FALSE(a.ec);
    REQUIRE_FALSE(a.addresses.empty());
    std::vector<std::string> seen;
    for (const ResolvedAddress& addr : a.addresses) {
        CAPTURE(addr.to_string());
        CHECK(is_loopback(addr));
        CHECK(addr.port() == 8080);
        seen.push_back(addr.to_string());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());

    const Answer v4 = lookup(loop, "localhost", 8080, AF_INET);
    CHECK_FALSE(v4.ec);
    REQUIRE_FALSE(v4.addresses.empty());
    for (const ResolvedAddress& addr : v4.addresses) CHECK(addr.family == AF_INET);
}

TEST_CASE("a name that does not exist fails with a resolver error and no addresses") {
    EventLoop loop;
    // .invalid never resolves; a resolver may still ask its server, and
    // with no network that can take two timeouts: a wider bound.
    const Answer a = lookup(loop, "no-such-host.invalid", 80, AF_UNSPEC, std::chrono::seconds(30));
    REQUIRE(a.ec);
    CAPTURE(a.ec.message());
    CHECK(a.addresses.empty());
    CHECK(a.ec.category() == resolve_category());
    CHECK_FALSE(a.ec.message().empty());
    // Usually EAI_NONAME; a resolver that cannot reach its server says so.
    const bool expected = a.ec == make_resolve_error(EAI_NONAME) ||
                          a.ec == make_resolve_error(EAI_AGAIN) ||
                          a.ec == make_resolve_error(EAI_FAIL);
    CHECK(expected);
}

TEST_CASE("a malformed numeric address for the wrong family fails") {
    EventLoop loop;
    const Answer a = lookup(loop, "127.0.0.1", 80, AF_INET6);
    CHECK(a.ec);
    CHECK(a.addresses.empty());
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
    loop.set_worker_pool(pool);
    std::atomic<bool> slow_started{false};
    bool slow_done = false;
    loop.queue_work(
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
    loop.queue_work([] {}, [&](std::error_code) {
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
    loop.set_worker_pool(pool);
    std::atomic<bool> started{false};
    bool unblocked = false;
    loop.queue_work(
        [&] {
            started = true;
            gate.wait();
        },
        [&](std::error_code) { unblocked = true; });
    REQUIRE(run_until(loop, [&] { return started.load(); }));
    Answer a;
    const WorkId id =
        resolve(loop, "localhost", 1, [&](std::error_code ec, std::vector<ResolvedAddress> addrs) {
            a.ec = ec;
            a.addresses = std::move(addrs);
            a.done = true;
        });
    CHECK(loop.cancel_work(id));
    REQUIRE(run_until(loop, [&] { return a.done; }));
    CHECK(a.ec == std::errc::operation_canceled);
    CHECK(a.addresses.empty());
    gate.open();
    REQUIRE(run_until(loop, [&] { return unblocked; }));
}
