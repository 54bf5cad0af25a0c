// examples/loadgen/conn.hpp -- one connection of the run, and ConnTable:
// the one place that moves a connection between states and keeps the
// counters that depend on them.
//
// The life of a connection:
//
//   Waiting --connecting()--> Connecting --established()--> Open
//      |                          |                          |
//      +-------------------- close() ------------------------+---> Closed
//
// ConnTable counts the connections Connecting and Open, and the replies the
// run still waits for (in_flight): each connection carries what is owed to
// it (`owed`), raised by owe() when a request goes out and lowered by
// settle() when a reply arrives (or is given up on); close() settles what
// is left. So the counters cannot drift from the connections' states: no
// other code changes `state`, `owed` or the counts.
#pragma once

#include <reactor/event_loop.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loadgen {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

enum class ConnState { Waiting, Connecting, Open, Closed };

/// One connection. A protocol derives its own with its verifier's state
/// (Protocol::make_conn); the rest is the worker's.
struct Conn {
    virtual ~Conn() = default;

    std::uint64_t id = 0;  ///< the connection's number in the whole run
    int fd = -1;
    reactor::WatcherId watch;
    TimePoint connect_started;
    std::string out;  ///< bytes accepted for sending, from out_off on not yet sent
    std::size_t out_off = 0;
    std::uint64_t seq = 0;  ///< requests sent so far
    reactor::TimerId send_timer;
    TimePoint next_send;  ///< with --interval: when the next request is due

    ConnState state() const { return state_; }
    bool is_open() const { return state_ == ConnState::Open; }
    /// Replies this connection is still owed (chat: deliveries of its lines).
    std::uint64_t owed() const { return owed_; }

private:
    friend class ConnTable;
    ConnState state_ = ConnState::Waiting;
    std::uint64_t owed_ = 0;
};

class ConnTable {
public:
    /// Adds a connection, Waiting; connections are numbered by insertion.
    Conn& add(std::unique_ptr<Conn> c) {
        conns_.push_back(std::move(c));
        return *conns_.back();
    }

    /// Waiting -> Connecting: connect() was called.
    void connecting(Conn& c) {
        if (c.state_ != ConnState::Waiting) return;
        c.state_ = ConnState::Connecting;
        ++connecting_;
    }
    /// Connecting -> Open: the handshake completed.
    void established(Conn& c) {
        if (c.state_ != ConnState::Connecting) return;
        c.state_ = ConnState::Open;
        --connecting_;
        ++open_;
    }
    /// Any state -> Closed; what was owed to it is settled. Returns the
    /// state it was in (Closed when it already was).
    ConnState close(Conn& c) {
        const ConnState was = c.state_;
        if (was == ConnState::Connecting) --connecting_;
        if (was == ConnState::Open) --open_;
        settle(c, c.owed_);
        c.state_ = ConnState::Closed;
        return was;
    }

    /// `n` more replies owed to open connection `c`.
    void owe(Conn& c, std::uint64_t n) {
        if (c.state_ != ConnState::Open) return;
        c.owed_ += n;
        in_flight_ += n;
    }
    /// `n` of the replies owed to `c` arrived or were given up on.
    void settle(Conn& c, std::uint64_t n) {
        n = std::min(n, c.owed_);
        c.owed_ -= n;
        in_flight_ -= n;
    }

    int connecting() const { return connecting_; }
    std::uint64_t open() const { return open_; }
    std::uint64_t in_flight() const { return in_flight_; }

    std::size_t size() const { return conns_.size(); }
    Conn& operator[](std::size_t i) { return *conns_[i]; }
    auto begin() { return conns_.begin(); }
    auto end() { return conns_.end(); }

private:
    std::vector<std::unique_ptr<Conn>> conns_;  // index = id / threads
    int connecting_ = 0;
    std::uint64_t open_ = 0;
    std::uint64_t in_flight_ = 0;
};

}  // namespace loadgen
