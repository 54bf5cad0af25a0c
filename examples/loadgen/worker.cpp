// examples/loadgen/worker.cpp -- Run: connections, the send schedule and
// the end of the run on one reactor::EventLoop, over plain non-blocking
// POSIX sockets (run.hpp says how the timers drive it); and Worker, which
// runs a Run on its thread and can interrupt it from another.
#include "worker.hpp"

#include "payload.hpp"
#include "report.hpp"
#include "run.hpp"
#include "source_address.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>

namespace loadgen {

namespace {

using reactor::Events;

// At most this many handshakes in progress per worker: a burst of SYNs
// larger than the server's listen backlog would be dropped and retried by
// the kernel a whole second later, which is slower than pacing them.
constexpr int kMaxConnecting = 1000;
// How often replies and connects are checked against --timeout.
constexpr auto kSweepEvery = std::chrono::milliseconds(100);
// The highest source address tried: 127.0.0.254.
constexpr unsigned kMaxSourceIndex = 253;
constexpr std::size_t kReadChunk = 64 * 1024;
// Reads per readable event: bounded, so one busy connection cannot starve
// the rest (the loop is level-triggered and will come back).
constexpr int kReadsPerEvent = 4;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::uint64_t nanos(Clock::duration d) {
    const auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

// Binds `fd` to 127.0.0.(1 + index). Returns 0 or an errno value.
int bind_source(int fd, unsigned index) {
#ifdef IP_BIND_ADDRESS_NO_PORT
    // Linux: without this, bind() to port 0 picks a free port at once,
    // for any destination, and so reserves it: one source address would
    // then hold at most one ephemeral range of connections in total.
    // With it, the port is chosen at connect() for the full 4-tuple.
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(INADDR_LOOPBACK + index);
    local.sin_port = 0;
    return ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0 ? 0 : errno;
}

std::unique_ptr<Protocol> make_protocol(Mode mode, Run& run) {
    switch (mode) {
    case Mode::Echo: return make_echo_protocol(run);
    case Mode::Http: return make_http_protocol(run);
    case Mode::Chat: return make_chat_protocol(run);
    }
    return make_echo_protocol(run);
}

}  // namespace

Run::Run(WorkerSetup setup)
    : setup_(std::move(setup)), opts_(*setup_.options), protocol_(make_protocol(opts_.mode, *this)) {
    const auto n = static_cast<std::uint64_t>(opts_.connections);
    const auto t = static_cast<std::uint64_t>(opts_.threads);
    const auto i = static_cast<std::uint64_t>(setup_.index);
    mine_ = n / t + (i < n % t ? 1 : 0);
    interval_ = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::milli>(opts_.interval_ms));
    if (opts_.interval_ms > 0 && interval_ < std::chrono::microseconds(1)) {
        interval_ = std::chrono::microseconds(1);
    }
}

Clock::duration Run::timeout() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opts_.timeout_s));
}

// ---- setting up and pacing connections ---------------------------------

void Run::pace() {
    if (stopping_) return;
    const double rate = opts_.connect_rate / opts_.threads;
    const double elapsed = std::max(0.0, seconds(loop_->now() - setup_.start));
    const auto allowed = std::min<std::uint64_t>(
        mine_, static_cast<std::uint64_t>(std::floor(rate * elapsed)) + 1);
    while (table_.size() < allowed && table_.connecting() < kMaxConnecting && !stopping_) {
        Conn& c = table_.add(protocol_->make_conn());
        c.id = (table_.size() - 1) * static_cast<std::uint64_t>(opts_.threads) +
               static_cast<std::uint64_t>(setup_.index);
        ++totals.attempted;
        start_connect(c);
    }
    if (table_.size() == mine_) {
        loop_->cancel(pace_timer_);
        check_all_resolved();
    }
    maybe_finish();
}

unsigned Run::source_for(const Conn& c) const {
    if (!setup_.target.loopback_v4) return 0;
    return source_index(c.id, setup_.target.sources, extra_sources_);
}

