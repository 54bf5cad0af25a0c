// src/net/socket.cpp -- socket creation, options and non-blocking I/O.
#include <reactor/socket.hpp>

#include "net/socket_ops.hpp"
#include "base/platform.hpp"
#include "base/syscall.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <utility>

// Atomic non-blocking/close-on-exec flags at creation (SOCK_NONBLOCK,
// SOCK_CLOEXEC) and accept4() exist on Linux and the BSDs but not on macOS
// (base/platform.hpp). With them no other thread can fork/exec between
// socket() and fcntl() and leak the fd into a child; without them two
// fcntl() calls follow at once.

namespace reactor {
namespace {

using detail::last_error;
using detail::retry_eintr;

#if !REACTOR_HAVE_SOCK_FLAGS || !REACTOR_HAVE_ACCEPT4
std::error_code make_nonblocking_cloexec(int fd) noexcept {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return last_error();
    if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return last_error();
    return {};
}
#endif

std::error_code set_int_option(int fd, int level, int name, int value) noexcept {
    if (::setsockopt(fd, level, name, &value, sizeof value) != 0) return last_error();
    return {};
}

}  // namespace

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.release();
    }
    return *this;
}

int Socket::release() noexcept { return std::exchange(fd_, -1); }

void Socket::close() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Socket Socket::create(int family, int type, std::error_code& ec) noexcept {
#if REACTOR_HAVE_SOCK_FLAGS
    Socket s(REACTOR_SYS(socket)(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s) {
        ec = last_error();
        return {};
    }
#else
    Socket s(REACTOR_SYS(socket)(family, type, 0));
    if (!s) {
        ec = last_error();
        return {};
    }
    if ((ec = make_nonblocking_cloexec(s.fd()))) return {};
#endif
    ec = s.set_no_sigpipe();
    if (ec) return {};
    return s;
}

Socket Socket::create(int family, int type) {
    std::error_code ec;
    Socket s = create(family, type, ec);
    if (ec) detail::throw_error(ec, "reactor: socket");
    return s;
}

std::error_code Socket::bind(const SocketAddress& address) noexcept {
    if (::bind(fd_, address.native(), address.length()) != 0) return last_error();
    return {};
}

std::error_code Socket::listen(int backlog) noexcept {
    if (::listen(fd_, backlog) != 0) return last_error();
    return {};
}

std::error_code Socket::connect(const SocketAddress& address) noexcept {
    // An interrupted connect() keeps going in the background (POSIX): calling
    // it again would fail with EALREADY, so EINTR is reported as "in progress".
    if (REACTOR_SYS(connect)(fd_, address.native(), address.length()) == 0) return {};
    if (errno == EINTR || errno == EINPROGRESS) {
        return std::make_error_code(std::errc::operation_in_progress);
    }
    return last_error();
}

Socket Socket::accept(std::error_code& ec, SocketAddress* peer) noexcept {
    SocketAddress scratch;
    sockaddr* addr = peer != nullptr ? peer->native_mut() : nullptr;
    for (;;) {
        socklen_t length = SocketAddress::capacity();
        socklen_t* plen = peer != nullptr ? &length : nullptr;
#if REACTOR_HAVE_ACCEPT4
        const int fd = REACTOR_SYS(accept4)(fd_, addr, plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
        const int fd = REACTOR_SYS(accept)(fd_, addr, plen);
#endif
        if (fd < 0) {
            // The peer reset the connection while it waited in the backlog
            // (ECONNABORTED; Linux may also pass on EPROTO and network
            // errors, accept(2) "Error handling"): that one is gone, try the next.
            if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
            ec = last_error();
            return {};
        }
        Socket s(fd);
        if (peer != nullptr) peer->set_length(length);
#if !REACTOR_HAVE_ACCEPT4
        if ((ec = make_nonblocking_cloexec(fd))) return {};
#endif
        // macOS: an accepted socket does not reliably inherit SO_NOSIGPIPE.
        if ((ec = s.set_no_sigpipe())) return {};
        ec.clear();
        return s;
    }
}

std::error_code Socket::shutdown_write() noexcept {
    if (REACTOR_SYS(shutdown)(fd_, SHUT_WR) != 0) return last_error();
    return {};
}

std::error_code Socket::set_reuse_address(bool on) noexcept {
    return set_int_option(fd_, SOL_SOCKET, SO_REUSEADDR, on ? 1 : 0);
}

std::error_code Socket::set_reuse_port(bool on) noexcept {
#ifdef SO_REUSEPORT
    return set_int_option(fd_, SOL_SOCKET, SO_REUSEPORT, on ? 1 : 0);
#else
    (void)on;
    return std::make_error_code(std::errc::operation_not_supported);
#endif
}

std::error_code Socket::set_tcp_nodelay(bool on) noexcept {
    return set_int_option(fd_, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
}

std::error_code Socket::set_keep_alive(bool on) noexcept {
    return set_int_option(fd_, SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0);
}

std::error_code Socket::set_send_buffer_size(int bytes) noexcept {
    return set_int_option(fd_, SOL_SOCKET, SO_SNDBUF, bytes);
}

std::error_code Socket::set_receive_buffer_size(int bytes) noexcept {
    return set_int_option(fd_, SOL_SOCKET, SO_RCVBUF, bytes);
}

std::error_code Socket::set_no_sigpipe() noexcept {
#ifdef SO_NOSIGPIPE
    return set_int_option(fd_, SOL_SOCKET, SO_NOSIGPIPE, 1);
#else
    return {};
#endif
}

std::error_code Socket::set_linger_zero() noexcept {
    linger lg{};
    lg.l_onoff = 1;
    lg.l_linger = 0;
    if (::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0) return last_error();
    return {};
}

std::error_code Socket::take_error() const noexcept {
    int err = 0;
    socklen_t length = sizeof err;
    if (REACTOR_SYS(getsockopt)(fd_, SOL_SOCKET, SO_ERROR, &err, &length) != 0) return last_error();
    return err == 0 ? std::error_code{} : std::error_code(err, std::system_category());
}

SocketAddress Socket::local_address(std::error_code& ec) const noexcept {
    SocketAddress out;
    socklen_t length = SocketAddress::capacity();
    if (::getsockname(fd_, out.native_mut(), &length) != 0) {
        ec = last_error();
        return SocketAddress();
    }
    out.set_length(length);
    ec.clear();
    return out;
}

SocketAddress Socket::local_address() const noexcept {
    std::error_code ec;
    return local_address(ec);
}

SocketAddress Socket::peer_address(std::error_code& ec) const noexcept {
    SocketAddress out;
    socklen_t length = SocketAddress::capacity();
    if (::getpeername(fd_, out.native_mut(), &length) != 0) {
        ec = last_error();
        return SocketAddress();
    }
    out.set_length(length);
    ec.clear();
    return out;
}

SocketAddress Socket::peer_address() const noexcept {
    std::error_code ec;
    return peer_address(ec);
}

ssize_t Socket::read(void* data, std::size_t size, std::error_code& ec) noexcept {
    return retry_eintr(ec, [&] { return REACTOR_SYS(read)(fd_, data, size); });
}

ssize_t Socket::write(const void* data, std::size_t size, std::error_code& ec) noexcept {
    return detail::send_some(fd_, data, size, ec);
}

}  // namespace reactor
