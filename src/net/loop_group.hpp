// src/net/loop_group.hpp -- the extra loops of a TcpServer with threads > 1.
//
// The group runs threads - 1 loops (EventLoopThreads) with one ServerLoop
// each, beside the server's own (base) ServerLoop. It lives on the base
// loop's thread and talks to the other loops by post() only. With
// ReusePort every ServerLoop listens on the same port and the kernel
// spreads connections; with HandOff the base acceptor hands each socket to
// the next loop in turn (round robin, the base loop included).
//
// Internal: used by TcpServer only.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/event_loop_threads.hpp>
#include <reactor/socket.hpp>
#include <reactor/tcp_server.hpp>

#include "net/server_loop.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

namespace reactor::detail {

class LoopGroup : public std::enable_shared_from_this<LoopGroup> {
public:
    /// Starts the threads; with `reuse_port`, binds their listeners to the
    /// base's address (real port). Base loop thread.
    LoopGroup(ServerLoop& base, const TcpServerOptions& options, bool reuse_port);

    /// After construction, once shared_from_this() works: the base either
    /// hands its sockets to the group or the other loops accept on their
    /// own once the base loop runs (so that the callbacks, which the user
    /// sets after construction, are copied first). Returns the base
    /// acceptor's dispatch function (empty with ReusePort).
    Acceptor::OnAccept wire();

    std::size_t size() const noexcept { return loops_.size(); }
    /// Whether the other loops have their copy of the callbacks and options
    /// (before that, changes to the base's reach them with the copy).
    bool started() const noexcept { return started_; }

    /// Runs `fn` on each other loop's thread; returns at once.
    void on_each(std::function<void(ServerLoop&)> fn);
    /// Totals over the base and the other loops. Any thread.
    TcpServerCounters counters() const noexcept;
    /// Shuts every loop down; `done` runs on the base loop after the last.
    void shutdown(EventLoop::Duration grace, std::function<void()> done);
    /// ~TcpServer, on the base loop thread: every other loop abandons its
    /// connections on its own thread, and this waits for all of them
    /// before stopping the threads, so no callback runs after it.
    void abandon_all();

private:
    struct ShutdownState {
        std::size_t remaining = 0;
        std::function<void()> done;
    };
    void ensure_started();
    void hand_off(Socket socket);

    ServerLoop& base_;
    EventLoopThreads threads_;
    std::vector<std::shared_ptr<ServerLoop>> loops_;
    bool reuse_port_;
    bool started_ = false;
    std::size_t next_ = 0;
    std::weak_ptr<ShutdownState> shutdown_;
};

}  // namespace reactor::detail