void Run::start_connect(Conn& c) {
    for (;;) {
        c.connect_started = Clock::now();
        const int family = setup_.target.addr.ss_family;
        // Plain POSIX (SOCK_NONBLOCK in the type is not on macOS).
        c.fd = ::socket(family, SOCK_STREAM, 0);
        if (c.fd < 0) return connect_failed(c, errno);
        if (::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK) != 0 ||
            ::fcntl(c.fd, F_SETFD, FD_CLOEXEC) != 0) {
            return connect_failed(c, errno);  // close(c) closes c.fd
        }
        const int one = 1;
        (void)::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const unsigned src = source_for(c);
        totals.source_addresses = std::max<std::uint64_t>(totals.source_addresses, src + 1);
        int err = src > 0 ? bind_source(c.fd, src) : 0;
        if (err == 0) {
            const auto* addr = reinterpret_cast<const sockaddr*>(&setup_.target.addr);
            int r;
            do {
                r = ::connect(c.fd, addr, setup_.target.len);
            } while (r != 0 && errno == EINTR);
            err = r == 0 ? 0 : errno;
        }
        if (err == 0 || err == EINPROGRESS) {
            table_.connecting(c);
            std::error_code ec;
            c.watch = loop_->watch(c.fd, reactor::Writable,
                                   [this, &c](Events ev) { on_event(c, ev); }, ec);
            if (ec) return connect_failed(c, ec.value());
            if (err == 0) on_established(c);
            return;
        }
        // The ephemeral ports of this source address are used up (for
        // this destination): move every later connection to the next
        // loopback address and try this one again from there.
        if (err == EADDRNOTAVAIL && setup_.target.loopback_v4 && src < kMaxSourceIndex) {
            ::close(c.fd);
            c.fd = -1;
            const unsigned next = std::max(src + 1, setup_.target.sources);
            extra_sources_ = next - (setup_.target.sources - 1);
            continue;
        }
        return connect_failed(c, err);
    }
}

void Run::connect_failed(Conn& c, int err) {
    ++totals.connect_failures[errno_name(err)];
    ++sample_.errors;
    if (totals.first_error.empty()) {
        totals.first_error = "connect: connection " + std::to_string(c.id) + ": " +
                             errno_name(err) + " (" + std::strerror(err) + ")";
    }
    close(c);
    check_all_resolved();
}

void Run::on_established(Conn& c) {
    table_.established(c);
    ++totals.established;
    if (totals.established == mine_) totals.all_established_s = seconds(Clock::now() - setup_.start);
    (void)loop_->set_interest(c.watch, reactor::Readable | (c.out_off < c.out.size()
                                                                ? reactor::Writable
                                                                : reactor::NoEvents));
    protocol_->on_open(c);
    check_all_resolved();
}

void Run::check_all_resolved() {
    if (finished_ || table_.size() < mine_ || table_.connecting() > 0) return;
    protocol_->on_all_resolved();
}

// ---- sending -----------------------------------------------------------

// Starts a connection's schedule. With --interval, connection c sends at
// start + offset(c) + k * interval: the offsets spread over one interval
// (so ten thousand connections do not all send in the same millisecond)
// and are fixed in absolute time, so a stall of the loop (a slow
// connect(), say) cannot leave thousands of connections in step for the
// rest of the run, as restarting a periodic timer from "now" would.
// With --interval 0: Protocol::burst() requests now, one more after each
// reply.
void Run::start_sending(Conn& c) {
    if (stopping_) return;
    if (opts_.interval_ms > 0) {
        const auto offset = std::chrono::nanoseconds(jitter(opts_.seed, c.id, nanos(interval_)));
        c.next_send = setup_.start + offset;
        schedule_next_send(c);
    } else {
        for (int i = 0; i < protocol_->burst() && c.is_open(); ++i) send_request(c);
    }
}

// Arms the timer for c.next_send, first skipping whole intervals that
// are already past (the requests of a stall are not sent in a burst).
void Run::schedule_next_send(Conn& c) {
    const TimePoint now = loop_->now();
    if (c.next_send < now) c.next_send += ((now - c.next_send) / interval_ + 1) * interval_;
    c.send_timer = loop_->run_at(c.next_send, [this, &c] {
        send_request(c);
        if (!c.is_open() || stopping_) return;
        c.next_send += interval_;
        schedule_next_send(c);
    });
}

