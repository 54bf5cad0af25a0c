// src/net/connection_hub.hpp -- what a group of connections shares: the
// callbacks, the options and the owner to tell when one closes.
//
// A TcpServer (or TcpClient) owns one hub; each of its connections keeps a
// plain pointer to it (8 bytes) instead of copies of the callbacks (160).
// The owner guarantees the hub outlives every connection that points to it:
// when the owner is destroyed it first abandons its connections (their
// pointer becomes null) and frees the hub only after the loop's current
// dispatch step, since it may be running one of the hub's callbacks.
//
// Internal: not installed.
#pragma once

#include <reactor/tcp_connection.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

namespace reactor::detail {

/// What every loop of one server shares across threads: the connections
/// open over all of them (counted from the accept on), for max_connections.
struct ServerShared {
    std::atomic<std::size_t> current{0};
};

/// Told (on the loop thread) when one of its connections has closed and its
/// close callback has run; drops its reference to it.
class ConnectionOwner {
public:
    virtual void connection_closed(TcpConnection& connection) = 0;

protected:
    ~ConnectionOwner() = default;
};

struct ConnectionHub {
    TcpCallbacks callbacks;
    TcpConnectionOptions options;
    ConnectionOwner* owner = nullptr;

    /// Lets owners reach the connection's private bookkeeping.
    static std::uint32_t& slot(TcpConnection& c) noexcept { return c.owner_slot_; }
    static std::error_code start(TcpConnection& c) { return c.start(); }
    static void abandon(TcpConnection& c) noexcept { c.abandon(); }
    static void check_timeouts(TcpConnection& c, std::uint32_t now_ms) { c.check_timeouts(now_ms); }

    /// Whether any timeout is set, and the sweep interval for them: a
    /// quarter of the shortest, clamped to [10 ms, 1 s].
    bool has_timeouts() const noexcept {
        return options.idle_timeout.count() > 0 || options.read_timeout.count() > 0 ||
               options.write_timeout.count() > 0;
    }
    std::chrono::milliseconds sweep_interval() const noexcept {
        std::chrono::milliseconds shortest = std::chrono::milliseconds::max();
        for (auto t : {options.idle_timeout, options.read_timeout, options.write_timeout}) {
            if (t.count() > 0 && t < shortest) shortest = t;
        }
        return std::clamp(shortest / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    }
};

/// An owner's periodic check of its connections' timeouts: armed while the
/// owner has connections and the hub has a timeout set, one timer for all
/// of them. The sweep closes expired connections with a deferred close, so
/// the owner's table does not change while it is being swept.
class TimeoutSweep {
public:
    using Sweep = std::function<void(std::uint32_t now_ms)>;

    /// Arms the sweep unless it is armed or no timeout is set.
    void start(EventLoop& loop, const ConnectionHub& hub, Sweep sweep);
    /// Disarms it (no-op when not armed).
    void stop(EventLoop& loop) noexcept { loop.cancel(std::exchange(timer_, TimerId{})); }

private:
    TimerId timer_;
};

/// A time point in whole milliseconds, truncated to 32 bits: what the
/// connections' activity stamps hold.
inline std::uint32_t to_millis32(EventLoop::TimePoint t) noexcept {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch());
    return static_cast<std::uint32_t>(ms.count());
}
/// The loop's cached clock (read once per iteration), as a stamp.
inline std::uint32_t loop_millis(const EventLoop& loop) noexcept { return to_millis32(loop.now()); }
/// The clock read now, as a stamp: for the sweep, and for stamps taken after
/// callbacks that may have run long in this iteration.
inline std::uint32_t clock_millis() noexcept { return to_millis32(EventLoop::Clock::now()); }

}  // namespace reactor::detail
