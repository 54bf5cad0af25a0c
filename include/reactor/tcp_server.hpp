// reactor/tcp_server.hpp -- listen, accept, and keep a set of connections.
//
//   EventLoop loop;
//   TcpServer server(loop, SocketAddress::parse("127.0.0.1:8080"));
//   server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
//   loop.run();
//
// The server binds and listens in its constructor (so local_address() is
// known at once, port 0 included) and accepts whenever its loop runs:
// register the callbacks before running the loop. Callbacks are set once on
// the server and shared by all its connections (tcp_connection.hpp).
//
// Accepting: on each wake-up the listener accepts until EAGAIN but at most
// accepts_per_wakeup connections, so a connection storm cannot starve the
// connections already open. Accepted sockets are non-blocking, close-on-exec
// and (by default) TCP_NODELAY.
//
// Overload policy (docs/tcp.md):
//   - max_connections: a connection over the cap is accepted and closed at
//     once (the client sees EOF, not a hang), counted as refused. The
//     default (0) is automatic: the open-file limit less a reserve, so a
//     flood of connections never takes the last fds the process needs;
//   - connection timeouts (TcpConnectionOptions: idle, read, write), so a
//     peer that goes quiet or stops reading does not hold its connection
//     for ever;
//   - out of fds (EMFILE/ENFILE): the server closes its reserve fd, accepts
//     the newcomer and closes it (refused), reopens the reserve, and pauses
//     the listener (stops watching it) for a backoff that starts at
//     min_backoff and doubles up to max_backoff; a closing connection ends
//     the pause at once. So the server neither spins on a listener that
//     stays readable nor stops accepting for good. Same on every backend.
//     Out of kernel memory (ENOBUFS/ENOMEM) it only pauses: no one is
//     dropped, and the newcomer waits in the backlog for the backoff.
//   - counters() tells accepted, refused, paused (times paused) and current.
//
// Threads. By default (threads = 1) everything runs on the server's loop
// thread, as in Node. With TcpServerOptions::threads = N the server also
// runs N - 1 loops on threads of its own and spreads connections over all
// N loops (Balance says how; docs/scaling.md measures it): every connection
// lives on exactly one loop, and the shared callbacks run on that loop's
// thread, so callbacks for different connections may run at the same time
// and whatever they share must be thread-safe (or per loop). The server's
// own methods are still called on its loop thread, except counters() and
// connection_count(), which any thread may call. Destroy the server on its
// loop's thread, before its loop.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket_address.hpp>
#include <reactor/tcp_connection.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace reactor {

namespace detail {
class ServerLoop;
class LoopGroup;
}

/// How a server with several threads spreads connections over its loops.
enum class Balance : std::uint8_t {
    /// ReusePort where the kernel balances SO_REUSEPORT listeners (Linux,
    /// TCP), HandOff elsewhere.
    Auto,
    /// One listener per loop, all bound to the same port with SO_REUSEPORT;
    /// the kernel picks a listener for each new connection (by a hash of
    /// its addresses). No cross-thread step per connection.
    ReusePort,
    /// One listener on the first loop; each accepted socket is posted to
    /// the next loop in turn (round robin). Works everywhere.
    HandOff,
};

struct TcpServerOptions {
    /// Loops serving connections: the server's own loop plus threads - 1
    /// loops on threads the server starts (and joins when destroyed). Each
    /// connection lives on exactly one loop, and its callbacks run there.
    /// 1 (the default, as in Node) means everything on the one loop.
    std::size_t threads = 1;
    /// How connections are spread when threads > 1.
    Balance balance = Balance::Auto;
    int backlog = SOMAXCONN;
    bool reuse_address = true;
    /// SO_REUSEPORT (several processes on one port); construction fails
    /// where the system lacks it.
    bool reuse_port = false;
    bool tcp_nodelay = true;
    /// Cap on concurrent connections over every loop. 0 (the default):
    /// automatic, the process's open-file limit (RLIMIT_NOFILE, soft, read
    /// when the server is constructed) less a reserve of max(32, limit / 16)
    /// fds for everything else the process opens (files, other listeners,
    /// the worker pool's work); kNoConnectionCap: none.
    std::size_t max_connections = 0;
    static constexpr std::size_t kNoConnectionCap = static_cast<std::size_t>(-1);
    /// Accepts per listener wake-up, for fairness to open connections.
    std::size_t accepts_per_wakeup = 64;
    /// Listener pause after EMFILE/ENFILE: first, and longest.
    std::chrono::milliseconds min_backoff{10};
    std::chrono::milliseconds max_backoff{1000};
    /// Shared by every connection (tcp_connection.hpp).
    TcpConnectionOptions connection;
};

