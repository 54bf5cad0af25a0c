// src/http/server_internal.hpp -- the parts of http::Server: one Session per
// connection (session.hpp), one ResponseQueue per Session
// (response_queue.hpp), one LoopState per loop, one ServerCore per server.
//
//   ServerCore (server's loop) ── TcpServer ── connections, on one or more loops
//      │ routes, fallback                         │ context(): SessionLink
//      │ loop states (under a mutex)              v
//      └──► LoopState (one per loop) ◄──────── Session (one per connection)
//             DateCache, the tick,              parser, phase, deadlines
//             open sessions, the schedule          │ one reference
//                                                  v
//                                   Response ──► ResponseQueue (refcounted)
//
// Ownership. The SessionLink in the connection's context owns the Session;
// when the connection goes, the Session closes and its memory is handed to
// the loop's defer_release(). The Session holds one reference to its
// ResponseQueue, each Response handle another: a Response held by a timer
// outlives its connection (and the server) safely, as a no-op. A Session
// keeps its LoopState alive (shared_ptr), so the Date cache its queue writes
// with is never gone while attached. Only the TCP callbacks (which exist only
// while the server does) reach the ServerCore from a Session.
//
// Internal: not installed.
#pragma once

#include "http/session.hpp"

#include "http/response.hpp"
#include <reactor/http/server.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace reactor::http::detail {

/// Per-loop state: the Date cache, the tick that refreshes it and checks the
/// sessions' deadlines, and the schedule of sessions with work deferred to
/// the loop. The tick runs only while the loop has sessions. Loop thread
/// only (its loop's), except construction.
class LoopState : public std::enable_shared_from_this<LoopState> {
public:
    LoopState(EventLoop& loop, SessionSettings settings);
    ~LoopState();
    LoopState(const LoopState&) = delete;
    LoopState& operator=(const LoopState&) = delete;

    void add(Session& session);
    /// Forgets a closing session: off the list and off the schedule.
    void remove(Session& session) noexcept;
    /// Calls fn(session) for each open session (fn may close any of them:
    /// closes are deferred by TcpConnection, so the list stays intact).
    template <class Fn>
    void for_each(Fn fn);
    /// The server is being destroyed: every session on this loop stops.
    void close_all() noexcept;
    /// Runs session.run_scheduled() from the loop, in a later step (one
    /// post() per batch, not per session). Once until it has run.
    void schedule(Session& session);

    /// The pools of per-request state: a warm parser or queue from the
    /// last idle connection, else a new one. give_back() keeps at most
    /// kPoolSize of each (a queue only if no handle points at it; else the
    /// Session's reference is dropped and the handles keep it). On the hot
    /// path (one request per read) they change hands once per request:
    /// intrusive LIFO lists, a few instructions each way, and the one most
    /// recently used (warm in cache) is the next one handed out.
    RequestState* take_request_state() {
        if (free_requests_ == nullptr) return new RequestState(settings.limits);
        RequestState* r = std::exchange(free_requests_, free_requests_->next_free);
        --free_request_count_;
        return r;
    }
    void give_back(RequestState* state) noexcept {
        if (free_request_count_ >= kPoolSize) {
            delete state;
            return;
        }
        state->next_free = std::exchange(free_requests_, state);
        ++free_request_count_;
    }
    ResponseQueue* take_queue(ResponseQueue::Owner& owner) {
        if (free_queues_ == nullptr) {
            return new ResponseQueue(owner, &loop, &dates, settings.max_pipelined);
        }
        ResponseQueue* q = std::exchange(free_queues_, free_queues_->next_free);
        --free_queue_count_;
        q->reattach(owner, &dates);
        return q;
    }
    // The queue is detached (or parked). Pooled only when the Session's
    // reference is the last: a queue a Response still points at must never
    // serve another connection (the handle would write into it).
    void give_back(ResponseQueue* queue) noexcept {
        if (queue->refs() != 1 || queue->owed() != 0 || free_queue_count_ >= kPoolSize) {
            queue->release();
            return;
        }
        queue->next_free = std::exchange(free_queues_, queue);
        ++free_queue_count_;
    }

    EventLoop& loop;
    const SessionSettings settings;
    DateCache dates;

private:
    static constexpr std::size_t kPoolSize = 64;

    void tick();
    void run_scheduled();

    RequestState* free_requests_ = nullptr;  // intrusive lists (next_free)
    std::size_t free_request_count_ = 0;
    ResponseQueue* free_queues_ = nullptr;   // detached, one reference each
    std::size_t free_queue_count_ = 0;

    EventLoop::Duration interval_;
    TimerId timer_;
    Session* first_ = nullptr;  // intrusive doubly-linked list
    std::size_t count_ = 0;
    // Scheduled sessions; a removed one is nulled out. `running_` is the
    // batch being run (those scheduled meanwhile wait for the next post).
    std::vector<Session*> scheduled_;
    std::vector<Session*> running_;
    bool posted_ = false;
};

class ServerCore;

/// Held in TcpConnection::context(): owns the Session. 8 bytes with a
/// noexcept move, so std::any stores it without an allocation. std::any
/// demands a copy constructor: a copy is empty (owns nothing); none is made.
class SessionLink {
public:
    explicit SessionLink(Session* s) noexcept : session_(s) {}
    SessionLink(const SessionLink&) noexcept {}
    SessionLink(SessionLink&& o) noexcept : session_(std::exchange(o.session_, nullptr)) {}
    SessionLink& operator=(const SessionLink&) = delete;
    SessionLink& operator=(SessionLink&&) = delete;
    /// The one lifetime rule: the Session stops now, and is freed by its
    /// loop after the current dispatch step.
    ~SessionLink() {
        if (session_ != nullptr) {
            session_->connection_gone();
            session_->loop().defer_release(std::unique_ptr<Session>(session_));
        }
    }
    Session* get() const noexcept { return session_; }

private:
    Session* session_ = nullptr;
};

struct Route {
    std::string method;  // "" = any
    std::string prefix;
    Handler handler;
};

class ServerCore : public std::enable_shared_from_this<ServerCore> {
public:
    ServerCore(EventLoop& loop, const SocketAddress& address, ServerOptions options);
    ~ServerCore();

    /// Routes one request (Session::dispatch).
    void handle(const Request& request, Response response);
    /// A session's connection closed (its loop thread).
    void session_closed();
    void shutdown(EventLoop::Duration grace, std::function<void()> done);

    EventLoop& loop_;
    ServerOptions options_;
    SessionSettings settings_;
    std::vector<Route> routes_;
    Handler fallback_;

private:
    std::shared_ptr<LoopState> loop_state(EventLoop& loop);
    template <class Fn>
    void on_every_loop(Fn fn);
    void finish_shutdown();

    std::mutex loops_mutex_;
    std::vector<std::shared_ptr<LoopState>> loops_;  // guarded by loops_mutex_
    std::atomic<std::size_t> sessions_{0};
    std::atomic<bool> shutting_down_{false};
    std::function<void()> shutdown_done_;
    TimerId grace_timer_;

public:
    // Last, so it is destroyed first: its connections (and their sessions'
    // links) go away while everything above is still whole.
    TcpServer tcp_;
};

template <class Fn>
void LoopState::for_each(Fn fn) {
    for (Session* s = first_; s != nullptr;) {
        Session* next = s->next_;
        fn(*s);
        s = next;
    }
}

}  // namespace reactor::http::detail
