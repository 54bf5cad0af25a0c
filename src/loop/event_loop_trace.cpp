// src/loop/event_loop_trace.cpp -- the loop tracer's lines (set_trace,
// REACTOR_TRACE=1): what one iteration did, in the order it did it.
//
// Everything here runs only while tracing is on: the loop reaches it
// through one branch on tracing() (src/loop/event_loop.cpp). Labels are
// made here, when a line is printed, from the watcher's fd and its one-byte
// label kind, so a connection carries no name while tracing is off. A
// sample, annotated line by line, is in docs/tutorial/03-one-iteration.md.
#include <reactor/event_loop.hpp>

#include "loop/timer_queue.hpp"
#include "loop/trace.hpp"
#include "loop/watcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>

namespace reactor {

namespace detail {

void TimerTrace::call(const TimerQueue::Callback& cb, TimerQueue::Duration interval) {
    const auto start = std::chrono::steady_clock::now();
    cb();
    const double took = to_ms(std::chrono::steady_clock::now() - start);
    if (interval == TimerQueue::Duration::zero()) {
        std::fprintf(out_, "[reactor]   timer (once) ran, took %.3f ms\n", took);
    } else {
        std::fprintf(out_, "[reactor]   timer (every %.0f ms) ran, took %.3f ms\n", to_ms(interval), took);
    }
}

std::string socket_address_text(int fd, bool peer) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    auto* sa = reinterpret_cast<sockaddr*>(&ss);
    if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return {};
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    if (ss.ss_family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(&ss);
        const std::size_t offset = offsetof(sockaddr_un, sun_path);
        if (len <= offset || un->sun_path[0] == '\0') return "unix socket";
        return std::string(un->sun_path, ::strnlen(un->sun_path, len - offset));
    }
    return {};
}

}  // namespace detail

namespace {

// "WHAT ADDRESS (fd N)", or "WHAT (fd N)" when the kernel gives no address.
std::string with_address(const char* what, const std::string& address, int fd) {
    std::string out = what;
    if (!address.empty()) out += " " + address;
    return out + " (fd " + std::to_string(fd) + ")";
}

}  // namespace

std::string EventLoop::trace_label(const Watcher& w, std::uint32_t index) const {
    switch (w.label) {
    case WatchLabel::Fd: break;
    case WatchLabel::Named: {
        const auto it = watcher_names_.find(index);
        if (it != watcher_names_.end()) return with_address(it->second.c_str(), {}, w.fd);
        break;
    }
    case WatchLabel::Listener: return with_address("listener", detail::socket_address_text(w.fd, false), w.fd);
    case WatchLabel::Connection: return with_address("conn", detail::socket_address_text(w.fd, true), w.fd);
    case WatchLabel::Connecting: {
        // getpeername() fails until the handshake is over: then say where from.
        const std::string peer = detail::socket_address_text(w.fd, true);
        if (!peer.empty()) return with_address("connecting to", peer, w.fd);
        return with_address("connecting from", detail::socket_address_text(w.fd, false), w.fd);
    }
    case WatchLabel::Datagram: return with_address("udp", detail::socket_address_text(w.fd, false), w.fd);
    case WatchLabel::Waker: return with_address("waker", {}, w.fd);
    case WatchLabel::Signals: return with_address("signal pipe", {}, w.fd);
    }
    return "fd " + std::to_string(w.fd);
}

void EventLoop::trace_woke(int timeout, const char* why, TimePoint before_wait) {
    if (timeout < 0) {
        std::fprintf(trace_, "[reactor] iteration %llu: wait (%.*s), no timeout: %s\n",
                     static_cast<unsigned long long>(iteration_), static_cast<int>(backend().size()),
                     backend().data(), why);
    } else {
        std::fprintf(trace_, "[reactor] iteration %llu: wait (%.*s), timeout %d ms: %s\n",
                     static_cast<unsigned long long>(iteration_), static_cast<int>(backend().size()),
                     backend().data(), timeout, why);
    }
    // Why the wait ended: the kinds of fd that came back ready, and whether
    // a timer is due now.
    std::size_t fds = 0;
    bool posted = false;
    bool signal = false;
    for (const PollEvent& ev : ready_) {
        const auto index = static_cast<std::uint32_t>(ev.token & 0xffffffffu);
        if (index >= watcher_slots_) continue;
        const Watcher& w = slot(index);
        if (!w.live || w.generation != static_cast<std::uint32_t>(ev.token >> 32)) continue;
        if (w.label == WatchLabel::Waker) {
            posted = true;
        } else if (w.label == WatchLabel::Signals) {
            signal = true;
        } else {
            ++fds;
        }
    }
    const auto next = timers_->next_deadline();
    const bool timer_due = next && *next <= now_;
    std::string reasons;
    auto add = [&](const std::string& r) { reasons += (reasons.empty() ? "" : ", ") + r; };
    if (fds != 0) add(std::to_string(fds) + (fds == 1 ? " ready fd" : " ready fds"));
    if (posted) add("posted work (the waker)");
    if (signal) add("a signal");
    if (timer_due) add("a timer due");
    if (reasons.empty()) add(timeout < 0 ? "an interrupted wait (EINTR)" : "the timeout, nothing ready");
    std::fprintf(trace_, "[reactor]   woke after %.3f ms: %s\n", detail::to_ms(now_ - before_wait),
                 reasons.c_str());
}

void EventLoop::trace_dispatch(Watcher& w, std::uint32_t index, Events events) {
    // Labelled before the call: the callback may close the fd.
    std::fprintf(trace_, "[reactor]   %s: %s\n", trace_label(w, index).c_str(), to_string_events(events).c_str());
    const auto start = Clock::now();
    w.cb(events);
    std::fprintf(trace_, "[reactor]     callback took %.3f ms\n", detail::to_ms(Clock::now() - start));
}

void EventLoop::trace_watch(const Watcher& w, std::uint32_t index, bool added) {
    const std::string label = trace_label(w, index);
    if (w.label == WatchLabel::Connection) {
        std::fprintf(trace_, "[reactor]   %s %s\n", added ? "+ open" : "- close", label.c_str());
    } else {
        std::fprintf(trace_, "[reactor]   %s %s\n", added ? "+ watch" : "- unwatch", label.c_str());
    }
}

}  // namespace reactor
