// runs-on: every backend
// tests/http_hello_test.cpp -- examples/http_hello driven as a user would:
// started as a child process, "listening on HOST:PORT" read from its stdout,
// asked over loopback with a plain socket, stopped with SIGTERM.
#include "child_process.hpp"
#include "http_server_util.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

// http_hello as a child process (child_process.hpp).
class Child : public ChildProcess {
public:
    explicit Child(std::vector<std::string> args) : ChildProcess("http_hello", std::move(args)) {}
    std::string first_line() { return read_stdout_line(); }
    std::string error_line() { return read_stderr_line(); }
};

// Sends `request` and reads one response, without a loop (the server is
// another process): polls with a deadline.
HttpReply ask(const SocketAddress& where, const std::string& request, bool head = false) {
    Fd fd = tcp_connect(where);
    write_all(fd.get(), request);
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    bool eof = false;
    while (std::chrono::steady_clock::now() < deadline) {
        if (auto r = take_reply(in, head, eof)) return *r;
        if (eof) break;
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 50);
        eof = read_into(fd.get(), in) <= 0;
    }
    FAIL("no complete response; received: " << in);
    return {};
}

}  // namespace

TEST_CASE("http_hello answers GET / with Hello, World!, 404 elsewhere, and exits 0 on SIGTERM") {
    Child server({"--port", "0"});
    const std::string line = server.first_line();
    const std::string prefix = "listening on 127.0.0.1:";
    REQUIRE(line.rfind(prefix, 0) == 0);
    const SocketAddress where = SocketAddress::parse(line.substr(13));
    CHECK(where.port() != 0);

    const HttpReply hello = ask(where, get("/"));
    CHECK(hello.status == 200);
    CHECK(hello.body == "Hello, World!");
    CHECK(hello.header("Content-Type") == "text/plain");
    CHECK(hello.header("Content-Length") == "13");
    CHECK(!hello.header("Date").empty());
    CHECK_FALSE(hello.has_header("Connection"));  // HTTP/1.1 keep-alive is the default

    CHECK(ask(where, get("/elsewhere")).status == 404);
    const HttpReply head = ask(where, "HEAD / HTTP/1.1\r\nHost: t\r\n\r\n", true);
    CHECK(head.status == 200);
    CHECK(head.header("Content-Length") == "13");

    // An idle keep-alive connection does not hold up the graceful stop.
    Fd idle = tcp_connect(where);
    write_all(idle.get(), get("/"));
    CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("http_hello --threads 2 answers on both loops and exits 0 on SIGTERM") {
    Child server({"--port", "0", "--threads", "2"});
    const std::string line = server.first_line();
    REQUIRE(line.rfind("listening on ", 0) == 0);
    const SocketAddress where = SocketAddress::parse(line.substr(13));
    for (int i = 0; i < 40; ++i) {
        const HttpReply r = ask(where, get("/"));
        CHECK(r.status == 200);
        CHECK(r.body == "Hello, World!");
    }
    CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("http_hello exits 0 on SIGINT too") {
    Child server({"--port", "0", "--header-timeout", "2.5"});
    REQUIRE(server.first_line().rfind("listening on ", 0) == 0);
    CHECK(server.stop(SIGINT) == 0);
}

TEST_CASE("http_hello refuses bad options with its usage and status 2") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--port", "70000"}, {"--port", "abc"}, {"--threads", "0"},
          {"--header-timeout", "-1"}, {"--send-timeout", "0"}, {"--max-connections", "-1"},
          {"--max-connections", "x"}, {"--bogus"}, {"--port"}}) {
        INFO(args.front());
        Child bad(args);
        CHECK(bad.error_line().rfind("usage: ", 0) == 0);
        CHECK(bad.stop(0) == 2);
    }
}

TEST_CASE("http_hello --send-timeout cuts off a client that sends but never reads") {
    Child server({"--port", "0", "--send-timeout", "0.3"});
    const std::string line = server.first_line();
    REQUIRE(line.rfind("listening on ", 0) == 0);
    const SocketAddress where = SocketAddress::parse(line.substr(13));
    // Pipelined requests, never a byte read: the answers pile up in the
    // server until its output stalls; after 0.3 s without progress the
    // server closes (a reset: our requests lie unread on its side).
    Fd fd = tcp_connect(where);
    std::string batch;
    for (int i = 0; i < 1000; ++i) batch += get("/");
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < kDeadline) {
        const ssize_t n = ::send(fd.get(), batch.data(), batch.size(), REACTOR_MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) closed = true;
        pollfd p{fd.get(), 0, 0};
        ::poll(&p, 1, 20);
        if ((p.revents & (POLLHUP | POLLERR)) != 0) closed = true;
    }
    CHECK(closed);
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(300));
    CHECK(ask(where, get("/")).status == 200);  // serving on
    CHECK(server.stop(SIGTERM) == 0);
}

TEST_CASE("http_hello --max-connections 2 refuses a third client at once") {
    Child server({"--port", "0", "--max-connections", "2"});
    const std::string line = server.first_line();
    REQUIRE(line.rfind("listening on ", 0) == 0);
    const SocketAddress where = SocketAddress::parse(line.substr(13));
    std::vector<Fd> kept;
    for (int i = 0; i < 2; ++i) {
        kept.push_back(tcp_connect(where));
        write_all(kept.back().get(), get("/"));
        std::string in;
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (!take_reply(in) && std::chrono::steady_clock::now() < deadline) {
            pollfd p{kept.back().get(), POLLIN, 0};
            ::poll(&p, 1, 50);
            read_into(kept.back().get(), in);
        }
    }
    // The third is accepted and closed: EOF (or a reset), no response.
    Fd third = tcp_connect(where);
    std::string in;
    CHECK(read_until_closed_blocking(third.get(), in) <= 0);
    CHECK(in.empty());
    // One leaves: a newcomer is served.
    kept.pop_back();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(ask(where, get("/")).status == 200);
    CHECK(server.stop(SIGTERM) == 0);
}
