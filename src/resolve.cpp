// src/resolve.cpp -- getaddrinfo() on the worker pool.
#include <reactor/resolve.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

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

// Blocking: runs on a pool thread.
Lookup lookup(const std::string& host, std::uint16_t port, int family) {
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
    // No AI_ADDRCONFIG: on a host with only a loopback interface it would
    // make "localhost" fail, and tests and local servers live there.
    hints.ai_flags = AI_NUMERICSERV;  // the port is a number: skip /etc/services
    const std::string service = std::to_string(port);
    addrinfo* list = nullptr;
    const char* node = host.empty() ? nullptr : host.c_str();
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
    return loop.queue_work(
        [host = std::move(host), port, family] { return lookup(host, port, family); },
        [cb = std::move(cb)](std::error_code ec, Lookup result) {
            if (!ec) ec = result.ec;
            if (ec) result.addresses.clear();
            cb(ec, std::move(result.addresses));
        },
        WorkKind::Slow);
}

}  // namespace reactor
