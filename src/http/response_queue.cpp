// src/http/response_queue.cpp -- the responses one connection owes, and
// the Response handle that writes them.
//
// The hot path, a keep-alive client sending one request at a time: push()
// claims the ring's one reused slot; Response::send() writes the head and
// body straight into output() (the slot is at the front); the slot retires.
// Nothing is allocated.
#include "http/response_queue.hpp"

#include "http/chars.hpp"

#include <algorithm>
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

// Moves a callable into the graveyard; if that fails (out of memory), it
// dies here, which is only unsafe if it holds a Response of this queue:
// an accepted risk under memory exhaustion.
void bury(std::vector<std::function<void()>>& dead, std::function<void()>& cb) noexcept {
    if (!cb) return;
    try {
        dead.push_back(std::move(cb));
    } catch (...) {
    }
    cb = nullptr;
}

}  // namespace

ResponseQueue::ResponseQueue(Owner& owner, EventLoop* loop, const DateCache* dates,
                             std::size_t max_owed)
    : owner_(&owner), loop_(loop), dates_(dates), max_owed_(std::max<std::size_t>(max_owed, 1)) {}

ResponseQueue::~ResponseQueue() = default;

void ResponseQueue::clear_output() noexcept { clear_and_trim(out_); }

// ---- the ring ---------------------------------------------------------------------

Response ResponseQueue::push(Version version, bool keep_alive, bool head_request) {
    if (count_ == ring_.size()) {
        // Grow, keeping the ring's order: rotate the front to index 0.
        std::rotate(ring_.begin(), ring_.begin() + static_cast<std::ptrdiff_t>(head_), ring_.end());
        head_ = 0;
        ring_.resize(std::min(std::max<std::size_t>(ring_.size() * 2, 1), max_owed_));
    }
    const std::uint64_t seq = front_seq_ + count_;
    ++count_;
    Slot& s = slot(seq);
    s.fields.clear();
    s.remaining = 0;
    s.refs = 0;
    s.status = 200;
    s.stage = Stage::Open;
    s.version = version;
    s.keep_alive = keep_alive;
    s.head_request = head_request;
    s.discard_body = false;
    s.chunks = {};
    return Response(this, seq);
}

// Retires the front slot. Its drain callback, if any, waits in drain_ready_
// for the output to drain (attached), or dies with the graveyard.
void ResponseQueue::pop_front(Graveyard& dead) noexcept {
    Slot& s = ring_[head_];
    std::function<void()> drain = std::move(s.drain);
    s.drain = nullptr;
    clear_and_trim(s.held);
    if (s.fields.capacity() > kKeepCapacity) std::string().swap(s.fields);
    head_ = head_ + 1 == ring_.size() ? 0 : head_ + 1;
    --count_;
    ++front_seq_;
    if (!drain) return;
    if (owner_ != nullptr) {
        try {
            drain_ready_.push_back(std::move(drain));
            return;
        } catch (...) {
            // Out of memory: the callback is dropped.
        }
    }
    --drains_;
    bury(dead, drain);
}

// Forgets every owed response: their numbers become stale, so the handles
// still out there do nothing, and their drain callbacks never run.
void ResponseQueue::drop_all(Graveyard& dead) noexcept {
    while (count_ > 0) {
        Slot& s = ring_[head_];
        if (s.drain) --drains_;
        bury(dead, s.drain);
        pop_front(dead);
    }
}

// Moves the front forward over completed responses, appending to out_ what
// each new front had produced while it waited.
void ResponseQueue::advance(Graveyard& dead) {
    while (count_ > 0) {
        Slot& s = ring_[head_];
        if (!s.held.empty()) {
            out_.append(s.held);
            clear_and_trim(s.held);
        }
        if (s.stage != Stage::Complete) return;
        const bool keep_alive = s.keep_alive;
        pop_front(dead);
        if (!keep_alive) {
            // This response closes the connection: later pipelined
            // requests (if any were read) go unanswered; the client
            // retries them on a new connection.
            ended_ = true;
            drop_all(dead);
            return;
        }
    }
}

void ResponseQueue::complete(std::uint64_t seq, Slot& s, Graveyard& dead) {
    s.stage = Stage::Complete;
    if (seq == front_seq_) advance(dead);
}

bool ResponseQueue::close_after_newest() noexcept {
    if (count_ == 0) return false;
    Slot& last = slot(front_seq_ + count_ - 1);
    if (last.stage == Stage::Open) last.keep_alive = false;
    return true;
}

bool ResponseQueue::drain_due() const noexcept {
    if (drains_ == 0) return false;
    return !drain_ready_.empty() || (count_ > 0 && static_cast<bool>(ring_[head_].drain));
}

void ResponseQueue::output_drained() {
    if (!drain_due() || owner_ == nullptr) return;
    // Taken out first: a callback may register new ones (they wait for the
    // next drain) or detach the queue.
    Graveyard due = std::move(drain_ready_);
    drain_ready_.clear();
    if (count_ > 0 && ring_[head_].drain) {
        due.push_back(std::move(ring_[head_].drain));
        ring_[head_].drain = nullptr;
    }
    drains_ -= due.size();
    for (auto& cb : due) {
        if (owner_ == nullptr) break;  // the connection closed: the rest never run
        cb();
    }
    // `due` dies here, after every call: what it holds may call back in.
}

