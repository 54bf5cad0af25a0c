// tests/bench/http_idle_memory.cpp -- what an idle keep-alive connection
// costs an http::Server in user-space memory.
//
//   build/bench/http_idle_memory [connections]     (default 10000)
//
// The server runs in this process; a forked child is the client (one
// process may hold at most so many fds): it opens the connections, sends
// one "GET /" on each, reads the answer, and keeps them all open, idle.
// The server's heap in use (glibc's mallinfo2().uordblks) and its resident
// set (/proc/self/statm) are read before the first connection and once all
// are idle (and a tick of the server has passed); the difference divided
// by the count is printed. Kernel memory
// (socket buffers) is not counted. A benchmark that prints figures, not a
// timed test.
#include <reactor/reactor.hpp>

#include "base/platform.hpp"
#if REACTOR_HAVE_MALLINFO2
#include <malloc.h>
#endif
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace reactor;

namespace {

// glibc's count of heap bytes in use; 0 (the line says n/a) elsewhere,
// where the resident set is the figure to read.
std::size_t heap_in_use() {
#if REACTOR_HAVE_MALLINFO2
    return mallinfo2().uordblks;
#else
    return 0;
#endif
}

std::size_t resident_bytes() {
    long pages = 0, resident = 0;
    if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

// The client (child process): n connections, one request each, answers
// read; then one byte on `ready`, and wait for `release` to close.
[[noreturn]] void run_clients(const SocketAddress& where, int n, int ready, int release) {
    const std::string request = "GET / HTTP/1.1\r\nHost: bench\r\n\r\n";
    std::vector<int> fds;
    constexpr int kBatch = 200;
    for (int start = 0; start < n; start += kBatch) {
        const int end = std::min(n, start + kBatch);
        for (int i = start; i < end; ++i) {
            const int fd = ::socket(where.family(), SOCK_STREAM, 0);
            if (fd < 0 || ::connect(fd, where.native(), where.length()) != 0) {
                std::perror("client: connect");
                ::_exit(1);
            }
            if (::send(fd, request.data(), request.size(), REACTOR_MSG_NOSIGNAL) !=
                static_cast<ssize_t>(request.size())) {
                std::perror("client: send");
                ::_exit(1);
            }
            fds.push_back(fd);
        }
        for (int i = start; i < end; ++i) {
            std::string in;
            char buf[4096];
            while (in.find("Hello, World!") == std::string::npos) {
                pollfd p{fds[static_cast<std::size_t>(i)], POLLIN, 0};
                if (::poll(&p, 1, 10000) <= 0) {
                    std::fprintf(stderr, "client: no answer on connection %d\n", i);
                    ::_exit(1);
                }
                const ssize_t got = ::read(fds[static_cast<std::size_t>(i)], buf, sizeof buf);
                if (got <= 0) {
                    std::fprintf(stderr, "client: connection %d closed\n", i);
                    ::_exit(1);
                }
                in.append(buf, static_cast<std::size_t>(got));
            }
        }
    }
    const char one = 1;
    if (::write(ready, &one, 1) != 1) ::_exit(1);
    char byte;
    while (::read(release, &byte, 1) < 0 && errno == EINTR) {
    }
    ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 10000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: %s [connections]\n", argv[0]);
        return 2;
    }
    raise_fd_limit();
    EventLoop loop;
    http::ServerOptions options;
    options.idle_timeout = std::chrono::minutes(10);  // idle for the whole measurement
    http::Server server(loop, SocketAddress::parse("127.0.0.1:0"), options);
    server.route("GET", "/", [](const http::Request&, http::Response res) {
        res.header("Content-Type", "text/plain").send("Hello, World!");
    });

    int ready[2], release[2];
    if (::pipe(ready) != 0 || ::pipe(release) != 0) return 1;
    const std::size_t heap_before = heap_in_use();
    const std::size_t rss_before = resident_bytes();
    const pid_t child = ::fork();
    if (child < 0) return 1;
    if (child == 0) {
        ::close(ready[0]);
        ::close(release[1]);
        run_clients(server.local_address(), n, ready[1], release[0]);
    }
    ::close(ready[1]);
    ::close(release[0]);

    bool clients_ready = false;
    loop.watch(ready[0], Readable, [&](Events) {
        clients_ready = true;
        loop.stop();
    });
    const auto start = std::chrono::steady_clock::now();
    loop.run();
    // Let the last answers' bookkeeping settle (deferred releases, a tick).
    const auto settle_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < settle_until) {
        loop.run_once(std::chrono::milliseconds(50));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::size_t heap_after = heap_in_use();
    const std::size_t rss_after = resident_bytes();
    const std::size_t open = server.tcp().connection_count();

    std::printf("idle keep-alive connections: %zu of %d (set up and settled in %.2f s)\n", open, n,
                seconds);
    if (heap_after == 0) {
        std::printf("heap in use: n/a (not glibc)\n");
    } else {
        std::printf("heap in use: %zu -> %zu bytes: %.0f bytes per connection\n", heap_before, heap_after,
                    static_cast<double>(heap_after - heap_before) / static_cast<double>(n));
    }
    std::printf("resident set: %zu -> %zu bytes: %.0f bytes per connection\n", rss_before, rss_after,
                static_cast<double>(rss_after - rss_before) / static_cast<double>(n));

    ::close(release[1]);  // the client closes everything and exits
    int status = 0;
    ::waitpid(child, &status, 0);
    return clients_ready && open == static_cast<std::size_t>(n) ? 0 : 1;
}
