// src/http/session.cpp -- one connection's HTTP state: parsing, dispatching,
// ordering the responses, timeouts, closing; and the Response handle.
//
// The hot path, for a keep-alive client sending one request at a time:
// on_message() feeds the parser, which copies the request into its reused
// buffers; dispatch() claims the ring's one reused slot and calls the
// handler; Response::send() writes the head and body straight into out_
// (the slot is at the front); the slot retires; after_pass() sends out_ with
// one send() and stores the idle deadline. Nothing is allocated and no timer
// is touched.
#include "http/server_internal.hpp"

#include "http/chars.hpp"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace reactor::http {
namespace detail {

using reactor::detail::iequals;
using reactor::detail::is_field_value;
using reactor::detail::token_prefix;

namespace {

// A string that grew past this for one large response gives its memory back
// when emptied, so one big answer does not pin memory for the connection's life.
constexpr std::size_t kKeepCapacity = 64 * 1024;

void clear_and_trim(std::string& s) noexcept {
    if (s.capacity() > kKeepCapacity) {
        std::string().swap(s);
    } else {
        s.clear();
    }
}

// The names the server writes itself. Told apart by length first: this
// runs for every header of every response.
bool is_server_owned(std::string_view name) noexcept {
    switch (name.size()) {
    case 4: return iequals(name, "date");
    case 10: return iequals(name, "connection");
    case 14: return iequals(name, "content-length");
    case 17: return iequals(name, "transfer-encoding");
    default: return false;
    }
}

[[noreturn]] void misuse(const char* what) { throw std::logic_error(what); }

}  // namespace

Session::Session(ServerCore& core, std::shared_ptr<LoopState> loop_state, TcpConnection& connection)
    : core_(&core),
      loop_state_(std::move(loop_state)),
      connection_(&connection),
      parser_(core.options_.limits) {
    loop_state_->add(*this);
    // A new connection must send its first request within header_timeout.
    deadline_ = loop_state_->loop.now() + loop_state_->settings.header_timeout;
}

Session::~Session() {
    if (listed_) loop_state_->remove(*this);
}

bool Session::usable() const noexcept {
    return !closed_ && connection_ != nullptr &&
           connection_->state() != TcpConnection::State::Disconnected;
}

// ---- input ------------------------------------------------------------------

void Session::on_message(Buffer& input) {
    if (closing_ || closed_) {
        input.consume_all();  // nothing after the last request is read
        return;
    }
    dispatching_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{dispatching_};
    const std::size_t used = process(input.view());
    input.consume(used);
    if (!input.empty()) {
        // Stopped at the pipelining cap: hold the rest (reading pauses
        // below) and parse it when a response completes. When closing,
        // the rest is dropped.
        if (!closing_) stash_.append(input.view());
        input.consume_all();
    }
    dispatching_ = false;
    if (!usable()) return;  // closed, or the server destroyed, by a handler
    after_pass();
}

// Feeds the parser and dispatches every complete request, until the data
// is used up, the pipelining cap is reached, or no more requests are to be
// read. Returns the bytes consumed.
std::size_t Session::process(std::string_view data) {
    const std::size_t cap = loop_state_->settings.max_pipelined;
    std::size_t used = 0;
    while (used < data.size() && !closing_ && count_ < cap) {
        used += parser_.feed(data.substr(used));
        if (parser_.failed()) {
            fail(parser_.error_status());
            break;
        }
        if (!parser_.done()) {
            if (parser_.headers_complete()) maybe_send_continue();
            break;  // everything was consumed; wait for more
        }
        dispatch();
        parser_.reset();
        continue_sent_ = false;
        if (!usable()) break;
    }
    return used;
}

void Session::dispatch() {
    const Request& request = parser_.request();
    const bool keep_alive = request.keep_alive() && !draining_;
    // The connection closes after this response: read no further request.
    if (!keep_alive) closing_ = true;
    const std::uint64_t seq = claim(request, keep_alive);
    timeout_ = Timeout::None;
    // A handler's exception stops at this request: its Response, dropped
    // on the way out, answers 500, and the connection goes on. The message
    // goes to stderr, as queue_work does with a failed job's.
    try {
        core_->handle(request, Response(this, seq));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "reactor: http handler for %.*s threw: %s\n",
                     static_cast<int>(request.path().size()), request.path().data(), e.what());
    } catch (...) {
        std::fprintf(stderr, "reactor: http handler for %.*s threw\n",
                     static_cast<int>(request.path().size()), request.path().data());
    }
}

