// tests/test_util.cpp
#include "test_util.hpp"

#include <reactor/worker_pool.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace reactor::test {

namespace {
void check(bool ok, const char* what) {
    if (!ok) throw std::system_error(errno, std::system_category(), what);
}

// The suites run as a server does: SIGPIPE ignored (EventLoop does the same
// on its first construction). A test's own send() to a closed peer then
// fails with EPIPE also where MSG_NOSIGNAL does not exist (macOS), even
// before any loop was created.
const bool sigpipe_ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();
}  // namespace

void set_nonblocking(int fd) {
    check(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0, "fcntl");
    check(::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0, "fcntl");
}

Fd make_stream_socket(int family, bool nonblocking) {
    Fd fd(::socket(family, SOCK_STREAM, 0));
    check(fd.get() >= 0, "socket");
    if (nonblocking) {
        set_nonblocking(fd.get());
    } else {
        check(::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) == 0, "fcntl");
    }
    return fd;
}

bool run_until(EventLoop& loop, const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return done();
        loop.run_once(std::min<EventLoop::Duration>(left, std::chrono::milliseconds(50)));
    }
    return true;
}

void run_for(EventLoop& loop, std::chrono::milliseconds span) {
    const auto deadline = std::chrono::steady_clock::now() + span;
    for (;;) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return;
        loop.run_once(left);
    }
}

void Fd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

std::pair<Fd, Fd> make_pipe() {
    int fds[2];
    check(::pipe(fds) == 0, "pipe");
    set_nonblocking(fds[0]);
    set_nonblocking(fds[1]);
    return {Fd(fds[0]), Fd(fds[1])};
}

std::pair<Fd, Fd> make_socketpair() {
    int fds[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
    set_nonblocking(fds[0]);
    set_nonblocking(fds[1]);
    return {Fd(fds[0]), Fd(fds[1])};
}

std::pair<Fd, int> make_listener() {
    Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
    check(fd.get() >= 0, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    check(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "bind");
    check(::listen(fd.get(), 1024) == 0, "listen");
    socklen_t len = sizeof addr;
    check(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0, "getsockname");
    set_nonblocking(fd.get());
    return {std::move(fd), ntohs(addr.sin_port)};
}

std::pair<Fd, Fd> make_tcp_pair() {
    auto [listener, port] = make_listener();
    Fd client(::socket(AF_INET, SOCK_STREAM, 0));
    check(client.get() >= 0, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    check(::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0, "connect");
    int server = -1;
    for (int i = 0; i < 1000 && server < 0; ++i) {
        server = ::accept(listener.get(), nullptr, nullptr);
        if (server < 0 && errno == EAGAIN) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    check(server >= 0, "accept");
    set_nonblocking(client.get());
    set_nonblocking(server);
    return {std::move(client), Fd(server)};
}

void write_all(int fd, const std::string& data) {
    std::size_t off = 0;
    int spins = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR) && ++spins < 10000) {
            std::this_thread::sleep_for(std::chrono::microseconds(100));
        } else {
            check(false, "write");
        }
    }
}

std::string read_some(int fd) {
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string example_path(const std::string& name) {
    if (const char* dir = std::getenv("REACTOR_EXAMPLES"); dir != nullptr && *dir != '\0') {
        return std::string(dir) + "/" + name;
    }
    const char* build = std::getenv("BUILD");
    return std::string(build != nullptr && *build != '\0' ? build : "build") + "/examples/" + name;
}

std::string backend_name() {
    const char* env = std::getenv("REACTOR_BACKEND");
    return env != nullptr && *env != '\0' ? env : std::string(Poller::available().front());
}

TempDir::TempDir(const std::string& prefix) {
    std::string name = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    REQUIRE(::mkdtemp(name.data()) != nullptr);
    path_ = name;
}

TempDir::~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

void write_file(const std::filesystem::path& path, std::string_view data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    REQUIRE(!out.fail());
}

CheckedLoop::~CheckedLoop() {
    // What the teardown queued (a closed connection's deferred close, the
    // release of a server's core) is part of the test: let it run, briefly.
    for (int i = 0; i < 50 && (posted_count() != 0 || deferred_count() != 0 || reactor::pending_work(*this) != 0); ++i) {
        run_once(std::chrono::milliseconds(i < 10 ? 0 : 10));
    }
    CHECK_MESSAGE(watcher_count() == 0, "fd watchers left live by the test");
    CHECK_MESSAGE(timer_count() == 0, "timers left pending by the test");
    CHECK_MESSAGE(posted_count() == 0, "posted functions left unrun by the test");
    CHECK_MESSAGE(reactor::pending_work(*this) == 0, "queue_work completions left pending by the test");
}

}  // namespace reactor::test
