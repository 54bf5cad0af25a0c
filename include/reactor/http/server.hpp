// reactor/http/server.hpp -- an HTTP/1.1 server on top of TcpServer.
//
//   EventLoop loop;
//   http::Server server(loop, SocketAddress::parse("127.0.0.1:8080"));
//   server.route("GET", "/", [](const http::Request&, http::Response res) {
//       res.header("Content-Type", "text/plain").send("Hello, World!");
//   });
//   loop.run();
//
// Bytes read from a connection are parsed at once; each complete request
// runs its handler at once, in order; every response completed while one
// batch of input is handled goes out in one send(). The parser and the
// queue of owed responses are per-loop pooled objects a connection holds
// only while a request is in progress: an idle keep-alive connection costs
// about 200 bytes of user-space memory (docs/http.md).
//
// Handlers and responses. A handler gets the Request (views into the
// parser: valid only during the call; a handler that answers later copies
// what it needs) and a Response, a cheap handle to answer that one request,
// now or later: from a timer, or from queue_work's done callback. Responses
// go out in request order even when completed out of order (pipelining):
// one completed early waits, in its own buffer, for those before it.
//
//   parsed request ──► handler(req, res) ──► res.send(body)      (now or later)
//                                        └─► res.start_chunked(); res.write(..)...; res.end()
//
// The server answers for the handler in three cases: when every copy of a
// Response is dropped before it completes, the client gets 500 (or, if the
// head was already sent, the connection closes), so it never waits forever;
// when the client disconnects first (closes or resets, at any point: before
// the head, mid-body, with a drain callback pending), the Response's methods
// do nothing, connection_open() turns false, pending drain callbacks are
// destroyed without running, and the server serves on; when the parser
// fails, the client gets the parser's status (400, 413, 431, 501, 505) with
// Connection: close, after the responses it is still owed, and the
// connection closes. A connection's phases (open, last request, closing,
// lingering, flushing, closed) are drawn in docs/http.md.
//
// Time limits (docs/http.md, "Timeouts and limits"): every phase of a
// connection has one. A request's head must be complete within
// header_timeout of its first byte, and its body within body_timeout of the
// end of the head (else 408 and close; a new connection that sends nothing
// is closed silently); a keep-alive connection with nothing to do is closed
// after idle_timeout; output waiting for a client that does not read must
// make progress every send_timeout (else the connection is force-closed);
// a lingering close lasts at most header_timeout once the output is out.
// While handlers are at work, no limit applies: their time is not the
// client's. The limits are checked by one periodic tick per loop, not by a
// timer per request: a limit fires between T and T plus one tick, where the
// tick is a quarter of the shortest limit, clamped to [10 ms, 1 s].
// The same tick refreshes the cached Date header.
//
// Threads. The server, its routes and its Responses belong to the loops:
// construct and configure the server on `loop`'s thread before it runs. With
// options.tcp.threads > 1 the connections are spread over several loops and
// a handler runs on its connection's loop, so several handlers may run at
// the same time: handlers must then be safe to call concurrently. A
// Response, like its connection, belongs to that loop's thread: copy, use
// and drop it only there (capture it in queue_work's `done`, never in the
// `work` that runs on a worker thread). Per-loop state (the Date cache, the
// tick) is created on each loop the first time a connection lands there.
//
// Failure: the constructor throws std::system_error when binding or listening
// fails; route() throws std::invalid_argument for a bad method or prefix. An
// exception thrown by a handler is caught: its message goes to stderr, the
// Response it dropped answers 500, and the connection goes on. Response
// methods throw std::invalid_argument for bad header names or values and
// std::logic_error for calls in the wrong order (send twice, header after
// the head went out).
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/http/request_parser.hpp>
#include <reactor/socket_address.hpp>
#include <reactor/tcp_server.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace reactor::http {

namespace detail {
class ResponseQueue;
class ServerCore;
}  // namespace detail