void ResponseQueue::detach() noexcept {
    Graveyard dead;  // destroyed last
    if (owner_ == nullptr) return;
    owner_ = nullptr;
    drop_all(dead);
    clear_and_trim(out_);  // a pooled queue keeps a small buffer warm
    for (auto& cb : drain_ready_) bury(dead, cb);
    drain_ready_.clear();
    drains_ = 0;
}

void ResponseQueue::reattach(Owner& owner, const DateCache* dates) noexcept {
    owner_ = &owner;
    dates_ = dates;
    ended_ = false;
}

// ---- the handles' operations ------------------------------------------------------

void ResponseQueue::handle_copied(std::uint64_t seq) noexcept {
    ++refs_;
    if (live(seq)) ++slot(seq).refs;
}

void ResponseQueue::handle_dropped(std::uint64_t seq) noexcept {
    {
        Graveyard dead;
        if (live(seq)) {
            Slot& s = slot(seq);
            if (--s.refs == 0 && s.stage != Stage::Complete && owner_ != nullptr) {
                try {
                    answer_abandoned(seq, s, dead);
                    notify();
                } catch (...) {
                    // Out of memory writing the 500: the client may wait for
                    // a timeout; nothing else to do from a destructor.
                }
            }
        }
    }
    release();  // last: it may free the queue
}

// Every handle to an incomplete response is gone: nobody can finish it, and
// the client would wait forever.
void ResponseQueue::answer_abandoned(std::uint64_t seq, Slot& s, Graveyard& dead) {
    if (s.stage == Stage::Open) {
        s.status = 500;
        s.fields.clear();
        s.fields.append("Content-Type: text/plain; charset=utf-8\r\n");
        write_head_and_body(seq, s, "Internal Server Error\n", dead);
        return;
    }
    // The head is out: the only honest end is a close, which a chunked or
    // sized body's client sees as truncated.
    s.keep_alive = false;
    complete(seq, s, dead);
}

ResponseQueue::Slot* ResponseQueue::open_slot_slow(std::uint64_t seq) {
    if (!live(seq)) {
        if (strict()) misuse("http::Response: the response is already complete");
        return nullptr;
    }
    Slot& s = slot(seq);
    if (s.stage != Stage::Open) misuse("http::Response: the head was already sent");
    return &s;
}

ResponseQueue::Slot* ResponseQueue::streaming_slot(std::uint64_t seq) {
    if (!live(seq)) {
        if (strict()) misuse("http::Response: the response is already complete");
        return nullptr;
    }
    Slot& s = slot(seq);
    if (s.stage == Stage::Open) misuse("http::Response: write() or end() before the head");
    if (s.stage == Stage::Complete) misuse("http::Response: the response is already complete");
    return &s;
}

ResponseOptions ResponseQueue::options_for(const Slot& s) const noexcept {
    ResponseOptions o;
    o.version = s.version;
    o.keep_alive = s.keep_alive;
    o.head = s.head_request;
    o.date = dates_;
    return o;
}

void ResponseQueue::write_head_and_body(std::uint64_t seq, Slot& s, std::string_view body,
                                        Graveyard& dead) {
    std::string& out = sink(seq, s);
    ResponseWriter w(out, s.status, options_for(s));
    // The fields were validated by add_header() as ResponseWriter::header()
    // would; the writer's head is still open, so they may go in directly.
    out.append(s.fields);
    w.finish(body);
    complete(seq, s, dead);
}

void ResponseQueue::set_status(std::uint64_t seq, int code) {
    if (Slot* s = open_slot(seq)) s->status = code;
}

