// runs-on: every backend
// tests/examples_test.cpp -- the example programs, driven as a user would:
// started as child processes (from $BUILD/examples, default build/), read
// "listening on HOST:PORT", talked to over loopback, stopped with SIGTERM.
// The backend under test reaches them through REACTOR_BACKEND.
#include "child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

// A running example whose first line ("listening on ...") has been read.
class Example {
public:
    explicit Example(const std::string& name, std::vector<std::string> args = {})
        : child_(name, std::move(args)), line_(child_.read_stdout_line()) {}
    const std::string& first_line() const { return line_; }
    SocketAddress address() const { return listening_address(line_); }
    // SIGTERM, then the exit status (-1 if it did not exit in time).
    int terminate() { return child_.stop(SIGTERM); }

private:
    ChildProcess child_;
    std::string line_;
};

// Reads until `size` bytes or EOF or a 10 s deadline (no loop here).
std::string read_n(int fd, std::size_t size) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (got.size() < size && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        if (read_into(fd, got) <= 0) break;
    }
    return got;
}

bool eof_within_deadline(int fd) {
    std::string ignored;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);
        if (read_into(fd, ignored) <= 0) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("echo_server echoes, flushes on half-close, and exits 0 on SIGTERM") {
    Example server("echo_server", {"--port", "0"});
    CHECK(server.first_line().rfind("listening on 127.0.0.1:", 0) == 0);
    const SocketAddress where = server.address();
    CHECK(where.port() != 0);

    Fd a = tcp_connect(where);
    write_all(a.get(), "hello, echo\n");
    CHECK(read_n(a.get(), 12) == "hello, echo\n");

    // A bigger transfer, then the half-close: everything comes back, then EOF.
    Fd b = tcp_connect(where);
    const std::string data = pattern(3 << 20);
    std::size_t sent = 0;
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (got.size() < data.size() && std::chrono::steady_clock::now() < deadline) {
        write_some(b.get(), data, sent);
        if (sent == data.size()) ::shutdown(b.get(), SHUT_WR);
        pollfd p{b.get(), POLLIN, 0};
        ::poll(&p, 1, 10);
        if (read_into(b.get(), got) <= 0) break;
    }
    CHECK(got == data);
    CHECK(eof_within_deadline(b.get()));

    CHECK(server.terminate() == 0);  // with connection `a` still open
}

TEST_CASE("echo_server --threads 2 serves many clients on two loops and exits 0") {
    Example server("echo_server", {"--port", "0", "--threads", "2"});
    const SocketAddress where = server.address();
    std::vector<Fd> clients;
    for (int i = 0; i < 50; ++i) clients.push_back(tcp_connect(where));
    for (std::size_t i = 0; i < clients.size(); ++i) {
        write_all(clients[i].get(), "line " + std::to_string(i) + "\n");
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        const std::string want = "line " + std::to_string(i) + "\n";
        CHECK(read_n(clients[i].get(), want.size()) == want);
    }
    CHECK(server.terminate() == 0);  // with all fifty still open
    for (Fd& c : clients) CHECK(eof_within_deadline(c.get()));
}

TEST_CASE("chat_server relays lines to the others, announces joins and leaves, cuts off long lines") {
    Example server("chat_server", {"--port", "0", "--max-line", "1000"});
    const SocketAddress where = server.address();
    auto name_of = [](const Fd& fd) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        return SocketAddress::from_native(reinterpret_cast<sockaddr*>(&ss), len).to_string();
    };

    Fd a = tcp_connect(where);
    Fd b = tcp_connect(where);
    CHECK(read_line_blocking(a.get()) == "* " + name_of(b) + " joined");
    Fd c = tcp_connect(where);
    CHECK(read_line_blocking(a.get()) == "* " + name_of(c) + " joined");
    CHECK(read_line_blocking(b.get()) == "* " + name_of(c) + " joined");

    write_all(a.get(), "hello, room\r\n");
    CHECK(read_line_blocking(b.get()) == "[" + name_of(a) + "] hello, room");
    CHECK(read_line_blocking(c.get()) == "[" + name_of(a) + "] hello, room");

    const std::string c_name = name_of(c);
    c.reset();
    CHECK(read_line_blocking(a.get()) == "* " + c_name + " left");
    CHECK(read_line_blocking(b.get()) == "* " + c_name + " left");

    // An over-long line: a message, then the door.
    const std::string b_name = name_of(b);
    write_all(b.get(), std::string(1500, 'x') + "\n");
    CHECK(read_line_blocking(b.get()).rfind("* line too long", 0) == 0);
    CHECK(eof_within_deadline(b.get()));
    CHECK(read_line_blocking(a.get()) == "* " + b_name + " left");

    CHECK(server.terminate() == 0);
}

TEST_CASE("chat_server cuts off a client that never reads") {
    Example server("chat_server", {"--port", "0", "--max-output", "65536"});
    const SocketAddress where = server.address();
    Fd deaf = tcp_connect(where);
    // Keep the deaf client's kernel buffer small so the server must queue.
    const int small = 4096;
    ::setsockopt(deaf.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    Fd talker = tcp_connect(where);
    const std::string line = std::string(900, 'y') + "\n";
    bool cut = false;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    std::string ignored;
    while (!cut && std::chrono::steady_clock::now() < deadline) {
        std::size_t sent = 0;
        write_some(talker.get(), line, sent);
        std::string news;
        read_into(talker.get(), news);
        cut = news.find(" left\n") != std::string::npos;
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    CHECK(cut);
    CHECK(server.terminate() == 0);
}
