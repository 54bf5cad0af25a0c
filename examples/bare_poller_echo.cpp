// examples/bare_poller_echo.cpp -- an echo server on the kernel's poller
// itself: epoll on Linux, kqueue on macOS and the BSDs. No library.
//
// What it teaches: busy_echo.cpp, with the one change that makes it an
// event loop. Instead of trying every socket, we tell the kernel once which
// sockets we care about and for what ("readable", "writable"), then sleep
// in one call until at least one is ready, and touch only those. An idle
// server uses no CPU; a message costs the same with 10 or 10,000 clients.
//
// Everything platform-specific is in the four functions under "the
// poller" below; main() and the per-client code are the same on both.
// This is what the reactor library abstracts (src/poller/epoll.cpp,
// src/poller/kqueue.cpp, src/poller/poll.cpp), along with what this file
// leaves out: timers, callbacks, cross-thread wake-ups, signals, the
// EMFILE policy, backpressure. raw_echo.cpp is this server on the
// library's bare loop; echo_server.cpp is it on the library's TCP layer.
//
// Both pollers are used level-triggered (the default): a socket with
// unread bytes is reported again at every wait until it is drained, so
// reading once per wake-up loses nothing and no client starves the others.
//
//   build/examples/bare_poller_echo [--port N]   (default 7000; 0 picks a free port)
//   build/examples/echo_client --port 7000 < some_file
//
// It prints "listening on 127.0.0.1:PORT" once ready. Ctrl-C (SIGINT) or
// SIGTERM ends it with the signal's default action: the kernel closes every
// socket it held (and the poller with them).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

// REACTOR_KQUEUE_EMULATION: the test build on Linux compiles the kqueue
// half against tests/kqueue_emu/ (kqueue on top of epoll), so that
// `make test` runs both halves of this file on one machine.
#if defined(__linux__) && !defined(REACTOR_KQUEUE_EMULATION)
#define USE_EPOLL 1
#include <sys/epoll.h>
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || \
    defined(__DragonFly__) || defined(REACTOR_KQUEUE_EMULATION)
#define USE_KQUEUE 1
#include <sys/event.h>
#include <sys/types.h>
#else
#error "bare_poller_echo needs epoll (Linux) or kqueue (macOS, BSD); echo_server runs anywhere (poll)"
#endif

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

// ---- the poller: the only part that differs between systems ---------------
//
// poller_create()                     a new poller (an fd)
// poller_add(p, fd)                   watch fd for Readable
// poller_set(p, fd, read, write)      change what fd is watched for
// poller_wait(p, ready, max)          sleep until something is ready; fill
//                                     ready[] with {fd, readable, writable}
// Closing an fd removes it from either poller (as long as no duplicate of
// the fd stays open), so there is no poller_remove.

struct Ready {
    int fd;
    bool readable;  // also set for EOF, hangup and errors: read() will say which
    bool writable;
};

#if USE_EPOLL
// epoll keeps one registration per fd with a mask of wanted events, and
// reports each ready fd once per wait with the events that are ready.
int poller_create() {
    return ::epoll_create1(EPOLL_CLOEXEC);
}

void poller_ctl(int p, int op, int fd, bool read, bool write) {
    epoll_event ev{};
    ev.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
    ev.data.fd = fd;  // what the kernel hands back to us when fd is ready
    if (::epoll_ctl(p, op, fd, &ev) != 0) std::perror("bare_poller_echo: epoll_ctl");
}

void poller_add(int p, int fd) {
    poller_ctl(p, EPOLL_CTL_ADD, fd, true, false);
}

void poller_set(int p, int fd, bool read, bool write) {
    poller_ctl(p, EPOLL_CTL_MOD, fd, read, write);
}

