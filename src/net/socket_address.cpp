// src/net/socket_address.cpp -- parsing and printing socket addresses.
#include <reactor/socket_address.hpp>

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace reactor {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

// Why a string is refused, for the message of the throwing overload.
enum class Flaw { None, Empty, NoPort, BadPort, BadHost, HostName, Bracket, UnixPath };

const char* describe(Flaw flaw) {
    switch (flaw) {
        case Flaw::None: return "";
        case Flaw::Empty: return "empty address";
        case Flaw::NoPort: return "missing \":PORT\"";
        case Flaw::BadPort: return "the port must be a number from 0 to 65535";
        case Flaw::BadHost: return "not a numeric IPv4 or IPv6 address";
        case Flaw::HostName:
            return "host names are not looked up here (that would block the loop); "
                   "resolve the name first with resolve(), then parse the numeric address";
        case Flaw::Bracket: return "an IPv6 address needs brackets, e.g. \"[::1]:8080\"";
        case Flaw::UnixPath: return "the Unix socket path is empty, too long for sockaddr_un or contains a NUL";
    }
    return "malformed address";
}

bool parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535) return false;
    port = static_cast<std::uint16_t>(value);
    return true;
}

// A host that is not numeric but looks like a DNS name gets the more helpful
// "use resolve()" message rather than "not an address".
bool looks_like_name(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    }) && std::any_of(host.begin(), host.end(), [](char c) {
        return std::isalpha(static_cast<unsigned char>(c));
    });
}

// Fills `out` with a numeric IPv4 or IPv6 host; inet_pton needs a
// NUL-terminated string, hence the small copy.
Flaw parse_ip(std::string_view host, std::uint16_t port, bool want_v6, SocketAddress& out) {
    char text[INET6_ADDRSTRLEN + 1];
    if (host.empty() || host.size() >= sizeof text) return Flaw::BadHost;
    std::memcpy(text, host.data(), host.size());
    text[host.size()] = '\0';
    sockaddr* sa = out.native_mut();
    if (!want_v6) {
        auto* in = reinterpret_cast<sockaddr_in*>(sa);
        std::memset(in, 0, sizeof *in);
        if (::inet_pton(AF_INET, text, &in->sin_addr) == 1) {
            in->sin_family = AF_INET;
            in->sin_port = htons(port);
            out.set_length(sizeof(sockaddr_in));
            return Flaw::None;
        }
    }
    auto* in6 = reinterpret_cast<sockaddr_in6*>(sa);
    std::memset(in6, 0, sizeof *in6);
    if (::inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        out.set_length(sizeof(sockaddr_in6));
        return Flaw::None;
    }
    out = SocketAddress();
    return looks_like_name(host) ? Flaw::HostName : Flaw::BadHost;
}

Flaw parse_into(std::string_view text, SocketAddress& out) {
    out = SocketAddress();
    if (text.empty()) return Flaw::Empty;
    if (text.substr(0, kUnixPrefix.size()) == kUnixPrefix) {
        const std::string_view path = text.substr(kUnixPrefix.size());
        if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path) ||
            path.find('\0') != std::string_view::npos) {
            return Flaw::UnixPath;  // a NUL would end the path early: "unix:a\0b" is not "unix:a"
        }
        out = SocketAddress::unix_path(path);
        return Flaw::None;
    }
    std::uint16_t port = 0;
    if (text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return Flaw::Bracket;
        const std::string_view rest = text.substr(close + 1);
        if (rest.empty() || rest.front() != ':') return Flaw::NoPort;
        if (!parse_port(rest.substr(1), port)) return Flaw::BadPort;
        return parse_ip(text.substr(1, close - 1), port, true, out);
    }
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Flaw::NoPort;
    const std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return Flaw::Bracket;
    if (!parse_port(text.substr(colon + 1), port)) return Flaw::BadPort;
    return parse_ip(host, port, false, out);
}

[[noreturn]] void throw_invalid(std::string_view text, Flaw flaw) {
    std::string what = "reactor: bad socket address \"";
    what.append(text);
    what += "\": ";
    what += describe(flaw);
    throw std::system_error(std::make_error_code(std::errc::invalid_argument), what);
}

}  // namespace

SocketAddress::SocketAddress() noexcept : storage_{}, length_(0) {
    storage_.ss_family = AF_UNSPEC;
}

