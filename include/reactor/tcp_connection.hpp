// reactor/tcp_connection.hpp -- one established TCP (or Unix stream)
// connection on a loop: buffered, non-blocking, safe to hold.
//
// Ownership. A connection is created by a TcpServer (on accept) or a
// TcpClient (on connect) with std::make_shared, so the object and its
// reference counts are one allocation. Its owner keeps it alive while it is
// open; the user may keep a TcpConnectionPtr as long as they like (to send
// later from a timer, say): once the connection is closed the handle stays
// valid, send() on it does nothing and returns false, and the fd is gone.
// During each callback the connection holds a reference to itself, so a
// callback may close it, drop the last user handle, or destroy its server.
//
// Callbacks are not stored per connection: every connection of a server
// points at the server's one TcpCallbacks set (see tcp_server.hpp): six
// std::function objects copied into each connection would cost it 192 bytes.
//
// States, and the only transitions between them:
//
//   Connecting --start()--> Connected --close()/shutdown()--------> Disconnecting
//                              |       (output still queued, or        |
//                              |        shutdown(): waiting for EOF)   |
//                              |                                       | output flushed
//                              | peer EOF (default policy) with        | (close), peer EOF
//                              | nothing queued, read/write error,     | (shutdown), error,
//                              | force_close(), close() with nothing   | force_close()
//                              v queued                                v
//                          Disconnected <------------------------------+
//
//   - Connected: reading (unless paused) and writing.
//   - Disconnecting: no new send() is accepted; queued output is flushed.
//     After close() nothing more is read; after shutdown() reading goes on
//     (the write side is shut once the output is flushed) until the peer's
//     EOF, then the connection closes.
//   - Disconnected: the watcher is gone; the close callback runs once (with
//     the error that caused it, or an empty error_code for an orderly
//     close); then the owner drops its reference and the fd is closed.
//
// Closing is deferred when the user asks for it: close(), force_close()
// and a failed send() stop I/O at once but run the close callback from the
// loop a moment later, never from inside the call, so a close in the middle
// of iterating one's own connection list cannot invalidate that iteration.
// Closes the loop detects itself (EOF, reset) run the callback at once.
//
// Peer EOF: the message callback sees any bytes still buffered (and
// peer_closed() is true); then, by default, queued output is flushed and the
// connection closes. With TcpConnectionOptions::allow_half_close the write
// side stays open: the peer-shutdown callback runs and the user closes
// when done.
//
// Threads: a connection belongs to its loop (loop()), which may one day
// differ from its server's. send(), close(), shutdown() and force_close()
// may be called from any thread (off the loop they post to it, through
// EventLoop::run_in_loop; send() posts a copy); everything else is
// loop-thread only.
#pragma once

#include <reactor/buffer.hpp>
#include <reactor/event_loop.hpp>
#include <reactor/socket.hpp>
#include <reactor/socket_address.hpp>

#include <any>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <system_error>

namespace reactor {

class TcpConnection;
class TcpServer;
class TcpClient;
/// The handle everybody holds. Copy it freely; it never dangles.
using TcpConnectionPtr = std::shared_ptr<TcpConnection>;

namespace detail {
struct ConnectionHub;
}

/// The callbacks of a group of connections (one server's, one client's).
/// Each may be empty. They run on the connection's loop thread.
struct TcpCallbacks {
    /// The connection is established (state Connected). Server side only;
    /// a client learns it from its connect callback.
    std::function<void(const TcpConnectionPtr&)> on_connect;
    /// Bytes arrived: consume what you handle from the Buffer; what you
    /// leave is kept and shown again, with more, next time. Without a
    /// message callback input is discarded.
    std::function<void(const TcpConnectionPtr&, Buffer&)> on_message;
    /// The connection closed (state Disconnected), once per connection.
    /// The error is empty for an orderly close (peer EOF, close(),
    /// force_close()) and says what failed otherwise (ECONNRESET, EPIPE,
    /// ETIMEDOUT, ...).
    std::function<void(const TcpConnectionPtr&, std::error_code)> on_close;
    /// Output that had to be queued has been handed to the kernel in full.
    /// (When send() writes everything at once nothing was queued and this
    /// does not run; output_bytes() == 0 after send() says so.)
    std::function<void(const TcpConnectionPtr&)> on_write_complete;
    /// The queued output crossed the high-water mark upward; the argument
    /// is the queued size. Runs inside the send() that crossed it. The
    /// usual answer is to stop producing (pause_reading() on the source).
    std::function<void(const TcpConnectionPtr&, std::size_t)> on_high_water;
    /// The peer shut down its side (EOF) and half-close is allowed: the
    /// connection can still send; close it when done.
    std::function<void(const TcpConnectionPtr&)> on_peer_shutdown;
};

/// Settings shared by a group of connections.
struct TcpConnectionOptions {
    /// Queued output at or above this size fires on_high_water.
    std::size_t high_water_mark = 64 * 1024 * 1024;
    /// Keep the write side open after the peer's EOF (see above).
    bool allow_half_close = false;