int poller_wait(int p, Ready* ready, int max) {
    epoll_event events[256];
    const int n = ::epoll_wait(p, events, max < 256 ? max : 256, -1);  // -1: no timeout
    for (int i = 0; i < n; ++i) {
        const std::uint32_t e = events[i].events;
        // EPOLLHUP and EPOLLERR are reported even when not asked for.
        ready[i] = Ready{events[i].data.fd, (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0, (e & EPOLLOUT) != 0};
    }
    return n;  // -1 with errno EINTR if a signal arrived: the caller waits again
}
#else
// kqueue keeps one registration per (fd, filter): EVFILT_READ and
// EVFILT_WRITE are separate, each added once and then enabled or disabled,
// and each ready filter is a separate event: one fd can appear twice in
// one wait. Changes can be batched into the next kevent() call; here they
// are applied at once, to keep the two halves alike.
int poller_create() {
    const int kq = ::kqueue();
    if (kq >= 0) ::fcntl(kq, F_SETFD, FD_CLOEXEC);
    return kq;
}

// One change to one (fd, filter). Typed exactly: FreeBSD's EV_SET is a
// braced initializer, where an int would be a narrowing error.
void set_change(struct kevent& change, int fd, short filter, int flags) {
    EV_SET(&change, static_cast<uintptr_t>(fd), filter, static_cast<unsigned short>(flags), 0, 0, nullptr);
}

void poller_add(int p, int fd) {
    struct kevent changes[2];
    set_change(changes[0], fd, EVFILT_READ, EV_ADD);
    set_change(changes[1], fd, EVFILT_WRITE, EV_ADD | EV_DISABLE);  // off until needed
    if (::kevent(p, changes, 2, nullptr, 0, nullptr) != 0) std::perror("bare_poller_echo: kevent");
}

void poller_set(int p, int fd, bool read, bool write) {
    struct kevent changes[2];
    set_change(changes[0], fd, EVFILT_READ, read ? EV_ENABLE : EV_DISABLE);
    set_change(changes[1], fd, EVFILT_WRITE, write ? EV_ENABLE : EV_DISABLE);
    if (::kevent(p, changes, 2, nullptr, 0, nullptr) != 0) std::perror("bare_poller_echo: kevent");
}

int poller_wait(int p, Ready* ready, int max) {
    struct kevent events[256];
    const int n = ::kevent(p, nullptr, 0, events, max < 256 ? max : 256, nullptr);  // nullptr: no timeout
    for (int i = 0; i < n; ++i) {
        const int fd = static_cast<int>(events[i].ident);
        // EV_EOF comes on the read filter: read() then returns 0 (or the error).
        ready[i] = Ready{fd, events[i].filter == EVFILT_READ, events[i].filter == EVFILT_WRITE};
    }
    return n;
}
#endif

// ---- the server: the same on every system ---------------------------------

struct Client {
    std::string pending;     // read but not yet written back
    bool peer_done = false;  // the client sent EOF: flush, then close
    bool reading = true;     // what the poller watches this fd for now
    bool writing = false;
};

void set_nonblocking(int fd) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int listen_on(long port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        std::perror("bare_poller_echo: socket");
        std::exit(1);
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::perror("bare_poller_echo: bind/listen");
        std::exit(1);
    }
    set_nonblocking(fd);
    return fd;
}

void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

bool would_block(int err) {
    return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
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

    const int poller = poller_create();
    if (poller < 0) {
        std::perror("bare_poller_echo: creating the poller");
        return 1;
    }
    const int listener = listen_on(port);
    poller_add(poller, listener);
    std::unordered_map<int, Client> clients;

    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    Ready ready[256];
    for (;;) {
        // 1. Sleep until the kernel has news. No CPU is used while waiting.
        const int n = poller_wait(poller, ready, 256);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("bare_poller_echo: wait");
            return 1;
        }
        // 2. Handle each ready fd, and only those.
        for (int i = 0; i < n; ++i) {
            const int fd = ready[i].fd;
            if (fd == listener) {
                for (int k = 0; k < 64; ++k) {  // accept until EAGAIN, at most 64 per wake-up
                    const int c = ::accept(listener, nullptr, nullptr);
                    if (c < 0) break;  // EAGAIN (or EMFILE: the client waits in the backlog)
                    set_nonblocking(c);
                    clients[c] = Client{};
                    poller_add(poller, c);
                }
                continue;
            }
            // Closed earlier in this batch (kqueue can report an fd twice):
            // skip. If a new client reused the number, the calls below find
            // nothing to do (EAGAIN), which is harmless.
            auto it = clients.find(fd);
            if (it == clients.end()) continue;
            Client& c = it->second;

            bool failed = false;
            if (ready[i].readable && !c.peer_done) {
                char buf[16384];
                // One read per wake-up: level-triggered, so the rest comes
                // at the next wait, after the other ready clients had a turn.
                const ssize_t got = ::read(fd, buf, sizeof buf);
                if (got > 0) c.pending.append(buf, static_cast<std::size_t>(got));
                if (got == 0) c.peer_done = true;
                if (got < 0 && !would_block(errno)) failed = true;  // reset
            }
            if (!failed && !c.pending.empty()) {
                const ssize_t put = ::write(fd, c.pending.data(), c.pending.size());
                if (put > 0) c.pending.erase(0, static_cast<std::size_t>(put));
                if (put < 0 && !would_block(errno)) failed = true;
            }
            if (failed || (c.peer_done && c.pending.empty())) {
                ::close(fd);  // also removes it from the poller
                clients.erase(it);
                continue;
            }
            // 3. Say what to wait for next. Writable only while output waits:
            //    a socket is almost always writable, and level-triggered
            //    interest in it would wake us at once, forever. After EOF,
            //    stop asking for Readable: EOF stays readable forever.
            //    One system call, made only when the answer changes.
            const bool reading = !c.peer_done, writing = !c.pending.empty();
            if (reading != c.reading || writing != c.writing) {
                poller_set(poller, fd, reading, writing);
                c.reading = reading;
                c.writing = writing;
            }
        }
    }
}
