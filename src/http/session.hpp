// src/http/session.hpp -- one HTTP connection: reading and parsing requests,
// handing them to handlers, sending what the ResponseQueue produces, and
// the connection's phases and deadlines.
//
// The connection's phases, and every transition between them:
//
//                 accepted (deadline: the first request's head, header_timeout)
//                    │
//                    v
//   ┌──────────── Open ◄──┐ requests are read, parsed, handed to handlers;
//   │  │  │  │      │     │ each deadline below depends on what is in progress
//   │  │  │  │      └─────┘ (head arriving, body arriving, handlers at work, idle)
//   │  │  │  │ server shutdown while a request is arriving and nothing is owed
//   │  │  │  v
//   │  │  │ LastRequest    that one request is read, then answered with
//   │  │  │  │             Connection: close
//   │  │  │  │ it is dispatched
//   │  │  v  v
//   │  │ Closing ◄──────── a request not kept alive, a response closing the
//   │  │  │                connection, a parser error or a head/body timeout
//   │  │  │                (then error_status_ is owed last), the client's EOF
//   │  │  │                with half-close allowed, server shutdown with
//   │  │  │                responses owed. Nothing more is read; owed
//   │  │  │                responses finish (no deadline: the handlers' time).
//   │  │  │ the queue is empty: the error status (if any) is written, our
//   │  │  v side is shut once the output is flushed (TcpConnection::shutdown)
//   │  │ Lingering        reading on (and dropping) until the client's EOF,
//   │  │                  so a reset cannot destroy the last response; bounded
//   │  │                  by the linger deadline once the output is out.
//   │  │ idle or first-request timeout, server shutdown while idle
//   │  v (nothing owed, nothing arriving: no response at stake)
//   │ Flushing           TcpConnection::close(): the queued output is flushed,
//   │                    then the socket closes.
//   │
//   └──► Closed ◄── from any phase: the connection closed (the client's EOF or
//                   reset, a send error, force_close(): send or linger timeout,
//                   shutdown's grace; or the server destroyed). The queue is
//                   detached (its handles become no-ops). Final.
//
// Orthogonal to the phase, and so kept as flags: dispatching_ (inside a pass
// over input: the output is sent once at its end, whatever the phase),
// output_blocked_ (the socket's queue is above the high-water mark: reading
// pauses, in Open as in LastRequest), continue_sent_ (per request, reset by
// the parser's reset), and the two list memberships LoopState keeps.
//
// Send progress is watched in every phase by the TCP layer: the server sets
// the connections' write_timeout to send_timeout, so output queued in the
// socket of which none is taken for that long force-closes the connection
// (TcpConnectionOptions, docs/tcp.md), closing and lingering included.
//
// Lifetime. The Session is owned by its connection's context (SessionLink).
// When the connection object goes, the Session stops at once (Closed) and is
// handed to its loop's defer_release(): it may be inside one of its own
// callbacks (a drain callback destroying the server), so its memory lives
// until the current dispatch step ends. Work the Session defers to the loop
// (parsing input held at the pipelining cap, running due drain callbacks) is
// scheduled on LoopState, which forgets a Session when it closes, so nothing
// posted ever points at a freed Session.
//
// Internal: not installed.
#pragma once

#include "http/response_queue.hpp"

#include <reactor/buffer.hpp>
#include <reactor/event_loop.hpp>
#include <reactor/http/request_parser.hpp>
#include <reactor/tcp_connection.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace reactor::http::detail {

class LoopState;
class ServerCore;

/// What every session on a loop needs from the options.
struct SessionSettings {
    Limits limits;
    std::chrono::milliseconds header_timeout;
    std::chrono::milliseconds idle_timeout;
    std::chrono::milliseconds body_timeout;
    std::size_t max_pipelined;
    std::size_t max_output_bytes;  // a pass stops producing at this much queued output
};

/// What a connection needs only while a request is in progress: the
/// parser (344 bytes, and its buffers) and the input held back at the
/// pipelining cap. Pooled per loop (LoopState): taken when bytes arrive,
/// given back when the connection is idle again, so an idle keep-alive
/// connection holds none, and a warm one travels from connection to
/// connection without allocating.
struct RequestState {
    explicit RequestState(const Limits& limits) : parser(limits) {}
    RequestParser parser;
    std::string stash;                   // input held back at the pipelining cap
    RequestState* next_free = nullptr;   // LoopState's pool (an intrusive list)
};