void Run::send_request(Conn& c) {
    if (stopping_ || !c.is_open()) return;
    protocol_->write_request(c, Clock::now());
    ++c.seq;
    ++totals.requests;
    flush(c);
}

void Run::send(Conn& c, std::string_view bytes) {
    if (!c.is_open()) return;
    c.out += bytes;
    flush(c);
}

void Run::flush(Conn& c) {
    while (c.out_off < c.out.size()) {
        // Flags 0: the worker's loop ignores SIGPIPE (a gone peer is EPIPE).
        const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, 0);
        if (n > 0) {
            c.out_off += static_cast<std::size_t>(n);
            totals.bytes_sent += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            (void)loop_->enable(c.watch, reactor::Writable);
            return;
        }
        return peer_closed(c, n < 0 ? errno : 0);
    }
    c.out.clear();
    c.out_off = 0;
    (void)loop_->disable(c.watch, reactor::Writable);
}

// ---- receiving -----------------------------------------------------------

void Run::on_event(Conn& c, Events ev) {
    if (c.state() == ConnState::Connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) {
            connect_failed(c, err);
        } else {
            on_established(c);
        }
    } else if (c.is_open()) {
        if (ev & (reactor::Readable | reactor::Hangup | reactor::Error)) on_readable(c);
        if (c.is_open() && (ev & reactor::Writable)) flush(c);
    }
    maybe_finish();
}

