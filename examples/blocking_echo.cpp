// examples/blocking_echo.cpp -- the first way anyone writes a server, and
// why it does not serve a second client.
//
// What it teaches: with blocking sockets, accept() waits for a client and
// read() waits for that client's bytes. While the server sits in read() for
// client A, it is not in accept(): client B's connect() still succeeds (the
// kernel completes the handshake and parks the connection in the listen
// backlog), B's bytes wait in B's socket buffer, and nobody answers B until
// A leaves. One slow or idle client stops the whole service.
//
// It uses plain POSIX calls only (no library), so it builds on Linux, macOS
// and the BSDs alike.
//
//   build/examples/blocking_echo [--port N]     (default 7000; 0 picks a free port)
//   build/examples/echo_client --port 7000 < some_file      in another terminal
//
// It prints "listening on 127.0.0.1:PORT" once ready and "client N
// connected" / "client N left" as clients come and go. Ctrl-C (SIGINT) or
// SIGTERM ends it with the signal's default action: the kernel closes every
// socket it held. The next steps: thread_echo.cpp (a thread per client),
// busy_echo.cpp (non-blocking, no poller), bare_poller_echo.cpp (epoll or
// kqueue), raw_echo.cpp and echo_server.cpp (the same on this library).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// A listening TCP socket on 127.0.0.1:port; exits with a message if the
// port is taken.
int listen_on(long port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        std::perror("blocking_echo: socket");
        std::exit(1);
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::perror("blocking_echo: bind/listen");
        std::exit(1);
    }
    return fd;
}

// Writes all of data, waiting as long as it takes. A client that sends but
// never reads fills its socket buffer, and then this call never returns:
// a second way for one client to stop the server.
bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;  // the client reset the connection
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    long port = 7000;
    if (argc == 3 && std::strcmp(argv[1], "--port") == 0) port = std::strtol(argv[2], nullptr, 10);
    if (!(argc == 1 || argc == 3) || port < 0 || port > 65535) {
        std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
        return 2;
    }
    // A client that leaves while we write would raise SIGPIPE and kill the
    // server; ignored, write() fails with EPIPE instead (portable, unlike
    // Linux's MSG_NOSIGNAL).
    std::signal(SIGPIPE, SIG_IGN);

    const int listener = listen_on(port);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    for (unsigned long client = 1;; ++client) {
        // 1. Wait for a client. Everyone else who connects meanwhile waits
        //    in the kernel's backlog.
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) {
            std::perror("blocking_echo: accept");
            continue;
        }
        std::printf("client %lu connected\n", client);
        std::fflush(stdout);

        // 2. Serve it until it leaves: read() waits for its next bytes, so
        //    this loop ends only when this client closes (read returns 0)
        //    or fails.
        char buf[16384];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (!write_all(fd, buf, static_cast<std::size_t>(n))) break;
        }

        // 3. Only now does the next client get its turn.
        ::close(fd);
        std::printf("client %lu left\n", client);
        std::fflush(stdout);
    }
}