/// One connection's HTTP state. Loop thread only.
class Session final : private ResponseQueue::Owner {
    friend class LoopState;  // the list and schedule fields

public:
    Session(ServerCore& core, std::shared_ptr<LoopState> loop_state, TcpConnection& connection);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // ---- from the TCP callbacks (the server exists) ------------------------
    void on_message(Buffer& input);
    void on_close();
    void on_high_water();
    void on_write_complete();
    void on_peer_shutdown();
    /// Server shutdown: finish what is owed, then close (Server::shutdown).
    /// Named apart from the two other drains of this code: a response's
    /// on_drain() callback, and the output having drained.
    void begin_shutdown();
    void force_close();
    /// The connection object is being destroyed (its context with it).
    void connection_gone() noexcept;
    /// The server is being destroyed: stop now (Closed), without telling it.
    void abandon() noexcept { close_cleanup(false); }

    // ---- from LoopState -------------------------------------------------------
    /// The tick: acts on a passed deadline, watches send progress.
    void check_deadline(EventLoop::TimePoint now);
    /// Work scheduled with LoopState::schedule(), run from the loop.
    void run_scheduled();

    EventLoop& loop() const noexcept;

private:
    enum class Phase : std::uint8_t { Open, LastRequest, Closing, Lingering, Flushing, Closed };
    // What deadline_ means (checked by the tick).
    enum class Timeout : std::uint8_t {
        None,
        FirstRequest,  // a new connection that sent nothing: close silently
        Head,          // a request's head is incomplete: 408, set once per request
        Body,          // a request's body is incomplete: 408, set once per request
        Idle,          // keep-alive between requests: close silently
        Linger,        // we shut our side; the client does not close: force close
    };

    // ResponseQueue::Owner
    void queue_changed() override;
    std::size_t bytes_in_flight() const noexcept override;
    bool connection_open() const noexcept override;

    bool reading_requests() const noexcept {
        return phase_ == Phase::Open || phase_ == Phase::LastRequest;
    }
    // Not Closed, and the connection not closed under us (a close whose
    // callback is still to come, or a server destroyed by a handler).
    bool live() const noexcept {
        return phase_ != Phase::Closed && connection_->state() != TcpConnection::State::Disconnected;
    }
    // The lazily held parts, read safely when absent.
    bool request_started() const noexcept { return request_ != nullptr && request_->parser.started(); }
    bool headers_complete() const noexcept {
        return request_ != nullptr && request_->parser.headers_complete();
    }
    bool stash_empty() const noexcept { return request_ == nullptr || request_->stash.empty(); }
    std::size_t owed() const noexcept { return queue_ != nullptr ? queue_->owed() : 0; }
    bool queue_full() const noexcept { return queue_ != nullptr && queue_->full(); }
    // The responses of this pass plus the socket's queue reach
    // max_output_bytes: parse no further request until the output drains.
    bool output_full() const noexcept;
    void acquire();
    void give_back_if_idle() noexcept;

    void pass(std::string_view data, std::size_t& used);
    std::size_t process(std::string_view data);
    void dispatch();
    void fail(int status);
    void close_quietly();
    void settle();
    void flush();
    void finish_close();
    void maybe_send_continue();
    void update_reading();
    void update_deadline() noexcept;
    void schedule_if_due();
    void run_drains_if_due();
    void close_cleanup(bool notify_server) noexcept;

    // Field order: what the idle path touches first; 8-byte members, then
    // the small ones packed (sizeof is 112 bytes on LP64, the vptr included).
    ServerCore* core_;
    std::shared_ptr<LoopState> loop_state_;
    TcpConnection* connection_;  // null once the connection object is gone
    // Held only while needed (null when idle): taken from LoopState's pools
    // and given back by give_back_if_idle(). The queue carries a reference
    // while held; it goes back to the pool only when no Response handle
    // points at it (ResponseQueue::reusable()).
    RequestState* request_ = nullptr;
    ResponseQueue* queue_ = nullptr;
    EventLoop::TimePoint deadline_ = EventLoop::TimePoint::max();
    // Send progress: while the socket holds output, the time by which it
    // must shrink, and the byte count it must get below.
    // LoopState's intrusive list of open sessions, and its schedule.
    Session* prev_ = nullptr;
    Session* next_ = nullptr;
    std::uint16_t error_status_ = 0;  // sent when the queue empties, before closing
    Phase phase_ = Phase::Open;
    Timeout timeout_ = Timeout::FirstRequest;
    bool dispatching_ = false;     // inside a pass over input: send at its end
    bool continue_sent_ = false;   // 100 Continue went out for this request
    bool output_blocked_ = false;  // the socket's queue is above max_output_bytes
    bool listed_ = false;          // in LoopState's list
    bool scheduled_ = false;       // in LoopState's schedule
};

}  // namespace reactor::http::detail
