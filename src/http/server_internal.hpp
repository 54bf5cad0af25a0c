// src/http/server_internal.hpp -- the parts of http::Server: one Session per
// connection, one LoopState per loop, one ServerCore per server.
//
//   ServerCore (server's loop) ── TcpServer ── connections, on one or more loops
//      │ routes, fallback                         │ context(): SessionLink
//      │ loop states (under a mutex)              v
//      └──► LoopState (one per loop) ◄──────── Session (one per connection)
//             DateCache, the tick,              parser, output string,
//             list of open sessions             ring of owed responses
//
// Ownership. A Session is reference-counted by hand (non-atomic: it lives
// on its connection's loop thread): one reference from the SessionLink in
// the connection's context(), one per Response handle. So a Response held
// by a timer outlives its connection safely: the Session stays, detached.
// A Session keeps its LoopState alive (shared_ptr), so the Date cache a
// Response writes with is never gone. Only the TCP callbacks (which exist
// only while the server does) reach the ServerCore from a Session.
//
// The ring of owed responses, per connection:
//
//   front_seq_                      front_seq_ + count_ (next request's number)
//     v                                v
//   [ slot ][ slot ][ slot ] ... (count_ slots, at most max_pipelined)
//     │ the front writes straight into out_; the others write into their
//     │ own `held` string, appended to out_ when they reach the front.
//     └ complete at the front: popped (retired); its number is then stale
//       and Response handles carrying it do nothing.
//
// Internal: not installed.
#pragma once

#include <reactor/http/response.hpp>
#include <reactor/http/server.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace reactor::http::detail {

class Session;

/// What every session on a loop needs from the options.
struct SessionSettings {
    std::chrono::milliseconds header_timeout;
    std::chrono::milliseconds idle_timeout;
    std::size_t max_pipelined;
};

/// Per-loop state: the Date cache and the tick that refreshes it and checks
/// the sessions' deadlines. The tick runs only while the loop has sessions.
/// Loop thread only (its loop's), except construction.
class LoopState {
public:
    LoopState(EventLoop& loop, SessionSettings settings);
    ~LoopState();
    LoopState(const LoopState&) = delete;
    LoopState& operator=(const LoopState&) = delete;

    void add(Session& session);
    void remove(Session& session) noexcept;
    /// Calls fn(session) for each open session (fn may close any of them:
    /// closes are deferred by TcpConnection, so the list stays intact).
    template <class Fn>
    void for_each(Fn fn);

    EventLoop& loop;
    const SessionSettings settings;
    DateCache dates;

private:
    void tick();

    EventLoop::Duration interval_;
    TimerId timer_;
    Session* first_ = nullptr;  // intrusive doubly-linked list
    std::size_t count_ = 0;
};

class ServerCore;

/// One connection's HTTP state. Loop thread only.
class Session {
public:
    Session(ServerCore& core, std::shared_ptr<LoopState> loop_state, TcpConnection& connection);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    // ---- from the TCP callbacks (the server exists) ------------------------
    void on_message(Buffer& input);
    void on_close();
    void on_high_water();
    void on_write_complete();
    void on_peer_shutdown();
    /// Server shutdown: finish what is owed, then close (see Server::shutdown).
    void drain();
    void force_close();
    /// The connection object is being destroyed (its context with it).
    void connection_gone() noexcept;

    // ---- from the tick -------------------------------------------------------
    void check_deadline(EventLoop::TimePoint now);

    // ---- from Response ------------------------------------------------------
    void handle_copied(std::uint64_t seq) noexcept;
    void handle_dropped(std::uint64_t seq) noexcept;
    void set_status(std::uint64_t seq, int code);
    void add_header(std::uint64_t seq, std::string_view name, std::string_view value);
    void set_close(std::uint64_t seq);
    void send(std::uint64_t seq, std::string_view body);
    void send_head(std::uint64_t seq, std::uint64_t content_length);
    void start_chunked(std::uint64_t seq);
    void write(std::uint64_t seq, std::string_view data);
    void end(std::uint64_t seq);
    bool done(std::uint64_t seq) const noexcept;
    bool connection_open() const noexcept;
    std::size_t buffered_bytes(std::uint64_t seq) const noexcept;
    void on_drain(std::uint64_t seq, std::function<void()> cb);
    EventLoop& loop() const noexcept { return loop_state_->loop; }

    // The intrusive list of LoopState.
    Session* prev_ = nullptr;
    Session* next_ = nullptr;
    bool listed_ = false;

private:
    enum class Stage : std::uint8_t { Open, FixedBody, Chunked, Complete };
    // What the next deadline does (checked by the tick).
    enum class Timeout : std::uint8_t {
        None,
        FirstRequest,  // a new connection that sent nothing: close silently
        Head,          // a request's head is incomplete: 408, set once per request
        Body,          // a request's body stalls: 408, refreshed on progress
        Idle,          // keep-alive between requests: close silently
        Linger,        // we closed our side; the peer does not: force close
    };