std::uint64_t Session::claim(const Request& request, bool keep_alive) {
    if (count_ == ring_.size()) {
        // Grow, keeping the ring's order: rotate the front to index 0.
        std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
        head_ = 0;
        const std::size_t cap = loop_state_->settings.max_pipelined;
        ring_.resize(std::min(std::max<std::size_t>(ring_.size() * 2, 1), cap));
    }
    const std::uint64_t seq = front_seq_ + count_;
    ++count_;
    Slot& s = slot(seq);
    s.fields.clear();
    s.remaining = 0;
    s.refs = 0;
    s.status = 200;
    s.stage = Stage::Open;
    s.version = request.version();
    s.keep_alive = keep_alive;
    s.head_request = request.method() == "HEAD";
    s.discard_body = false;
    s.chunks = {};
    return seq;
}

// A malformed request, or a timeout: nothing more is read; once the
// responses still owed are out, `status` goes out and the connection closes.
void Session::fail(int status) {
    closing_ = true;
    error_status_ = status;
}

void Session::maybe_send_continue() {
    // Only when every earlier response is out: "100 Continue" belongs to
    // this request, and must not overtake the answers to the ones before.
    if (continue_sent_ || count_ != 0 || closing_ || !parser_.headers_complete() ||
        parser_.done() || !parser_.request().expects_continue()) {
        return;
    }
    write_continue(out_);
    continue_sent_ = true;
}

// ---- the ring -------------------------------------------------------------------

void Session::pop_front() noexcept {
    Slot& s = ring_[head_];
    // The slot is retired before its drain callback can die: that callback
    // may hold the last Response of this very slot (a streamed body's
    // state), whose destructor calls back into the session. It must find
    // the slot already gone (a stale number), never half-retired.
    std::function<void()> drain = std::move(s.drain);
    s.drain = nullptr;
    clear_and_trim(s.held);
    if (s.fields.capacity() > kKeepCapacity) std::string().swap(s.fields);
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
    ++front_seq_;
    if (!drain) return;
    // Completed with a drain callback pending: it runs once the output
    // drains, like any other (the connection closing drops it).
    if (!closed_) {
        try {
            drain_ready_.push_back(std::move(drain));
            return;
        } catch (...) {
            // Out of memory: the callback is dropped below.
        }
    }
    --drains_;
    drain = nullptr;  // may re-enter (handle_dropped): the ring is consistent
}

// Forgets every owed response (the connection closes): their numbers become
// stale, so the handles still out there do nothing.
void Session::drop_all() noexcept {
    while (count_ > 0) pop_front();
}

// Moves the front forward over completed responses, appending to out_ what
// each new front had produced while it waited.
void Session::advance() {
    while (count_ > 0) {
        Slot& s = ring_[head_];
        if (!s.held.empty()) {
            out_.append(s.held);
            clear_and_trim(s.held);
        }
        if (s.stage != Stage::Complete) return;
        const bool keep_alive = s.keep_alive;
        pop_front();
        if (!keep_alive) {
            // This response closes the connection: later pipelined
            // requests (if any were read) go unanswered; the client
            // retries them on a new connection.
            closing_ = true;
            drop_all();
            return;
        }
    }
}

void Session::complete(std::uint64_t seq, Slot& s) {
    s.stage = Stage::Complete;
    if (seq == front_seq_) advance();
    changed();
}

// ---- after a change -------------------------------------------------------------

// Called after any change to the ring or the output. Inside a pass over
// input, after_pass() runs once at its end (so one send() carries every
// response of the pass); outside (a timer completing a response), now.
void Session::changed() {
    if (dispatching_ || !usable()) return;
    after_pass();
    if (!stash_.empty()) schedule_resume();
    if (drains_ != 0) check_drain(false);
}

