// tests/fault/fault.cpp -- TEST-ONLY: the schedule, and the system call
// wrappers the test library calls instead of the kernel (fault.hpp says
// what each fault does; syscalls.hpp declares the wrappers).
//
// Every wrapper has the same shape: ask decide() for a verdict (pass, fail
// with an errno, or cut the transfer short), act on it, make the real call,
// and report a success to completed() so that faults waiting for "the call
// after" that one are armed. With no schedule installed a wrapper costs one
// relaxed atomic load over the real call.
#include "fault/fault.hpp"
#include "fault/syscalls.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sstream>
#include <vector>

namespace reactor::fault {

namespace {

struct Rule {
    Fault fault;
    std::uint64_t matched = 0;   // matching calls considered
    std::uint64_t injected = 0;
    bool armed = false;
};

}  // namespace

struct Schedule::State {
    std::vector<Rule> rules;
    std::uint64_t rng;
    bool paused = false;
    std::uint64_t seen[32] = {};
};

namespace {

// The installed schedule. `active` is the fast path's only read; the state
// itself is touched under `mutex`, which also orders install/uninstall
// against calls in flight on other threads (worker pools, loop threads).
std::atomic<bool> active{false};
std::mutex mutex;
Schedule::State* installed = nullptr;

std::uint64_t next_random(std::uint64_t& state) noexcept {
    // splitmix64: small, fast, and the same sequence everywhere.
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int bit_index(Calls one) noexcept {
    int i = 0;
    while (i < 32 && (one & (1u << i)) == 0) ++i;
    return i;
}

struct Verdict {
    enum Kind { Pass, Fail, Cut } kind = Pass;
    int error = 0;
    std::size_t cut = 0;
};

Verdict decide(Calls call, int fd) {
    if (!active.load(std::memory_order_relaxed)) return {};
    std::lock_guard lock(mutex);
    Schedule::State* s = installed;
    if (s == nullptr) return {};
    ++s->seen[bit_index(call)];
    if (s->paused) return {};
    for (Rule& r : s->rules) {
        const Fault& f = r.fault;
        if ((f.calls_ & call) == 0 || (f.fd_ >= 0 && f.fd_ != fd)) continue;
        ++r.matched;
        if (r.matched <= f.skip_) continue;
        if (f.armed_only_ && !r.armed) continue;
        if (!f.armed_only_ && (r.matched - f.skip_ - 1) % f.every_ != 0) continue;
        if (f.times_ != 0 && r.injected >= f.times_) continue;
        if (f.chance_ < 1.0) {
            const double draw = static_cast<double>(next_random(s->rng) >> 11) * 0x1.0p-53;
            if (draw >= f.chance_) continue;
        }
        ++r.injected;
        r.armed = false;
        if (f.error_ != 0) return {Verdict::Fail, f.error_, 0};
        return {Verdict::Cut, 0, f.cut_};
    }
    return {};
}

// A call of kind `call` succeeded: arm the faults waiting for it.
void completed(Calls call) {
    if (!active.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(mutex);
    Schedule::State* s = installed;
    if (s == nullptr) return;
    for (Rule& r : s->rules) {
        if ((r.fault.trigger_ & call) != 0) r.armed = true;
    }
}

template <class T>
T failed(int error) noexcept {
    errno = error;
    return static_cast<T>(-1);
}

// At most `limit` bytes of `iov`, as a new vector in `out`.
int clamp_iov(const iovec* iov, int count, std::size_t limit, std::vector<iovec>& out) {
    out.clear();
    for (int i = 0; i < count && limit > 0; ++i) {
        const std::size_t take = std::min(iov[i].iov_len, limit);
        out.push_back(iovec{iov[i].iov_base, take});
        limit -= take;
    }
    if (out.empty() && count > 0) out.push_back(iovec{iov[0].iov_base, 0});
    return static_cast<int>(out.size());
}

template <class R>
R finish(Calls call, R result) {
    if (result >= 0) completed(call);
    return result;
}

}  // namespace

// ---- Fault and Schedule ------------------------------------------------------

const char* name(Calls one) noexcept {
    switch (one) {
    case Read: return "read";
    case Readv: return "readv";
    case Write: return "write";
    case Send: return "send";
    case Sendmsg: return "sendmsg";
    case Recvfrom: return "recvfrom";
    case Sendto: return "sendto";
    case Socket: return "socket";
    case Connect: return "connect";
    case Accept: return "accept";
    case Shutdown: return "shutdown";
    case SoError: return "SO_ERROR";
    case Wait: return "wait";
    case Add: return "add";
    case Modify: return "modify";
    case Remove: return "remove";
    case Reads: return "reads";
    case Writes: return "writes";
    case Control: return "control";
    default: return "calls";
    }
}

Fault Fault::fail(Calls calls, int error) noexcept {
    Fault f;
    f.calls_ = calls;
    f.error_ = error;
    return f;
}

Fault Fault::cut(Calls calls, std::size_t bytes) noexcept {
    Fault f;
    f.calls_ = calls;
    f.cut_ = bytes == 0 ? 1 : bytes;
    return f;
}

std::string Fault::describe() const {
    std::ostringstream out;
    if (error_ != 0) {
        out << "fail " << name(calls_) << " with errno " << error_;
    } else {
        out << "cut " << name(calls_) << " to " << cut_;
    }
    if (every_ > 1) out << " every " << every_;
    if (skip_ > 0) out << " after " << skip_ << " calls";
    if (times_ > 0) out << " at most " << times_ << " times";
    if (chance_ < 1.0) out << " with chance " << chance_;
    if (fd_ >= 0) out << " on fd " << fd_;
    if (trigger_ != 0) out << " after a " << name(trigger_);
    return out.str();
}

Schedule::Schedule(std::uint64_t seed) : seed_(seed), state_(std::make_unique<State>()) {
    state_->rng = seed;
    std::lock_guard lock(mutex);
    installed = state_.get();
    active.store(true, std::memory_order_relaxed);
}

Schedule::~Schedule() {
    std::lock_guard lock(mutex);
    if (installed == state_.get()) {
        installed = nullptr;
        active.store(false, std::memory_order_relaxed);
    }
}

std::size_t Schedule::add(const Fault& fault) {
    std::lock_guard lock(mutex);
    state_->rules.push_back(Rule{fault});
    return state_->rules.size() - 1;
}

void Schedule::arm(std::size_t index) {
    std::lock_guard lock(mutex);
    state_->rules.at(index).armed = true;
}

void Schedule::pause() {
    std::lock_guard lock(mutex);
    state_->paused = true;
}

void Schedule::resume() {
    std::lock_guard lock(mutex);
    state_->paused = false;
}

std::uint64_t Schedule::injected(std::size_t index) const {
    std::lock_guard lock(mutex);
    return state_->rules.at(index).injected;
}

std::uint64_t Schedule::injected() const {
    std::lock_guard lock(mutex);
    std::uint64_t total = 0;
    for (const Rule& r : state_->rules) total += r.injected;
    return total;
}

std::uint64_t Schedule::seen(Calls calls) const {
    std::lock_guard lock(mutex);
    std::uint64_t total = 0;
    for (int i = 0; i < 32; ++i) {
        if ((calls & (1u << i)) != 0) total += state_->seen[i];
    }
    return total;
}

std::string Schedule::describe() const {
    std::lock_guard lock(mutex);
    std::ostringstream out;
    out << "fault schedule, seed " << seed_ << " (replay: REACTOR_FAULT_SEED=" << seed_ << "):";
    for (const Rule& r : state_->rules) {
        out << "\n  " << r.fault.describe() << ": fired " << r.injected << " of " << r.matched;
    }
    return out.str();
}

std::uint64_t seed_from_env() {
    if (const char* text = std::getenv("REACTOR_FAULT_SEED"); text != nullptr && *text != '\0') {
        return std::strtoull(text, nullptr, 10);
    }
    std::random_device device;
    return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

// ---- the wrappers ----------------------------------------------------------------

ssize_t read(int fd, void* data, size_t size) {
    const Verdict v = decide(Read, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    if (v.kind == Verdict::Cut) size = std::min(size, v.cut);
    return finish(Read, ::read(fd, data, size));
}

ssize_t readv(int fd, const struct iovec* iov, int count) {
    const Verdict v = decide(Readv, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    if (v.kind == Verdict::Cut) {
        std::vector<iovec> cut;
        const int n = clamp_iov(iov, count, v.cut, cut);
        return finish(Readv, ::readv(fd, cut.data(), n));
    }
    return finish(Readv, ::readv(fd, iov, count));
}

ssize_t write(int fd, const void* data, size_t size) {
    const Verdict v = decide(Write, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    if (v.kind == Verdict::Cut) size = std::min(size, v.cut);
    return finish(Write, ::write(fd, data, size));
}

ssize_t send(int fd, const void* data, size_t size, int flags) {
    const Verdict v = decide(Send, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    if (v.kind == Verdict::Cut) size = std::min(size, v.cut);
    return finish(Send, ::send(fd, data, size, flags));
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
    const Verdict v = decide(Sendmsg, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    if (v.kind == Verdict::Cut) {
        std::vector<iovec> cut;
        msghdr copy = *msg;
        copy.msg_iovlen = static_cast<decltype(copy.msg_iovlen)>(
            clamp_iov(msg->msg_iov, static_cast<int>(msg->msg_iovlen), v.cut, cut));
        copy.msg_iov = cut.data();
        return finish(Sendmsg, ::sendmsg(fd, &copy, flags));
    }
    return finish(Sendmsg, ::sendmsg(fd, msg, flags));
}

ssize_t recvfrom(int fd, void* data, size_t size, int flags, struct sockaddr* from, socklen_t* length) {
    // A datagram cannot be cut without losing its end: only failures apply.
    const Verdict v = decide(Recvfrom, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    return finish(Recvfrom, ::recvfrom(fd, data, size, flags, from, length));
}

ssize_t sendto(int fd, const void* data, size_t size, int flags, const struct sockaddr* to,
               socklen_t length) {
    const Verdict v = decide(Sendto, fd);
    if (v.kind == Verdict::Fail) return failed<ssize_t>(v.error);
    return finish(Sendto, ::sendto(fd, data, size, flags, to, length));
}

int socket(int family, int type, int protocol) {
    const Verdict v = decide(Socket, -1);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(Socket, ::socket(family, type, protocol));
}

int connect(int fd, const struct sockaddr* address, socklen_t length) {
    const Verdict v = decide(Connect, fd);
    if (v.kind == Verdict::Fail && v.error == EINTR) {
        // POSIX: an interrupted connect() goes on in the background, and the
        // caller learns its end as for EINPROGRESS. So it is made, and then
        // reported interrupted -- unless it failed outright.
        const int r = ::connect(fd, address, length);
        if (r != 0 && errno != EINPROGRESS) return r;
        return failed<int>(EINTR);
    }
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    const int r = ::connect(fd, address, length);
    if (r == 0 || errno == EINPROGRESS) completed(Connect);
    return r;
}

int accept(int fd, struct sockaddr* address, socklen_t* length) {
    const Verdict v = decide(Accept, fd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(Accept, ::accept(fd, address, length));
}

#if REACTOR_HAVE_ACCEPT4
int accept4(int fd, struct sockaddr* address, socklen_t* length, int flags) {
    const Verdict v = decide(Accept, fd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(Accept, ::accept4(fd, address, length, flags));
}
#endif

int shutdown(int fd, int how) {
    const Verdict v = decide(Shutdown, fd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(Shutdown, ::shutdown(fd, how));
}

int getsockopt(int fd, int level, int name, void* value, socklen_t* length) {
    if (level != SOL_SOCKET || name != SO_ERROR) return ::getsockopt(fd, level, name, value, length);
    const Verdict v = decide(SoError, fd);
    const int r = ::getsockopt(fd, level, name, value, length);
    if (r == 0 && v.kind == Verdict::Fail && *length >= static_cast<socklen_t>(sizeof(int))) {
        // The handshake "failed" with this error (the real one, if any, was
        // read and so cleared above).
        *static_cast<int*>(value) = v.error;
    }
    return finish(SoError, r);
}

int poll(struct pollfd* fds, nfds_t count, int timeout_ms) {
    const Verdict v = decide(Wait, -1);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(Wait, ::poll(fds, count, timeout_ms));  // nothing to cut
}

#if REACTOR_HAVE_EPOLL
int epoll_wait(int epfd, struct epoll_event* events, int max_events, int timeout_ms) {
    const Verdict v = decide(Wait, epfd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    if (v.kind == Verdict::Cut) max_events = std::min(max_events, static_cast<int>(v.cut));
    return finish(Wait, ::epoll_wait(epfd, events, max_events, timeout_ms));
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
    const Calls call = op == EPOLL_CTL_ADD ? Add : op == EPOLL_CTL_MOD ? Modify : Remove;
    const Verdict v = decide(call, fd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    return finish(call, ::epoll_ctl(epfd, op, fd, event));
}
#endif

#ifdef REACTOR_FAULT_HAVE_KEVENT
int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events, int nevents,
           const struct timespec* timeout) {
    // The kqueue backend calls kevent() either to wait (no changes) or to
    // apply the changes of one add, modify or remove (EV_RECEIPT, no wait).
    Calls call = Wait;
    int fd = kq;
    if (nchanges > 0) {
        call = Add;
        fd = static_cast<int>(changes[0].ident);
        for (int i = 0; i < nchanges; ++i) {
            if ((changes[i].flags & EV_DELETE) != 0) {
                call = Remove;
            } else if ((changes[i].flags & (EV_ENABLE | EV_DISABLE)) != 0 && call != Remove) {
                call = Modify;
            }
        }
    }
    const Verdict v = decide(call, fd);
    if (v.kind == Verdict::Fail) return failed<int>(v.error);
    if (v.kind == Verdict::Cut && call == Wait) nevents = std::min(nevents, static_cast<int>(v.cut));
    return finish(call, ::kevent(kq, changes, nchanges, events, nevents, timeout));
}
#endif

}  // namespace reactor::fault
