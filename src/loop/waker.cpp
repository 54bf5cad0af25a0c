// src/loop/waker.cpp
#include "loop/waker.hpp"

#include "base/platform.hpp"
#include "base/syscall.hpp"

#include <cstdint>
#include <fcntl.h>
#include <unistd.h>

#if REACTOR_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

namespace reactor::detail {

Waker::Waker() {
#if REACTOR_HAVE_EVENTFD
    read_fd_ = write_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (read_fd_ < 0) throw_error(last_error(), "reactor: eventfd");
#else
    int fds[2];
    if (::pipe(fds) != 0) throw_error(last_error(), "reactor: pipe");
    for (int fd : fds) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    read_fd_ = fds[0];
    write_fd_ = fds[1];
#endif
}

Waker::~Waker() {
    if (write_fd_ != read_fd_) ::close(write_fd_);
    ::close(read_fd_);
}

void Waker::wake() noexcept {
#if REACTOR_HAVE_EVENTFD
    const std::uint64_t one = 1;
    // EAGAIN means the counter is saturated: the loop is awake already.
    while (::write(write_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
#else
    const char byte = 1;
    while (::write(write_fd_, &byte, 1) < 0 && errno == EINTR) {
    }
#endif
}

void Waker::drain() noexcept {
    char buf[64];
    while (::read(read_fd_, buf, sizeof buf) > 0) {
#if REACTOR_HAVE_EVENTFD
        break;  // one read resets an eventfd counter
#endif
    }
}

}  // namespace reactor::detail
