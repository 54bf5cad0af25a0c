// src/http/session.cpp -- one connection's HTTP state: reading, parsing,
// dispatching, sending what the ResponseQueue produced, the phases and the
// deadlines (session.hpp draws them).
//
// The hot path, for a keep-alive client sending one request at a time:
// on_message() takes a parser and a queue from the loop's pools (warm: the
// last connection served gave them back); the parser copies the request
// into its reused buffers; dispatch() pushes a response on the queue and
// calls the handler; Response::send() writes into the queue's output;
// settle() sends it with one send() and stores the idle deadline; the
// parser and the queue go back to the pools. Nothing is allocated and no
// timer is touched.
#include "http/server_internal.hpp"

#include <cassert>
#include <cstdio>

namespace reactor::http::detail {

Session::Session(ServerCore& core, std::shared_ptr<LoopState> loop_state, TcpConnection& connection)
    : core_(&core),
      loop_state_(std::move(loop_state)),
      connection_(&connection) {
    loop_state_->add(*this);
    // A new connection must send its first request within header_timeout.
    deadline_ = loop_state_->loop.now() + loop_state_->settings.header_timeout;
}

Session::~Session() {
    loop_state_->remove(*this);
    if (request_ != nullptr) loop_state_->give_back(request_);
    if (queue_ != nullptr) {
        queue_->detach();
        loop_state_->give_back(queue_);  // pooled if no handle points at it
    }
}

// A request starts arriving: the parser and the queue come from the pools.
void Session::acquire() {
    if (request_ == nullptr) request_ = loop_state_->take_request_state();
    if (queue_ == nullptr) queue_ = loop_state_->take_queue(*this);
}

// Idle again: no request in progress, nothing held back, nothing owed, no
// handle out there. Called only where no queue call is on the stack (the
// end of a TCP event, a scheduled run, the tick), never from inside the
// queue's notifications.
void Session::give_back_if_idle() noexcept {
    if (!reading_requests() || dispatching_) return;
    if (request_ != nullptr) {
        if (request_->parser.started() || !request_->stash.empty()) return;
        loop_state_->give_back(std::exchange(request_, nullptr));
    }
    if (queue_ != nullptr && queue_->reusable()) {
        queue_->park();  // nothing to drop: only the owner is forgotten
        loop_state_->give_back(std::exchange(queue_, nullptr));
    }
}

EventLoop& Session::loop() const noexcept { return loop_state_->loop; }

// ---- input ------------------------------------------------------------------

void Session::on_message(Buffer& input) {
    if (!reading_requests()) {
        input.consume_all();  // nothing after the last request is read
        return;
    }
    acquire();
    std::size_t used = 0;
    pass(input.view(), used);
    input.consume(used);
    if (!input.empty()) {
        // Stopped at the pipelining cap: hold the rest (reading pauses in
        // settle()) and parse it when a response completes. When no more
        // requests are read, the rest is dropped.
        if (reading_requests()) request_->stash.append(input.view());
        input.consume_all();
    }
    if (!live()) return;
    settle();
    // The usual case, a request answered at once, has nothing to schedule.
    if (!stash_empty() || (queue_ != nullptr && queue_->has_drains())) schedule_if_due();
    give_back_if_idle();
}

bool Session::output_full() const noexcept {
    const std::size_t pass = queue_ != nullptr ? queue_->output().size() : 0;
    return pass + connection_->output_bytes() >= loop_state_->settings.max_output_bytes;
}

// One pass over input: every complete request is dispatched; what the
// handlers write goes out once, at the end (settle()).
void Session::pass(std::string_view data, std::size_t& used) {
    dispatching_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{dispatching_};
    used = process(data);
}

// Feeds the parser and dispatches every complete request, until the data
// is used up, the pipelining cap is reached, or no more requests are to be
// read. Returns the bytes consumed.
std::size_t Session::process(std::string_view data) {
    RequestParser& parser = request_->parser;
    std::size_t used = 0;
    // Also stopped by output_full(): requests answered at once would
    // otherwise queue a whole read's worth of responses for a client that
    // reads none (found by tests/misbehaving_peers_test.cpp).
    while (used < data.size() && reading_requests() && live() && !queue_->full() && !output_full()) {
        used += parser.feed(data.substr(used));
        if (parser.failed()) {
            fail(parser.error_status());
            break;
        }
        if (!parser.done()) {
            if (parser.headers_complete()) maybe_send_continue();
            break;  // everything was consumed; wait for more
        }
        dispatch();
        parser.reset();
        continue_sent_ = false;
        // A response that closed the connection already went out.
        if (queue_->ended() && reading_requests()) phase_ = Phase::Closing;
    }
    return used;
}

void Session::dispatch() {
    const Request& request = request_->parser.request();
    const bool keep_alive = request.keep_alive() && phase_ == Phase::Open;
    // The connection closes after this response: read no further request.
    if (!keep_alive) phase_ = Phase::Closing;
    Response response = queue_->push(request.version(), keep_alive, request.method() == "HEAD");
    timeout_ = Timeout::None;
    // A handler's exception stops at this request: its Response, dropped
    // on the way out, answers 500, and the connection goes on. The message
    // goes to stderr, as queue_work does with a failed job's.
    try {
        core_->handle(request, std::move(response));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "reactor: http handler for %.*s threw: %s\n",
                     static_cast<int>(request.path().size()), request.path().data(), e.what());
    } catch (...) {
        std::fprintf(stderr, "reactor: http handler for %.*s threw\n",
                     static_cast<int>(request.path().size()), request.path().data());
    }
}

