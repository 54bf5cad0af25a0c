// src/net/socket_ops.hpp -- the few socket system calls shared by Socket,
// Buffer and TcpConnection, with each platform difference handled once.
// Internal: not installed.
#pragma once

#include "base/platform.hpp"
#include "base/syscall.hpp"

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <system_error>

namespace reactor::detail {

// Linux and FreeBSD have MSG_NOSIGNAL; macOS gained it late and the BSDs
// rely on SO_NOSIGPIPE (set on every socket by Socket::set_no_sigpipe()).
// Where the flag is missing, 0 keeps send() portable and SO_NOSIGPIPE plus
// the loop's SIG_IGN keep SIGPIPE away.
inline constexpr int kSendFlags = REACTOR_MSG_NOSIGNAL;  // MSG_NOSIGNAL or 0

/// The hot-path forms, for the per-message reads and writes: EINTR retried,
/// -1 with errno set on failure. No std::error_code is built on success
/// (constructing one costs a call into libstdc++ for the category).
inline ssize_t read_raw(int fd, void* data, std::size_t size) noexcept {
    ssize_t n;
    do {
        n = REACTOR_SYS(read)(fd, data, size);
    } while (n < 0 && errno == EINTR);
    return n;
}
inline ssize_t send_raw(int fd, const void* data, std::size_t size) noexcept {
    ssize_t n;
    do {
        n = REACTOR_SYS(send)(fd, data, size, kSendFlags);
    } while (n < 0 && errno == EINTR);
    return n;
}
/// After a failed read_raw/send_raw: would it merely have blocked?
inline bool errno_would_block() noexcept { return errno == EAGAIN || errno == EWOULDBLOCK; }

/// send() without SIGPIPE, EINTR retried. -1 with `ec` set on failure.
inline ssize_t send_some(int fd, const void* data, std::size_t size, std::error_code& ec) noexcept {
    return retry_eintr(ec, [&] { return REACTOR_SYS(send)(fd, data, size, kSendFlags); });
}

/// Vectored send without SIGPIPE: sendmsg() takes the flag, writev() does not.
inline ssize_t sendv(int fd, const iovec* iov, int count, std::error_code& ec) noexcept {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = static_cast<decltype(msg.msg_iovlen)>(count);
    return retry_eintr(ec, [&] { return REACTOR_SYS(sendmsg)(fd, &msg, kSendFlags); });
}

/// True if `ec` is the system error `errno_value`. Compares the value and
/// the category's address only: `ec == std::errc::...` goes through a
/// virtual call to the category, which is slower on the hot path (every
/// EAGAIN) and, under UBSan, needs a spare fd to check the vptr -- which an
/// out-of-fds server does not have.
inline bool is_errno(const std::error_code& ec, int errno_value) noexcept {
    return ec.value() == errno_value && &ec.category() == &std::system_category();
}

/// True for the errors a non-blocking fd reports when it would block.
inline bool would_block(const std::error_code& ec) noexcept {
    return is_errno(ec, EAGAIN) || is_errno(ec, EWOULDBLOCK);
}

}  // namespace reactor::detail
