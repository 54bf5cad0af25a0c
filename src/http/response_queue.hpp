// src/http/response_queue.hpp -- the responses one connection owes, in
// request order, without a socket in sight.
//
// A ResponseQueue turns Response calls (status, header, send, send_head,
// write, start_chunked, end, on_drain, and the drop of the last handle) into
// bytes, in the order the requests came (pipelining), and tells its owner
// (the connection's Session, or a test) when something changed. It never
// writes to a socket: the bytes ready to go accumulate in output(), which
// the owner takes and sends; the owner tells the queue when what it took
// has left (output_drained()), which is when drain callbacks run.
//
//   front_seq_                       front_seq_ + count_ (the next push's number)
//     v                                 v
//   [ slot ][ slot ][ slot ] ...  (count_ slots, at most max_owed)
//     │ the front writes into output(); the others write into their own
//     │ `held` string, moved to output() when they reach the front.
//     └ complete at the front: retired. Its number is then stale, and the
//       handles carrying it only answer done() (true) and on_drain().
//
// Each response's life, as the queue sees it:
//
//   push() ─► Open ──send()───────────────────────────────► Complete ─► retired
//              │ └──send_head(n)──► FixedBody ──end()──────►    ^        (front only)
//              └────start_chunked()─► Chunked ──end()───────────┘
//   every handle dropped before Complete: Open gets a 500; FixedBody or
//   Chunked is completed with keep_alive off (the owner closes: the client
//   sees a truncated body, never a wrong one).
//
// When a response that closes the connection (keep_alive off) retires,
// the queue ends: what is behind it is dropped (those requests are never
// answered; the client retries them), and push() is refused. detach() (the
// connection is gone) drops everything; from then on every handle is a
// no-op.
//
// Re-entrancy. User code runs in two places: the drain callbacks (run by
// output_drained()) and the destructors of user callables the queue drops
// (a drain callback replaced, retired without running, dropped by a close),
// which may hold the last Response of any slot and so call back in. The rule
// is: every mutation first, user callables destroyed last, once the queue is
// consistent (a Graveyard, declared first in each entry point, holds them).
// The owner's queue_changed() also runs with the queue consistent.
//
// Lifetime. Reference-counted by hand (non-atomic: the loop's thread only):
// one reference per Response handle, one held by the owner. A count, not
// the loop's defer_release(), because a Response may be held by anything,
// even something destroyed after the loop (a captured handle in a
// std::function the user keeps): the queue must stay valid for it with no
// loop to hand it to. The owner keeps its reference at least until the
// current dispatch step ends (the Session is itself freed through
// defer_release), so a callback run by output_drained() cannot free the
// queue under it.
//
// Internal: not installed.
#pragma once

#include "http/response.hpp"
#include <reactor/http/server.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace reactor::http::detail {

class ResponseQueue {
public:
    /// The queue's view of its connection. Called on the loop thread.
    class Owner {
    public:
        /// Something changed: output appended, a response completed or
        /// retired, the queue ended, a drain callback was registered. The
        /// queue is consistent; the owner may read it and take output().
        virtual void queue_changed() = 0;
        /// Bytes taken from output() that have not left yet (a socket's
        /// queue), for Response::buffered_bytes().
        virtual std::size_t bytes_in_flight() const noexcept = 0;
        /// False once the client can no longer receive anything.
        virtual bool connection_open() const noexcept = 0;

    protected:
        virtual ~Owner() = default;
    };

    /// A queue for `owner`, holding one reference (the owner's). `loop` is
    /// only handed out by Response::loop() (null in tests: loop() throws);
    /// `dates` (may be null: no Date header) must outlive the attachment.
    ResponseQueue(Owner& owner, EventLoop* loop, const DateCache* dates, std::size_t max_owed);
    ResponseQueue(const ResponseQueue&) = delete;
    ResponseQueue& operator=(const ResponseQueue&) = delete;

