// src/connection_hub.hpp -- what a group of connections shares: the
// callbacks, the options and the owner to tell when one closes.
//
// A TcpServer (or TcpClient) owns one hub; each of its connections keeps a
// plain pointer to it (8 bytes) instead of copies of the callbacks (160).
// The owner guarantees the hub outlives every connection that points to it:
// when the owner is destroyed it first abandons its connections (their
// pointer becomes null) and frees the hub only after the loop's current
// dispatch step, since it may be running one of the hub's callbacks.
//
// Internal: not installed.
#pragma once

#include <reactor/tcp_connection.hpp>

namespace reactor::detail {

/// Told (on the loop thread) when one of its connections has closed and its
/// close callback has run; drops its reference to it.
class ConnectionOwner {
public:
    virtual void connection_closed(TcpConnection& connection) = 0;

protected:
    ~ConnectionOwner() = default;
};

struct ConnectionHub {
    TcpCallbacks callbacks;
    TcpConnectionOptions options;
    ConnectionOwner* owner = nullptr;

    /// Lets owners reach the connection's private bookkeeping.
    static std::uint32_t& slot(TcpConnection& c) noexcept { return c.owner_slot_; }
    static std::error_code start(TcpConnection& c) { return c.start(); }
    static void abandon(TcpConnection& c) noexcept { c.abandon(); }
};

}  // namespace reactor::detail
