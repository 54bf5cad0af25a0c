// examples/http_hello.cpp -- the smallest useful HTTP server: "Hello, World!".
//
//   build/examples/http_hello [--port 8080] [--host 127.0.0.1] [--threads 1]
//                             [--header-timeout S] [--send-timeout S] [--max-connections N]
//   curl -i http://127.0.0.1:8080/
//
// What to read here:
//   - the handler: one route, a Response that is sent at once. The server
//     parses, keeps the connection alive, writes Content-Length and Date,
//     and answers HEAD without a body; other paths get 404;
//   - the graceful stop: on SIGINT or SIGTERM the server stops listening,
//     finishes the responses in flight, closes idle connections, and the
//     program exits with status 0;
//   - the limits: --header-timeout (a request's head must arrive within S
//     seconds), --send-timeout (a client that stops reading is cut off
//     after S seconds without progress), --max-connections (connections
//     over N are refused at once); docs/http.md lists every timeout;
//   - the fd limit: raised to the hard limit, so that 10,000 clients fit.
//
// It prints "listening on HOST:PORT" once ready (port 0 picks a free port).
// docs/http.md explains handlers, pipelining, timeouts and threads.
#include <reactor/reactor.hpp>

#include <sys/resource.h>

#include <chrono>
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
    long port = 8080;
    long threads = 1;
    double header_timeout = 10;  // seconds
    double send_timeout = 60;    // seconds
    long max_connections = 0;    // 0: the TCP layer's default cap
};

[[noreturn]] void usage(const char* self) {
    std::fprintf(stderr,
                 "usage: %s [--port N] [--host H] [--threads N] [--header-timeout S]\n"
                 "       [--send-timeout S] [--max-connections N]\n",
                 self);
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        char* end = nullptr;
        if (std::strcmp(argv[i], "--host") == 0 && has_value) {
            args.host = argv[++i];
            continue;
        } else if (std::strcmp(argv[i], "--port") == 0 && has_value) {
            args.port = std::strtol(argv[++i], &end, 10);
        } else if (std::strcmp(argv[i], "--threads") == 0 && has_value) {
            args.threads = std::strtol(argv[++i], &end, 10);
        } else if (std::strcmp(argv[i], "--header-timeout") == 0 && has_value) {
            args.header_timeout = std::strtod(argv[++i], &end);
        } else if (std::strcmp(argv[i], "--send-timeout") == 0 && has_value) {
            args.send_timeout = std::strtod(argv[++i], &end);
        } else if (std::strcmp(argv[i], "--max-connections") == 0 && has_value) {
            args.max_connections = std::strtol(argv[++i], &end, 10);
        } else {
            usage(argv[0]);
        }
        if (end == argv[i] || *end != '\0') usage(argv[0]);
    }
    if (args.port < 0 || args.port > 65535 || args.threads < 1 || args.threads > 256 ||
        !(args.header_timeout > 0 && args.header_timeout < 86400) ||
        !(args.send_timeout > 0 && args.send_timeout < 86400) || args.max_connections < 0) {
        usage(argv[0]);
    }
    return args;
}

// Thousands of connections need thousands of fds: raise the soft limit to
// the hard one, which any process may do.
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

    http::ServerOptions options;
    options.tcp.threads = static_cast<std::size_t>(args.threads);
    options.header_timeout = std::chrono::milliseconds(static_cast<long long>(args.header_timeout * 1000));
    options.send_timeout = std::chrono::milliseconds(static_cast<long long>(args.send_timeout * 1000));
    if (args.max_connections > 0) {
        options.tcp.max_connections = static_cast<std::size_t>(args.max_connections);
    }
    const auto address = SocketAddress::from_host_port(args.host, static_cast<std::uint16_t>(args.port));
    http::Server server(loop, address, options);

    // [handler]
    server.route("GET", "/", [](const http::Request& request, http::Response response) {
        if (request.path() != "/") {
            response.status(404).header("Content-Type", "text/plain").send("Not Found\n");
            return;
        }
        response.header("Content-Type", "text/plain").send("Hello, World!");
    });
    // [/handler]

    // [shutdown]
    auto stop = [&](int) {
        server.shutdown(std::chrono::seconds(2), [&] { loop.stop(); });
    };
    loop.on_signal(SIGINT, stop);
    loop.on_signal(SIGTERM, stop);
    // [/shutdown]

    std::printf("listening on %s\n", server.local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "http_hello: %s\n", e.what());
    return 1;
}
