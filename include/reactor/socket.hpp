// reactor/socket.hpp -- an owned socket fd: RAII, move-only, non-blocking.
//
// A Socket owns exactly one fd (or none: -1). Every socket it creates or
// accepts is non-blocking and close-on-exec from birth (SOCK_NONBLOCK |
// SOCK_CLOEXEC and accept4() where the system has them, fcntl() right after
// elsewhere), and on systems with SO_NOSIGPIPE (macOS, the BSDs) a write to
// a dead peer returns EPIPE instead of raising SIGPIPE.
//
// Ownership: the destructor closes the fd; release() hands it over; close()
// closes early. A moved-from Socket is empty. Since only one Socket can own
// an fd and both close() and the destructor reset it to -1, an fd is never
// closed twice through this class.
//
// Errors: creation throws std::system_error (the caller must handle a
// failed setup); the option setters and the I/O calls return
// std::error_code, because they fail for ordinary reasons (a closed peer,
// an option the platform lacks) the caller decides about.
//
// Thread safety: like an int fd; distinct Sockets may be used from any
// thread, one Socket by one thread at a time.
#pragma once

#include <reactor/socket_address.hpp>

#include <cstddef>
#include <sys/types.h>
#include <system_error>

namespace reactor {

class Socket {
public:
    /// An empty socket (fd -1).
    Socket() noexcept = default;
    /// Adopts `fd` (which should already be non-blocking); closes it on
    /// destruction.
    explicit Socket(int fd) noexcept : fd_(fd) {}
    ~Socket() { close(); }
    Socket(Socket&& other) noexcept : fd_(other.release()) {}
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    /// A new non-blocking, close-on-exec socket of `family` (AF_INET,
    /// AF_INET6, AF_UNIX) and `type` (SOCK_STREAM, SOCK_DGRAM). Throws
    /// std::system_error (EMFILE, EAFNOSUPPORT, ...).
    static Socket create(int family, int type);
    /// As above, reporting failure through `ec` (and returning an empty Socket).
    static Socket create(int family, int type, std::error_code& ec) noexcept;

    int fd() const noexcept { return fd_; }
    bool valid() const noexcept { return fd_ >= 0; }
    explicit operator bool() const noexcept { return valid(); }

    /// Gives up ownership: returns the fd and leaves this Socket empty.
    int release() noexcept;
    /// Closes the fd now (if any); the Socket becomes empty. Errors from
    /// close() are ignored: the fd is released whatever close() says (POSIX
    /// leaves its state unspecified, Linux always frees it, so a retry
    /// could close someone else's fd).
    void close() noexcept;

    // ---- setup ---------------------------------------------------------------

    std::error_code bind(const SocketAddress& address) noexcept;
    /// Starts listening; `backlog` is clamped by the kernel (somaxconn).
    std::error_code listen(int backlog = SOMAXCONN) noexcept;
    /// Starts a connect. A non-blocking connect that is under way returns
    /// errc::operation_in_progress: wait for Writable, then read the outcome
    /// with take_error().
    std::error_code connect(const SocketAddress& address) noexcept;
    /// Accepts one pending connection as a new non-blocking, close-on-exec
    /// Socket; on failure returns an empty Socket and sets `ec` (EAGAIN when
    /// none is pending; EMFILE/ENFILE when out of fds; ECONNABORTED is
    /// retried here, since it concerns a connection that is already gone).
    /// `peer`, if given, receives the peer's address.
    Socket accept(std::error_code& ec, SocketAddress* peer = nullptr) noexcept;
    /// Half-closes: no more writes from this side; the peer reads EOF.
    std::error_code shutdown_write() noexcept;

    // ---- options -------------------------------------------------------------

    std::error_code set_reuse_address(bool on) noexcept;
    /// SO_REUSEPORT where the system has it; errc::operation_not_supported
    /// where it does not.
    std::error_code set_reuse_port(bool on) noexcept;
    std::error_code set_tcp_nodelay(bool on) noexcept;
    std::error_code set_keep_alive(bool on) noexcept;
    std::error_code set_send_buffer_size(int bytes) noexcept;
    std::error_code set_receive_buffer_size(int bytes) noexcept;
    /// SO_NOSIGPIPE on macOS and the BSDs (which lack MSG_NOSIGNAL or do not
    /// apply it to every path); a successful no-op elsewhere, where the
    /// library passes MSG_NOSIGNAL on every send instead.
    std::error_code set_no_sigpipe() noexcept;
    /// Makes close() reset the connection (RST) instead of a graceful FIN
    /// (SO_LINGER with a zero timeout). For tests and for dropping abusers.
    std::error_code set_linger_zero() noexcept;

    // ---- state ---------------------------------------------------------------

    /// Reads and clears the pending socket error (SO_ERROR): how a
    /// non-blocking connect ended, or why the poller reported Error.
    std::error_code take_error() const noexcept;
    /// getsockname(); the unspecified address (and `ec` set) on failure.
    SocketAddress local_address(std::error_code& ec) const noexcept;
    SocketAddress local_address() const noexcept;
    /// getpeername(); the unspecified address (and `ec` set) on failure,
    /// e.g. ENOTCONN after a reset.
    SocketAddress peer_address(std::error_code& ec) const noexcept;
    SocketAddress peer_address() const noexcept;

    // ---- I/O (non-blocking; EINTR retried; EAGAIN reported in `ec`) -----------

    /// read(); returns bytes read, 0 at EOF, -1 with `ec` set on failure.
    ssize_t read(void* data, std::size_t size, std::error_code& ec) noexcept;
    /// send() with MSG_NOSIGNAL where it exists; returns bytes written
    /// (possibly fewer than asked), or -1 with `ec` set.
    ssize_t write(const void* data, std::size_t size, std::error_code& ec) noexcept;

private:
    int fd_ = -1;
};

}  // namespace reactor
