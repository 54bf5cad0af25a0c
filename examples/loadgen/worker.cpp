// examples/loadgen/worker.cpp -- connections, requests and verification on
// one reactor::EventLoop, over plain non-blocking POSIX sockets.
//
// The life of a connection:
//
//   Waiting --pace()--> Connecting --handshake done--> Open --peer closes,
//      |                   |                             |   mismatch, timeout,
//      |                   +--connect error--> Closed    |   end of the run
//      +--(never started if the run ends first)          +------> Closed
//
// Timers drive everything: pace() starts connections at --connect-rate,
// each Open connection sends on its own schedule (or, with --interval 0,
// whenever a reply completes), sweep() looks for replies and connects older
// than --timeout ten times a second, on_second() hands a Sample to main(),
// and at --duration begin_stop() stops sending and lets replies still in
// flight arrive (for at most --timeout) before finish().
#include "worker.hpp"

#include "chat_verify.hpp"
#include "echo_verify.hpp"
#include "fifo.hpp"
#include "http_verify.hpp"
#include "payload.hpp"
#include "report.hpp"
#include "source_address.hpp"

#include <reactor/event_loop.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

namespace loadgen {

namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using reactor::EventLoop;
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

// A chat line in flight: sent at `sent`, still owed to `remaining` receivers.
struct ChatPending {
    TimePoint sent;
    std::uint32_t remaining;
};

enum class ConnState { Connecting, Open, Closed };

struct Conn {
    std::uint64_t id = 0;  // the connection's number in the whole run
    int fd = -1;
    reactor::WatcherId watch;
    ConnState state = ConnState::Connecting;
    TimePoint connect_started;
    std::string out;  // bytes accepted for sending, from out_off on not yet sent
    std::size_t out_off = 0;
    std::uint64_t seq = 0;  // requests sent so far
    reactor::TimerId send_timer;
    TimePoint next_send;  // with --interval: when the next request is due
    // One of these is used, by mode.
    EchoVerifier echo;
    HttpResponseScanner http;
    Fifo<TimePoint> http_sent;
    LineSplitter lines;
    Fifo<ChatPending> chat_pending;      // as sender: lines chat_base, chat_base+1, ...
    std::uint64_t chat_base = 0;         // seq of chat_pending's front
    std::vector<std::uint64_t> chat_next;  // as receiver: next seq expected from each sender
    bool chat_ready_sent = false;

    std::size_t pending_requests() const {
        return echo.pending() + http_sent.size();
    }
    bool has_pending_reply() const {
        return pending_requests() > 0 || http.in_progress() || lines.in_progress();
    }
};

enum class ChatPhase { Connecting, Syncing, Running };

}  // namespace

struct Worker::State {
    explicit State(WorkerSetup s) : setup(std::move(s)), opts(*setup.options) {}

    WorkerSetup setup;
    const Options& opts;
    EventLoop* loop = nullptr;
    std::vector<std::unique_ptr<Conn>> conns;  // started so far, index = id / threads
    std::uint64_t mine = 0;                    // connections this worker owns
    int connecting = 0;
    std::uint64_t open = 0;
    unsigned extra_sources = 0;  // addresses added after EADDRNOTAVAIL
    Totals totals;
    Sample sample;
    int second = 0;
    bool stopping = false;
    bool finished = false;
    TimePoint drain_deadline;
    std::uint64_t in_flight = 0;  // replies (chat: deliveries) still owed
    std::vector<char> buffer = std::vector<char>(kReadChunk);
    std::string http_request;
    Clock::duration interval{};  // --interval; zero for "back to back"
    reactor::TimerId pace_timer, second_timer, sweep_timer, end_timer, sync_timer;
    // Chat only (one worker): the start handshake, see maybe_begin_sync().
    ChatPhase chat_phase = ChatPhase::Connecting;
    Conn* coordinator = nullptr;
    std::vector<bool> chat_ready;
    std::uint64_t chat_ready_count = 0;
    TimePoint sync_deadline;