void Session::after_pass() {
    if (closing_ && count_ == 0) {
        if (!close_requested_) finish_close();
    } else {
        if (count_ == 0 && parser_.headers_complete()) maybe_send_continue();
        if (!out_.empty()) flush();
    }
    update_reading();
    update_deadline();
}

void Session::flush() {
    connection_->send(out_);
    clear_and_trim(out_);
}

// Every owed response is out: the error status (if any) follows, then our
// side of the connection is shut once the output is flushed. The socket
// closes when the client closes its side (it read everything, no reset can
// eat the last response), or after a linger bound (update_deadline()).
void Session::finish_close() {
    close_requested_ = true;
    if (error_status_ != 0) write_error(out_, error_status_, &loop_state_->dates);
    if (!out_.empty()) flush();
    if (quiet_close_ && error_status_ == 0) {
        // An idle connection: no response to protect, nothing to wait for.
        connection_->close();
    } else {
        connection_->shutdown();
    }
}

void Session::update_reading() {
    // After our shutdown() the connection reads on, to see the client's EOF;
    // what it reads is dropped (on_message, closing_).
    const bool want = close_requested_ ||
                      (!closing_ && !output_blocked_ && stash_.empty() &&
                       count_ < loop_state_->settings.max_pipelined);
    if (want == connection_->reading()) return;
    if (want) {
        connection_->resume_reading();
    } else {
        connection_->pause_reading();
    }
}

// Stores the deadline for the state the connection is in now. The tick
// checks it (check_deadline); no timer is armed per request.
void Session::update_deadline() noexcept {
    const SessionSettings& st = loop_state_->settings;
    const EventLoop::TimePoint now = loop_state_->loop.now();
    if (close_requested_) {
        if (timeout_ != Timeout::Linger) {
            timeout_ = Timeout::Linger;
            deadline_ = now + st.header_timeout;
        }
    } else if (closing_) {
        // Waiting for handlers to finish what is owed: their time is not
        // the client's.
        timeout_ = Timeout::None;
        deadline_ = EventLoop::TimePoint::max();
    } else if (parser_.started() && !parser_.headers_complete()) {
        // Counted from the pass that brought the request's first byte.
        if (timeout_ != Timeout::Head) {
            timeout_ = Timeout::Head;
            deadline_ = now + st.header_timeout;
        }
    } else if (parser_.headers_complete()) {
        timeout_ = Timeout::Body;
        deadline_ = now + st.header_timeout;
    } else if (count_ > 0) {
        // Handlers are at work.
        timeout_ = Timeout::None;
        deadline_ = EventLoop::TimePoint::max();
    } else if (timeout_ != Timeout::FirstRequest) {
        timeout_ = Timeout::Idle;
        deadline_ = now + st.idle_timeout;
    }
}

void Session::check_deadline(EventLoop::TimePoint now) {
    if (now < deadline_ || !usable()) return;
    deadline_ = EventLoop::TimePoint::max();
    const Timeout what = std::exchange(timeout_, Timeout::None);
    switch (what) {
    case Timeout::None:
        return;
    case Timeout::FirstRequest:
    case Timeout::Idle:
        closing_ = true;
        quiet_close_ = true;
        break;
    case Timeout::Head:
    case Timeout::Body:
        fail(408);
        break;
    case Timeout::Linger:
        connection_->force_close();
        return;
    }
    after_pass();
}

// Parses input held back at the pipelining cap, from the loop (never from
// inside a Response call, where it would run handlers re-entrantly).
void Session::schedule_resume() {
    if (resume_posted_ || closing_ || count_ >= loop_state_->settings.max_pipelined) return;
    resume_posted_ = true;
    add_ref();
    loop_state_->loop.post([this] {
        resume_posted_ = false;
        if (usable()) resume();
        release();
    });
}

void Session::resume() {
    if (closing_ || stash_.empty()) return;
    dispatching_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{dispatching_};
    const std::size_t used = process(stash_);
    stash_.erase(0, used);
    if (closing_) clear_and_trim(stash_);
    if (stash_.empty()) clear_and_trim(stash_);
    dispatching_ = false;
    if (!usable()) return;
    after_pass();
}

