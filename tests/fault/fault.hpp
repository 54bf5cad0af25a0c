// tests/fault/fault.hpp -- TEST-ONLY: making the kernel misbehave on purpose.
//
// The library's socket and poller calls reach the kernel through
// tests/fault/syscalls.hpp in the test build (the seam is described in
// src/base/syscall.hpp). A test installs a Schedule, a list of Faults; every
// such call then asks the schedule, in order, whether a fault is due for it:
//
//   fault::Schedule faults(seed);
//   faults.add(fault::Fault::fail(fault::Reads, EINTR).every(2));     // every 2nd read
//   faults.add(fault::Fault::cut(fault::Writes, 1).chance(0.5));      // 1-byte writes, seeded
//   faults.add(fault::Fault::fail(fault::Accept, EMFILE).times(1));  // once
//   ... run the loop ...
//   CHECK(faults.injected() > 0);
//
// What a fault does to a call:
//   fail(calls, e)  the call fails with errno `e` without reaching the kernel
//                   (an interrupted or refused call has done nothing). Two
//                   exceptions follow POSIX: connect() with EINTR is made
//                   first, then reports EINTR (the handshake goes on in the
//                   background), and SoError puts `e` into the SO_ERROR the
//                   library reads (a handshake that failed), the call itself
//                   succeeding.
//   cut(calls, n)   a read or write moves at most `n` bytes (a short read or
//                   write); a poller wait takes at most `n` events. Calls
//                   with nothing to cut (accept, a control call, poll's
//                   wait) pass through.
// When a fault is due, among the calls it names:
//   every(n)        every nth call (default: each call)
//   skip(n)         not before the first n calls have passed
//   times(n)        at most n times in all (default: no limit)
//   chance(p)       each due call with probability p, drawn from the
//                   schedule's seeded generator: the same seed and the same
//                   sequence of calls give the same faults
//   on_fd(fd)       only for this fd (for a control call: the fd being
//                   added, modified or removed)
//   after(calls)    only the first due call after a successful call of
//                   `calls` ("the read after an accept"); Schedule::arm()
//                   arms it by hand ("the send after this message").
//
// One schedule at a time, process-wide: every thread's calls consult it
// (under a mutex: the test build only). Destroying it lets every call
// through again. The seed of a seeded test comes from seed_from_env():
// REACTOR_FAULT_SEED replays a seed a failing run printed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace reactor::fault {

/// The calls a fault can name, as a bit set.
using Calls = std::uint32_t;
inline constexpr Calls Read = 1u << 0;      ///< read()
inline constexpr Calls Readv = 1u << 1;     ///< readv()
inline constexpr Calls Write = 1u << 2;     ///< write()
inline constexpr Calls Send = 1u << 3;      ///< send()
inline constexpr Calls Sendmsg = 1u << 4;   ///< sendmsg()
inline constexpr Calls Recvfrom = 1u << 5;  ///< recvfrom() (UDP)
inline constexpr Calls Sendto = 1u << 6;    ///< sendto() (UDP)
inline constexpr Calls Socket = 1u << 7;    ///< socket()
inline constexpr Calls Connect = 1u << 8;   ///< connect()
inline constexpr Calls Accept = 1u << 9;    ///< accept() / accept4()
inline constexpr Calls Shutdown = 1u << 10; ///< shutdown()
inline constexpr Calls SoError = 1u << 11;  ///< getsockopt(SO_ERROR): a connect's outcome
inline constexpr Calls Wait = 1u << 12;     ///< epoll_wait(), kevent() waiting, poll()
inline constexpr Calls Add = 1u << 13;      ///< epoll_ctl(ADD), kevent() adding filters
inline constexpr Calls Modify = 1u << 14;   ///< epoll_ctl(MOD), kevent() enabling/disabling
inline constexpr Calls Remove = 1u << 15;   ///< epoll_ctl(DEL), kevent() deleting
/// What a TCP connection reads and writes with.
inline constexpr Calls Reads = Read | Readv;
inline constexpr Calls Writes = Write | Send | Sendmsg;
/// The poller's control calls (none on the poll backend: its interest set
/// lives in user space).
inline constexpr Calls Control = Add | Modify | Remove;

/// "read", "accept", ...; "calls" for a set of several.
const char* name(Calls one) noexcept;

/// One fault: what it does, and to which calls.
struct Fault {
    /// The calls in `calls` fail with errno `error`.
    static Fault fail(Calls calls, int error) noexcept;
    /// The calls in `calls` move at most `bytes` bytes (waits: events).
    static Fault cut(Calls calls, std::size_t bytes = 1) noexcept;

    Fault& every(unsigned n) noexcept { every_ = n == 0 ? 1 : n; return *this; }
    Fault& skip(unsigned n) noexcept { skip_ = n; return *this; }
    Fault& times(unsigned n) noexcept { times_ = n; return *this; }
    Fault& chance(double p) noexcept { chance_ = p; return *this; }
    Fault& on_fd(int fd) noexcept { fd_ = fd; return *this; }
    Fault& after(Calls trigger) noexcept { trigger_ = trigger; armed_only_ = true; return *this; }
    /// Due only once armed by Schedule::arm().
    Fault& when_armed() noexcept { armed_only_ = true; return *this; }

    /// "fail read with EINTR every 2nd", for messages.
    std::string describe() const;

    Calls calls_ = 0;
    int error_ = 0;            // fail: the errno
    std::size_t cut_ = 0;      // cut: the most bytes (events) to move
    unsigned every_ = 1;
    unsigned skip_ = 0;
    unsigned times_ = 0;       // 0: no limit
    double chance_ = 1.0;
    int fd_ = -1;              // -1: any fd
    Calls trigger_ = 0;
    bool armed_only_ = false;
};

/// The faults in force while it lives. Construct on the test's thread; the
/// counters may be read while the loop runs (same thread) or after.
class Schedule {
public:
    /// `seed` drives every chance() draw.
    explicit Schedule(std::uint64_t seed = 1);
    /// Uninstalls: from here on every call goes through untouched.
    ~Schedule();
    Schedule(const Schedule&) = delete;
    Schedule& operator=(const Schedule&) = delete;

    /// Adds a fault (consulted after those added before); returns its index.
    std::size_t add(const Fault& fault);
    /// Arms fault `index`: it fires on its next matching call.
    void arm(std::size_t index);
    /// Stops every fault (calls go through) / starts them again.
    void pause();
    void resume();

    /// How many times fault `index` fired, and all of them together.
    std::uint64_t injected(std::size_t index) const;
    std::uint64_t injected() const;
    /// How many calls in `calls` reached the seam while this schedule lived.
    std::uint64_t seen(Calls calls) const;
    std::uint64_t seed() const noexcept { return seed_; }
    /// Every fault and its count, one per line, for a failure message.
    std::string describe() const;

    struct State;

private:
    std::uint64_t seed_;
    std::unique_ptr<State> state_;
};

/// REACTOR_FAULT_SEED (decimal) if it is set, else a fresh random seed. A
/// seeded test prints the seed it used when it fails (doctest INFO), so the
/// run can be replayed: REACTOR_FAULT_SEED=<seed> build/tests/NAME.
std::uint64_t seed_from_env();

}  // namespace reactor::fault