    // Timeouts (zero: none, the default). Each closes the connection at
    // once, dropping queued output, and the close callback reports
    // std::errc::timed_out. They are checked by one periodic sweep per
    // owner (server loop or client), not by a timer per connection: a
    // timeout fires between T and T plus the sweep interval, which is a
    // quarter of the shortest timeout set, clamped to [10 ms, 1 s].

    /// Nothing read and no write progress for this long.
    std::chrono::milliseconds idle_timeout{0};
    /// Reading (not paused, peer not at EOF) and nothing read for this
    /// long: a peer that connects and goes quiet.
    std::chrono::milliseconds read_timeout{0};
    /// Output queued and none of it taken by the kernel for this long: a
    /// peer that stops reading. Also bounds a close() that is still
    /// flushing, so a peer that never reads cannot keep it in
    /// Disconnecting.
    std::chrono::milliseconds write_timeout{0};
};

class TcpConnection : public std::enable_shared_from_this<TcpConnection> {
public:
    enum class State : std::uint8_t { Connecting, Connected, Disconnecting, Disconnected };

    /// Made by TcpServer and TcpClient (the hub is internal). The socket
    /// must be connected and non-blocking.
    TcpConnection(EventLoop& loop, Socket socket, detail::ConnectionHub& hub) noexcept;
    ~TcpConnection();
    TcpConnection(const TcpConnection&) = delete;
    TcpConnection& operator=(const TcpConnection&) = delete;

    EventLoop& loop() const noexcept { return loop_; }
    /// Any thread (a snapshot).
    State state() const noexcept { return state_.load(std::memory_order_acquire); }
    bool connected() const noexcept { return state() == State::Connected; }

    // ---- output ----------------------------------------------------------------

    /// Sends bytes. On the loop thread: if nothing is queued the bytes go
    /// straight to the socket (no copy); only what the kernel does not take
    /// is queued, and Writable is watched until it drains. Returns false,
    /// doing nothing, if the connection is not Connected (closing or closed),
    /// or if the socket failed (the close callback then reports why).
    /// From another thread: copies the bytes and posts the send to the loop;
    /// true means "posted" (it is dropped if the connection closes first).
    bool send(std::string_view data);
    bool send(const void* data, std::size_t size) {
        return send(std::string_view(static_cast<const char*>(data), size));
    }
    /// Sends and consumes the content of `buffer`. Queued remainders take
    /// over the buffer's block when nothing else is queued (no copy). On
    /// false the buffer is left as it was.
    bool send(Buffer& buffer);

    /// Half-close after the queued output is flushed: the peer reads EOF,
    /// this side keeps reading until the peer's EOF, then the connection
    /// closes. Any thread.
    void shutdown();
    /// Stops reading, flushes the queued output, then closes. A peer that
    /// never reads keeps it in Disconnecting: bound that with a timer and
    /// force_close(). If the peer is still sending when the socket closes,
    /// the kernel answers with a reset (RST) and the peer may lose the tail
    /// of what was sent; shutdown() is the gentler close. Any thread.
    void close();
    /// Closes now, dropping queued output. Any thread.
    void force_close();

    /// Bytes queued for output (not yet taken by the kernel).
    std::size_t output_bytes() const noexcept { return output_.size(); }

    // ---- input and backpressure ------------------------------------------------

