// reactor/poller.hpp -- the one interface over the operating system's pollers.
//
// A Poller watches file descriptors and reports which are ready. It knows
// nothing about callbacks, timers or connections: it stores, per fd, an
// interest set and an opaque 64-bit token, and hands back (token, events)
// pairs. EventLoop (event_loop.hpp) turns those pairs into callbacks.
//
// Backends (one file each under src/poller/):
//   epoll   Linux          O(ready) wait, kernel keeps the interest set
//   kqueue  FreeBSD, macOS O(ready) wait, one kernel filter per direction
//   poll    any POSIX      O(n) wait, the portable fallback and teaching baseline
//
// Every backend is level-triggered: an fd that stays readable is reported on
// every wait until it is drained. docs/backends.md has the conformance table
// of what each backend reports in each situation (peer close, reset, ...).
//
// Thread safety: a Poller is used by one thread (its loop's); none of its
// methods may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace reactor {

/// Interest and event bits, our own neutral vocabulary. Each backend
/// translates them to and from its kernel's flags at its own edge.
using Events = std::uint32_t;
inline constexpr Events NoEvents = 0;
/// Data (or EOF) can be read without blocking. Interest and event.
inline constexpr Events Readable = 1u << 0;
/// Data can be written without blocking. Interest and event.
inline constexpr Events Writable = 1u << 1;
/// The peer is gone in both directions (hang-up). Event only: always
/// reported while any interest is registered, never asked for.
inline constexpr Events Hangup = 1u << 2;
/// An error is pending on the fd (read it with SO_ERROR). Event only.
inline constexpr Events Error = 1u << 3;

/// One ready fd, as returned by Poller::wait.
struct PollEvent {
    std::uint64_t token;  ///< the token given to add()/modify()
    Events events;        ///< Readable | Writable | Hangup | Error, merged per fd
};

class Poller {
public:
    virtual ~Poller() = default;
    Poller() = default;
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    /// The backend's name: "epoll", "kqueue" or "poll".
    virtual std::string_view name() const noexcept = 0;

    /// Starts watching `fd` for `interest` (Readable and/or Writable, not
    /// empty). Fails with EEXIST if `fd` is already registered, EBADF for a
    /// bad fd, EPERM for a regular file or directory (epoll cannot poll them,
    /// and kqueue would never report their EOF: every backend refuses them).
    virtual std::error_code add(int fd, Events interest, std::uint64_t token) = 0;

    /// Changes the interest (not empty) and token of a registered fd.
    /// Fails with ENOENT if `fd` is not registered.
    virtual std::error_code modify(int fd, Events interest, std::uint64_t token) = 0;

    /// Stops watching `fd`. Fails with ENOENT if it is not registered. Call it
    /// before closing the fd; removing an fd that was already closed is
    /// allowed and forgets it.
    virtual std::error_code remove(int fd) = 0;

    /// Waits up to `timeout_ms` milliseconds (-1: no limit, 0: just look)
    /// and replaces the contents of `out` with the ready fds, at most one
    /// entry per fd. An interrupted wait (EINTR) returns no events and no
    /// error. Other failures are returned as an error code.
    virtual std::error_code wait(std::vector<PollEvent>& out, int timeout_ms) = 0;

    /// Creates a poller. `backend` empty means: the REACTOR_BACKEND
    /// environment variable if set, else the best backend this build has
    /// (epoll, then kqueue, then poll). An unknown name, or one this build
    /// does not have, throws std::system_error (errc::invalid_argument or
    /// errc::function_not_supported) naming the choices; there is no silent
    /// fallback. A failing kernel call (EMFILE, ...) throws std::system_error.
    static std::unique_ptr<Poller> create(std::string_view backend = {});

    /// The backends compiled into this build, best first.
    static std::vector<std::string_view> available();
};

/// Formats an event set as text, e.g. "Readable|Hangup" (for traces and tests).
std::string to_string_events(Events events);

}  // namespace reactor
