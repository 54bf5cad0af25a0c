// src/net/acceptor.hpp -- one listening socket and its overload policy.
//
// The acceptor binds and listens, accepts on each wake-up until EAGAIN but
// at most accepts_per_wakeup sockets, enforces max_connections (counting
// each newcomer in ServerShared::current at once, so sockets handed to
// other loops cannot overshoot the cap while in flight), and survives
// EMFILE/ENFILE with its reserve fd and a doubling backoff
// (include/reactor/tcp_server.hpp, "Overload policy"). Each socket it takes
// into service goes to the OnAccept function: the loop's ConnectionTable,
// or the LoopGroup's hand-off, with TCP_NODELAY set if the options say so.
//
// Touched only on its loop's thread, except its construction and listen()
// (bind and listen need no loop) and its counters (atomics, read anywhere).
//
// Internal: used by TcpServer's loops only.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket.hpp>
#include <reactor/socket_address.hpp>
#include <reactor/tcp_server.hpp>

#include "net/connection_hub.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

namespace reactor::detail {

class Acceptor {
public:
    /// Takes an accepted socket already counted in ServerShared::current.
    using OnAccept = std::function<void(Socket)>;

    // Any thread: nothing here touches the loop.
    Acceptor(EventLoop& loop, const TcpServerOptions& options, std::shared_ptr<ServerShared> shared);
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    /// Binds and listens (any thread); `reuse_port` is set on top of the
    /// options' own choice. Throws std::system_error naming the address.
    void listen(const SocketAddress& address, bool reuse_port);
    /// Watches the listener, so accepting starts (no-op without a listener
    /// or when already watching). Loop thread.
    void start(OnAccept on_accept);
    /// Closes the listener and the reserve fd, ends a pause. Loop thread.
    void stop() noexcept;
    /// A connection of this loop closed, freeing an fd: a listener paused
    /// for EMFILE resumes now rather than at the end of its backoff.
    void fd_freed();

    bool listening() const noexcept { return static_cast<bool>(watch_); }
    /// The cap in force (resolved by TcpServer before construction).
    std::size_t max_connections() const noexcept { return max_connections_; }
    const SocketAddress& local_address() const noexcept { return local_; }
    /// Adds refused and paused to `c`. Any thread.
    void add_to(TcpServerCounters& c) const noexcept;

private:
    void on_readable();
    std::error_code set_balanced_reuse_port() noexcept;
    void open_reserve() noexcept;
    void out_of_fds();
    void pause();
    void resume();

    EventLoop& loop_;
    const std::size_t max_connections_;
    const std::size_t accepts_per_wakeup_;
    const std::chrono::milliseconds min_backoff_;
    const std::chrono::milliseconds max_backoff_;
    const int backlog_;
    const bool reuse_address_;
    const bool reuse_port_;
    const bool tcp_nodelay_;
    std::shared_ptr<ServerShared> shared_;
    OnAccept on_accept_;
    Socket listener_;
    Socket reserve_;  // the spare fd for the EMFILE trick
    SocketAddress local_;
    WatcherId watch_;
    std::chrono::milliseconds backoff_;
    TimerId backoff_timer_;
    bool paused_ = false;
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> paused_count_{0};
};

}  // namespace reactor::detail
