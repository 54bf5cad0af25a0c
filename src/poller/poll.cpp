// src/poller/poll.cpp -- the portable backend, over poll(2).
//
// The interest set lives here, in a dense array of pollfd handed to the
// kernel whole on every wait: O(registered fds) per wait, which is exactly
// the cost epoll and kqueue were invented to remove (docs/backends.md sets
// the three side by side). It is the fallback for any POSIX system and the easiest backend to
// read, so it is also the teaching baseline.
//
// Layout: pollfds_[i] and tokens_[i] describe one fd; index_[fd] is its
// position (or -1). Removal moves the last entry into the hole, so both
// add and remove are O(1).
//
// Quirks handled here:
//  - POLLHUP, POLLERR and POLLNVAL are reported whatever was asked (poll(2));
//    POLLNVAL (the fd was closed while registered) becomes Error.
//  - On Linux, POLLHUP after a peer's close comes with POLLIN; elsewhere it
//    may come alone (macOS): readers must treat Hangup as "read until EOF".
//  - poll(2) reports a regular file (or directory) always ready, kqueue only
//    while unread bytes remain, epoll refuses it: every backend refuses it
//    with EPERM, so a program finds out on every system alike that it must
//    read such an fd directly (docs/backends.md).
#include "poller/backends.hpp"
#include "base/syscall.hpp"

#include <poll.h>
#include <sys/stat.h>

namespace reactor::detail {
namespace {

short to_poll(Events interest) {
    short e = 0;
    if (interest & Readable) e |= POLLIN;
    if (interest & Writable) e |= POLLOUT;
    return e;
}

Events from_poll(short e) {
    Events out = NoEvents;
    if (e & (POLLIN | POLLPRI)) out |= Readable;
    if (e & POLLOUT) out |= Writable;
    if (e & POLLHUP) out |= Hangup;
    if (e & (POLLERR | POLLNVAL)) out |= Error;
    return out;
}

class PollPoller final : public Poller {
public:
    std::string_view name() const noexcept override { return "poll"; }

    std::error_code add(int fd, Events interest, std::uint64_t token) override {
        if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
        if (static_cast<std::size_t>(fd) >= index_.size()) index_.resize(static_cast<std::size_t>(fd) + 1, -1);
        if (index_[static_cast<std::size_t>(fd)] >= 0) return std::make_error_code(std::errc::file_exists);
        // A closed fd is still accepted (poll learns of it as POLLNVAL).
        struct stat st {};
        if (::fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
            return std::make_error_code(std::errc::operation_not_permitted);
        }
        index_[static_cast<std::size_t>(fd)] = static_cast<int>(pollfds_.size());
        pollfds_.push_back(pollfd{fd, to_poll(interest), 0});
        tokens_.push_back(token);
        return {};
    }

    std::error_code modify(int fd, Events interest, std::uint64_t token) override {
        const int i = slot(fd);
        if (i < 0) return std::make_error_code(std::errc::no_such_file_or_directory);
        pollfds_[static_cast<std::size_t>(i)].events = to_poll(interest);
        tokens_[static_cast<std::size_t>(i)] = token;
        return {};
    }

    std::error_code remove(int fd) override {
        const int i = slot(fd);
        if (i < 0) return std::make_error_code(std::errc::no_such_file_or_directory);
        const auto last = pollfds_.size() - 1;
        if (static_cast<std::size_t>(i) != last) {
            pollfds_[static_cast<std::size_t>(i)] = pollfds_[last];
            tokens_[static_cast<std::size_t>(i)] = tokens_[last];
            index_[static_cast<std::size_t>(pollfds_[static_cast<std::size_t>(i)].fd)] = i;
        }
        pollfds_.pop_back();
        tokens_.pop_back();
        index_[static_cast<std::size_t>(fd)] = -1;
        return {};
    }

    std::error_code wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        const int n = REACTOR_SYS(poll)(pollfds_.data(), static_cast<nfds_t>(pollfds_.size()), timeout_ms);
        if (n < 0) return errno == EINTR ? std::error_code{} : last_error();
        out.reserve(static_cast<std::size_t>(n));
        for (std::size_t i = 0; i < pollfds_.size() && out.size() < static_cast<std::size_t>(n); ++i) {
            if (pollfds_[i].revents != 0) out.push_back(PollEvent{tokens_[i], from_poll(pollfds_[i].revents)});
        }
        return {};
    }

private:
    int slot(int fd) const {
        if (fd < 0 || static_cast<std::size_t>(fd) >= index_.size()) return -1;
        return index_[static_cast<std::size_t>(fd)];
    }

    std::vector<pollfd> pollfds_;
    std::vector<std::uint64_t> tokens_;
    std::vector<int> index_;
};

}  // namespace

std::unique_ptr<Poller> make_poll_poller() { return std::make_unique<PollPoller>(); }

}  // namespace reactor::detail
