// examples/loadgen/protocol.hpp -- what a mode (echo, http, chat) does on
// the connections the worker runs: the one interface the worker knows the
// modes by. Each mode lives in its own file (echo_protocol.cpp,
// http_protocol.cpp, chat_protocol.cpp) and checks replies with the
// verifiers in *_verify.hpp.
//
// A protocol is called on the worker's loop thread only. It writes requests
// into Conn::out (the worker sends them), tells the ConnTable how many
// replies a connection is owed and when they arrive (Run::replied), and
// reports errors through the Run; it never touches a socket or a state.
#pragma once

#include "conn.hpp"

#include <cstddef>
#include <memory>
#include <string_view>

namespace loadgen {

class Run;

class Protocol {
public:
    virtual ~Protocol() = default;

    /// A new connection, with this protocol's per-connection state.
    virtual std::unique_ptr<Conn> make_conn() = 0;
    /// `c` has just been established (echo, http: start sending).
    virtual void on_open(Conn& c) = 0;
    /// Requests sent at once on a connection with --interval 0 (then one
    /// more after each reply).
    virtual int burst() const = 0;
    /// Appends one request to c.out and owes its replies; `now` is its
    /// send time. The worker counts it and sends it.
    virtual void write_request(Conn& c, TimePoint now) = 0;
    /// Checks bytes received on open connection `c`.
    virtual void on_data(Conn& c, std::string_view data, TimePoint now) = 0;
    /// Requests of `c` whose reply has not arrived (echo, http), and
    /// whether part of a reply has arrived: for the error text when the
    /// server closes.
    virtual std::size_t awaiting(const Conn& c) const = 0;
    virtual bool mid_reply(const Conn& c) const = 0;
    /// Ten times a second for each open connection: counts what has waited
    /// longer than `limit` as a timeout.
    virtual void expire(Conn& c, TimePoint now, Clock::duration limit) = 0;
    /// At the end of the run, for each connection still open: counts what
    /// it is still owed as errors. Called for every such connection before
    /// any of them closes.
    virtual void at_end(Conn& c) = 0;
    /// `c` has closed; `was_open` if it had been established.
    virtual void on_close(Conn& /*c*/, bool /*was_open*/) {}
    /// Every connection of the worker has been tried and none is still
    /// connecting (may be called more than once).
    virtual void on_all_resolved() {}
    /// Ten times a second, after expire().
    virtual void tick(TimePoint /*now*/) {}
    /// The run stops sending.
    virtual void on_stop() {}
};

std::unique_ptr<Protocol> make_echo_protocol(Run& run);
std::unique_ptr<Protocol> make_http_protocol(Run& run);
std::unique_ptr<Protocol> make_chat_protocol(Run& run);

/// What echo and http share: one reply per request, in order, so the
/// oldest request that has no reply yet decides a timeout.
class RequestReplyProtocol : public Protocol {
public:
    explicit RequestReplyProtocol(Run& run) : run_(run) {}

    void on_open(Conn& c) override;
    std::size_t awaiting(const Conn& c) const override {
        return static_cast<std::size_t>(c.owed());
    }
    void expire(Conn& c, TimePoint now, Clock::duration limit) override;
    void at_end(Conn& c) override;

protected:
    /// When the oldest request without a reply was sent (c.owed() > 0).
    virtual TimePoint oldest(const Conn& c) const = 0;
    /// After a read completed `n` replies: with --interval 0, as many new
    /// requests.
    void completed(Conn& c, std::size_t n);

    Run& run_;
};

}  // namespace loadgen
