// reactor/tcp_client.hpp -- an asynchronous connect that yields a
// TcpConnection, with a timeout and optional retries with backoff.
//
//   TcpClient client(loop, SocketAddress::parse("127.0.0.1:8080"));
//   client.on_message([](const TcpConnectionPtr& c, Buffer& in) { ... });
//   client.connect([](std::error_code ec, const TcpConnectionPtr& c) {
//       if (ec) return report(ec);     // ECONNREFUSED, ETIMEDOUT, ...
//       c->send("hello\n");
//   });
//
// By host name: TcpClient(loop, "example.org", 80) looks the name up with
// resolve() (resolve.hpp: getaddrinfo on the loop's worker pool, so the loop
// never waits for DNS) at the start of every attempt, then tries the
// addresses in the resolver's order of preference, each with its own
// connect_timeout, until one connects. The attempt fails with the last
// address's error, or with the resolver's error (resolve_category(), e.g.
// EAI_NONAME) if the lookup fails; a failed attempt is retried like any
// other.
//
// How a connect works on every backend: a non-blocking connect() returns
// EINPROGRESS; the socket becomes Writable when the handshake ends, either
// way, and SO_ERROR tells which way. A timer bounds the wait. If an attempt
// fails and attempts remain, the next one starts after a backoff that
// doubles from initial_backoff up to max_backoff.
//
// The connect callback runs exactly once per connect() (from the loop,
// never from inside connect()): with the connection, or with the error of
// the last attempt, or with errc::operation_canceled after cancel(). The
// connection's own callbacks (message, close, ...) are set on the client
// and shared like a server's (tcp_connection.hpp).
//
// Threads: everything on the loop thread. Destroy the client before its loop.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket_address.hpp>
#include <reactor/tcp_connection.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace reactor {

namespace detail {
class TcpClientCore;
}

struct TcpClientOptions {
    /// Per attempt; zero or negative means no timeout (the kernel's own,
    /// about two minutes on Linux, still applies).
    EventLoop::Duration connect_timeout = std::chrono::seconds(10);
    /// Attempts in all, the first included; 0 means retry until cancelled.
    unsigned max_attempts = 1;
    EventLoop::Duration initial_backoff = std::chrono::milliseconds(100);
    EventLoop::Duration max_backoff = std::chrono::seconds(5);
    bool tcp_nodelay = true;
    TcpConnectionOptions connection;
};

class TcpClient {
public:
    using ConnectCallback = std::function<void(std::error_code, const TcpConnectionPtr&)>;

    /// Nothing happens until connect(). Does not throw.
    TcpClient(EventLoop& loop, const SocketAddress& server, TcpClientOptions options = {});
    /// Connects to `host` (a name or a numeric address) on `port`, looked
    /// up at each attempt (see above). Nothing happens until connect(); the
    /// lookup needs the loop's worker pool (started on first use). Does not
    /// throw but std::bad_alloc.
    TcpClient(EventLoop& loop, std::string host, std::uint16_t port, TcpClientOptions options = {});
    /// Cancels a connect under way (without calling its callback) and closes
    /// the connection, if any, without callbacks. Safe inside the client's
    /// own callbacks. Loop thread.
    ~TcpClient();
    TcpClient(const TcpClient&) = delete;
    TcpClient& operator=(const TcpClient&) = delete;

    // Callbacks of the connection, as TcpServer's (TcpCallbacks).
    void on_message(std::function<void(const TcpConnectionPtr&, Buffer&)> cb);
    void on_close(std::function<void(const TcpConnectionPtr&, std::error_code)> cb);
    void on_write_complete(std::function<void(const TcpConnectionPtr&)> cb);
    void on_high_water(std::function<void(const TcpConnectionPtr&, std::size_t)> cb);
    void on_peer_shutdown(std::function<void(const TcpConnectionPtr&)> cb);

    /// Starts connecting. If a connect is already under way, `done` is
    /// called (from the loop) with errc::connection_already_in_progress; if
    /// a connection is open, with errc::already_connected.
    void connect(ConnectCallback done);
    /// Stops a connect under way (attempt or backoff wait): its callback
    /// runs with errc::operation_canceled, from the loop. An open connection
    /// is not affected (close it). No-op when idle.
    void cancel();

    bool connecting() const noexcept;
    /// The open connection, or null.
    TcpConnectionPtr connection() const noexcept;
    /// Attempts made by the current (or last) connect().
    unsigned attempts() const noexcept;
    /// The address connected to, or being tried. For a client made with a
    /// host name: the unspecified address until a lookup has answered.
    const SocketAddress& server_address() const noexcept;
    /// The host name given to the constructor; empty for a client made with
    /// an address.
    const std::string& host() const noexcept;

private:
    std::shared_ptr<detail::TcpClientCore> core_;
};

}  // namespace reactor
