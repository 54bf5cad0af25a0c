// tests/socket_test.cpp -- Socket: flags from birth, options, ownership.
#include "tcp_util.hpp"

#include <reactor/socket.hpp>

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

using namespace reactor;
using namespace reactor::test;

namespace {
bool is_nonblocking(int fd) { return (::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
bool is_cloexec(int fd) { return (::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }
bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }
int int_option(int fd, int level, int name) {
    int value = 0;
    socklen_t length = sizeof value;
    ::getsockopt(fd, level, name, &value, &length);
    return value;
}
}  // namespace

TEST_CASE("created sockets are non-blocking and close-on-exec") {
    Socket tcp = Socket::create(AF_INET, SOCK_STREAM);
    Socket udp = Socket::create(AF_INET6, SOCK_DGRAM);
    Socket local = Socket::create(AF_UNIX, SOCK_STREAM);
    for (const Socket* s : {&tcp, &udp, &local}) {
        REQUIRE(s->valid());
        CHECK(is_nonblocking(s->fd()));
        CHECK(is_cloexec(s->fd()));
    }
}

TEST_CASE("a bad family throws; the error_code overload reports it") {
    CHECK_THROWS_AS(Socket::create(-1, SOCK_STREAM), std::system_error);
    std::error_code ec;
    const Socket s = Socket::create(-1, SOCK_STREAM, ec);
    CHECK(ec);
    CHECK_FALSE(s.valid());
}

TEST_CASE("ownership: moves leave the source empty; close and release never double-close") {
    Socket a = Socket::create(AF_INET, SOCK_STREAM);
    const int fd = a.fd();
    Socket b = std::move(a);
    CHECK_FALSE(a.valid());
    CHECK(b.fd() == fd);
    b.close();
    CHECK_FALSE(b.valid());
    CHECK_FALSE(is_open(fd));
    b.close();  // a second close is a no-op, not a close of someone else's fd

    Socket c = Socket::create(AF_INET, SOCK_STREAM);
    const int raw = c.release();
    CHECK_FALSE(c.valid());
    CHECK(is_open(raw));
    ::close(raw);

    Socket d = Socket::create(AF_INET, SOCK_STREAM);
    const int first = d.fd();
    d = Socket::create(AF_INET, SOCK_STREAM);  // assignment closes the old fd
    CHECK(d.fd() != first);
    CHECK_FALSE(is_open(first));
}

TEST_CASE("options are set on the fd") {
    Socket s = Socket::create(AF_INET, SOCK_STREAM);
    CHECK_FALSE(s.set_reuse_address(true));
    CHECK(int_option(s.fd(), SOL_SOCKET, SO_REUSEADDR) != 0);
    CHECK_FALSE(s.set_tcp_nodelay(true));
    CHECK(int_option(s.fd(), IPPROTO_TCP, TCP_NODELAY) != 0);
    CHECK_FALSE(s.set_keep_alive(true));
    CHECK(int_option(s.fd(), SOL_SOCKET, SO_KEEPALIVE) != 0);
    CHECK_FALSE(s.set_send_buffer_size(64 * 1024));
    CHECK(int_option(s.fd(), SOL_SOCKET, SO_SNDBUF) >= 64 * 1024);
    CHECK_FALSE(s.set_receive_buffer_size(64 * 1024));
    CHECK_FALSE(s.set_no_sigpipe());
    CHECK_FALSE(s.set_linger_zero());
#ifdef SO_REUSEPORT
    CHECK_FALSE(s.set_reuse_port(true));
#else
    CHECK(s.set_reuse_port(true) == std::errc::operation_not_supported);
#endif
    // An option on a non-socket fails with an error code, not a throw.
    Socket bogus(::dup(0));
    CHECK(bogus.set_tcp_nodelay(true));
}

TEST_CASE("bind, listen, connect, accept, addresses and take_error") {
    Socket listener = Socket::create(AF_INET, SOCK_STREAM);
    REQUIRE_FALSE(listener.bind(SocketAddress::ipv4_loopback(0)));
    REQUIRE_FALSE(listener.listen());
    const SocketAddress where = listener.local_address();
    CHECK(where.port() != 0);

    std::error_code ec;
    Socket none = listener.accept(ec);
    CHECK_FALSE(none.valid());
    CHECK(ec == std::errc::resource_unavailable_try_again);

    Socket client = Socket::create(AF_INET, SOCK_STREAM);
    const std::error_code connect_ec = client.connect(where);
    CHECK((!connect_ec || connect_ec == std::errc::operation_in_progress));

    SocketAddress peer;
    Socket accepted;
    for (int i = 0; i < 1000 && !accepted; ++i) {
        accepted = listener.accept(ec, &peer);
        if (!accepted) ::usleep(1000);
    }
    REQUIRE(accepted.valid());
    CHECK(is_nonblocking(accepted.fd()));
    CHECK(is_cloexec(accepted.fd()));
    CHECK(peer == client.local_address());
    CHECK(accepted.peer_address() == client.local_address());
    CHECK_FALSE(client.take_error());

    CHECK(client.write("ping", 4, ec) == 4);
    char buf[8];
    ssize_t n = -1;
    for (int i = 0; i < 1000 && n < 0; ++i) {
        n = accepted.read(buf, sizeof buf, ec);
        if (n < 0) ::usleep(1000);
    }
    CHECK(n == 4);

    CHECK_FALSE(client.shutdown_write());
    n = -1;
    for (int i = 0; i < 1000 && n < 0; ++i) {
        n = accepted.read(buf, sizeof buf, ec);
        if (n < 0) ::usleep(1000);
    }
    CHECK(n == 0);  // EOF after the half-close

    // Writing to a peer that has gone gives EPIPE or ECONNRESET, never SIGPIPE.
    accepted.close();
    ::usleep(10000);
    ssize_t w = 0;
    for (int i = 0; i < 10 && w >= 0; ++i) w = client.write("x", 1, ec);
    CHECK(w == -1);
    CHECK((ec == std::errc::broken_pipe || ec == std::errc::connection_reset));
}

TEST_CASE("a closed socket has no addresses") {
    Socket s = Socket::create(AF_INET, SOCK_STREAM);
    std::error_code ec;
    CHECK(s.peer_address(ec).is_unspecified());
    CHECK(ec == std::errc::not_connected);
    s.close();
    CHECK(s.local_address(ec).is_unspecified());
    CHECK(ec);
}
