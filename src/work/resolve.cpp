// src/work/resolve.cpp -- getaddrinfo() on the worker pool.
#include <reactor/resolve.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

namespace reactor {
namespace {

class ResolveCategory final : public std::error_category {
public:
    const char* name() const noexcept override { return "reactor.resolve"; }
    std::string message(int value) const override { return ::gai_strerror(value); }
};

struct Lookup {
    std::error_code ec;
    std::vector<ResolvedAddress> addresses;
};

// The special-use names of RFC 6761, recognised by their last label
// ("localhost", "db.localhost", "LocalHost." all end in "localhost").
enum class SpecialName { None, Localhost, Invalid };

SpecialName special_name(std::string_view host) {
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // fully qualified form
    const std::size_t dot = host.rfind('.');
    const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    const auto is = [last](std::string_view word) {
        return last.size() == word.size() &&
               std::equal(last.begin(), last.end(), word.begin(), [](char a, char b) {
                   return std::tolower(static_cast<unsigned char>(a)) == b;
               });
    };
    if (is("localhost")) return SpecialName::Localhost;
    if (is("invalid")) return SpecialName::Invalid;
    return SpecialName::None;
}

// Blocking: runs on a pool thread.
Lookup lookup(const std::string& host, std::uint16_t port, int family) {
    // RFC 6761 section 6.3 and 6.4: a resolver library should answer
    // localhost names with the loopback addresses and .invalid names with an
    // immediate "no such name", without asking the name service. getaddrinfo()
    // does neither: glibc looks "localhost" up in /etc/hosts (absent in a
    // fresh debootstrap chroot or a minimal container) and then in DNS, where
    // a server that does not answer costs 10 s per name (5 s x 2 attempts)
    // before the lookup fails. So both are answered here; getaddrinfo() with
    // no host gives the loopback addresses without consulting anything.
    const SpecialName special = special_name(host);
    if (special == SpecialName::Invalid) return Lookup{make_resolve_error(EAI_NONAME), {}};
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
    // No AI_ADDRCONFIG: on a host with only a loopback interface it would
    // make "localhost" fail, and tests and local servers live there.
    hints.ai_flags = AI_NUMERICSERV;  // the port is a number: skip /etc/services
    const std::string service = std::to_string(port);
    addrinfo* list = nullptr;
    const bool loopback = host.empty() || special == SpecialName::Localhost;
    const char* node = loopback ? nullptr : host.c_str();
    const int rc = ::getaddrinfo(node, service.c_str(), &hints, &list);
    Lookup out;
    if (rc != 0) {
        // EAI_SYSTEM means "see errno"; the errno is the more useful code.
        out.ec = rc == EAI_SYSTEM ? std::error_code(errno, std::system_category())
                                  : make_resolve_error(rc);
        return out;
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(list, ::freeaddrinfo);
    for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        ResolvedAddress a;
        std::memcpy(&a.storage, ai->ai_addr, ai->ai_addrlen);
        a.length = static_cast<socklen_t>(ai->ai_addrlen);
        a.family = ai->ai_family;
        const auto same = [&](const ResolvedAddress& b) {
            return b.length == a.length && std::memcmp(&b.storage, &a.storage, a.length) == 0;
        };
        const bool seen = std::any_of(out.addresses.begin(), out.addresses.end(), same);
        if (!seen) out.addresses.push_back(a);
    }
    if (out.addresses.empty()) out.ec = make_resolve_error(EAI_NONAME);
    return out;
}

}  // namespace

const std::error_category& resolve_category() noexcept {
    static const ResolveCategory category;
    return category;
}

std::error_code make_resolve_error(int eai_code) noexcept {
    return {eai_code, resolve_category()};
}

std::uint16_t ResolvedAddress::port() const noexcept {
    if (family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
    if (family == AF_INET6) {
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
    }
    return 0;
}

std::string ResolvedAddress::to_string() const {
    char text[INET6_ADDRSTRLEN] = {};
    if (family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
        ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(port());
    }
    if (family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        std::string out = "[" + std::string(text);
        if (in6->sin6_scope_id != 0) out += "%" + std::to_string(in6->sin6_scope_id);
        return out + "]:" + std::to_string(port());
    }
    return "(unknown address family)";
}

WorkId resolve(EventLoop& loop, std::string host, std::uint16_t port, ResolveCallback cb) {
    return resolve(loop, std::move(host), port, AF_UNSPEC, std::move(cb));
}

WorkId resolve(EventLoop& loop, std::string host, std::uint16_t port, int family,
               ResolveCallback cb) {
    return queue_work(loop,
        [host = std::move(host), port, family] { return lookup(host, port, family); },
        [cb = std::move(cb)](std::error_code ec, Lookup result) {
            if (!ec) ec = result.ec;
            if (ec) result.addresses.clear();
            cb(ec, std::move(result.addresses));
        },
        WorkKind::Slow);
}

}  // namespace reactor