// ---- TCP events -----------------------------------------------------------------

void Session::on_high_water() {
    output_blocked_ = true;
    update_reading();
}

void Session::on_write_complete() {
    output_blocked_ = false;
    if (!usable()) return;
    update_reading();
    if (drains_ != 0) check_drain(true);
}

void Session::on_peer_shutdown() {
    // The client will send nothing more. A request it left incomplete is
    // dropped; the responses it is owed still go out, then we close.
    closing_ = true;
    parser_.reset();
    after_pass();
}

void Session::drain() {
    draining_ = true;
    if (closing_ || !usable()) return;
    if (count_ == 0 && !parser_.started()) {
        // Idle keep-alive connection: close now.
        closing_ = true;
        quiet_close_ = true;
    } else if (count_ > 0) {
        // The newest owed response is the last; it says Connection: close
        // unless its head is already out.
        Slot& last = slot(front_seq_ + count_ - 1);
        if (last.stage == Stage::Open) last.keep_alive = false;
        closing_ = true;
    }
    // Otherwise a request is arriving: it is answered (dispatch() sees
    // draining_) and then the connection closes.
    after_pass();
}

void Session::force_close() {
    if (connection_ != nullptr) connection_->force_close();
}

void Session::on_close() { close_cleanup(true); }

void Session::connection_gone() noexcept {
    close_cleanup(false);
    connection_ = nullptr;
}

void Session::close_cleanup(bool notify_server) noexcept {
    if (closed_) return;
    closed_ = true;
    drop_all();
    std::string().swap(out_);
    std::string().swap(stash_);
    // Destroyed after the state is settled, for the same reason as in
    // pop_front(): a callback may hold a Response that calls back in.
    std::vector<std::function<void()>> dead = std::move(drain_ready_);
    drain_ready_.clear();
    drains_ = 0;
    dead.clear();
    deadline_ = EventLoop::TimePoint::max();
    if (listed_) loop_state_->remove(*this);
    if (notify_server) core_->session_closed();
}

// ---- the Response operations ------------------------------------------------------

void Session::handle_copied(std::uint64_t seq) noexcept {
    add_ref();
    if (live(seq)) ++slot(seq).refs;
}

void Session::handle_dropped(std::uint64_t seq) noexcept {
    if (live(seq)) {
        Slot& s = slot(seq);
        if (--s.refs == 0 && s.stage != Stage::Complete) answer_abandoned(seq, s);
    }
    release();
}

// Every handle to an incomplete response is gone: nobody can finish it, and
// the client would wait forever.
void Session::answer_abandoned(std::uint64_t seq, Slot& s) {
    if (s.stage == Stage::Open) {
        s.status = 500;
        s.fields.clear();
        s.fields.append("Content-Type: text/plain; charset=utf-8\r\n");
        write_head_and_body(seq, s, "Internal Server Error\n");
        return;
    }
    // The head is out: the only honest end is a close, which a chunked or
    // sized body's client sees as truncated.
    s.keep_alive = false;
    complete(seq, s);
}

Session::Slot* Session::open_slot_slow(std::uint64_t seq) {
    if (!live(seq)) {
        if (usable() && !closing_) misuse("http::Response: the response is already complete");
        return nullptr;
    }
    Slot& s = slot(seq);
    if (s.stage != Stage::Open) misuse("http::Response: the head was already sent");
    return &s;
}

Session::Slot* Session::streaming_slot(std::uint64_t seq) {
    if (!live(seq)) {
        if (usable() && !closing_) misuse("http::Response: the response is already complete");
        return nullptr;
    }
    Slot& s = slot(seq);
    if (s.stage == Stage::Open) misuse("http::Response: write() or end() before the head");
    if (s.stage == Stage::Complete) misuse("http::Response: the response is already complete");
    return &s;
}

ResponseOptions Session::options_for(const Slot& s) const noexcept {
    ResponseOptions o;
    o.version = s.version;
    o.keep_alive = s.keep_alive;
    o.head = s.head_request;
    o.date = &loop_state_->dates;
    return o;
}