    TimePoint start() const { return setup.start; }
    Clock::duration timeout() const {
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(opts.timeout_s));
    }

    // ---- setting up and pacing connections ---------------------------------

    void pace() {
        if (stopping) return;
        const double rate = opts.connect_rate / opts.threads;
        const double elapsed = std::max(0.0, seconds(loop->now() - start()));
        const auto allowed = std::min<std::uint64_t>(
            mine, static_cast<std::uint64_t>(std::floor(rate * elapsed)) + 1);
        while (conns.size() < allowed && connecting < kMaxConnecting && !stopping) {
            auto c = std::make_unique<Conn>();
            c->id = conns.size() * static_cast<std::uint64_t>(opts.threads) +
                    static_cast<std::uint64_t>(setup.index);
            conns.push_back(std::move(c));
            ++totals.attempted;
            start_connect(*conns.back());
        }
        if (conns.size() == mine) {
            loop->cancel(pace_timer);
            maybe_begin_sync();
        }
        maybe_finish();
    }

    unsigned source_for(const Conn& c) const {
        if (!setup.target.loopback_v4) return 0;
        return source_index(c.id, setup.target.sources, extra_sources);
    }

    // Binds `fd` to 127.0.0.(1 + index). Returns 0 or an errno value.
    static int bind_source(int fd, unsigned index) {
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

    void start_connect(Conn& c) {
        for (;;) {
            c.connect_started = Clock::now();
            const int family = setup.target.addr.ss_family;
            // Plain POSIX (SOCK_NONBLOCK in the type is not on macOS).
            c.fd = ::socket(family, SOCK_STREAM, 0);
            if (c.fd < 0) return connect_failed(c, errno);
            if (::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK) != 0 ||
                ::fcntl(c.fd, F_SETFD, FD_CLOEXEC) != 0) {
                return connect_failed(c, errno);  // release() closes c.fd
            }
            const int one = 1;
            (void)::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            const unsigned src = source_for(c);
            totals.source_addresses = std::max<std::uint64_t>(totals.source_addresses, src + 1);
            int err = src > 0 ? bind_source(c.fd, src) : 0;
            if (err == 0) {
                const auto* addr = reinterpret_cast<const sockaddr*>(&setup.target.addr);
                int r;
                do {
                    r = ::connect(c.fd, addr, setup.target.len);
                } while (r != 0 && errno == EINTR);
                err = r == 0 ? 0 : errno;
            }
            if (err == 0 || err == EINPROGRESS) {
                ++connecting;
                c.state = ConnState::Connecting;
                std::error_code ec;
                c.watch = loop->watch(c.fd, reactor::Writable,
                                      [this, &c](Events ev) { on_event(c, ev); }, ec);
                if (ec) {
                    --connecting;
                    return connect_failed(c, ec.value());
                }
                if (err == 0) on_established(c);
                return;
            }
            // The ephemeral ports of this source address are used up (for
            // this destination): move every later connection to the next
            // loopback address and try this one again from there.
            if (err == EADDRNOTAVAIL && setup.target.loopback_v4 && src < kMaxSourceIndex) {
                ::close(c.fd);
                c.fd = -1;
                const unsigned next = std::max(src + 1, setup.target.sources);
                extra_sources = next - (setup.target.sources - 1);
                continue;
            }
            return connect_failed(c, err);
        }
    }

    void connect_failed(Conn& c, int err) {
        ++totals.connect_failures[errno_name(err)];
        ++sample.errors;
        if (totals.first_error.empty()) {
            totals.first_error = "connect: connection " + std::to_string(c.id) + ": " +
                                 errno_name(err) + " (" + std::strerror(err) + ")";
        }
        release(c);
        maybe_begin_sync();
    }

    void on_established(Conn& c) {
        --connecting;
        c.state = ConnState::Open;
        ++open;
        ++totals.established;
        if (totals.established == mine) totals.all_established_s = seconds(Clock::now() - start());
        (void)loop->set_interest(c.watch, reactor::Readable | (c.out_off < c.out.size()
                                                                   ? reactor::Writable
                                                                   : reactor::NoEvents));
        if (opts.mode == Mode::Chat) {
            c.chat_next.assign(static_cast<std::size_t>(opts.connections), 0);
            maybe_begin_sync();
        } else {
            start_sending(c);
        }
    }

    // Starts a connection's schedule. With --interval, connection c sends at
    // start + offset(c) + k * interval: the offsets spread over one interval
    // (so ten thousand connections do not all send in the same millisecond)
    // and are fixed in absolute time, so a stall of the loop (a slow
    // connect(), say) cannot leave thousands of connections in step for the
    // rest of the run, as restarting a periodic timer from "now" would.
    // With --interval 0: --pipeline requests now, one more after each reply.
    void start_sending(Conn& c) {
        if (stopping) return;
        if (opts.interval_ms > 0) {
            const auto offset = std::chrono::nanoseconds(jitter(opts.seed, c.id, nanos(interval)));
            c.next_send = start() + offset;
            schedule_next_send(c);
        } else {
            const int n = opts.mode == Mode::Chat ? 1 : opts.pipeline;
            for (int i = 0; i < n && c.state == ConnState::Open; ++i) send_request(c);
        }
    }

    // Arms the timer for c.next_send, first skipping whole intervals that
    // are already past (the requests of a stall are not sent in a burst).
    void schedule_next_send(Conn& c) {
        const TimePoint now = loop->now();
        if (c.next_send < now) c.next_send += ((now - c.next_send) / interval + 1) * interval;
        c.send_timer = loop->run_at(c.next_send, [this, &c] {
            send_request(c);
            if (c.state != ConnState::Open || stopping) return;
            c.next_send += interval;
            schedule_next_send(c);
        });
    }

    // ---- sending -----------------------------------------------------------

    void send_request(Conn& c) {
        if (stopping || c.state != ConnState::Open) return;
        const TimePoint now = Clock::now();
        switch (opts.mode) {
        case Mode::Echo: {
            const std::string msg = make_echo_message(opts.seed, c.id, c.seq, opts.size);
            c.echo.expect(msg, now);
            c.out += msg;
            ++in_flight;
            break;
        }
        case Mode::Http:
            c.http_sent.push_back(now);
            c.out += http_request;
            ++in_flight;
            break;
        case Mode::Chat: {
            const auto receivers = static_cast<std::uint32_t>(open - 1);
            if (c.chat_pending.empty()) c.chat_base = c.seq;
            c.chat_pending.push_back({now, receivers});
            in_flight += receivers;
            c.out += make_chat_line(opts.seed, c.id, c.seq, opts.size);
            c.out += '\n';
            break;
        }
        }
        ++c.seq;
        ++totals.requests;
        flush(c);
    }

    void send_line(Conn& c, const std::string& line) {
        if (c.state != ConnState::Open) return;
        c.out += line;
        flush(c);
    }

    void flush(Conn& c) {
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
                (void)loop->enable(c.watch, reactor::Writable);
                return;
            }
            return peer_closed(c, n < 0 ? errno : 0);
        }
        c.out.clear();
        c.out_off = 0;
        (void)loop->disable(c.watch, reactor::Writable);
    }

    // ---- receiving and verifying --------------------------------------------

    void on_event(Conn& c, Events ev) {
        if (c.state == ConnState::Connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
            if (err != 0) {
                --connecting;
                connect_failed(c, err);
            } else {
                on_established(c);
            }
        } else if (c.state == ConnState::Open) {
            if (ev & (reactor::Readable | reactor::Hangup | reactor::Error)) on_readable(c);
            if (c.state == ConnState::Open && (ev & reactor::Writable)) flush(c);
        }
        maybe_finish();
    }

    void on_readable(Conn& c) {
        for (int i = 0; i < kReadsPerEvent && c.state == ConnState::Open; ++i) {
            const ssize_t n = ::read(c.fd, buffer.data(), buffer.size());
            if (n > 0) {
                totals.bytes_received += static_cast<std::uint64_t>(n);
                received(c, std::string_view(buffer.data(), static_cast<std::size_t>(n)));
                if (static_cast<std::size_t>(n) < buffer.size()) return;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
            return peer_closed(c, n < 0 ? errno : 0);
        }
    }

    void record_latency(TimePoint sent, TimePoint now) {
        const std::uint64_t ns = nanos(now - sent);
        totals.latency.record(ns);
        sample.latency.record(ns);
        ++totals.replies;
        ++sample.replies;
    }

    void error(Conn& c, const char* name, std::uint64_t n, const std::string& detail) {
        totals.add_error(name, n, "connection " + std::to_string(c.id) + ": " + detail);
        sample.errors += n;
    }

    void received(Conn& c, std::string_view data) {
        const TimePoint now = Clock::now();
        std::size_t completed = 0;
        switch (opts.mode) {
        case Mode::Echo: {
            const bool ok = c.echo.feed(data, [&](TimePoint sent) {
                record_latency(sent, now);
                --in_flight;
                ++completed;
            });
            if (!ok) {
                error(c, kMismatch, 1, c.echo.error());
                return release(c);
            }
            break;
        }
        case Mode::Http: {
            bool unsolicited = false;
            const bool ok = c.http.feed(data, [&](const HttpResponse& r) {
                if (c.http_sent.empty()) {
                    unsolicited = true;
                    return;
                }
                const TimePoint sent = c.http_sent.front();
                c.http_sent.pop_front();
                --in_flight;
                ++completed;
                if (r.status == 200) {
                    record_latency(sent, now);
                } else {
                    error(c, kMismatch, 1, "status " + std::to_string(r.status) + ", expected 200");
                }
            });
            if (!ok || unsolicited) {
                error(c, kMismatch, 1, ok ? "a response to no request" : c.http.error());
                return release(c);
            }
            break;
        }
        case Mode::Chat:
            if (!c.lines.feed(data, [&](std::string_view line) { on_chat_line(c, line, now); })) {
                error(c, kMismatch, 1, "a line longer than 1 MiB");
                return release(c);
            }
            return;
        }
        // With --interval 0 each completed reply makes room for the next.
        if (opts.interval_ms == 0) {
            for (std::size_t i = 0; i < completed && c.state == ConnState::Open; ++i) {
                send_request(c);
            }
        }
    }

    // ---- chat ----------------------------------------------------------------
    //
    // A line reaches only the clients the server has registered when it
    // relays it, and a client that has connected may not be registered yet
    // (it may still sit in the listen backlog). So no line is sent until
    // every connection is known to be registered: the lowest-numbered open
    // connection (the coordinator) sends "loadgen-sync" every 100 ms; a
    // client that receives it is registered and answers "loadgen-ready ID";
    // when the coordinator has heard every other client, the load starts.
    // From then on, every line must reach every other open connection, once,
    // intact, and in order per sender (the server relays in order).

    Conn* conn_by_id(std::uint64_t id) {
        // Chat runs on one worker, so ids are indexes.
        return id < conns.size() ? conns[id].get() : nullptr;
    }

    void maybe_begin_sync() {
        if (opts.mode != Mode::Chat || chat_phase != ChatPhase::Connecting) return;
        if (conns.size() < mine || connecting > 0) return;  // not every attempt is resolved
        if (open < 2) return begin_stop();  // nobody to talk to; the report says why
        for (auto& c : conns) {
            if (c->state == ConnState::Open) {
                coordinator = c.get();
                break;
            }
        }
        chat_phase = ChatPhase::Syncing;
        chat_ready.assign(conns.size(), false);
        sync_deadline = Clock::now() + timeout();
        send_line(*coordinator, "loadgen-sync\n");
        sync_timer = loop->run_every(std::chrono::milliseconds(100), [this] {
            if (coordinator != nullptr) send_line(*coordinator, "loadgen-sync\n");
        });
    }

    void on_chat_line(Conn& c, std::string_view line, TimePoint now) {
        if (c.state != ConnState::Open) return;  // closed by an earlier line of this read
        const ChatLine got = parse_chat_line(line, opts.seed, opts.size);
        switch (got.kind) {
        case ChatLine::Kind::Other:
            return;
        case ChatLine::Kind::Sync:
            if (!c.chat_ready_sent) {
                c.chat_ready_sent = true;
                send_line(c, "loadgen-ready " + std::to_string(c.id) + "\n");
            }
            return;
        case ChatLine::Kind::Ready:
            if (&c == coordinator && chat_phase == ChatPhase::Syncing &&
                got.conn != c.id && got.conn < chat_ready.size() && !chat_ready[got.conn]) {
                chat_ready[got.conn] = true;
                if (++chat_ready_count == open - 1) start_chat_load();
            }
            return;
        case ChatLine::Kind::Message:
            break;
        }
        if (!got.intact) return error(c, kMismatch, 1, "a chat line arrived corrupted");
        if (got.conn == c.id) return error(c, kMismatch, 1, "its own line came back");
        if (got.conn >= c.chat_next.size()) return error(c, kMismatch, 1, "a line from nobody");
        std::uint64_t& next = c.chat_next[got.conn];
        if (got.seq < next) {
            return error(c, kMismatch, 1,
                         "line " + std::to_string(got.seq) + " of connection " +
                             std::to_string(got.conn) + " arrived twice or out of order");
        }
        // A gap (got.seq > next) means lines were lost; they stay owed at
        // their sender and are counted as timeouts there.
        next = got.seq + 1;
        Conn* sender = conn_by_id(got.conn);
        if (sender == nullptr || got.seq < sender->chat_base) return;  // already timed out
        const std::uint64_t index = got.seq - sender->chat_base;
        if (index >= sender->chat_pending.size()) return;
        ChatPending& p = sender->chat_pending.at(index);
        if (p.remaining == 0) return;
        --p.remaining;
        --in_flight;
        record_latency(p.sent, now);
        pop_delivered(*sender);
    }

    void pop_delivered(Conn& sender) {
        bool freed = false;
        while (!sender.chat_pending.empty() && sender.chat_pending.front().remaining == 0) {
            sender.chat_pending.pop_front();
            ++sender.chat_base;
            freed = true;
        }
        if (freed && opts.interval_ms == 0 && sender.chat_pending.empty()) send_request(sender);
    }

    void start_chat_load() {
        chat_phase = ChatPhase::Running;
        loop->cancel(sync_timer);
        for (auto& c : conns) {
            if (c->state == ConnState::Open) start_sending(*c);
        }
    }

    // A receiver has gone: the lines it was still owed will never come.
    void forget_receiver(Conn& gone) {
        for (auto& s : conns) {
            if (s.get() == &gone || gone.chat_next.empty()) continue;
            const std::uint64_t next = gone.chat_next[s->id];
            for (std::size_t i = 0; i < s->chat_pending.size(); ++i) {
                ChatPending& p = s->chat_pending.at(i);
                if (s->chat_base + i >= next && p.remaining > 0) {
                    --p.remaining;
                    --in_flight;
                }
            }
            pop_delivered(*s);
        }
    }

    // ---- closing ---------------------------------------------------------------

    void peer_closed(Conn& c, int err) {
        std::string how = err == 0 ? "the server closed the connection"
                                   : std::string("the connection failed: ") + errno_name(err);
        if (c.has_pending_reply()) {
            how += " with " + std::to_string(std::max<std::size_t>(c.pending_requests(), 1)) +
                   " reply(ies) pending";
        }
        error(c, kClosed, 1, how);
        release(c);
    }

    // Stops all I/O on `c` and closes its fd. Requests still pending on it
    // were counted as errors by the caller (or are, at the end, by finish()).
    void release(Conn& c) {
        if (c.state == ConnState::Closed) return;
        const bool was_open = c.state == ConnState::Open;
        c.state = ConnState::Closed;
        if (was_open) {
            --open;
            in_flight -= std::min<std::uint64_t>(in_flight, c.pending_requests());
        }
        loop->cancel(c.send_timer);
        if (c.watch) loop->unwatch(c.watch);
        if (c.fd >= 0) ::close(c.fd);
        c.fd = -1;
        c.out.clear();
        c.out_off = 0;
        if (opts.mode == Mode::Chat && was_open) {
            forget_receiver(c);
            if (&c == coordinator && chat_phase == ChatPhase::Syncing) {
                // Its closing was counted; without it the start cannot complete.
                coordinator = nullptr;
                begin_stop();
            }
        }
    }

    // ---- time ---------------------------------------------------------------------

    void sweep() {
        const TimePoint now = Clock::now();
        const auto limit = timeout();
        for (auto& cp : conns) {
            Conn& c = *cp;
            if (c.state == ConnState::Connecting && now - c.connect_started > limit) {
                --connecting;
                connect_failed(c, ETIMEDOUT);
            } else if (c.state == ConnState::Open) {
                const std::size_t pending = c.pending_requests();
                const TimePoint oldest = c.echo.pending() ? c.echo.oldest()
                                         : c.http_sent.empty() ? now
                                                               : c.http_sent.front();
                if (pending > 0 && now - oldest > limit) {
                    error(c, kTimeout, pending,
                          "no complete reply within " + detail::fmt("%g", opts.timeout_s) + " s");
                    release(c);
                }
                expire_chat_lines(c, now, limit);
            }
        }
        if (chat_phase == ChatPhase::Syncing && now > sync_deadline) {
            const std::uint64_t missing = open - 1 - chat_ready_count;
            totals.add_error(kTimeout, missing,
                             std::to_string(missing) +
                                 " chat connection(s) never received the start line "
                                 "(is the server a line relay?)");
            sample.errors += missing;
            chat_phase = ChatPhase::Running;  // never start: just end
            loop->cancel(sync_timer);
            begin_stop();
        }
        maybe_finish();
    }

    void expire_chat_lines(Conn& c, TimePoint now, Clock::duration limit) {
        while (!c.chat_pending.empty() && now - c.chat_pending.front().sent > limit) {
            const ChatPending p = c.chat_pending.front();
            if (p.remaining > 0) {
                error(c, kTimeout, p.remaining,
                      "line " + std::to_string(c.chat_base) + " did not reach " +
                          std::to_string(p.remaining) + " receiver(s) within " +
                          detail::fmt("%g", opts.timeout_s) + " s");
                in_flight -= std::min<std::uint64_t>(in_flight, p.remaining);
                c.chat_pending.front().remaining = 0;
            }
            pop_delivered(c);
        }
    }

    void on_second() {
        sample.second = second;
        sample.span_s = 1;
        sample.connections_up = open;
        setup.on_sample(std::move(sample));
        sample = Sample{};
        ++second;
        second_timer = loop->run_at(start() + std::chrono::seconds(second + 1), [this] {
            on_second();
        });
    }

    void begin_stop() {
        if (stopping) return;
        stopping = true;
        drain_deadline = Clock::now() + timeout();
        loop->cancel(pace_timer);
        loop->cancel(sync_timer);
        for (auto& c : conns) loop->cancel(c->send_timer);
        maybe_finish();
    }

    void maybe_finish() {
        if (finished) return;
        // Everything has failed or closed and nothing is left to start.
        if (!stopping && conns.size() == mine && connecting == 0 && open == 0) begin_stop();
        if (!stopping) return;
        if ((in_flight == 0 && connecting == 0) || Clock::now() >= drain_deadline) finish();
    }

    void finish() {
        finished = true;
        const TimePoint now = Clock::now();
        const std::uint64_t open_at_end = open;  // before closing them below
        for (auto& cp : conns) {
            Conn& c = *cp;
            if (c.state == ConnState::Connecting) {
                --connecting;
                connect_failed(c, ETIMEDOUT);
            } else if (c.state == ConnState::Open) {
                if (c.pending_requests() > 0) {
                    error(c, kTimeout, c.pending_requests(), "replies still missing at the end");
                }
                for (std::size_t i = 0; i < c.chat_pending.size(); ++i) {
                    const auto& p = c.chat_pending.at(i);
                    if (p.remaining > 0) {
                        error(c, kTimeout, p.remaining, "a chat line still undelivered at the end");
                    }
                }
            }
        }
        for (auto& c : conns) c->chat_pending.clear();
        for (auto& c : conns) release(*c);
        loop->cancel(second_timer);
        loop->cancel(sweep_timer);
        loop->cancel(end_timer);
        const double elapsed = seconds(now - start());
        totals.elapsed_s = elapsed;
        sample.second = second;
        sample.span_s = elapsed - second;
        sample.connections_up = open_at_end;
        // A last sliver of a second would show as a spike or a dip.
        if (sample.span_s >= 0.25) setup.on_sample(std::move(sample));
        loop->stop();
    }

    void run() {
        EventLoop event_loop;
        loop = &event_loop;
        const auto n = static_cast<std::uint64_t>(opts.connections);
        const auto t = static_cast<std::uint64_t>(opts.threads);
        const auto i = static_cast<std::uint64_t>(setup.index);
        mine = n / t + (i < n % t ? 1 : 0);
        if (opts.mode == Mode::Http) http_request = make_http_request(opts.host, opts.port);
        interval = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double, std::milli>(opts.interval_ms));
        if (opts.interval_ms > 0 && interval < std::chrono::microseconds(1)) {
            interval = std::chrono::microseconds(1);
        }

        pace_timer = loop->run_every(std::chrono::milliseconds(1), [this] { pace(); });
        sweep_timer = loop->run_every(kSweepEvery, [this] { sweep(); });
        second_timer = loop->run_at(start() + std::chrono::seconds(1), [this] { on_second(); });
        const auto duration = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(opts.duration_s));
        end_timer = loop->run_at(start() + duration, [this] { begin_stop(); });
        try {
            pace();
            loop->run();
        } catch (...) {
            // The loop is going away with its watchers; only the fds remain.
            for (auto& c : conns) {
                if (c->fd >= 0) ::close(c->fd);
                c->fd = -1;
            }
            loop = nullptr;
            throw;
        }
        loop = nullptr;
    }
};

Worker::Worker(WorkerSetup setup) : state_(std::make_unique<State>(std::move(setup))) {}
Worker::~Worker() = default;

void Worker::run() {
    try {
        state_->run();
    } catch (const std::exception& e) {
        // No poller, no timer, no memory: nothing more this worker can do.
        state_->loop = nullptr;
        state_->totals.add_error("fatal", 1, e.what());
    }
    state_->setup.on_done(std::move(state_->totals));
}

}  // namespace loadgen
