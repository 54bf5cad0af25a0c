// src/poller/epoll.cpp -- the Linux backend.
//
// The kernel keeps the interest set; we translate bits at the edge and copy
// the token into epoll_event.data.u64, so no lookup is needed on wake-up.
// Level-triggered (no EPOLLET): an fd that is not drained is reported again.
//
// Quirks handled here:
//  - EPOLLHUP and EPOLLERR are always reported by the kernel, whatever the
//    interest (epoll_ctl(2)); we pass them on as Hangup and Error.
//  - EPOLLRDHUP (peer shut down its writing side) is asked for with Readable
//    and reported as Readable: the reader then sees EOF from read(), which is
//    how every backend reports a half-close.
//  - Closing an fd removes it from the epoll set only when no duplicate of
//    the open file description remains (epoll(7), Q6), so the loop removes
//    before closing; removing an fd that is already closed (EBADF) is treated
//    as done, since there is nothing left to forget.
#include "poller/backends.hpp"
#include "base/syscall.hpp"

// epoll is Linux's: elsewhere this file compiles to nothing, and
// poller.cpp offers kqueue and poll instead (backends.hpp decides).
#if REACTOR_HAVE_EPOLL

#include <sys/epoll.h>
#include <unistd.h>

namespace reactor::detail {
namespace {

std::uint32_t to_epoll(Events interest) {
    std::uint32_t e = 0;
    if (interest & Readable) e |= EPOLLIN | EPOLLRDHUP;
    if (interest & Writable) e |= EPOLLOUT;
    return e;
}

Events from_epoll(std::uint32_t e) {
    Events out = NoEvents;
    if (e & (EPOLLIN | EPOLLPRI | EPOLLRDHUP)) out |= Readable;
    if (e & EPOLLOUT) out |= Writable;
    if (e & EPOLLHUP) out |= Hangup;
    if (e & EPOLLERR) out |= Error;
    return out;
}

class EpollPoller final : public Poller {
public:
    EpollPoller() : epfd_(::epoll_create1(EPOLL_CLOEXEC)), events_(64) {
        if (epfd_ < 0) throw_error(last_error(), "reactor: epoll_create1");
    }
    ~EpollPoller() override { ::close(epfd_); }

    std::string_view name() const noexcept override { return "epoll"; }

    std::error_code add(int fd, Events interest, std::uint64_t token) override {
        return control(EPOLL_CTL_ADD, fd, interest, token);
    }
    std::error_code modify(int fd, Events interest, std::uint64_t token) override {
        return control(EPOLL_CTL_MOD, fd, interest, token);
    }
    std::error_code remove(int fd) override {
        epoll_event ev{};  // ignored for DEL, but kernels before 2.6.9 wanted it non-null
        if (REACTOR_SYS(epoll_ctl)(epfd_, EPOLL_CTL_DEL, fd, &ev) == 0 || errno == EBADF) return {};
        return last_error();
    }

    std::error_code wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        const int n = REACTOR_SYS(epoll_wait)(epfd_, events_.data(), static_cast<int>(events_.size()), timeout_ms);
        if (n < 0) return errno == EINTR ? std::error_code{} : last_error();
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            out.push_back(PollEvent{events_[i].data.u64, from_epoll(events_[i].events)});
        }
        // A full batch hints at more ready fds: take more next time.
        if (static_cast<std::size_t>(n) == events_.size() && events_.size() < 4096) {
            events_.resize(events_.size() * 2);
        }
        return {};
    }

private:
    std::error_code control(int op, int fd, Events interest, std::uint64_t token) {
        epoll_event ev{};
        ev.events = to_epoll(interest);
        ev.data.u64 = token;
        if (REACTOR_SYS(epoll_ctl)(epfd_, op, fd, &ev) == 0) return {};
        return last_error();
    }

    int epfd_;
    std::vector<epoll_event> events_;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() { return std::make_unique<EpollPoller>(); }

}  // namespace reactor::detail

#endif  // REACTOR_HAVE_EPOLL
