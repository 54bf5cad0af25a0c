// runs-on: every backend
// tests/http_hello_test.cpp -- examples/http_hello driven as a user would:
// started as a child process, "listening on HOST:PORT" read from its stdout,
// asked over loopback with a plain socket, stopped with SIGTERM.
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

// The example as a child process with its stdout and stderr on pipes;
// killed if still alive at the end of the test.
class Child {
public:
    explicit Child(std::vector<std::string> args) {
        const std::string path = example_path("http_hello");
        REQUIRE_MESSAGE(::access(path.c_str(), X_OK) == 0, path << " is not built (make examples)");
        int out[2], err[2];
        REQUIRE(::pipe(out) == 0);
        REQUIRE(::pipe(err) == 0);
        args.insert(args.begin(), path);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::dup2(err[1], STDERR_FILENO);
            for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
            std::vector<char*> argv;
            for (std::string& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(path.c_str(), argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        ::close(err[1]);
        stdout_ = Fd(out[0]);
        stderr_ = Fd(err[0]);
    }
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    std::string first_line() { return read_line_blocking(stdout_.get()); }
    std::string error_line() { return read_line_blocking(stderr_.get()); }
    // Sends `signo` (none if 0), then waits up to 10 s for the exit status
    // (-1 if it did not exit).
    int stop(int signo) {
        if (signo != 0) ::kill(pid_, signo);
        for (int i = 0; i < 1000; ++i) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

private:
    pid_t pid_ = -1;
    Fd stdout_;
    Fd stderr_;
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
          {"--header-timeout", "-1"}, {"--bogus"}, {"--port"}}) {
        INFO(args.front());
        Child bad(args);
        CHECK(bad.error_line().rfind("usage: ", 0) == 0);
        CHECK(bad.stop(0) == 2);
    }
}