SocketAddress SocketAddress::parse(std::string_view text) {
    SocketAddress out;
    if (const Flaw flaw = parse_into(text, out); flaw != Flaw::None) throw_invalid(text, flaw);
    return out;
}

SocketAddress SocketAddress::parse(std::string_view text, std::error_code& ec) noexcept {
    SocketAddress out;
    if (parse_into(text, out) != Flaw::None) {
        ec = std::make_error_code(std::errc::invalid_argument);
        return SocketAddress();
    }
    ec.clear();
    return out;
}

SocketAddress SocketAddress::from_host_port(std::string_view host, std::uint16_t port) {
    SocketAddress out;
    if (!host.empty() && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (const Flaw flaw = parse_ip(host, port, false, out); flaw != Flaw::None) {
        throw_invalid(host, flaw);
    }
    return out;
}

SocketAddress SocketAddress::ipv4_loopback(std::uint16_t port) noexcept {
    SocketAddress out;
    auto* in = reinterpret_cast<sockaddr_in*>(out.native_mut());
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    out.length_ = sizeof(sockaddr_in);
    return out;
}

SocketAddress SocketAddress::ipv4_any(std::uint16_t port) noexcept {
    SocketAddress out = ipv4_loopback(port);
    reinterpret_cast<sockaddr_in*>(out.native_mut())->sin_addr.s_addr = htonl(INADDR_ANY);
    return out;
}

SocketAddress SocketAddress::ipv6_loopback(std::uint16_t port) noexcept {
    SocketAddress out;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out.native_mut());
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    in6->sin6_addr = in6addr_loopback;
    out.length_ = sizeof(sockaddr_in6);
    return out;
}

SocketAddress SocketAddress::ipv6_any(std::uint16_t port) noexcept {
    SocketAddress out = ipv6_loopback(port);
    reinterpret_cast<sockaddr_in6*>(out.native_mut())->sin6_addr = in6addr_any;
    return out;
}

SocketAddress SocketAddress::unix_path(std::string_view path) {
    SocketAddress out;
    auto* un = reinterpret_cast<sockaddr_un*>(out.native_mut());
    if (path.empty() || path.size() >= sizeof un->sun_path) {
        throw_invalid(std::string(kUnixPrefix) + std::string(path), Flaw::UnixPath);
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    out.length_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return out;
}

SocketAddress SocketAddress::from_native(const sockaddr* addr, socklen_t length) noexcept {
    SocketAddress out;
    if (addr == nullptr || length == 0) return out;
    if (length > capacity()) length = capacity();
    std::memcpy(&out.storage_, addr, length);
    out.length_ = length;
    return out;
}

void SocketAddress::set_length(socklen_t length) noexcept {
    length_ = length > capacity() ? capacity() : length;
}

std::uint16_t SocketAddress::port() const noexcept {
    if (is_ipv4()) return ntohs(reinterpret_cast<const sockaddr_in*>(native())->sin_port);
    if (is_ipv6()) return ntohs(reinterpret_cast<const sockaddr_in6*>(native())->sin6_port);
    return 0;
}

SocketAddress SocketAddress::with_port(std::uint16_t port) const noexcept {
    SocketAddress out = *this;
    if (is_ipv4()) reinterpret_cast<sockaddr_in*>(out.native_mut())->sin_port = htons(port);
    if (is_ipv6()) reinterpret_cast<sockaddr_in6*>(out.native_mut())->sin6_port = htons(port);
    return out;
}

std::string SocketAddress::host() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (is_ipv4()) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(native())->sin_addr, text, sizeof text);
        return text;
    }
    if (is_ipv6()) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(native())->sin6_addr, text, sizeof text);
        return text;
    }
    if (is_unix()) {
        // The kernel may or may not count the terminating NUL in the length
        // (and an unnamed socket has no path at all): stop at the first NUL.
        const auto* un = reinterpret_cast<const sockaddr_un*>(native());
        const auto offset = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
        if (length_ <= offset) return {};
        const std::size_t max = length_ - offset;
        return std::string(un->sun_path, ::strnlen(un->sun_path, max));
    }
    return {};
}

std::string SocketAddress::to_string() const {
    if (is_ipv4()) return host() + ':' + std::to_string(port());
    if (is_ipv6()) return '[' + host() + "]:" + std::to_string(port());
    if (is_unix()) return std::string(kUnixPrefix) + host();
    return {};
}

bool operator==(const SocketAddress& a, const SocketAddress& b) noexcept {
    return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

}  // namespace reactor