struct ServerOptions {
    /// Parser limits: request head size (431), header count (431), body (413).
    Limits limits;
    /// From the first byte of a request to the end of its headers; after
    /// that 408 and close (a new connection that sends nothing at all is
    /// closed without a response). Against slowloris: a peer that trickles
    /// a request would otherwise hold its connection and buffers forever.
    /// Also bounds a lingering close: after its last response, a client
    /// that does not close its side within this long is cut off.
    std::chrono::milliseconds header_timeout{10000};
    /// From the end of a request's headers to the end of its body: a total,
    /// not a wait between reads, so a client trickling a byte now and then
    /// cannot hold the body buffer for ever. After it: 408 and close.
    std::chrono::milliseconds body_timeout{60000};
    /// A keep-alive connection with no request in progress and no response
    /// owed is closed after this long, silently.
    std::chrono::milliseconds idle_timeout{60000};
    /// While output waits in the socket for a client to read it, the queued
    /// byte count must go down (or drain) at least once per send_timeout;
    /// a client that stops reading is force-closed after it, in any phase,
    /// closing included (as nginx's send_timeout). It bounds what a client
    /// that reads nothing holds: its socket, up to max_output_bytes of
    /// output, and whatever the response keeps open (a file). It sets
    /// tcp.connection.write_timeout (unless that is set already), so the
    /// TCP layer's sweep checks it and the close reports timed_out.
    std::chrono::milliseconds send_timeout{60000};
    /// Requests of one connection handed to handlers but not yet answered.
    /// At the cap the server stops reading that connection (TCP flow control
    /// slows the client) until a response completes; nothing is dropped.
    /// At least 1.
    std::size_t max_pipelined = 16;
    /// Responses queued for a client that does not read them: above this
    /// many bytes the server stops reading its requests, and handling those
    /// already read, until the queue drains; the queue then holds at most
    /// this plus the one response that crossed it. Sets
    /// tcp.connection.high_water_mark.
    std::size_t max_output_bytes = 1024 * 1024;
    /// The TCP layer: threads, max_connections, backlog... (tcp_server.hpp).
    /// By default a client's EOF means it is gone, as in Node: responses
    /// already written are flushed, those still owed are dropped and their
    /// Responses turn into no-ops. With tcp.connection.allow_half_close the
    /// server treats EOF as a half-close instead: it reads no more requests
    /// but sends every response still owed, then closes.
    TcpServerOptions tcp;
};

/// A handle to answer one request: copyable (a pointer and a counter, no
/// allocation), usable now or later on the connection's loop thread.
///
/// Stages: open (status() and header() collect the head) -> the head goes
/// out with send() (complete), send_head() (then write() exactly that many
/// body bytes, then end()) or start_chunked() (then write() chunks, then
/// end()) -> complete. done() tells when nothing more is expected.
///
/// The server writes the framing and connection headers itself
/// (Content-Length, Transfer-Encoding, Connection, Date); HEAD requests get
/// the head a GET would get and no body, whatever the handler writes.
///
/// Once the connection is gone every method does nothing (no exception) and
/// connection_open() is false. A Response may outlive its connection, its
/// server and even its loop (it holds a reference to its connection's
/// response queue, not to the connection): it stays such a no-op (loop()
/// then refers to a loop that is gone). A default-constructed Response is
/// such a handle with no request behind it.
class Response {
public:
    Response() noexcept = default;
    Response(const Response& other) noexcept;
    Response(Response&& other) noexcept;
    Response& operator=(const Response& other) noexcept;
    Response& operator=(Response&& other) noexcept;
    /// Dropping the last copy of an incomplete response makes the server
    /// answer for it (500, or a close if the head already went out).
    ~Response();

    /// Sets the status (default 200), before the head goes out. Throws
    /// std::invalid_argument outside 200..999 (interim 1xx responses are the
    /// server's business), std::logic_error after the head went out.
    Response& status(int code);
    /// Adds a header field to the head. Throws std::invalid_argument if the
    /// name is not a token, the value holds CR, LF or another control
    /// character but HTAB, or the name is one the server writes
    /// (Content-Length, Transfer-Encoding, Connection, Date); throws
    /// std::logic_error after the head went out.
    Response& header(std::string_view name, std::string_view value);
    /// Asks the server to close the connection after this response
    /// ("Connection: close"); later pipelined requests are not answered.
    Response& close_connection();

