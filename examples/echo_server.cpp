// examples/echo_server.cpp -- echoes every byte back, on one thread (or N).
//
//   build/examples/echo_server [--host 127.0.0.1] [--port 7000] [--high-water BYTES] [--threads N]
//   nc 127.0.0.1 7000
//
// Three things worth reading here:
//   - the echo itself is one line: send() the input Buffer back. When the
//     kernel takes everything (the usual case) nothing is copied or queued;
//   - backpressure: a peer that sends but does not read would make the
//     server queue its echo without end. Above the high-water mark (1 MiB by
//     default) we stop reading from that peer; when its queue drains we read
//     again. So each peer costs at most about the mark, whatever it does;
//   - the peer's half-close (EOF on its side): the library's default policy
//     flushes what is queued for it and then closes, which is exactly what
//     an echo server wants;
//   - --threads N serves connections on N loops (docs/scaling.md); the
//     callbacks below touch only their own connection, so they are safe to
//     run on several threads at once.
//
// It prints "listening on HOST:PORT" once ready (port 0 picks a free port)
// and exits with status 0 on SIGINT or SIGTERM, after closing its
// connections (gracefully, within one second).
#include <reactor/reactor.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

using namespace reactor;

namespace {

struct Args {
    std::string host = "127.0.0.1";
    long port = 7000;
    long long high_water = 1024 * 1024;
    long threads = 1;
};

[[noreturn]] void usage(const char* self) {
    std::fprintf(stderr, "usage: %s [--host H] [--port N] [--high-water BYTES] [--threads N]\n", self);
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (std::strcmp(argv[i], "--host") == 0 && has_value) {
            args.host = argv[++i];
        } else if (std::strcmp(argv[i], "--port") == 0 && has_value) {
            args.port = std::strtol(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--high-water") == 0 && has_value) {
            args.high_water = std::strtoll(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--threads") == 0 && has_value) {
            args.threads = std::strtol(argv[++i], nullptr, 10);
        } else {
            usage(argv[0]);
        }
    }
    if (args.port < 0 || args.port > 65535 || args.high_water <= 0 || args.threads < 1 ||
        args.threads > 256) {
        usage(argv[0]);
    }
    return args;
}

// Thousands of connections need thousands of fds: raise the soft limit to
// the hard one, which any process may do (the default soft limit is often
// 1024). A server that still runs out is handled by the library's EMFILE
// policy (tcp_server.hpp).
void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

}  // namespace

int main(int argc, char** argv) try {
    const Args args = parse_args(argc, argv);
    raise_fd_limit();
    EventLoop loop;
    // [threads]
    TcpServerOptions options;
    options.threads = static_cast<std::size_t>(args.threads);  // 1: this thread only
    TcpServer server(loop, SocketAddress::from_host_port(args.host, static_cast<std::uint16_t>(args.port)),
                     options);
    // [/threads]
    server.set_high_water_mark(static_cast<std::size_t>(args.high_water));

    server.on_message([](const TcpConnectionPtr& conn, Buffer& input) { conn->send(input); });
    // Backpressure: stop reading while the peer's echo is piling up...
    server.on_high_water([](const TcpConnectionPtr& conn, std::size_t) { conn->pause_reading(); });
    // ...and read again once it has drained.
    server.on_write_complete([](const TcpConnectionPtr& conn) { conn->resume_reading(); });

    auto stop = [&](int) {
        server.shutdown(std::chrono::seconds(1), [&] { loop.stop(); });
    };
    loop.on_signal(SIGINT, stop);
    loop.on_signal(SIGTERM, stop);

    std::printf("listening on %s\n", server.local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "echo_server: %s\n", e.what());
    return 1;
}