void Session::write_head_and_body(std::uint64_t seq, Slot& s, std::string_view body) {
    std::string& out = sink(seq, s);
    ResponseWriter w(out, s.status, options_for(s));
    // The fields were validated by add_header() as ResponseWriter::header()
    // would; the writer's head is still open, so they may go in directly.
    out.append(s.fields);
    w.finish(body);
    complete(seq, s);
}

void Session::set_status(std::uint64_t seq, int code) {
    if (Slot* s = open_slot(seq)) s->status = code;
}

void Session::add_header(std::uint64_t seq, std::string_view name, std::string_view value) {
    if (name.empty() || token_prefix(name.data(), name.size()) != name.size()) {
        throw std::invalid_argument("http::Response: header name is not a token");
    }
    if (!is_field_value(value.data(), value.size())) {
        throw std::invalid_argument("http::Response: control character in header value");
    }
    if (is_server_owned(name)) {
        throw std::invalid_argument("http::Response: header is written by the server");
    }
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    // One append instead of four when the line is short (the usual case).
    const std::size_t length = name.size() + value.size() + 4;
    char line[256];
    if (length > sizeof line) {
        s->fields.append(name).append(": ").append(value).append("\r\n");
        return;
    }
    char* p = line;
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p++ = '\n';
    s->fields.append(line, length);
}

void Session::set_close(std::uint64_t seq) {
    if (Slot* s = open_slot(seq)) s->keep_alive = false;
}

void Session::send(std::uint64_t seq, std::string_view body) {
    if (Slot* s = open_slot(seq)) write_head_and_body(seq, *s, body);
}

void Session::send_head(std::uint64_t seq, std::uint64_t content_length) {
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    std::string& out = sink(seq, *s);
    ResponseWriter w(out, s->status, options_for(*s));
    out.append(s->fields);
    w.finish_head(content_length);
    s->stage = Stage::FixedBody;
    s->remaining = content_length;
    s->discard_body = s->head_request || status_has_no_body(s->status);
    changed();
}

void Session::start_chunked(std::uint64_t seq) {
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    std::string& out = sink(seq, *s);
    ResponseWriter w(out, s->status, options_for(*s));
    out.append(s->fields);
    s->chunks = w.start_chunked();
    s->keep_alive = w.keep_alive();  // off for an HTTP/1.0 client
    s->stage = Stage::Chunked;
    changed();
}

void Session::write(std::uint64_t seq, std::string_view data) {
    Slot* s = streaming_slot(seq);
    if (s == nullptr || data.empty()) return;
    if (s->stage == Stage::FixedBody) {
        if (data.size() > s->remaining) misuse("http::Response: write() beyond the Content-Length");
        s->remaining -= data.size();
        if (!s->discard_body) sink(seq, *s).append(data);
    } else {
        s->chunks.append(sink(seq, *s), data);
    }
    changed();
}

void Session::end(std::uint64_t seq) {
    Slot* s = streaming_slot(seq);
    if (s == nullptr) return;
    if (s->stage == Stage::FixedBody) {
        // A short body breaks the framing: the client learns it from the
        // close. Not for HEAD or a bodiless status, where no body goes out.
        if (s->remaining != 0 && !s->discard_body) s->keep_alive = false;
    } else {
        s->chunks.finish(sink(seq, *s));
    }
    complete(seq, *s);
}

bool Session::done(std::uint64_t seq) const noexcept {
    return closed_ || !live(seq) || slot(seq).stage == Stage::Complete;
}

bool Session::connection_open() const noexcept {
    return usable() && !close_requested_;
}

std::size_t Session::buffered_bytes(std::uint64_t seq) const noexcept {
    if (!usable()) return 0;
    std::size_t n = connection_->output_bytes() + out_.size();
    if (live(seq)) n += slot(seq).held.size();
    return n;
}

