// reactor/resolve.hpp -- host names to socket addresses, off the loop.
//
//   resolve(loop, "localhost", 8080, [](std::error_code ec,
//                                       std::vector<ResolvedAddress> addrs) {
//       if (ec) { ... ec.message() ... return; }
//       ... connect to addrs[0], or try them in order ...
//   });
//
// getaddrinfo() blocks (it may ask a DNS server and wait seconds for an
// answer), so it runs on the loop's WorkerPool as WorkKind::Slow work: at
// most half the pool's threads resolve at once, and file operations keep
// the other half (docs/worker-pool.md).
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/worker_pool.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

#include <sys/socket.h>

namespace reactor {

/// One address that getaddrinfo() returned: a sockaddr ready for
/// connect()/bind() (storage and length), and its family (AF_INET or
/// AF_INET6). TcpClient accepts it as it is (it converts to SocketAddress,
/// whose layout is the same: a sockaddr_storage and a length).
struct ResolvedAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;
    int family = AF_UNSPEC;

    /// The address as a sockaddr, for the socket calls.
    const sockaddr* sockaddr_ptr() const noexcept {
        return reinterpret_cast<const sockaddr*>(&storage);
    }
    /// The port, in host byte order.
    std::uint16_t port() const noexcept;
    /// "127.0.0.1:80", "[::1]:80" (with "%<scope>" for a scoped IPv6 address).
    std::string to_string() const;
};

/// The error category of getaddrinfo() failures ("reactor.resolve"): the
/// value is the EAI_* code (EAI_NONAME, EAI_AGAIN...), the message
/// gai_strerror()'s. EAI_SYSTEM never appears in it: that failure is
/// reported as its errno, in std::system_category.
const std::error_category& resolve_category() noexcept;
/// The error code for an EAI_* code, to compare with:
/// `ec == make_resolve_error(EAI_NONAME)`.
std::error_code make_resolve_error(int eai_code) noexcept;

using ResolveCallback = std::function<void(std::error_code, std::vector<ResolvedAddress>)>;

/// Resolves `host` (a name, or a numeric IPv4/IPv6 address) for TCP on
/// `port`, and calls `cb` on the loop thread with the addresses in
/// getaddrinfo()'s order of preference (RFC 6724), duplicates removed, or
/// with an error and no addresses. An empty `host` means the loopback
/// addresses. `family` (AF_INET, AF_INET6) keeps only that family.
/// The special-use names of RFC 6761 never reach /etc/hosts or DNS:
/// "localhost" and any name ending in ".localhost" give the loopback
/// addresses (as an empty `host` does), and any name ending in ".invalid"
/// fails with EAI_NONAME, so both answer at once even on a machine with no
/// /etc/hosts and an unreachable DNS server.
/// Returns the work's id: cancel_work(loop, id) cancels a lookup that has
/// not started (cb then gets operation_canceled); one that has started
/// cannot be interrupted and runs to its end. Loop thread only.
WorkId resolve(EventLoop& loop, std::string host, std::uint16_t port, ResolveCallback cb);
WorkId resolve(EventLoop& loop, std::string host, std::uint16_t port, int family,
               ResolveCallback cb);

}  // namespace reactor
