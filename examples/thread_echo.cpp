// examples/thread_echo.cpp -- one thread per connection: the classic fix
// for blocking_echo.cpp, and what it costs.
//
// What it teaches: the code a thread runs is as simple as the blocking
// server's (read, write back, repeat), and every client is served at once,
// because each one has a thread of its own to block in. The price is paid
// per connection, even for a connection that says nothing for minutes:
//   - a stack. We ask for 64 KiB (kStackSize) with pthread_attr_setstacksize,
//     instead of the usual default of 8 MiB (Linux) or 512 KiB (macOS), so
//     that 10,000 threads reserve about 680 MiB of address space (stack and
//     guard page), not 80 GiB; the pages a thread touches become resident;
//   - a kernel task: its own kernel stack (16 KiB on x86-64 Linux) and
//     scheduler state, plus a context switch for every message;
//   - a limit: threads count against RLIMIT_NPROC (`ulimit -u`) and
//     kernel.threads-max, and a thread that cannot be created is a client
//     turned away.
// scripts/compare-models.sh measures all of this against the event loop.
//
// Plain POSIX calls and pthreads only (no library): builds on Linux, macOS
// and the BSDs.
//
//   build/examples/thread_echo [--port N]     (default 7000; 0 picks a free port)
//   build/examples/echo_client --port 7000 < some_file      (two at once work)
//
// It prints "listening on 127.0.0.1:PORT" once ready. Ctrl-C (SIGINT) or
// SIGTERM ends it with the signal's default action: the kernel closes every
// socket and ends every thread.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

// Each thread's stack. Small on purpose (see the header): the echo below
// needs its 4 KiB buffer and a few frames of libc.
constexpr std::size_t kStackSize = 64 * 1024;

int listen_on(long port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        std::perror("thread_echo: socket");
        std::exit(1);
    }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, SOMAXCONN) != 0) {
        std::perror("thread_echo: bind/listen");
        std::exit(1);
    }
    return fd;
}

// One fd per connection: raise the soft open-file limit to the hard one
// (the default soft limit is often 1024), as any process may.
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

bool write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// The whole life of one connection, on its own thread: the blocking
// server's inner loop, unchanged. Blocking here blocks only this client.
void* serve(void* arg) {
    const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // the client left (0) or reset (-1)
        if (!write_all(fd, buf, static_cast<std::size_t>(n))) break;
    }
    ::close(fd);
    return nullptr;  // a detached thread: its stack is freed now
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

    // std::thread cannot choose its stack size, so pthreads it is.
    // Detached: nobody joins these threads; each frees itself when it ends.
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (const int rc = pthread_attr_setstacksize(&attr, kStackSize); rc != 0) {
        std::fprintf(stderr, "thread_echo: a %zu-byte stack is refused here (%s); using the default\n",
                     kStackSize, std::strerror(rc));
    }

    const int listener = listen_on(port);
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(bound.sin_port));
    std::fflush(stdout);

    for (;;) {
        const int fd = ::accept(listener, nullptr, nullptr);
        if (fd < 0) {
            // EMFILE (out of fds) would repeat at once: pause a little so
            // the message does not flood the terminal.
            std::perror("thread_echo: accept");
            if (errno == EMFILE || errno == ENFILE) ::usleep(100 * 1000);
            continue;
        }
        pthread_t thread;
        if (const int rc = pthread_create(&thread, &attr, serve, reinterpret_cast<void*>(std::intptr_t{fd}));
            rc != 0) {
            // EAGAIN: RLIMIT_NPROC, kernel.threads-max or memory ran out.
            // The client is turned away: the cost of this model, made visible.
            std::fprintf(stderr, "thread_echo: cannot start a thread: %s\n", std::strerror(rc));
            ::close(fd);
        }
    }
}
