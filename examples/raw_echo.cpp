// examples/raw_echo.cpp -- an echo server written on the bare loop.
//
// The tutorial's middle step (docs/tutorial.md): only EventLoop::watch and
// plain POSIX calls, no TcpServer, so every part a reactor server needs is
// in sight: a non-blocking listening socket, accept until EAGAIN, a watcher
// per connection, bounded reads, queued output with Writable interest
// turned on while something waits and off once it drained. echo_server.cpp
// is the same server on the library's TCP layer, which does all of this.
//
// Usage: raw_echo [--port N]   (default 7000; 0 picks a free port)
#include <reactor/reactor.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

namespace {

struct Client {
    int fd;
    reactor::WatcherId watcher;
    std::string pending;  // bytes read but not yet written back
    bool peer_done = false;  // the peer half-closed: flush, then close
};

// [listen]
// Plain POSIX, so it runs on Linux, the BSDs and macOS alike: the flags are
// set right after the fd is born. (The library's Socket does it atomically
// with SOCK_NONBLOCK and accept4() where the system has them.)
void make_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);  // not inherited by a child that execs
}

int listen_on(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    make_nonblocking(fd);
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::perror("raw_echo: bind/listen");
        std::exit(1);
    }
    return fd;
}
// [/listen]

}  // namespace

int main(int argc, char** argv) {
    std::uint16_t port = 7000;
    if (argc == 3 && std::strcmp(argv[1], "--port") == 0) port = static_cast<std::uint16_t>(std::atoi(argv[2]));

    reactor::EventLoop loop;
    const int listener = listen_on(port);
    std::unordered_map<int, std::unique_ptr<Client>> clients;

    // [connection]
    auto close_client = [&](int fd) {
        loop.unwatch(clients[fd]->watcher);  // first unwatch, then close
        ::close(fd);
        clients.erase(fd);
    };

    auto on_client = [&](int fd, reactor::Events events) {
        Client& c = *clients[fd];
        if (!c.peer_done && (events & (reactor::Readable | reactor::Hangup | reactor::Error))) {
            char buf[16384];
            // One read per wake-up: a fast peer cannot starve the others.
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno != EAGAIN && errno != EINTR) return close_client(fd);  // reset
            if (n == 0) c.peer_done = true;  // EOF: the peer will send nothing more
            if (n > 0) c.pending.append(buf, static_cast<std::size_t>(n));
        }
        if (!c.pending.empty()) {
            // Flags 0: the loop ignores SIGPIPE, so a vanished peer is EPIPE.
            const ssize_t n = ::send(fd, c.pending.data(), c.pending.size(), 0);
            if (n < 0 && errno != EAGAIN && errno != EINTR) return close_client(fd);
            if (n > 0) c.pending.erase(0, static_cast<std::size_t>(n));
        }
        if (c.peer_done && c.pending.empty()) return close_client(fd);  // all echoed
        // Ask for Writable only while output waits: a socket is almost always
        // writable, so level-triggered Writable interest would wake us forever.
        // After EOF, stop asking for Readable: EOF stays readable forever.
        reactor::Events want = c.peer_done ? reactor::NoEvents : reactor::Readable;
        if (!c.pending.empty()) want |= reactor::Writable;
        loop.set_interest(c.watcher, want);
    };
    // [/connection]

    // [accept]
    const reactor::WatcherId acceptor = loop.watch(listener, reactor::Readable, [&](reactor::Events) {
        for (int i = 0; i < 64; ++i) {  // accept until EAGAIN, at most 64 per wake-up
            const int fd = ::accept(listener, nullptr, nullptr);
            if (fd < 0) return;  // EAGAIN: no one else waiting (EMFILE: see TcpServer)
            make_nonblocking(fd);
            auto c = std::make_unique<Client>(Client{fd, {}, {}});
            c->watcher = loop.watch(fd, reactor::Readable, [&on_client, fd](reactor::Events ev) { on_client(fd, ev); });
            clients[fd] = std::move(c);
        }
    });
    // [/accept]

    loop.on_signal(SIGINT, [&](int) { loop.stop(); });
    loop.on_signal(SIGTERM, [&](int) { loop.stop(); });

    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    loop.run();

    while (!clients.empty()) close_client(clients.begin()->first);
    loop.unwatch(acceptor);
    ::close(listener);
    return 0;
}
