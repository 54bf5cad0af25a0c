// tests/bad_way_examples_test.cpp -- the "bad way first" examples, driven as
// a user would: blocking_echo, thread_echo, busy_echo and bare_poller_echo,
// started as child processes, "listening on HOST:PORT" read from their
// stdout, two clients talked through over loopback, stopped with SIGTERM.
//
// None of them uses the library's loop (they are plain POSIX programs that
// ignore REACTOR_BACKEND), so this suite runs once, not once per backend.
// bare_poller_echo is run twice: from the test build ($REACTOR_EXAMPLES),
// which on Linux compiles its kqueue half against tests/kqueue_emu/, and
// from the plain build ($BUILD/examples), which uses its epoll half.
#include "child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

using namespace reactor;
using namespace reactor::test;

namespace {

// These programs end by the default action of SIGTERM (their header
// comments say so): the status ChildProcess::stop reports for that.
constexpr int kKilledBySigterm = 128 + SIGTERM;

// Reads until `size` bytes, EOF, or `limit` (no loop: the server is another
// process).
std::string read_n(int fd, std::size_t size, std::chrono::milliseconds limit = kDeadline) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (got.size() < size && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 20);
        if (read_into(fd, got) <= 0) break;
    }
    return got;
}

// Sends `data` while reading the echo, then half-closes: true when every
// byte came back and then EOF.
bool echoes_then_closes(int fd, const std::string& data) {
    std::size_t sent = 0;
    std::string got;
    int state = 1;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (state > 0 && std::chrono::steady_clock::now() < deadline) {
        if (sent < data.size()) {
            write_some(fd, data, sent);
            if (sent == data.size()) ::shutdown(fd, SHUT_WR);
        }
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 10);
        state = read_into(fd, got);
    }
    CHECK(got.size() == data.size());
    return state == 0 && got == data;
}

// What a server that serves clients at once must do: answer B while A is
// connected and idle, echo a large transfer byte for byte, flush it and
// close after the client's half-close, and keep serving the other client.
void serves_two_at_once(ChildProcess& server) {
    const SocketAddress where = listening_address(server.read_stdout_line());
    Fd a = tcp_connect(where);
    Fd b = tcp_connect(where);
    write_all(a.get(), "from a\n");
    CHECK(read_n(a.get(), 7) == "from a\n");
    write_all(b.get(), "from b\n");  // a is still connected, and says nothing
    CHECK(read_n(b.get(), 7) == "from b\n");

    CHECK(echoes_then_closes(a.get(), pattern(1 << 20)));
    write_all(b.get(), "b again\n");
    CHECK(read_n(b.get(), 8) == "b again\n");

    CHECK(server.stop(SIGTERM) == kKilledBySigterm);
    std::string rest;
    CHECK(read_until_closed_blocking(b.get(), rest) <= 0);  // the kernel closed it
    CHECK(rest.empty());
}

// The plain build of an example (not the test build with the kqueue
// emulation): $BUILD/examples/NAME.
std::string plain_build_path(const std::string& name) {
    const char* build = std::getenv("BUILD");
    return std::string(build != nullptr && *build != '\0' ? build : "build") + "/examples/" + name;
}

}  // namespace

TEST_CASE("blocking_echo serves one client at a time: the second waits until the first leaves") {
    ChildProcess server("blocking_echo", {"--port", "0"});
    const SocketAddress where = listening_address(server.read_stdout_line());

    Fd a = tcp_connect(where);
    write_all(a.get(), "first\n");
    CHECK(read_n(a.get(), 6) == "first\n");
    CHECK(server.read_stdout_line() == "client 1 connected");

    // B's connect succeeds (the kernel's backlog holds it), but while A is
    // connected, nobody reads B's bytes. 300 ms is far longer than an echo
    // takes here (the line above came back within milliseconds).
    Fd b = tcp_connect(where);
    write_all(b.get(), "second\n");
    CHECK(read_n(b.get(), 7, std::chrono::milliseconds(300)).empty());
    write_all(a.get(), "first again\n");  // A is still served meanwhile
    CHECK(read_n(a.get(), 12) == "first again\n");

    a.reset();  // A leaves: now, and only now, B's turn comes
    CHECK(server.read_stdout_line() == "client 1 left");
    CHECK(server.read_stdout_line() == "client 2 connected");
    CHECK(read_n(b.get(), 7) == "second\n");

    CHECK(echoes_then_closes(b.get(), pattern(1 << 20)));
    CHECK(server.read_stdout_line() == "client 2 left");
    CHECK(server.stop(SIGTERM) == kKilledBySigterm);
}

TEST_CASE("thread_echo serves two clients at once, a thread each") {
    ChildProcess server("thread_echo", {"--port", "0"});
    serves_two_at_once(server);
}

TEST_CASE("busy_echo serves two clients at once without a poller") {
    ChildProcess server("busy_echo", {"--port", "0"});
    serves_two_at_once(server);
}

TEST_CASE("bare_poller_echo serves two clients at once (test build: kqueue, emulated on Linux)") {
    ChildProcess server("bare_poller_echo", {"--port", "0"});
    serves_two_at_once(server);
}

TEST_CASE("bare_poller_echo serves two clients at once (plain build: epoll on Linux)") {
    ChildProcess server(plain_build_path("bare_poller_echo"), {"--port", "0"});
    serves_two_at_once(server);
}

TEST_CASE("the bad-way examples refuse a bad command line with status 2") {
    for (const char* name : {"blocking_echo", "thread_echo", "busy_echo", "bare_poller_echo"}) {
        CAPTURE(name);
        ChildProcess bad(name, {"--port", "70000"});
        CHECK(bad.stop(0) == 2);
        CHECK(bad.read_stderr_line().find("usage:") != std::string::npos);
    }
}
