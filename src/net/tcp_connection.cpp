// src/net/tcp_connection.cpp -- reading, writing and closing one connection.
//
// The hot path of an echo-style exchange, per message: one wake-up, one
// read() into the thread's scratch block (no allocation, buffer_access.hpp),
// the message callback, one send() straight from that block (no copy), and
// the lease ends. No std::function is copied and nothing is allocated;
// shared_from_this() costs two atomic operations per event.
#include <reactor/tcp_connection.hpp>

#include "net/buffer_access.hpp"
#include "net/connection_hub.hpp"
#include "net/socket_ops.hpp"

#include <cassert>
#include <string>
#include <utility>

namespace reactor {

using detail::BufferAccess;

namespace {

// When output made progress (or began to wait), for the write-stall and idle
// clocks. Read afresh, not from the loop's cached now(): this iteration may
// have run long callbacks before this write, and a stamp from its start
// would make the next sweep see a stall that has not happened. A read keeps
// the cached stamp, since the data was there when the wait returned. The
// clock is read only when a timeout can look at the stamp; the sweep reads
// it too, so no stamp is ever later than the time it is compared with.
std::uint32_t write_stamp(const EventLoop& loop, const detail::ConnectionHub* hub) noexcept {
    return hub != nullptr && hub->has_timeouts() ? detail::clock_millis() : detail::loop_millis(loop);
}

}  // namespace

TcpConnection::TcpConnection(EventLoop& loop, Socket socket, detail::ConnectionHub& hub) noexcept
    : loop_(loop), hub_(&hub), socket_(std::move(socket)) {}

TcpConnection::~TcpConnection() {
    // The owner unregisters a connection before dropping it, so the watcher
    // is normally gone; this covers a start() that was never followed by a
    // close (an owner bug) without touching freed memory.
    assert(!watcher_ && "reactor: TcpConnection destroyed while registered with its loop");
}

std::error_code TcpConnection::start() {
    loop_.assert_in_loop_thread();
    std::error_code ec;
    watcher_ = loop_.watch(socket_.fd(), Readable, [this](Events events) { handle_event(events); }, ec,
                           WatchLabel::Connection);
    if (ec) {
        state_.store(State::Disconnected, std::memory_order_release);
        hub_ = nullptr;
        socket_.close();
        return ec;
    }
    reading_ = true;
    last_read_ms_ = last_write_ms_ = write_stamp(loop_, hub_);
    state_.store(State::Connected, std::memory_order_release);
    if (hub_->callbacks.on_connect) hub_->callbacks.on_connect(shared_from_this());
    return {};
}

void TcpConnection::abandon() noexcept {
    state_.store(State::Disconnected, std::memory_order_release);
    hub_ = nullptr;
    reading_ = false;
    if (watcher_) loop_.unwatch(std::exchange(watcher_, WatcherId{}));
    socket_.close();
    output_.release();
    // The input buffer may be lent the scratch block by a read in progress
    // (the owner destroyed inside on_message): that read settles it.
    if (!BufferAccess::holds_scratch(input_)) input_.release();
}

// ---- events -------------------------------------------------------------------

void TcpConnection::handle_event(Events events) {
    // The handle every callback below receives (their signatures take a
    // TcpConnectionPtr). Lifetime needs no help from it: while the
    // connection is open its owner holds it, and once it closes (or the
    // owner dies) the owner's reference goes to the loop until this
    // dispatch step ends (the lifetime rule, docs/architecture.md).
    const TcpConnectionPtr self = shared_from_this();
    if (reading_ && (events & (Readable | Hangup | Error))) {
        // A reset or a pending error shows up as a failed read, with errno.
        handle_read(self);
    } else if (events & Error) {
        // Not reading (paused): the error comes from SO_ERROR instead.
        const std::error_code ec = socket_.take_error();
        begin_close(ec ? ec : std::make_error_code(std::errc::connection_reset), false);
        return;
    }
    if (state() == State::Disconnected) return;
    if (events & Writable) {
        handle_write(self);
    } else if ((events & Hangup) && !reading_) {
        // Hang-up while paused with output queued but not writable: the
        // peer is gone both ways; nothing queued can be delivered.
        begin_close(std::make_error_code(std::errc::connection_reset), false);
    }
}

void TcpConnection::handle_read(const TcpConnectionPtr& self) {
    ssize_t n;
    int error = 0;  // an errno; the error_code is built only on failure
    // One read per wake-up, at most 64 KiB: level-triggered polling brings
    // us back if more is waiting, after the other ready connections had
    // their turn.
    if (BufferAccess::lend_scratch(input_)) {
        n = detail::read_raw(socket_.fd(), input_.write_pointer(), input_.writable_bytes());
        if (n > 0) input_.commit(static_cast<std::size_t>(n));
        if (n < 0) error = errno;
    } else {
        std::error_code ec;
        n = input_.read_fd(socket_.fd(), ec);
        if (n < 0) error = ec.value();
    }
    if (n > 0) {
        last_read_ms_ = detail::loop_millis(loop_);
        deliver(self);
        return;
    }
    BufferAccess::settle(input_);
    if (n == 0) {
        handle_eof(self);
    } else if (error != EAGAIN && error != EWOULDBLOCK) {
        begin_close(std::error_code(error, std::system_category()), false);
    }
}

void TcpConnection::deliver(const TcpConnectionPtr& self) {
    if (hub_ != nullptr && hub_->callbacks.on_message) {
        try {
            hub_->callbacks.on_message(self, input_);
        } catch (...) {
            // The exception leaves the loop (its exception policy); the
            // thread's scratch block must not leave with this buffer.
            BufferAccess::settle(input_);
            throw;
        }
    } else {
        input_.consume_all();
    }
    // Leftover bytes move to an owned block; an empty buffer ends with no
    // storage, so an idle connection pins nothing.
    BufferAccess::settle(input_);
}

void TcpConnection::handle_eof(const TcpConnectionPtr& self) {
    peer_closed_ = true;
    reading_ = false;
    update_interest();
    // The last chance to see an incomplete message (e.g. a final line
    // without its newline). If the callback throws, the EOF is still acted
    // on, from the loop: the readable event that brought it is gone.
    if (!input_.empty()) {
        try {
            deliver(self);
        } catch (...) {
            loop_.post([self] { self->after_eof(self); });
            throw;
        }
    }
    after_eof(self);
}

void TcpConnection::after_eof(const TcpConnectionPtr& self) {
    if (state() == State::Disconnected || hub_ == nullptr) return;
    if (state() == State::Connected && hub_->options.allow_half_close) {
        if (hub_->callbacks.on_peer_shutdown) hub_->callbacks.on_peer_shutdown(self);
        return;
    }
    // Default policy (and after our own shutdown()): flush, then close.
    input_.release();
    if (output_.empty()) {
        begin_close({}, false);
    } else {
        close_pending_ = true;
        state_.store(State::Disconnecting, std::memory_order_release);
    }
}

void TcpConnection::handle_write(const TcpConnectionPtr& self) {
    if (output_.empty()) {
        update_interest();
        return;
    }
    const ssize_t n = detail::send_raw(socket_.fd(), output_.data(), output_.size());
    if (n < 0) {
        if (!detail::errno_would_block()) begin_close(detail::last_error(), false);
        return;
    }
    output_.consume(static_cast<std::size_t>(n));
    last_write_ms_ = write_stamp(loop_, hub_);
    if (!output_.empty()) return;
    output_.release();
    update_interest();
    if (hub_ != nullptr && hub_->callbacks.on_write_complete) {
        try {
            hub_->callbacks.on_write_complete(self);
        } catch (...) {
            // A close waiting for this drain still happens, from the loop.
            loop_.post([self] {
                if (self->state() != State::Disconnected) self->after_drain(self);
            });
            throw;
        }
    }
    if (state() != State::Disconnected) after_drain(self);
}

void TcpConnection::after_drain(const TcpConnectionPtr&) {
    if (!output_.empty()) return;  // the write-complete callback sent more
    if (close_pending_) {
        begin_close({}, false);
    } else if (shutdown_pending_ && !write_shut_) {
        write_shut_ = true;
        if (const std::error_code ec = socket_.shutdown_write()) {
            begin_close(ec, false);
        } else if (peer_closed_) {
            begin_close({}, false);
        }
    }
}

// ---- output -------------------------------------------------------------------

bool TcpConnection::send(std::string_view data) {
    if (loop_.in_loop_thread()) return write(data.data(), data.size(), nullptr);
    // Not run_in_loop(): on the loop thread the bytes go out uncopied and
    // the result is returned; only from another thread is a copy posted.
    if (state() != State::Connected) return false;
    loop_.post([self = shared_from_this(), copy = std::string(data)] {
        self->write(copy.data(), copy.size(), nullptr);
    });
    return true;
}

bool TcpConnection::send(Buffer& buffer) {
    if (loop_.in_loop_thread()) return write(buffer.data(), buffer.size(), &buffer);
    const bool ok = send(buffer.view());
    if (ok) buffer.consume_all();
    return ok;
}

bool TcpConnection::write(const char* data, std::size_t size, Buffer* donor) {
    if (state() != State::Connected) return false;
    std::size_t written = 0;
    if (output_.empty()) {
        const ssize_t n = detail::send_raw(socket_.fd(), data, size);
        if (n >= 0) {
            written = static_cast<std::size_t>(n);
            last_write_ms_ = write_stamp(loop_, hub_);
        } else if (!detail::errno_would_block()) {
            // EPIPE, ECONNRESET: the close callback reports it, from the
            // loop, not from inside this call. A donor is left as it was.
            begin_close(detail::last_error(), true);
            return false;
        }
    }
    if (written == size) {  // all taken: nothing queued, no mark crossed
        if (donor != nullptr) donor->consume_all();
        return true;
    }
    const std::size_t before = output_.size();
    if (donor != nullptr && before == 0 && !BufferAccess::holds_scratch(*donor)) {
        // Nothing queued yet: the remainder keeps its block, which becomes
        // the output buffer. No copy.
        donor->consume(written);
        output_.swap(*donor);
        donor->release();
    } else {
        output_.append(data + written, size - written);
        if (donor != nullptr) donor->consume_all();
    }
    if (before == 0) {
        last_write_ms_ = write_stamp(loop_, hub_);  // the write-stall clock starts
        update_interest();
    }
    const std::size_t mark = hub_->options.high_water_mark;
    if (before < mark && output_.size() >= mark && hub_->callbacks.on_high_water) {
        hub_->callbacks.on_high_water(shared_from_this(), output_.size());
    }
    return true;
}

// ---- closing ------------------------------------------------------------------

void TcpConnection::shutdown() {
    loop_.run_in_loop([self = shared_from_this()] { self->shutdown_in_loop(); });
}

void TcpConnection::shutdown_in_loop() {
    if (state() != State::Connected) return;
    state_.store(State::Disconnecting, std::memory_order_release);
    shutdown_pending_ = true;
    if (!output_.empty()) return;  // after_drain() shuts it
    write_shut_ = true;
    if (const std::error_code ec = socket_.shutdown_write()) {
        begin_close(ec, true);
    } else if (peer_closed_) {
        begin_close({}, true);
    }
}

void TcpConnection::close() {
    loop_.run_in_loop([self = shared_from_this()] { self->close_in_loop(); });
}

void TcpConnection::close_in_loop() {
    const State s = state();
    if (s == State::Disconnected || close_pending_) return;
    reading_ = false;
    if (output_.empty() || s == State::Connecting) {
        begin_close({}, true);
        return;
    }
    close_pending_ = true;
    state_.store(State::Disconnecting, std::memory_order_release);
    update_interest();
}

void TcpConnection::force_close() {
    loop_.run_in_loop([self = shared_from_this()] { self->begin_close({}, true); });
}

void TcpConnection::begin_close(std::error_code ec, bool defer) {
    if (state() == State::Disconnected) return;
    state_.store(State::Disconnected, std::memory_order_release);
    reading_ = false;
    // I/O stops now; the rest waits for the close callback.
    if (watcher_) loop_.unwatch(std::exchange(watcher_, WatcherId{}));
    if (defer) {
        loop_.post([self = shared_from_this(), ec] { self->finish_close(self, ec); });
    } else {
        finish_close(shared_from_this(), ec);
    }
}

void TcpConnection::finish_close(const TcpConnectionPtr& self, std::error_code ec) {
    output_.release();
    if (!BufferAccess::holds_scratch(input_)) input_.release();
    // Abandoned by a destroyed owner: no callbacks, the fd is already closed.
    detail::ConnectionHub* hub = std::exchange(hub_, nullptr);
    if (hub == nullptr) {
        socket_.close();
        return;
    }
    // The socket is still open here, so peer_address() works in the close
    // callback (unless the peer reset it). The fd closes and the owner
    // forgets the connection whether the callback returns or throws (the
    // exception then leaves the loop).
    if (hub->callbacks.on_close) {
        try {
            hub->callbacks.on_close(self, ec);
        } catch (...) {
            release_to_owner(*hub);
            throw;
        }
    }
    release_to_owner(*hub);
}

void TcpConnection::release_to_owner(detail::ConnectionHub& hub) {
    socket_.close();  // first: the owner may reuse the fd at once (EMFILE)
    if (hub.owner != nullptr) hub.owner->connection_closed(*this);
}

// ---- timeouts -----------------------------------------------------------------

void TcpConnection::check_timeouts(std::uint32_t now_ms) {
    if (hub_ == nullptr || state() == State::Disconnected) return;
    const TcpConnectionOptions& o = hub_->options;
    // Unsigned differences: correct across the 32-bit wrap.
    const auto passed = [now_ms](std::uint32_t since, std::chrono::milliseconds limit) {
        return limit.count() > 0 && now_ms - since >= static_cast<std::uint64_t>(limit.count());
    };
    const bool expired =
        (passed(last_read_ms_, o.idle_timeout) && passed(last_write_ms_, o.idle_timeout)) ||
        (reading_ && !peer_closed_ && passed(last_read_ms_, o.read_timeout)) ||
        (!output_.empty() && passed(last_write_ms_, o.write_timeout));
    // Deferred: the owner is iterating its connections.
    if (expired) begin_close(std::make_error_code(std::errc::timed_out), true);
}

void detail::TimeoutSweep::start(EventLoop& loop, const ConnectionHub& hub, Sweep sweep) {
    if (timer_ || !hub.has_timeouts()) return;
    timer_ = loop.run_every(hub.sweep_interval(),
                            [sweep = std::move(sweep)] { sweep(clock_millis()); });
}

// ---- interest -----------------------------------------------------------------

void TcpConnection::pause_reading() {
    loop_.assert_in_loop_thread();
    if (!reading_) return;
    reading_ = false;
    update_interest();
}

void TcpConnection::resume_reading() {
    loop_.assert_in_loop_thread();
    if (reading_ || peer_closed_ || close_pending_ || state() == State::Disconnected) return;
    reading_ = true;
    update_interest();
}

void TcpConnection::update_interest() {
    if (!watcher_) return;
    const Events want = (reading_ ? Readable : NoEvents) | (output_.empty() ? NoEvents : Writable);
    // The loop skips the system call when nothing changes. A failure here
    // (ENOMEM from epoll_ctl) would leave the connection deaf: close it.
    if (const std::error_code ec = loop_.set_interest(watcher_, want)) begin_close(ec, true);
}

}  // namespace reactor
