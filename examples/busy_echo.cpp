// examples/busy_echo.cpp -- non-blocking sockets without a poller: every
// client served on one thread, at the price of a CPU spinning at 100 %.
//
// What it teaches: O_NONBLOCK turns "wait until there is data" into "there
// is none now" (EAGAIN), so one thread can take turns among many clients.
// Asked without a poller, the only way to find out who has data is to try
// every socket, over and over: one pass calls accept() until EAGAIN and
// read() once per client, ready or not. With nothing to do it still spins,
// using a whole CPU; with 10,000 clients one pass makes 10,000 read() calls that
// almost all fail, and a client's echo waits for the pass to come round,
// so latency grows with the number of clients. Adding a sleep to each pass
// saves the CPU and adds the sleep to every echo. A poller (epoll, kqueue,
// poll) is the way out: the kernel tells us who is ready, and we sleep
// until someone is. bare_poller_echo.cpp is this program with one.
//
// Plain POSIX calls only (no library): builds on Linux, macOS and the BSDs.
//
//   build/examples/busy_echo [--port N]     (default 7000; 0 picks a free port)
//   build/examples/echo_client --port 7000 < some_file   (and watch `top`)
//
// It prints "listening on 127.0.0.1:PORT" once ready. Ctrl-C (SIGINT) or
// SIGTERM ends it with the signal's default action: the kernel closes every
// socket it held.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Client {
    int fd;
    std::string pending;     // read but not yet written back
    bool peer_done = false;  // the client sent EOF: flush, then close
};

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int listen_on(long port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        std::perror("busy_echo: socket");
        std::exit(1);
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::perror("busy_echo: bind/listen");
        std::exit(1);
    }
    set_nonblocking(fd);  // accept() says EAGAIN instead of waiting
    return fd;
}

void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// One turn for one client: read what is there (if anything), write back
// what the socket takes (if anything). Returns false when the client is
// finished and its socket closed.
bool take_turn(Client& c) {
    if (!c.peer_done) {
        char buf[16384];
        const ssize_t n = ::read(c.fd, buf, sizeof buf);
        if (n > 0) c.pending.append(buf, static_cast<std::size_t>(n));
        if (n == 0) c.peer_done = true;
        // EAGAIN: nothing yet -- by far the most common answer in this loop.
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ::close(c.fd);  // reset by the client
            return false;
        }
    }
    if (!c.pending.empty()) {
        const ssize_t n = ::write(c.fd, c.pending.data(), c.pending.size());
        if (n > 0) c.pending.erase(0, static_cast<std::size_t>(n));
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ::close(c.fd);
            return false;
        }
    }
    if (c.peer_done && c.pending.empty()) {
        ::close(c.fd);  // everything echoed
        return false;
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
    std::signal(SIGPIPE, SIG_IGN);  // a write to a departed client fails with EPIPE instead
    raise_fd_limit();

    const int listener = listen_on(port);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    std::vector<Client> clients;
    for (;;) {  // one pass: try everything, ready or not; never sleep
        // 1. Anyone new? Usually not (EAGAIN). At most 64 per pass, so a
        //    crowd arriving at once cannot starve the clients already here.
        for (int i = 0; i < 64; ++i) {
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) break;  // EAGAIN (or EMFILE: the client waits in the backlog)
            set_nonblocking(fd);  // Linux does not pass O_NONBLOCK on from the listener
            clients.push_back(Client{fd, {}, false});
        }
        // 2. A turn for every client, whether it sent anything or not.
        for (std::size_t i = 0; i < clients.size();) {
            if (take_turn(clients[i])) {
                ++i;
            } else {
                clients[i] = std::move(clients.back());  // order does not matter
                clients.pop_back();
            }
        }
    }
}
