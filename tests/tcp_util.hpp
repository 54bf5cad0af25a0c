// tests/tcp_util.hpp -- plain-socket peers for the TCP suites: a client
// that is NOT built on the library under test, driven while the loop runs.
#pragma once

#include "test_util.hpp"
#include "base/platform.hpp"  // REACTOR_MSG_NOSIGNAL

#include <reactor/event_loop.hpp>
#include <reactor/socket_address.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ostream>  // doctest prints std::error_code through it
#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

namespace reactor::test {

/// A blocking connect() to `address` (loopback completes without the
/// server accepting, up to its backlog), then the socket is made
/// non-blocking.
inline Fd tcp_connect(const SocketAddress& address) {
    Fd fd = make_stream_socket(address.family(), /*nonblocking=*/false);
    if (::connect(fd.get(), address.native(), address.length()) != 0) {
        throw std::system_error(errno, std::system_category(), "connect");
    }
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    return fd;
}

/// Appends what is readable now to `out`. Returns 1 if the fd is still
/// open, 0 at EOF, -1 on an error (errno kept).
inline int read_into(int fd, std::string& out) {
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0) {
            out.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : -1;
    }
}

/// Writes what the socket takes now from data[offset..]; advances offset.
inline void write_some(int fd, const std::string& data, std::size_t& offset) {
    while (offset < data.size()) {
        const ssize_t n = ::send(fd, data.data() + offset, data.size() - offset, REACTOR_MSG_NOSIGNAL);
        if (n <= 0) return;
        offset += static_cast<std::size_t>(n);
    }
}

/// Runs the loop, reading `fd` into `out`, until `out` holds `size` bytes.
inline bool read_exactly(EventLoop& loop, int fd, std::string& out, std::size_t size) {
    return run_until(loop, [&] {
        read_into(fd, out);
        return out.size() >= size;
    });
}

/// Runs the loop, reading `fd` into `out`, until the peer's EOF.
inline bool read_to_eof(EventLoop& loop, int fd, std::string& out) {
    return run_until(loop, [&] { return read_into(fd, out) <= 0; });
}

/// Blocking-with-deadline read of one line (no loop: for child processes).
inline std::string read_line_blocking(int fd, std::chrono::milliseconds limit = kDeadline) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        char c;
        const ssize_t n = ::read(fd, &c, 1);
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            break;
        }
        if (c == '\n') return line;
        line += c;
    }
    return line;
}

/// Blocking-with-deadline read (no loop: for servers in a child process)
/// until the peer closes: appends what arrives to `out`; returns 0 at EOF,
/// -1 on an error such as a reset (both: closed by the peer), 1 if the
/// deadline passed with the connection still open.
inline int read_until_closed_blocking(int fd, std::string& out, std::chrono::milliseconds limit = kDeadline) {
    int state = 1;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (state > 0 && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        state = read_into(fd, out);
    }
    return state;
}

/// A 'size'-byte pattern that makes misplaced bytes visible.
inline std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return s;
}

}  // namespace reactor::test