// A malformed request, or a timeout: nothing more is read; once the
// responses still owed are out, `status` goes out and the connection closes.
void Session::fail(int status) {
    if (!reading_requests()) return;
    phase_ = Phase::Closing;
    error_status_ = static_cast<std::uint16_t>(status);
}

// Nothing owed, nothing arriving: close at once, no response at stake.
void Session::close_quietly() {
    phase_ = Phase::Flushing;
    flush();
    connection_->close();
}

void Session::maybe_send_continue() {
    // Only when every earlier response is out: "100 Continue" belongs to
    // this request, and must not overtake the answers to the ones before.
    if (continue_sent_ || owed() != 0 || !reading_requests() || !headers_complete() ||
        request_->parser.done() || !request_->parser.request().expects_continue()) {
        return;
    }
    acquire();
    write_continue(queue_->output());
    continue_sent_ = true;
}

// ---- after a change -------------------------------------------------------------

void Session::queue_changed() {
    // Inside a pass over input, settle() runs once at its end (one send()
    // for every response of the pass); outside (a timer completing a
    // response), now.
    if (dispatching_ || !live()) return;
    settle();
    schedule_if_due();
}

// Input held at the pipelining cap can be parsed, or drain callbacks are
// due: run them from the loop (run_scheduled), never from inside a Response
// call or a handler.
void Session::schedule_if_due() {
    if (!live()) return;
    const bool resume = !stash_empty() && reading_requests() && !queue_full() && !output_full();
    const bool drains = queue_ != nullptr && queue_->drain_due() && queue_->output().empty() &&
                        connection_->output_bytes() == 0;
    if (resume || drains) loop_state_->schedule(*this);
}

// Brings the phase, the output, reading and the deadline up to date.
void Session::settle() {
    if (queue_ != nullptr && queue_->ended() && reading_requests()) phase_ = Phase::Closing;
    if (phase_ == Phase::Closing && owed() == 0) {
        finish_close();
    } else {
        if (owed() == 0 && headers_complete()) maybe_send_continue();
        flush();
    }
    update_reading();
    update_deadline();
}

void Session::flush() {
    if (queue_ == nullptr || queue_->output().empty()) return;
    connection_->send(queue_->output());
    queue_->clear_output();
}

// Every owed response is out: the error status (if any) follows, then our
// side of the connection is shut once the output is flushed. The socket
// closes when the client closes its side (it read everything, no reset can
// eat the last response), or at the linger deadline (update_deadline()).
void Session::finish_close() {
    phase_ = Phase::Lingering;
    if (error_status_ != 0) {
        acquire();
        write_error(queue_->output(), error_status_, &loop_state_->dates);
    }
    flush();
    if (request_ != nullptr) {
        // Nothing more is parsed: the parser goes back, its input dropped.
        request_->parser.reset();
        request_->stash.clear();
        loop_state_->give_back(std::exchange(request_, nullptr));
    }
    connection_->shutdown();
}

void Session::update_reading() {
    // While lingering the connection reads on, to see the client's EOF;
    // what it reads is dropped (on_message).
    const bool want = phase_ == Phase::Lingering ||
                      (reading_requests() && !output_blocked_ && stash_empty() && !queue_full());
    if (want == connection_->reading()) return;
    if (want) {
        connection_->resume_reading();
    } else {
        connection_->pause_reading();
    }
}

// Stores the deadline for what the connection is doing now. The tick checks
// it (check_deadline); no timer is armed per request.
void Session::update_deadline() noexcept {
    const SessionSettings& st = loop_state_->settings;
    const EventLoop::TimePoint now = loop_state_->loop.now();
    auto arm = [&](Timeout what, std::chrono::milliseconds after) {
        if (timeout_ != what) {  // set once when entering, never refreshed
            timeout_ = what;
            deadline_ = now + after;
        }
    };
    auto disarm = [&] {
        timeout_ = Timeout::None;
        deadline_ = EventLoop::TimePoint::max();
    };
    switch (phase_) {
    case Phase::Open:
    case Phase::LastRequest:
        if (request_started() && !headers_complete()) {
            arm(Timeout::Head, st.header_timeout);  // from the pass that brought its first byte
        } else if (headers_complete()) {
            // Not while the client waits for our 100 Continue.
            if (request_->parser.request().expects_continue() && !continue_sent_) {
                disarm();
            } else {
                arm(Timeout::Body, st.body_timeout);  // a total, not per read
            }
        } else if (owed() > 0) {
            disarm();  // handlers are at work: their time is not the client's
        } else if (timeout_ != Timeout::FirstRequest) {
            timeout_ = Timeout::Idle;  // refreshed by every pass
            deadline_ = now + st.idle_timeout;
        }
        break;
    case Phase::Closing:
    case Phase::Flushing:
    case Phase::Closed:
        disarm();  // the handlers' time, or the send clock's
        break;
    case Phase::Lingering:
        arm(Timeout::Linger, st.header_timeout);
        break;
    }
}