    /// Stop / resume reading (the Readable interest). While paused the
    /// kernel's receive buffer fills and TCP flow control slows the peer.
    void pause_reading();
    void resume_reading();
    bool reading() const noexcept { return reading_; }
    /// True once the peer's EOF was read.
    bool peer_closed() const noexcept { return peer_closed_; }

    // ---- addresses, options, context -------------------------------------------

    /// Asked of the socket on demand (nothing is stored per connection);
    /// the unspecified address once the socket is closed or reset. Keep it
    /// in the context if it is needed after the close callback.
    SocketAddress peer_address() const noexcept { return socket_.peer_address(); }
    SocketAddress local_address() const noexcept { return socket_.local_address(); }
    std::error_code set_tcp_nodelay(bool on) noexcept { return socket_.set_tcp_nodelay(on); }
    std::error_code set_keep_alive(bool on) noexcept { return socket_.set_keep_alive(on); }
    /// The fd, for logging and tests; -1 once closed.
    int fd() const noexcept { return socket_.fd(); }

    /// One slot for the user's per-connection state (a session, a name).
    /// std::any owns what it holds and destroys it with the connection;
    /// values up to 8 bytes (a pointer, an int) are stored without an
    /// allocation. Loop thread only.
    std::any& context() noexcept { return context_; }
    const std::any& context() const noexcept { return context_; }

private:
    friend struct detail::ConnectionHub;  // the owners' door to start/abandon

    // Called by the owner: registers with the loop, enters Connected and
    // runs on_connect. A failed registration leaves it Disconnected.
    std::error_code start();
    // Called by a destroyed owner: closes at once, without callbacks.
    void abandon() noexcept;
    // Called by the owner's sweep: closes with timed_out if a timeout of
    // the hub's options has passed at `now_ms` (loop milliseconds).
    void check_timeouts(std::uint32_t now_ms);

    void handle_event(Events events);
    void handle_read(const TcpConnectionPtr& self);
    void handle_write(const TcpConnectionPtr& self);
    void handle_eof(const TcpConnectionPtr& self);
    void after_eof(const TcpConnectionPtr& self);
    void deliver(const TcpConnectionPtr& self);
    // The one send path, on the loop thread: straight to the socket when
    // nothing is queued, the rest queued (taking over `donor`'s block, no
    // copy, when nothing was queued before), one high-water check. A
    // `donor` is consumed on success and left as it was on false.
    bool write(const char* data, std::size_t size, Buffer* donor);
    void after_drain(const TcpConnectionPtr& self);
    void shutdown_in_loop();
    void close_in_loop();
    // Enters Disconnected; runs finish_close now or (defer) from the loop.
    void begin_close(std::error_code ec, bool defer);
    void finish_close(const TcpConnectionPtr& self, std::error_code ec);
    void release_to_owner(detail::ConnectionHub& hub);
    void update_interest();

    // Field order: pointers first, then the small members packed together
    // (sizeof is 88 bytes on LP64 with enable_shared_from_this's 16;
    // docs/tcp.md adds up the whole per-connection cost).
    EventLoop& loop_;
    detail::ConnectionHub* hub_;  // the owner's shared callbacks; null once closed
    WatcherId watcher_;
    Buffer input_;   // no storage while idle (see src/net/buffer_access.hpp)
    Buffer output_;  // no storage unless output is queued
    std::any context_;
    Socket socket_;
    std::uint32_t owner_slot_ = 0;  // index in the owner's table
    // When the last byte was read and when output last made progress (or
    // became queued), in milliseconds of the loop's clock: a read takes the
    // iteration's cached now(), a write the clock read at the write, since
    // callbacks before it may have run long (src/net/tcp_connection.cpp).
    // 32 bits, compared by unsigned difference: they wrap safely for 49 days.
    std::uint32_t last_read_ms_ = 0;
    std::uint32_t last_write_ms_ = 0;
    std::atomic<State> state_{State::Connecting};
    bool reading_ = false;
    bool peer_closed_ = false;
    bool close_pending_ = false;     // close once the output is flushed
    bool shutdown_pending_ = false;  // shut the write side once flushed
    bool write_shut_ = false;
};

}  // namespace reactor