void ResponseQueue::add_header(std::uint64_t seq, std::string_view name, std::string_view value) {
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

void ResponseQueue::set_close(std::uint64_t seq) {
    if (Slot* s = open_slot(seq)) s->keep_alive = false;
}

void ResponseQueue::send(std::uint64_t seq, std::string_view body) {
    Graveyard dead;
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    write_head_and_body(seq, *s, body, dead);
    notify();
}

void ResponseQueue::send_head(std::uint64_t seq, std::uint64_t content_length) {
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    std::string& out = sink(seq, *s);
    ResponseWriter w(out, s->status, options_for(*s));
    out.append(s->fields);
    w.finish_head(content_length);
    s->stage = Stage::FixedBody;
    s->remaining = content_length;
    s->discard_body = s->head_request || status_has_no_body(s->status);
    notify();
}

void ResponseQueue::start_chunked(std::uint64_t seq) {
    Slot* s = open_slot(seq);
    if (s == nullptr) return;
    std::string& out = sink(seq, *s);
    ResponseWriter w(out, s->status, options_for(*s));
    out.append(s->fields);
    s->chunks = w.start_chunked();
    s->keep_alive = w.keep_alive();  // off for an HTTP/1.0 client
    s->stage = Stage::Chunked;
    notify();
}

void ResponseQueue::write(std::uint64_t seq, std::string_view data) {
    Slot* s = streaming_slot(seq);
    if (s == nullptr || data.empty()) return;
    if (s->stage == Stage::FixedBody) {
        if (data.size() > s->remaining) misuse("http::Response: write() beyond the Content-Length");
        s->remaining -= data.size();
        if (!s->discard_body) sink(seq, *s).append(data);
    } else {
        s->chunks.append(sink(seq, *s), data);
    }
    notify();
}

void ResponseQueue::end(std::uint64_t seq) {
    Graveyard dead;
    Slot* s = streaming_slot(seq);
    if (s == nullptr) return;
    if (s->stage == Stage::FixedBody) {
        // A short body breaks the framing: the client learns it from the
        // close. Not for HEAD or a bodiless status, where no body goes out.
        if (s->remaining != 0 && !s->discard_body) s->keep_alive = false;
    } else {
        s->chunks.finish(sink(seq, *s));
    }
    complete(seq, *s, dead);
    notify();
}

bool ResponseQueue::done(std::uint64_t seq) const noexcept {
    return owner_ == nullptr || !live(seq) || slot(seq).stage == Stage::Complete;
}

bool ResponseQueue::connection_open() const noexcept {
    return owner_ != nullptr && owner_->connection_open();
}

std::size_t ResponseQueue::buffered_bytes(std::uint64_t seq) const noexcept {
    if (owner_ == nullptr) return 0;
    std::size_t n = owner_->bytes_in_flight() + out_.size();
    if (live(seq)) n += slot(seq).held.size();
    return n;
}

void ResponseQueue::on_drain(std::uint64_t seq, std::function<void()> cb) {
    Graveyard dead;  // a replaced callback dies last
    if (owner_ == nullptr || !cb) {
        bury(dead, cb);
        return;
    }
    if (live(seq)) {
        Slot& s = slot(seq);
        if (s.drain) {
            bury(dead, s.drain);
        } else {
            ++drains_;
        }
        s.drain = std::move(cb);  // one per response: a new one replaces it
    } else {
        drain_ready_.push_back(std::move(cb));  // complete already
        ++drains_;
    }
    notify();
}

}  // namespace detail

// ---- Response -----------------------------------------------------------------------

Response::Response(detail::ResponseQueue* queue, std::uint64_t sequence) noexcept
    : queue_(queue), sequence_(sequence) {
    queue_->handle_copied(sequence_);
}

Response::Response(const Response& other) noexcept : queue_(other.queue_), sequence_(other.sequence_) {
    if (queue_) queue_->handle_copied(sequence_);
}

Response::Response(Response&& other) noexcept
    : queue_(std::exchange(other.queue_, nullptr)), sequence_(other.sequence_) {}

Response& Response::operator=(const Response& other) noexcept {
    if (this != &other) {
        if (other.queue_) other.queue_->handle_copied(other.sequence_);
        release();
        queue_ = other.queue_;
        sequence_ = other.sequence_;
    }
    return *this;
}

Response& Response::operator=(Response&& other) noexcept {
    if (this != &other) {
        release();
        queue_ = std::exchange(other.queue_, nullptr);
        sequence_ = other.sequence_;
    }
    return *this;
}

Response::~Response() { release(); }

void Response::release() noexcept {
    if (detail::ResponseQueue* q = std::exchange(queue_, nullptr)) q->handle_dropped(sequence_);
}

Response& Response::status(int code) {
    if (code < 200 || code > 999) {
        throw std::invalid_argument("http::Response: status outside 200..999");
    }
    if (queue_) queue_->set_status(sequence_, code);
    return *this;
}

Response& Response::header(std::string_view name, std::string_view value) {
    if (queue_) queue_->add_header(sequence_, name, value);
    return *this;
}

Response& Response::close_connection() {
    if (queue_) queue_->set_close(sequence_);
    return *this;
}

void Response::send(std::string_view body) {
    if (queue_) queue_->send(sequence_, body);
}

void Response::send_head(std::uint64_t content_length) {
    if (queue_) queue_->send_head(sequence_, content_length);
}

void Response::start_chunked() {
    if (queue_) queue_->start_chunked(sequence_);
}

void Response::write(std::string_view data) {
    if (queue_) queue_->write(sequence_, data);
}

void Response::end() {
    if (queue_) queue_->end(sequence_);
}

bool Response::done() const noexcept { return queue_ == nullptr || queue_->done(sequence_); }

bool Response::connection_open() const noexcept {
    return queue_ != nullptr && queue_->connection_open();
}

std::size_t Response::buffered_bytes() const noexcept {
    return queue_ != nullptr ? queue_->buffered_bytes(sequence_) : 0;
}

void Response::on_drain(std::function<void()> cb) {
    if (queue_) queue_->on_drain(sequence_, std::move(cb));
}

EventLoop& Response::loop() const {
    if (queue_ == nullptr || queue_->loop() == nullptr) {
        throw std::logic_error("http::Response: empty handle");
    }
    return *queue_->loop();
}

}  // namespace reactor::http