void Session::check_deadline(EventLoop::TimePoint now) {
    if (now < deadline_ || !live()) return;
    struct GiveBack {
        Session& s;
        ~GiveBack() { s.give_back_if_idle(); }
    } give_back{*this};
    deadline_ = EventLoop::TimePoint::max();
    const Timeout what = std::exchange(timeout_, Timeout::None);
    switch (what) {
    case Timeout::None:
        return;
    case Timeout::FirstRequest:
    case Timeout::Idle:
        close_quietly();
        return;
    case Timeout::Head:
    case Timeout::Body:
        fail(408);
        break;
    case Timeout::Linger:
        if (connection_->output_bytes() != 0) {
            // Still flushing: the send clock watches that; linger once out.
            timeout_ = Timeout::Linger;
            deadline_ = now + loop_state_->settings.header_timeout;
            return;
        }
        connection_->force_close();
        return;
    }
    settle();
}

// ---- deferred work ------------------------------------------------------------

// Parsing input held back at the pipelining cap, and running due drain
// callbacks, happen from the loop, never from inside a Response call (where
// they would run handlers or callbacks re-entrantly).
void Session::run_scheduled() {
    if (!live()) return;
    if (reading_requests() && !stash_empty() && !queue_full() && !output_full()) {
        acquire();
        std::string& stash = request_->stash;
        std::size_t used = 0;
        pass(stash, used);
        if (request_ != nullptr) {  // still held: not given back by a close
            stash.erase(0, used);
            if (!reading_requests() || stash.empty()) {
                stash.clear();
                if (stash.capacity() > 64 * 1024) std::string().swap(stash);
            }
        }
        if (!live()) return;
        settle();
        // Stopped again at the output bound with the socket's queue now
        // below it: go on (each pass parses at least one request).
        schedule_if_due();
    }
    run_drains_if_due();
    if (live()) give_back_if_idle();
}

// The queue's drain callbacks run once everything written has left: the
// queue's output and the socket's.
void Session::run_drains_if_due() {
    if (!live() || queue_ == nullptr || !queue_->drain_due()) return;
    if (!queue_->output().empty() || connection_->output_bytes() != 0) return;
    // A callback may close the connection, or destroy the server: the queue
    // then detaches and stops; this Session's memory lasts until the end of
    // the dispatch step (defer_release), and so does its queue reference.
    queue_->output_drained();
}

// ---- TCP events -----------------------------------------------------------------

void Session::on_high_water() {
    output_blocked_ = true;
    update_reading();
}

void Session::on_write_complete() {
    output_blocked_ = false;
    if (!live()) return;
    update_reading();
    run_drains_if_due();
    // Input held back because the output was full can be parsed now.
    schedule_if_due();
    if (live()) give_back_if_idle();
}

void Session::on_peer_shutdown() {
    // The client will send nothing more (half-close allowed). A request it
    // left incomplete is dropped; the responses it is owed still go out,
    // then we close.
    if (reading_requests()) phase_ = Phase::Closing;
    if (request_ != nullptr) request_->parser.reset();
    settle();
}

void Session::begin_shutdown() {
    if (!reading_requests() || phase_ == Phase::LastRequest) return;
    if (owed() == 0 && !request_started()) {
        close_quietly();  // idle keep-alive connection: close now
        return;
    }
    if (queue_ != nullptr && queue_->close_after_newest()) {
        // The newest owed response is the last; it says Connection: close
        // unless its head is already out. A request arriving behind it is
        // not read.
        phase_ = Phase::Closing;
    } else {
        // A request is arriving: it is answered (dispatch() sees the phase)
        // and then the connection closes.
        phase_ = Phase::LastRequest;
    }
    if (!dispatching_) settle();  // else the pass's end does (a handler called shutdown())
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
    if (phase_ == Phase::Closed) return;
    phase_ = Phase::Closed;
    timeout_ = Timeout::None;
    deadline_ = EventLoop::TimePoint::max();
    loop_state_->remove(*this);
    if (request_ != nullptr) {
        request_->parser.reset();
        request_->stash.clear();
    }
    if (notify_server) core_->session_closed();
    // Last: it destroys user callables (drain callbacks), which may hold a
    // Response and call back in, or even destroy the server; everything
    // above is settled by then. The queue and the parser go back to the
    // pools with the Session's memory (~Session), after the current
    // dispatch step: a queue call may be on the stack.
    if (queue_ != nullptr) queue_->detach();
}

// ---- ResponseQueue::Owner ------------------------------------------------------

std::size_t Session::bytes_in_flight() const noexcept {
    return live() ? connection_->output_bytes() : 0;
}

bool Session::connection_open() const noexcept {
    return live() && (reading_requests() || phase_ == Phase::Closing);
}

}  // namespace reactor::http::detail
