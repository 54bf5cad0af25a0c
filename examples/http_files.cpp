// examples/http_files.cpp -- a static file server: one folder, read-only.
//
//   build/examples/http_files --root DIR [--port 8080] [--host 127.0.0.1]
//                             [--send-timeout S] [--max-connections N]
//   curl -i http://127.0.0.1:8080/index.html
//   curl -i -H 'Range: bytes=0-99' http://127.0.0.1:8080/big.bin
//
// One request, top to bottom (docs/http-files.md says why each step is so):
//
//   GET /docs/a.html ─► map_request_path()      400/403: malformed or ".."
//      (loop thread)    FileRequest::from()     copy the headers we need
//                    ─► queue_work: open_for_serving()  open beneath the root,
//      (worker thread)                                  fstat; 301/403/404
//                    ─► plan_file_reply()        200, 206, 304 or 416
//      (loop thread)    send_head(), then the body in 64 KiB slices:
//                    ─► queue_work: pread() one slice ─► write() ─► on_drain()
//                       ─► the next slice ... ─► end()
//
// What to read here:
//   - the loop never touches the disk: opening, fstat and every pread run
//     on the worker pool (queue_work); only their results come back;
//   - memory stays bounded whatever the file size: the body goes out one
//     slice at a time, and the next slice is read only once the previous
//     one has left for the kernel (Response::on_drain), so a slow client
//     holds one slice, not the file;
//   - a Range asks for a slice, and only that slice is read;
//   - a client that stops reading mid-download is cut off after
//     --send-timeout seconds without progress (default 60), which closes
//     the file too; --max-connections caps the clients served at once;
//   - the safety is in the helpers (reactor/http/static_files.hpp): ".."
//     in any spelling is refused before the disk is touched, and symbolic
//     links leading out of the root are refused by open_beneath();
//   - GET (and HEAD, which the server derives from it) is the only route, so
//     the server answers every other method with 405 and "Allow: GET, HEAD".
//
// It prints "listening on HOST:PORT" once ready (port 0 picks a free port),
// and exits with status 0 on SIGINT or SIGTERM, once the responses in
// flight are finished (at most 2 s) and the worker pool is idle.
#include <reactor/reactor.hpp>
#include <reactor/http/server.hpp>
#include <reactor/http/static_files.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <string>

using namespace reactor;

namespace {

struct Args {
    std::string root;
    std::string host = "127.0.0.1";
    long port = 8080;
    double send_timeout = 60;  // seconds
    long max_connections = 0;  // 0: the TCP layer's default cap
};

[[noreturn]] void usage(const char* self) {
    std::fprintf(stderr,
                 "usage: %s --root DIR [--port N] [--host H] [--send-timeout S] [--max-connections N]\n",
                 self);
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (std::strcmp(argv[i], "--root") == 0 && has_value) {
            args.root = argv[++i];
        } else if (std::strcmp(argv[i], "--host") == 0 && has_value) {
            args.host = argv[++i];
        } else if (std::strcmp(argv[i], "--port") == 0 && has_value) {
            char* end = nullptr;
            args.port = std::strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0') usage(argv[0]);
        } else if (std::strcmp(argv[i], "--send-timeout") == 0 && has_value) {
            char* end = nullptr;
            args.send_timeout = std::strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0') usage(argv[0]);
        } else if (std::strcmp(argv[i], "--max-connections") == 0 && has_value) {
            char* end = nullptr;
            args.max_connections = std::strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0') usage(argv[0]);
        } else {
            usage(argv[0]);
        }
    }
    if (args.root.empty() || args.port < 0 || args.port > 65535 ||
        !(args.send_timeout > 0 && args.send_timeout < 86400) || args.max_connections < 0) {
        usage(argv[0]);
    }
    return args;
}

// The body goes out in slices of this size: large enough that a fast client
// costs few worker round trips, small enough that thousands of slow ones
// fit in memory.
constexpr std::uint64_t kSlice = 64 * 1024;

void send_error(http::Response& response, int status) {
    response.status(status).header("Content-Type", "text/plain; charset=utf-8");
    response.send(std::string(http::reason_phrase(status)) + "\n");
}