    /// Sends the head with Content-Length and the body; completes the
    /// response. Throws std::logic_error if the head already went out.
    void send(std::string_view body);
    /// Sends the head with Content-Length: content_length; the body follows
    /// with write() calls totalling exactly that many bytes, then end().
    void send_head(std::uint64_t content_length);
    /// Sends the head for a body of unknown length (chunked for HTTP/1.1;
    /// for an HTTP/1.0 client, a body ended by closing the connection).
    void start_chunked();
    /// Sends body bytes after send_head() or start_chunked(); empty data
    /// sends nothing. Throws std::logic_error before the head, after end(),
    /// or beyond send_head()'s length.
    void write(std::string_view data);
    /// Completes a response begun with send_head() or start_chunked(). A
    /// send_head() body shorter than announced closes the connection (the
    /// framing is broken). Throws std::logic_error before the head.
    void end();

    /// True when nothing more is expected: the response is complete, or the
    /// connection closed, or the handle is empty.
    bool done() const noexcept;
    /// True while the client can still receive this response.
    bool connection_open() const noexcept;
    /// Bytes of this connection's output not yet taken by the kernel
    /// (this response's included), for pacing a long streamed body.
    std::size_t buffered_bytes() const noexcept;
    /// Runs `cb` once on the loop, when this response is the oldest one
    /// still owed (or is complete) and the connection's queued output has
    /// drained (at once, from the loop, if that holds already). Never runs
    /// if the connection closes first. One pending callback per response; a
    /// new one replaces it, and pipelined responses never take each other's.
    /// For streaming a long body without buffering it whole.
    void on_drain(std::function<void()> cb);
    /// The loop this response belongs to. Throws std::logic_error for an
    /// empty handle.
    EventLoop& loop() const;

private:
    friend class detail::ResponseQueue;
    Response(detail::ResponseQueue* queue, std::uint64_t sequence) noexcept;
    void release() noexcept;

    detail::ResponseQueue* queue_ = nullptr;  // its connection's responses
    std::uint64_t sequence_ = 0;  // the request's number on its connection
};

/// Handles one request: called on the connection's loop thread as soon as
/// the request (body included) has arrived. `request` is valid only during
/// the call.
using Handler = std::function<void(const Request& request, Response response)>;

class Server {
public:
    /// Binds `address` and listens (port 0: see local_address()). Throws
    /// std::system_error if binding or listening fails, std::invalid_argument
    /// for max_pipelined 0. Loop thread.
    Server(EventLoop& loop, const SocketAddress& address, ServerOptions options = {});
    /// Stops listening and closes every connection at once, without
    /// answering what is in flight (shutdown() is the graceful way).
    /// Responses still held become no-ops. Loop thread.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Routes requests whose path starts with `path_prefix` on a segment
    /// boundary ("/api" matches "/api" and "/api/x", not "/apix"; "/"
    /// matches every path) and whose method is `method` ("" = any method;
    /// a "GET" route also serves HEAD). The longest matching prefix wins;
    /// if only routes for other methods match the path, the answer is 405
    /// with an Allow header. Register routes before the loop runs. Throws
    /// std::invalid_argument if the method is not a token or "", or the
    /// prefix does not start with '/'.
    void route(std::string_view method, std::string_view path_prefix, Handler handler);
    /// The handler for requests no route takes (default: 404).
    void on_request(Handler handler);

    /// The bound address, with the real port.
    SocketAddress local_address() const;
    /// The server's loop (connections may live on others; see threads).
    EventLoop& loop() const noexcept;
    /// The TCP server underneath (counters, connection count...).
    TcpServer& tcp() noexcept;

    /// Stops listening; closes idle keep-alive connections at once; lets
    /// every connection finish the responses it owes (the last one says
    /// Connection: close) and closes it; force-closes whatever is left after
    /// `grace`; then calls `done` from the loop. Loop thread. A second
    /// call does nothing (its `done` is dropped).
    void shutdown(EventLoop::Duration grace, std::function<void()> done);

private:
    std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace reactor::http
