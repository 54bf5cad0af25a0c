// src/net/connection_table.hpp -- the open connections of one loop of a
// TcpServer, their shared callbacks and options, and their counters.
//
// The table is dense (a vector of TcpConnectionPtr; each connection knows
// its index, so removal is a swap with the last: O(1), 16 bytes a
// connection, no per-node allocation). It owns the hub its connections
// point to, the timeout sweep while it has connections, and a graceful
// shutdown's state. Every closed connection gives its place in
// ServerShared::current back and calls the on_freed function (the
// acceptor's fd_freed()).
//
// Touched only on its loop's thread, except its counters (atomics, read by
// TcpServer::counters() from anywhere).
//
// Internal: used by TcpServer's loops only.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket.hpp>
#include <reactor/tcp_connection.hpp>
#include <reactor/tcp_server.hpp>

#include "net/connection_hub.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace reactor::detail {

class ConnectionTable final : public ConnectionOwner {
public:
    // Any thread: nothing here touches the loop.
    ConnectionTable(EventLoop& loop, const TcpConnectionOptions& options, std::shared_ptr<ServerShared> shared);
    ConnectionTable(const ConnectionTable&) = delete;
    ConnectionTable& operator=(const ConnectionTable&) = delete;

    /// The callbacks and options every connection of this table shares.
    /// Changing them changes them for open connections too. Loop thread
    /// (or, for a loop not yet running, the thread that starts it).
    const TcpCallbacks& callbacks() const noexcept { return hub_.callbacks; }
    void set_callbacks(TcpCallbacks callbacks) { hub_.callbacks = std::move(callbacks); }
    const TcpConnectionOptions& options() const noexcept { return hub_.options; }
    void set_options(const TcpConnectionOptions& options) { hub_.options = options; }
    void set_high_water_mark(std::size_t bytes) noexcept { hub_.options.high_water_mark = bytes; }
    /// Called after each connection leaves the table.
    void set_on_freed(std::function<void()> on_freed) { on_freed_ = std::move(on_freed); }

    /// Serves an accepted socket already counted in ServerShared::current.
    /// Loop thread.
    void serve(Socket socket);
    /// False once shutting down or abandoned: sockets handed over from
    /// another loop are then closed rather than served.
    bool accepting() const noexcept { return !abandoned_ && !shutdown_done_; }
    /// Calls `fn` on a snapshot of the connections (`fn` may close any).
    void for_each(const std::function<void(const TcpConnectionPtr&)>& fn) const;
    /// close() on every connection, force_close() on those left after
    /// `grace`, then `done` (from the loop) once none is left.
    void shutdown(EventLoop::Duration grace, std::function<void()> done);
    /// Called by ~TcpServer: drops every connection at once without a
    /// callback, and no callback runs from here on.
    void abandon_all() noexcept;
    /// Adds accepted, refused (by the poller) and current to `c`. Any thread.
    void add_to(TcpServerCounters& c) const noexcept;

    void connection_closed(TcpConnection& connection) override;

private:
    void finish_shutdown();

    EventLoop& loop_;
    std::shared_ptr<ServerShared> shared_;
    ConnectionHub hub_;
    std::vector<TcpConnectionPtr> connections_;
    std::function<void()> on_freed_;
    std::function<void()> shutdown_done_;
    TimerId grace_timer_;
    TimeoutSweep sweep_;  // the connections' timeouts, while there are connections
    bool abandoned_ = false;
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::size_t> current_{0};
};

}  // namespace reactor::detail