// Reads up to `length` bytes at `offset` (worker thread). Shorter only if
// the file shrank meanwhile or the read failed.
std::string read_slice(int fd, std::uint64_t offset, std::uint64_t length) {
    std::string data(length, '\0');
    std::size_t got = 0;
    while (got < length) {
        const ssize_t n = ::pread(fd, data.data() + got, length - got,
                                  static_cast<off_t>(offset + got));
        if (n > 0) {
            got += static_cast<std::size_t>(n);
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    data.resize(got);
    return data;
}

// A body being sent: lives on the loop thread, kept alive by whichever
// callback comes next. Its OpenedFile closes the file when it goes.
struct Transfer {
    http::OpenedFile file;
    std::uint64_t offset = 0;     // next byte to read
    std::uint64_t remaining = 0;  // bytes still owed
    http::Response response;
};

void send_next_slice(EventLoop& loop, std::shared_ptr<Transfer> t) {
    if (t->remaining == 0 || !t->response.connection_open()) {
        t->response.end();
        return;
    }
    const std::uint64_t length = std::min(kSlice, t->remaining);
    // The work gets plain numbers, never the Response: a Response belongs
    // to the loop thread. The fd stays open because `t` holds the file.
    queue_work(loop,
        [fd = t->file.fd(), offset = t->offset, length] { return read_slice(fd, offset, length); },
        [&loop, t](std::error_code ec, std::string data) {
            // A failed or short read (the file shrank) cannot be fixed now
            // that the head promised a length: end() closes the connection,
            // so the client sees a truncated body, not a wrong one.
            if (ec || data.empty()) {
                t->response.end();
                return;
            }
            t->response.write(data);
            t->offset += data.size();
            t->remaining -= std::min<std::uint64_t>(data.size(), t->remaining);
            if (t->remaining == 0) {
                t->response.end();
                return;
            }
            // Read the next slice once this one has left for the kernel.
            t->response.on_drain([&loop, t] { send_next_slice(loop, t); });
        });
}

// Answers a GET or HEAD for an opened file (loop thread).
void reply_with_file(EventLoop& loop, http::Response response, const http::FileRequest& request,
                     http::OpenedFile file) {
    const http::FileReply reply = http::plan_file_reply(request, file.size, file.mtime);
    response.status(reply.status);
    response.header("Last-Modified", http::format_http_date(file.mtime));
    response.header("Accept-Ranges", "bytes");
    if (!reply.content_range.empty()) response.header("Content-Range", reply.content_range);
    if (reply.status == 304) {
        response.send("");  // the client's copy is current: no body
        return;
    }
    if (reply.status == 416) {
        send_error(response, 416);
        return;
    }
    response.header("Content-Type", http::content_type_for(file.name));
    // Browsers must not guess another type than the one we name.
    response.header("X-Content-Type-Options", "nosniff");
    response.send_head(reply.length);
    if (request.head) {
        response.end();  // HEAD: the head only
        return;
    }
    auto t = std::make_shared<Transfer>();
    t->file = std::move(file);
    t->offset = reply.offset;
    t->remaining = reply.length;
    t->response = std::move(response);
    send_next_slice(loop, std::move(t));
}

}  // namespace

int main(int argc, char** argv) try {
    const Args args = parse_args(argc, argv);
    // Every file is opened relative to this descriptor, never by a path
    // string, so renaming or replacing DIR while we run cannot redirect us.
    const int root_fd = ::open(args.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) {
        std::fprintf(stderr, "http_files: %s: %s\n", args.root.c_str(), std::strerror(errno));
        return 1;
    }

    EventLoop loop;
    const auto port = static_cast<std::uint16_t>(args.port);
    http::ServerOptions options;
    options.send_timeout = std::chrono::milliseconds(static_cast<long long>(args.send_timeout * 1000));
    if (args.max_connections > 0) {
        options.tcp.max_connections = static_cast<std::size_t>(args.max_connections);
    }
    http::Server server(loop, SocketAddress::from_host_port(args.host, port), options);

    // [handler]
    server.route("GET", "/", [&loop, root_fd](const http::Request& request,
                                              http::Response response) {
        const http::MappedPath path = http::map_request_path(request.path());
        if (path.status != 0) {
            send_error(response, path.status);
            return;
        }
        // `request` dies with this call; keep what we need for later.
        http::FileRequest conditions = http::FileRequest::from(request);
        queue_work(loop,
            [root_fd, path] { return http::open_for_serving(root_fd, path); },
            [&loop, response, conditions](std::error_code ec, http::OpenedFile file) mutable {
                if (ec) {
                    send_error(response, 500);
                } else if (file.status == 301) {
                    // Built from the mapped name, never from the raw request
                    // path, so "//evil.example" cannot become a redirect
                    // to another host.
                    const std::string location = "/" + http::percent_encode_path(file.name) + "/";
                    response.status(301).header("Location", location).send("");
                } else if (file.status != 0) {
                    send_error(response, file.status);
                } else {
                    reply_with_file(loop, std::move(response), conditions, std::move(file));
                }
            });
    });
    // [/handler]

    // Stop: finish what is in flight, then wait for the worker pool to be
    // idle, so no work finishes after the loop is gone.
    std::function<void()> stop_when_idle = [&] {
        if (pending_work(loop) == 0) {
            loop.stop();
        } else {
            loop.run_after(std::chrono::milliseconds(10), stop_when_idle);
        }
    };
    bool stopping = false;
    auto stop = [&](int) {
        if (stopping) return;  // a second signal while stopping changes nothing
        stopping = true;
        server.shutdown(std::chrono::seconds(2), stop_when_idle);
    };
    loop.on_signal(SIGINT, stop);
    loop.on_signal(SIGTERM, stop);

    std::printf("listening on %s\n", server.local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    ::close(root_fd);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "http_files: %s\n", e.what());
    return 1;
}