    void add_ref() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }
    std::uint32_t refs() const noexcept { return refs_; }

    // ---- the owner's side -------------------------------------------------------

    /// A request to answer: returns its handle. `keep_alive`: the
    /// connection may stay open after it; `head_request`: a HEAD (no body
    /// bytes go out). Precondition: !full(), !ended(), attached().
    Response push(Version version, bool keep_alive, bool head_request);
    /// Responses pushed and not yet retired.
    std::size_t owed() const noexcept { return count_; }
    bool full() const noexcept { return count_ >= max_owed_; }
    /// A response that closes the connection has retired: nothing behind
    /// it will be answered, nothing more may be pushed.
    bool ended() const noexcept { return ended_; }
    /// The bytes ready to go, in order. The owner sends them and clears the
    /// string (or calls take_output()); it may also append bytes of its own
    /// (100 Continue, an error response) when nothing is owed.
    std::string& output() noexcept { return out_; }
    /// Empties output(), giving back memory a large response left.
    void clear_output() noexcept;
    /// Server shutdown: the newest owed response says Connection: close,
    /// unless its head already went out. Returns false if nothing is owed.
    bool close_after_newest() noexcept;
    /// A drain callback waits for the output to drain.
    bool drain_due() const noexcept;
    /// Some drain callback is registered (due or not): a cheap test.
    bool has_drains() const noexcept { return drains_ != 0; }
    /// The owner's output has all left (output() empty, nothing in flight):
    /// runs the due drain callbacks, oldest first. Call it from the loop,
    /// never from inside a Response call. Stops if the queue is detached
    /// by one of them.
    void output_drained();
    /// The connection is gone: every owed response is dropped (its handles
    /// become no-ops), pending drain callbacks are destroyed without
    /// running, and the owner is forgotten. Idempotent.
    void detach() noexcept;
    bool attached() const noexcept { return owner_ != nullptr; }
    /// Forgets the owner of a reusable() queue, for a pool: detach()
    /// without the work, since there is nothing to drop.
    void park() noexcept { owner_ = nullptr; }
    /// Gives the queue to another owner (a pooled queue); it must be empty.
    void reattach(Owner& owner, const DateCache* dates) noexcept;
    /// A pool's intrusive list link (LoopState); null when not pooled.
    ResponseQueue* next_free = nullptr;

    /// True when the queue holds nothing a connection must keep: no owed
    /// response, no output, no drain callback, and no handle out there.
    bool reusable() const noexcept {
        return count_ == 0 && out_.empty() && drains_ == 0 && refs_ == 1;
    }

    // ---- the handles' side (Response forwards here) -----------------------------
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
    EventLoop* loop() const noexcept { return loop_; }

private:
    ~ResponseQueue();

    enum class Stage : std::uint8_t { Open, FixedBody, Chunked, Complete };

    // One owed response. Reused: the strings keep their capacity.
    struct Slot {
        std::string fields;           // validated "Name: value\r\n" lines
        std::string held;             // output made before this slot reached the front
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

    // User callables that died during one entry point, destroyed when it
    // returns (declared first, so destroyed last), with the queue consistent.
    using Graveyard = std::vector<std::function<void()>>;

    bool live(std::uint64_t seq) const noexcept {
        return seq >= front_seq_ && seq - front_seq_ < count_;
    }
    Slot& slot(std::uint64_t seq) noexcept {
        std::size_t i = head_ + static_cast<std::size_t>(seq - front_seq_);
        if (i >= ring_.size()) i -= ring_.size();
        return ring_[i];
    }
    const Slot& slot(std::uint64_t seq) const noexcept {
        return const_cast<ResponseQueue*>(this)->slot(seq);
    }
    std::string& sink(std::uint64_t seq, Slot& s) noexcept { return seq == front_seq_ ? out_ : s.held; }
    // Calls outside the queue's life (stale or dropped) do nothing; a call
    // on a response already complete while the connection is fully open is
    // a programming error (std::logic_error).
    bool strict() const noexcept { return owner_ != nullptr && !ended_; }

    void pop_front(Graveyard& dead) noexcept;
    void drop_all(Graveyard& dead) noexcept;
    void advance(Graveyard& dead);
    void complete(std::uint64_t seq, Slot& s, Graveyard& dead);
    void answer_abandoned(std::uint64_t seq, Slot& s, Graveyard& dead);
    // The slot of an open response (status(), header(), the head); null
    // when the call should do nothing. Inline: every response goes through
    // it at least twice.
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
    void write_head_and_body(std::uint64_t seq, Slot& s, std::string_view body, Graveyard& dead);
    void notify() {
        if (owner_ != nullptr) owner_->queue_changed();
    }

    Owner* owner_;  // null once detached
    EventLoop* loop_;
    const DateCache* dates_;
    std::string out_;  // the bytes ready to go
    std::vector<Slot> ring_;
    std::size_t head_ = 0;
    std::size_t count_ = 0;
    std::size_t max_owed_;
    std::uint64_t front_seq_ = 0;
    // on_drain() callbacks whose response retired: they run as soon as the
    // output drains. drains_ counts every pending one, these and the slots'.
    std::vector<std::function<void()>> drain_ready_;
    std::size_t drains_ = 0;
    std::uint32_t refs_ = 1;  // the owner's
    bool ended_ = false;
};

}  // namespace reactor::http::detail