struct TcpServerCounters {
    std::uint64_t accepted = 0;  ///< connections taken into service
    std::uint64_t refused = 0;   ///< accepted and closed at once (cap, EMFILE)
    std::uint64_t paused = 0;    ///< times the listener was paused (EMFILE/ENFILE)
    std::size_t current = 0;     ///< connections open now
};

class TcpServer {
public:
    using ConnectionCallback = std::function<void(const TcpConnectionPtr&)>;
    using MessageCallback = std::function<void(const TcpConnectionPtr&, Buffer&)>;
    using CloseCallback = std::function<void(const TcpConnectionPtr&, std::error_code)>;
    using HighWaterCallback = std::function<void(const TcpConnectionPtr&, std::size_t)>;

    /// Binds `address` (port 0: the kernel picks; see local_address()) and
    /// listens; with threads > 1, also starts the other loops' threads (and,
    /// with Balance::ReusePort, binds their listeners). Throws
    /// std::system_error if the socket, bind or listen fails (EADDRINUSE,
    /// EACCES, ...), with the address in the message, if threads is 0, or
    /// for Balance::ReusePort on a non-TCP address. Loop thread.
    TcpServer(EventLoop& loop, const SocketAddress& address, TcpServerOptions options = {});
    /// Stops listening and closes every connection at once, without calling
    /// any callback (the objects they capture may already be gone). Safe
    /// inside any of the server's callbacks that run on its loop. With
    /// threads > 1 it waits until every other loop has closed its
    /// connections, then joins the threads; so it must not run in a
    /// callback on one of those other loops. Loop thread.
    ~TcpServer();
    TcpServer(const TcpServer&) = delete;
    TcpServer& operator=(const TcpServer&) = delete;

    // ---- callbacks, shared by all connections (see TcpCallbacks) ---------------
    // Set them before the loop runs: with threads > 1 they are copied to the
    // other loops when the server's loop first runs.
    void on_connect(ConnectionCallback cb);
    void on_message(MessageCallback cb);
    void on_close(CloseCallback cb);
    void on_write_complete(ConnectionCallback cb);
    void on_high_water(HighWaterCallback cb);
    void on_peer_shutdown(ConnectionCallback cb);
    /// Changes the high-water mark of every connection, open or future (on
    /// the other loops a moment later).
    void set_high_water_mark(std::size_t bytes);

    // ---- state ---------------------------------------------------------------
    /// The server's own loop (the first of thread_count()).
    EventLoop& loop() const noexcept;
    /// How many loops serve connections (TcpServerOptions::threads).
    std::size_t thread_count() const noexcept;
    /// The bound address, with the real port.
    SocketAddress local_address() const;
    bool listening() const noexcept;
    /// The connection cap in force (max_connections, with the automatic
    /// default resolved); kNoConnectionCap when there is none.
    std::size_t max_connections() const noexcept;
    /// Totals over every loop. Any thread (with threads > 1, a snapshot
    /// that the other loops may be changing).
    TcpServerCounters counters() const noexcept;
    /// counters().current. Any thread.
    std::size_t connection_count() const noexcept;
    /// Calls `fn` for each open connection (a snapshot: `fn` may close any).
    /// With threads > 1, the other loops' connections are visited later, on
    /// their own threads (so `fn` must be thread-safe and is copied).
    void for_each_connection(const std::function<void(const TcpConnectionPtr&)>& fn) const;

    // ---- stopping ----------------------------------------------------------------
    /// Closes the listening socket(s); open connections go on.
    void stop_listening();
    /// close() on every connection (flush, then close).
    void close_all();
    /// Stops listening, closes every connection gracefully, force-closes
    /// those still open after `grace`, then calls `done` (from the loop)
    /// once none is left on any loop. The usual end of a server on SIGTERM.
    void shutdown(EventLoop::Duration grace, std::function<void()> done);

private:
    // src/net/README.md draws these: per loop an acceptor and a connection
    // table; the group runs the other loops.
    std::shared_ptr<detail::ServerLoop> core_;  // the server's own loop's
    std::shared_ptr<detail::LoopGroup> group_;  // the other loops (threads > 1)
};

}  // namespace reactor