void Run::on_readable(Conn& c) {
    for (int i = 0; i < kReadsPerEvent && c.is_open(); ++i) {
        const ssize_t n = ::read(c.fd, buffer_.data(), buffer_.size());
        if (n > 0) {
            totals.bytes_received += static_cast<std::uint64_t>(n);
            protocol_->on_data(c, std::string_view(buffer_.data(), static_cast<std::size_t>(n)),
                               Clock::now());
            if (static_cast<std::size_t>(n) < buffer_.size()) return;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        return peer_closed(c, n < 0 ? errno : 0);
    }
}

void Run::replied(Conn& owner, TimePoint sent, TimePoint now) {
    table_.settle(owner, 1);
    const std::uint64_t ns = nanos(now - sent);
    totals.latency.record(ns);
    sample_.latency.record(ns);
    ++totals.replies;
    ++sample_.replies;
}

void Run::error(Conn& c, const char* name, std::uint64_t n, const std::string& detail) {
    error(name, n, "connection " + std::to_string(c.id) + ": " + detail);
}

void Run::error(const char* name, std::uint64_t n, const std::string& detail) {
    totals.add_error(name, n, detail);
    sample_.errors += n;
}

// ---- closing ---------------------------------------------------------------

void Run::peer_closed(Conn& c, int err) {
    std::string how = err == 0 ? "the server closed the connection"
                               : std::string("the connection failed: ") + errno_name(err);
    const std::size_t awaiting = protocol_->awaiting(c);
    if (awaiting > 0 || protocol_->mid_reply(c)) {
        how += " with " + std::to_string(std::max<std::size_t>(awaiting, 1)) + " reply(ies) pending";
    }
    error(c, kClosed, 1, how);
    close(c);
}

// Replies still owed to `c` were counted as errors by the caller (or are,
// at the end, by finish()); the table settles them.
void Run::close(Conn& c) {
    const ConnState was = table_.close(c);
    if (was == ConnState::Closed) return;
    if (loop_ != nullptr) {
        loop_->cancel(c.send_timer);
        if (c.watch) loop_->unwatch(c.watch);
    }
    if (c.fd >= 0) ::close(c.fd);
    c.fd = -1;
    c.out.clear();
    c.out_off = 0;
    protocol_->on_close(c, was == ConnState::Open);
}

// ---- time ---------------------------------------------------------------------

void Run::sweep() {
    const TimePoint now = Clock::now();
    const auto limit = timeout();
    for (auto& cp : table_) {
        Conn& c = *cp;
        if (c.state() == ConnState::Connecting && now - c.connect_started > limit) {
            connect_failed(c, ETIMEDOUT);
        } else if (c.is_open()) {
            protocol_->expire(c, now, limit);
        }
    }
    protocol_->tick(now);
    maybe_finish();
}

void Run::on_second() {
    sample_.second = second_;
    sample_.span_s = 1;
    sample_.connections_up = table_.open();
    setup_.on_sample(std::move(sample_));
    sample_ = Sample{};
    ++second_;
    second_timer_ = loop_->run_at(setup_.start + std::chrono::seconds(second_ + 1),
                                  [this] { on_second(); });
}

void Run::begin_stop() {
    if (stopping_) return;
    stopping_ = true;
    drain_deadline_ = Clock::now() + timeout();
    loop_->cancel(pace_timer_);
    protocol_->on_stop();
    for (auto& c : table_) loop_->cancel(c->send_timer);
    maybe_finish();
}

void Run::interrupt() {
    if (finished_) return;
    interrupted_ = true;
    totals.interrupted = true;
    begin_stop();
    maybe_finish();
}

void Run::maybe_finish() {
    if (finished_) return;
    // Everything has failed or closed and nothing is left to start.
    if (!stopping_ && table_.size() == mine_ && table_.connecting() == 0 && table_.open() == 0) {
        begin_stop();
    }
    if (!stopping_) return;
    if ((table_.in_flight() == 0 && table_.connecting() == 0) || interrupted_ ||
        Clock::now() >= drain_deadline_) {
        finish();
    }
}

void Run::finish() {
    finished_ = true;
    const TimePoint now = Clock::now();
    const std::uint64_t open_at_end = table_.open();  // before closing them below
    // Interrupted, what is still under way was cut short, not failed.
    if (!interrupted_) {
        for (auto& c : table_) {
            if (c->state() == ConnState::Connecting) {
                connect_failed(*c, ETIMEDOUT);
            } else if (c->is_open()) {
                protocol_->at_end(*c);
            }
        }
    }
    for (auto& c : table_) close(*c);
    loop_->cancel(second_timer_);
    loop_->cancel(sweep_timer_);
    loop_->cancel(end_timer_);
    const double elapsed = seconds(now - setup_.start);
    totals.elapsed_s = elapsed;
    sample_.second = second_;
    sample_.span_s = elapsed - second_;
    sample_.connections_up = open_at_end;
    // A last sliver of a second would show as a spike or a dip.
    if (sample_.span_s >= 0.25) setup_.on_sample(std::move(sample_));
    loop_->stop();
}

void Run::done() { setup_.on_done(std::move(totals)); }

void Run::run(const std::function<void(reactor::EventLoop*)>& on_loop) {
    reactor::EventLoop event_loop;
    loop_ = &event_loop;
    buffer_.resize(kReadChunk);
    pace_timer_ = loop_->run_every(std::chrono::milliseconds(1), [this] { pace(); });
    sweep_timer_ = loop_->run_every(kSweepEvery, [this] { sweep(); });
    second_timer_ = loop_->run_at(setup_.start + std::chrono::seconds(1), [this] { on_second(); });
    const auto duration = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(opts_.duration_s));
    end_timer_ = loop_->run_at(setup_.start + duration, [this] { begin_stop(); });
    const auto forget_loop = [&] {
        on_loop(nullptr);
        loop_ = nullptr;
    };
    try {
        on_loop(loop_);
        pace();
        loop_->run();
    } catch (...) {
        forget_loop();
        // The loop is going away with its watchers; only the fds remain.
        for (auto& c : table_) {
            if (c->fd >= 0) ::close(c->fd);
            c->fd = -1;
        }
        throw;
    }
    forget_loop();
}

// ---- Worker ---------------------------------------------------------------------

Worker::Worker(WorkerSetup setup) : run_(std::make_unique<Run>(std::move(setup))) {}
Worker::~Worker() = default;

void Worker::run() {
    try {
        run_->run([this](reactor::EventLoop* loop) {
            const std::lock_guard lock(mutex_);
            loop_ = loop;
            if (loop != nullptr && interrupted_) loop->post([this] { run_->interrupt(); });
        });
    } catch (const std::exception& e) {
        // No poller, no timer, no memory: nothing more this worker can do.
        run_->totals.add_error("fatal", 1, e.what());
    }
    run_->done();
}

void Worker::interrupt() {
    const std::lock_guard lock(mutex_);
    if (interrupted_) return;
    interrupted_ = true;
    if (loop_ != nullptr) loop_->post([this] { run_->interrupt(); });
}

}  // namespace loadgen
