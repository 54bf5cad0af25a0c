// runs-on: every backend
// tests/examples_test.cpp -- the example programs, driven as a user would:
// started as child processes (from $BUILD/examples, default build/), read
// "listening on HOST:PORT", talked to over loopback, stopped with SIGTERM.
// The backend under test reaches them through REACTOR_BACKEND.
#include "child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <poll.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
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

// What a program run to its end left behind.
struct Finished {
    int status = -1;  // exit status; 128 + signal; -1 if it did not end in time
    std::string out;
    std::string err;
};

// Runs example `name` with `args` to its end, its stdin read from
// `stdin_fd`, stdout and stderr collected; killed after kDeadline.
Finished run_to_end(const std::string& name, std::vector<std::string> args, int stdin_fd) {
    const std::string path = example_path(name);
    REQUIRE_MESSAGE(::access(path.c_str(), X_OK) == 0, path << " is not built (make examples)");
    int out[2], err[2];
    REQUIRE(::pipe(out) == 0);
    REQUIRE(::pipe(err) == 0);
    args.insert(args.begin(), path);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(stdin_fd, STDIN_FILENO);
        ::dup2(out[1], STDOUT_FILENO);
        ::dup2(err[1], STDERR_FILENO);
        for (int fd : {out[0], out[1], err[0], err[1], stdin_fd}) ::close(fd);
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(path.c_str(), argv.data());
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    Fd out_fd(out[0]), err_fd(err[0]);
    Finished f;
    bool out_open = true, err_open = true;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while ((out_open || err_open) && std::chrono::steady_clock::now() < deadline) {
        pollfd p[2] = {{out_fd.get(), POLLIN, 0}, {err_fd.get(), POLLIN, 0}};
        ::poll(p, 2, 50);
        char buf[65536];
        if (out_open && p[0].revents != 0) {
            const ssize_t n = ::read(out_fd.get(), buf, sizeof buf);
            if (n > 0) f.out.append(buf, static_cast<std::size_t>(n));
            out_open = n > 0 || (n < 0 && errno == EINTR);
        }
        if (err_open && p[1].revents != 0) {
            const ssize_t n = ::read(err_fd.get(), buf, sizeof buf);
            if (n > 0) f.err.append(buf, static_cast<std::size_t>(n));
            err_open = n > 0 || (n < 0 && errno == EINTR);
        }
    }
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            f.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return f;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return f;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
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

TEST_CASE("hello_loop ticks, reads three pings on the chosen backend, and exits 0") {
    Fd no_input(::open("/dev/null", O_RDONLY));
    const Finished run = run_to_end("hello_loop", {}, no_input.get());
    CHECK(run.status == 0);
    CHECK(run.err.empty());
    const std::vector<std::string> lines = lines_of(run.out);
    REQUIRE(lines.size() >= 3);
    CHECK(lines.front() == "backend: " + backend_name());
    CHECK(lines[1] == "tick 1");
    int reads = 0;
    for (const std::string& line : lines) {
        if (line.rfind("read ", 0) == 0) {
            ++reads;
            CHECK(line.find("ping") != std::string::npos);
        }
    }
    CHECK(reads == 3);  // one read per ping, then the loop stops
    CHECK(lines.back() == "done after 3 pings");
}

TEST_CASE("raw_echo serves two clients at once, flushes on half-close, and exits 0 on SIGTERM") {
    Example server("raw_echo", {"--port", "0"});
    CHECK(server.first_line().rfind("listening on 127.0.0.1:", 0) == 0);
    const SocketAddress where = server.address();

    Fd a = tcp_connect(where);
    Fd b = tcp_connect(where);
    write_all(a.get(), "from a\n");
    CHECK(read_n(a.get(), 7) == "from a\n");
    write_all(b.get(), "from b\n");  // while a is connected and idle
    CHECK(read_n(b.get(), 7) == "from b\n");

    // 3 MiB, more than the socket buffers hold: raw_echo must queue its
    // output and ask for Writable, then flush after the half-close.
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

    write_all(a.get(), "a again\n");
    CHECK(read_n(a.get(), 8) == "a again\n");
    CHECK(server.terminate() == 0);  // with connection `a` still open
}

TEST_CASE("echo_client sends its stdin to echo_server and prints what comes back") {
    Example server("echo_server", {"--port", "0"});
    const std::string port = std::to_string(server.address().port());
    TempDir dir("echo-client");

    SUBCASE("stdin is a regular file (read from a timer: epoll refuses files)") {
        const std::string data = pattern(3 << 20);
        const std::string path = dir / "input";
        std::ofstream(path, std::ios::binary) << data;
        Fd input(::open(path.c_str(), O_RDONLY));
        REQUIRE(input.get() >= 0);
        const Finished run = run_to_end("echo_client", {"--port", port}, input.get());
        CHECK(run.status == 0);
        CHECK(run.err.empty());
        CHECK(run.out.size() == data.size());
        CHECK(run.out == data);
    }
    SUBCASE("stdin is a pipe (watched on the loop), closed after the last line") {
        auto [read_end, write_end] = make_pipe();
        // The pipe's buffer holds these few lines: written before the start.
        const std::string data = "one\ntwo\nthree\n";
        write_all(write_end.get(), data);
        write_end.reset();
        ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) & ~O_NONBLOCK);
        const Finished run = run_to_end("echo_client", {"--port", port}, read_end.get());
        CHECK(run.status == 0);
        CHECK(run.out == data);
    }
    CHECK(server.terminate() == 0);
}

TEST_CASE("echo_client exits 1 with a message when nobody listens") {
    // A bound socket that does not listen: connecting to its port is refused.
    Fd holder(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(holder.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(holder.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    Fd no_input(::open("/dev/null", O_RDONLY));
    const Finished run = run_to_end("echo_client", {"--port", std::to_string(ntohs(addr.sin_port))}, no_input.get());
    CHECK(run.status == 1);
    CHECK(run.err.find("cannot connect") != std::string::npos);
    CHECK(run.out.empty());
}
