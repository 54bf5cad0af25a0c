// examples/loadgen/run.hpp -- one worker's share of the run on its event
// loop: pacing connects, the sockets, the send schedule, timeouts and the
// end. Whatever depends on the mode is asked of the Protocol; whatever
// changes a connection's state or the counters goes through the ConnTable.
//
// Timers drive everything: pace() starts connections at --connect-rate,
// each open connection sends on its own schedule (or, with --interval 0,
// whenever a reply completes), sweep() looks for replies and connects older
// than --timeout ten times a second, on_second() hands a Sample to main(),
// and at --duration begin_stop() stops sending and lets replies still in
// flight arrive (for at most --timeout) before finish(). interrupt() (on
// Ctrl-C) finishes at once: what is still in flight then is not an error.
#pragma once

#include "conn.hpp"
#include "protocol.hpp"
#include "worker.hpp"

#include <reactor/event_loop.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace loadgen {

class Run {
public:
    explicit Run(WorkerSetup setup);

    /// Runs the loop to the end of the run (on the calling thread).
    /// `on_loop` is called with the loop once it exists and with nullptr
    /// before it goes away.
    void run(const std::function<void(reactor::EventLoop*)>& on_loop);
    /// Ends the run now, keeping what was counted (on the loop thread).
    void interrupt();
    /// Hands the totals to main() (WorkerSetup::on_done), once, at the end.
    void done();

    // ---- for the protocols -------------------------------------------------
    const Options& opts() const { return opts_; }
    ConnTable& table() { return table_; }
    reactor::EventLoop& loop() { return *loop_; }
    bool stopping() const { return stopping_; }
    /// --timeout as a duration.
    Clock::duration timeout() const;

    /// A reply owed to `owner`, sent at `sent`, arrived intact at `now`.
    void replied(Conn& owner, TimePoint sent, TimePoint now);
    /// Counts `n` errors of kind `name` against connection `c`.
    void error(Conn& c, const char* name, std::uint64_t n, const std::string& detail);
    /// Counts `n` errors of kind `name` against no connection in particular.
    void error(const char* name, std::uint64_t n, const std::string& detail);
    /// Appends `bytes` to c's output and sends what it can (if open).
    void send(Conn& c, std::string_view bytes);
    /// Sends c's next request now, unless the run is stopping.
    void send_request(Conn& c);
    /// Starts c's send schedule (see worker.cpp).
    void start_sending(Conn& c);
    /// Stops all I/O on `c` and closes it.
    void close(Conn& c);
    /// Stops sending; the run ends when replies in flight are in.
    void begin_stop();

    Totals totals;  ///< handed to main() at the end

private:
    void pace();
    void start_connect(Conn& c);
    void connect_failed(Conn& c, int err);
    void on_established(Conn& c);
    void check_all_resolved();
    void schedule_next_send(Conn& c);
    void flush(Conn& c);
    void on_event(Conn& c, reactor::Events ev);
    void on_readable(Conn& c);
    void peer_closed(Conn& c, int err);
    void sweep();
    void on_second();
    void maybe_finish();
    void finish();
    unsigned source_for(const Conn& c) const;

    WorkerSetup setup_;
    const Options& opts_;
    std::unique_ptr<Protocol> protocol_;
    reactor::EventLoop* loop_ = nullptr;
    ConnTable table_;
    std::uint64_t mine_ = 0;          // connections this worker owns
    unsigned extra_sources_ = 0;      // addresses added after EADDRNOTAVAIL
    Sample sample_;
    int second_ = 0;
    bool stopping_ = false;
    bool interrupted_ = false;
    bool finished_ = false;
    TimePoint drain_deadline_;
    std::vector<char> buffer_;
    Clock::duration interval_{};  // --interval; zero for "back to back"
    reactor::TimerId pace_timer_, second_timer_, sweep_timer_, end_timer_;
};

}  // namespace loadgen
