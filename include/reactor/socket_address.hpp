// reactor/socket_address.hpp -- an IPv4, IPv6 or Unix-domain socket address.
//
// A SocketAddress is a value: a sockaddr_storage plus its length, copied
// freely, compared byte-wise. It is parsed from and printed as text:
//
//   "127.0.0.1:8080"    IPv4, numeric host and port
//   "[::1]:8080"        IPv6, brackets required (the colons are the host's)
//   "unix:/tmp/sock"    a Unix-domain stream or datagram path
//
// Parsing is numeric only: no DNS lookup ever happens here, since a lookup
// blocks and the loop thread must never block. A host name ("localhost:80")
// is refused with an error that says to resolve it first (the resolver runs
// on the worker pool and arrives in a later layer). to_string() prints the
// same forms back, so parse(a.to_string()) == a.
//
// Thread safety: a plain value; distinct objects may be used from any thread.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

namespace reactor {

class SocketAddress {
public:
    /// The unspecified address (family AF_UNSPEC, length 0): what a failed
    /// parse or a lookup on a closed socket returns.
    SocketAddress() noexcept;

    /// Parses one of the forms above. Throws std::system_error with
    /// errc::invalid_argument and a message quoting the bad input (and, for
    /// a host name, pointing to resolve()).
    static SocketAddress parse(std::string_view text);
    /// As above, but reports a malformed string through `ec` and returns the
    /// unspecified address.
    static SocketAddress parse(std::string_view text, std::error_code& ec) noexcept;

    /// A numeric IPv4 or IPv6 host (no brackets needed) and a port, as taken
    /// from a command line ("--host ::1 --port 80"). Throws like parse().
    static SocketAddress from_host_port(std::string_view host, std::uint16_t port);

    /// Shorthands: 127.0.0.1, 0.0.0.0, ::1 and :: with a port.
    static SocketAddress ipv4_loopback(std::uint16_t port) noexcept;
    static SocketAddress ipv4_any(std::uint16_t port) noexcept;
    static SocketAddress ipv6_loopback(std::uint16_t port) noexcept;
    static SocketAddress ipv6_any(std::uint16_t port) noexcept;

    /// A Unix-domain path. Throws std::system_error (invalid_argument) if the
    /// path is empty or does not fit in sockaddr_un (about 104-108 bytes).
    static SocketAddress unix_path(std::string_view path);

    /// Copies a kernel-provided address (from accept, recvfrom, getpeername).
    /// A length larger than sockaddr_storage is truncated to it.
    static SocketAddress from_native(const sockaddr* addr, socklen_t length) noexcept;

    /// AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC.
    int family() const noexcept { return storage_.ss_family; }
    bool is_ipv4() const noexcept { return family() == AF_INET; }
    bool is_ipv6() const noexcept { return family() == AF_INET6; }
    bool is_unix() const noexcept { return family() == AF_UNIX; }
    bool is_unspecified() const noexcept { return family() == AF_UNSPEC; }

    /// The port in host byte order; 0 for Unix and unspecified addresses.
    std::uint16_t port() const noexcept;
    /// A copy with another port (IP addresses only; others are returned as is).
    SocketAddress with_port(std::uint16_t port) const noexcept;

    /// The host alone: "127.0.0.1", "::1" (no brackets), the path for Unix,
    /// "" for the unspecified address.
    std::string host() const;
    /// The full text form described above; "" for the unspecified address.
    std::string to_string() const;

    /// The native form, for system calls. native_mut() and set_length() let
    /// a system call fill the address in place (length <= capacity()).
    const sockaddr* native() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* native_mut() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t length() const noexcept { return length_; }
    static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }
    void set_length(socklen_t length) noexcept;

    friend bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept;

private:
    sockaddr_storage storage_;
    socklen_t length_;
};

}  // namespace reactor
