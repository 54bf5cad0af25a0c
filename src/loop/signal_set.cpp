// src/loop/signal_set.cpp
#include "loop/signal_set.hpp"

#include "base/syscall.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <mutex>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace reactor::detail {
namespace {

constexpr int kMaxLoops = 64;
// One past the largest signal number: 65 on Linux, 32 on macOS, 128 on
// FreeBSD. Larger numbers are refused.
constexpr int kMaxSignal = NSIG;

// Process-wide routing, read by the signal handler. route_fd[r] is the write
// end of loop r's pipe (-1 when free); wanted[s] has bit r set while loop r
// has at least one handler for signal s. Lock-free atomics only, so the
// handler is async-signal-safe.
std::atomic<int> route_fd[kMaxLoops];
std::atomic<std::uint64_t> wanted[kMaxSignal];

// Normal-context bookkeeping, under the mutex: which routes are taken, how
// many loops want each signal, and the action to restore when none does.
std::mutex table_mutex;
bool route_taken[kMaxLoops];
int listeners[kMaxSignal];
struct sigaction saved_action[kMaxSignal];

void handle_signal(int signo) {
    const int saved_errno = errno;
    std::uint64_t mask = wanted[signo].load(std::memory_order_acquire);
    const unsigned char byte = static_cast<unsigned char>(signo);
    while (mask != 0) {
        const int r = __builtin_ctzll(mask);
        mask &= mask - 1;
        const int fd = route_fd[r].load(std::memory_order_acquire);
        // A full pipe already holds a pending signal: losing this byte only
        // coalesces it, as the kernel coalesces signals anyway.
        if (fd >= 0) (void)!::write(fd, &byte, 1);
    }
    errno = saved_errno;
}

// Called with table_mutex held.
void subscribe(int signo, int route) {
    wanted[signo].fetch_or(std::uint64_t{1} << route, std::memory_order_release);
    if (listeners[signo]++ == 0) {
        struct sigaction sa {};
        sa.sa_handler = handle_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;  // the rest of the program need not expect EINTR
        ::sigaction(signo, &sa, &saved_action[signo]);
    }
}

void unsubscribe(int signo, int route) {
    wanted[signo].fetch_and(~(std::uint64_t{1} << route), std::memory_order_release);
    if (--listeners[signo] == 0) ::sigaction(signo, &saved_action[signo], nullptr);
}

struct RouteTableInit {
    RouteTableInit() {
        for (auto& fd : route_fd) fd.store(-1);
    }
} route_table_init;

}  // namespace

SignalSet::SignalSet() {
    int fds[2];
    if (::pipe(fds) != 0) throw_error(last_error(), "reactor: signal pipe");
    for (int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
    {
        std::lock_guard lock(table_mutex);
        for (int r = 0; r < kMaxLoops; ++r) {
            if (!route_taken[r]) {
                route_taken[r] = true;
                route_ = r;
                route_fd[r].store(write_fd_, std::memory_order_release);
                break;
            }
        }
    }
    if (route_ < 0) {
        ::close(read_fd_);
        ::close(write_fd_);
        throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                                "reactor: too many loops listening for signals");
    }
}

SignalSet::~SignalSet() {
    {
        std::lock_guard lock(table_mutex);
        for (const Handler& h : handlers_) {
            const bool last = std::none_of(handlers_.begin(), handlers_.end(),
                                           [&](const Handler& o) { return &o > &h && o.signo == h.signo; });
            if (last) unsubscribe(h.signo, route_);
        }
        route_fd[route_].store(-1, std::memory_order_release);
        route_taken[route_] = false;
    }
    ::close(read_fd_);
    ::close(write_fd_);
}

std::uint64_t SignalSet::add(int signo, Callback cb) {
    if (signo <= 0 || signo >= kMaxSignal || signo == SIGKILL || signo == SIGSTOP) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "reactor: on_signal: signal " + std::to_string(signo) + " cannot be caught");
    }
    const bool first = std::none_of(handlers_.begin(), handlers_.end(),
                                    [&](const Handler& h) { return h.signo == signo; });
    if (first) {
        std::lock_guard lock(table_mutex);
        subscribe(signo, route_);
    }
    handlers_.push_back(Handler{next_id_, signo, std::move(cb)});
    return next_id_++;
}

bool SignalSet::remove(std::uint64_t id) {
    const auto it = std::find_if(handlers_.begin(), handlers_.end(), [&](const Handler& h) { return h.id == id; });
    if (it == handlers_.end()) return false;
    const int signo = it->signo;
    handlers_.erase(it);
    const bool last = std::none_of(handlers_.begin(), handlers_.end(),
                                   [&](const Handler& h) { return h.signo == signo; });
    if (last) {
        std::lock_guard lock(table_mutex);
        unsubscribe(signo, route_);
    }
    return true;
}

void SignalSet::read_pipe() {
    unsigned char buf[64];
    for (;;) {
        const ssize_t n = ::read(read_fd_, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            for (const Handler& h : handlers_) {
                if (h.signo == buf[i]) due_.push_back(Call{buf[i], h.id});
            }
        }
    }
}

void SignalSet::run_due() {
    // Handlers may add or remove handlers (their own included): each call
    // runs a copy of the callback, if its handler is still registered when
    // its turn comes. Each call is counted as made before it runs, so one
    // that throws is not made again.
    while (due_next_ < due_.size()) {
        const Call call = due_[due_next_++];
        const auto it = std::find_if(handlers_.begin(), handlers_.end(),
                                     [&](const Handler& h) { return h.id == call.id; });
        if (it == handlers_.end()) continue;
        const Callback cb = it->cb;
        cb(call.signo);
    }
    due_.clear();
    due_next_ = 0;
}

}  // namespace reactor::detail