    // One owed response. Reused: the strings keep their capacity.
    struct Slot {
        std::string fields;  // validated "Name: value\r\n" lines
        std::string held;    // output made before this slot reached the front
        std::function<void()> drain;  // on_drain() of this response, if any
        ChunkedBody chunks;
        std::uint64_t remaining = 0;  // send_head(): body bytes still owed
        std::uint32_t refs = 0;       // live Response handles
        int status = 200;
        Stage stage = Stage::Open;
        Version version = Version::Http11;
        bool keep_alive = true;
        bool head_request = false;
        bool discard_body = false;  // HEAD, or 204/304: write() drops bytes
    };

    bool usable() const noexcept;
    bool live(std::uint64_t seq) const noexcept {
        return seq >= front_seq_ && seq - front_seq_ < count_;
    }
    Slot& slot(std::uint64_t seq) noexcept {
        std::size_t i = head_ + static_cast<std::size_t>(seq - front_seq_);
        if (i >= ring_.size()) i -= ring_.size();
        return ring_[i];
    }
    const Slot& slot(std::uint64_t seq) const noexcept {
        return const_cast<Session*>(this)->slot(seq);
    }
    std::string& sink(std::uint64_t seq, Slot& s) noexcept { return seq == front_seq_ ? out_ : s.held; }

    std::size_t process(std::string_view data);
    void dispatch();
    std::uint64_t claim(const Request& request, bool keep_alive);
    void pop_front() noexcept;
    void drop_all() noexcept;
    void advance();
    void complete(std::uint64_t seq, Slot& s);
    void answer_abandoned(std::uint64_t seq, Slot& s);
    // The slot of an open response (status(), header(), the head); null
    // when the connection is gone, so the call does nothing. Inline: every
    // response goes through it at least twice.
    Slot* open_slot(std::uint64_t seq) {
        if (live(seq)) {
            Slot& s = slot(seq);
            if (s.stage == Stage::Open) return &s;
        }
        return open_slot_slow(seq);
    }
    Slot* open_slot_slow(std::uint64_t seq);
    Slot* streaming_slot(std::uint64_t seq);
    ResponseOptions options_for(const Slot& s) const noexcept;
    void write_head_and_body(std::uint64_t seq, Slot& s, std::string_view body);
    void fail(int status);

    void changed();
    void after_pass();
    void flush();
    void finish_close();
    void maybe_send_continue();
    void update_reading();
    void update_deadline() noexcept;
    void schedule_resume();
    void resume();
    void check_drain(bool from_loop);
    void close_cleanup(bool notify_server) noexcept;

    ServerCore* core_;
    std::shared_ptr<LoopState> loop_state_;
    TcpConnection* connection_;  // null once the connection object is gone
    RequestParser parser_;
    std::string out_;    // responses of this pass, sent with one send()
    std::string stash_;  // input held back at the pipelining cap
    std::vector<Slot> ring_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::uint64_t front_seq_ = 0;
    // on_drain() callbacks whose response left the ring (completed): they
    // run as soon as the output drains. drains_ counts every pending one,
    // these and the slots', for a cheap test on the hot path.
    std::vector<std::function<void()>> drain_ready_;
    std::size_t drains_ = 0;
    EventLoop::TimePoint deadline_ = EventLoop::TimePoint::max();
    std::uint32_t refs_ = 0;
    int error_status_ = 0;  // sent when the ring empties, before closing
    Timeout timeout_ = Timeout::FirstRequest;
    bool closed_ = false;          // the connection closed (or is gone)
    bool dispatching_ = false;     // inside a pass over input: flush at its end
    bool closing_ = false;         // no more requests; close once the ring empties
    bool close_requested_ = false; // we closed, or shut down, our side
    bool quiet_close_ = false;     // closing an idle connection: no lingering
    bool draining_ = false;        // server shutdown in progress
    bool continue_sent_ = false;
    bool output_blocked_ = false;  // above max_output_bytes
    bool resume_posted_ = false;
};

/// Held in TcpConnection::context(): 8 bytes with a noexcept move, so
/// std::any stores it without an allocation. Copyable because std::any
/// demands it; only one copy ever exists.
class SessionLink {
public:
    explicit SessionLink(Session* s) noexcept : session_(s) { session_->add_ref(); }
    SessionLink(const SessionLink& o) noexcept : session_(o.session_) {
        if (session_) session_->add_ref();
    }
    SessionLink(SessionLink&& o) noexcept : session_(std::exchange(o.session_, nullptr)) {}
    SessionLink& operator=(const SessionLink&) = delete;
    SessionLink& operator=(SessionLink&&) = delete;
    ~SessionLink() {
        if (session_) {
            session_->connection_gone();
            session_->release();
        }
    }
    Session* get() const noexcept { return session_; }

private:
    Session* session_;
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