void Session::on_drain(std::uint64_t seq, std::function<void()> cb) {
    if (!usable() || !cb) return;
    if (live(seq)) {
        Slot& s = slot(seq);
        if (!s.drain) ++drains_;
        s.drain = std::move(cb);  // one per response: a new one replaces it
    } else {
        drain_ready_.push_back(std::move(cb));  // complete already
        ++drains_;
    }
    check_drain(false);
}

// Runs the drain callbacks that are due: those of completed responses and
// the front response's, once nothing is queued. Each response has its own,
// so a pipelined response behind the front never takes the front's. From a
// Response call this is posted, so a callback never runs inside the user's
// own write().
void Session::check_drain(bool from_loop) {
    if (drains_ == 0 || !usable()) return;
    const bool front_due = count_ > 0 && static_cast<bool>(slot(front_seq_).drain);
    if (!front_due && drain_ready_.empty()) return;
    if (!out_.empty() || connection_->output_bytes() != 0) return;
    if (from_loop) {
        std::vector<std::function<void()>> due = std::move(drain_ready_);
        drain_ready_.clear();
        if (front_due) due.push_back(std::move(slot(front_seq_).drain));
        if (front_due) slot(front_seq_).drain = nullptr;
        drains_ -= due.size();
        add_ref();  // a callback may close the connection
        for (auto& cb : due) {
            if (!usable()) break;
            cb();
        }
        release();
        return;
    }
    add_ref();
    loop_state_->loop.post([this] {
        if (usable()) check_drain(true);
        release();
    });
}

}  // namespace detail

// ---- Response -----------------------------------------------------------------------

Response::Response(detail::Session* session, std::uint64_t sequence) noexcept
    : session_(session), sequence_(sequence) {
    session_->handle_copied(sequence_);
}

Response::Response(const Response& other) noexcept
    : session_(other.session_), sequence_(other.sequence_) {
    if (session_) session_->handle_copied(sequence_);
}

Response::Response(Response&& other) noexcept
    : session_(std::exchange(other.session_, nullptr)), sequence_(other.sequence_) {}

Response& Response::operator=(const Response& other) noexcept {
    if (this != &other) {
        if (other.session_) other.session_->handle_copied(other.sequence_);
        release();
        session_ = other.session_;
        sequence_ = other.sequence_;
    }
    return *this;
}

Response& Response::operator=(Response&& other) noexcept {
    if (this != &other) {
        release();
        session_ = std::exchange(other.session_, nullptr);
        sequence_ = other.sequence_;
    }
    return *this;
}

Response::~Response() { release(); }

void Response::release() noexcept {
    if (detail::Session* s = std::exchange(session_, nullptr)) s->handle_dropped(sequence_);
}

Response& Response::status(int code) {
    if (code < 200 || code > 999) {
        throw std::invalid_argument("http::Response: status outside 200..999");
    }
    if (session_) session_->set_status(sequence_, code);
    return *this;
}

Response& Response::header(std::string_view name, std::string_view value) {
    if (session_) session_->add_header(sequence_, name, value);
    return *this;
}

Response& Response::close_connection() {
    if (session_) session_->set_close(sequence_);
    return *this;
}

void Response::send(std::string_view body) {
    if (session_) session_->send(sequence_, body);
}

void Response::send_head(std::uint64_t content_length) {
    if (session_) session_->send_head(sequence_, content_length);
}

void Response::start_chunked() {
    if (session_) session_->start_chunked(sequence_);
}

void Response::write(std::string_view data) {
    if (session_) session_->write(sequence_, data);
}

void Response::end() {
    if (session_) session_->end(sequence_);
}

bool Response::done() const noexcept { return session_ == nullptr || session_->done(sequence_); }

bool Response::connection_open() const noexcept {
    return session_ != nullptr && session_->connection_open();
}

std::size_t Response::buffered_bytes() const noexcept {
    return session_ != nullptr ? session_->buffered_bytes(sequence_) : 0;
}

void Response::on_drain(std::function<void()> cb) {
    if (session_) session_->on_drain(sequence_, std::move(cb));
}

EventLoop& Response::loop() const {
    if (session_ == nullptr) throw std::logic_error("http::Response: empty handle");
    return session_->loop();
}

}  // namespace reactor::http
