// tests/test_util.hpp -- what every suite shares: loopback sockets and pipes
// that close themselves, and "run the loop until this holds or a deadline
// passes", so that no test depends on the machine's speed and none can hang.
#pragma once

#include <reactor/event_loop.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace reactor::test {

using namespace std::chrono_literals;

/// The default bound of every wait in the suites: generous for a loaded
/// CI machine running sanitizers, short enough that a hang fails quickly.
inline constexpr std::chrono::milliseconds kDeadline = 10s;

/// Runs `loop` until `done()` is true or `limit` passes; returns done().
bool run_until(EventLoop& loop, const std::function<bool()>& done,
               std::chrono::milliseconds limit = kDeadline);

/// Runs `loop` for `span` (to see that nothing happens in that time).
void run_for(EventLoop& loop, std::chrono::milliseconds span);

/// An fd that closes itself; -1 when empty.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    void reset(int fd = -1);

private:
    int fd_ = -1;
};

/// A non-blocking pipe: {read end, write end}.
/// A socket of `family` and SOCK_STREAM, close-on-exec and, if asked,
/// non-blocking: socket() then fcntl(), plain POSIX, so it runs everywhere
/// (SOCK_NONBLOCK in socket()'s type is Linux's and the BSDs', not macOS's).
Fd make_stream_socket(int family, bool nonblocking = true);
/// Sets O_NONBLOCK and FD_CLOEXEC on `fd` (fcntl); throws on failure.
void set_nonblocking(int fd);

std::pair<Fd, Fd> make_pipe();
/// A non-blocking AF_UNIX stream socketpair.
std::pair<Fd, Fd> make_socketpair();
/// A connected pair of non-blocking TCP sockets over 127.0.0.1:
/// {client side, server side}.
std::pair<Fd, Fd> make_tcp_pair();
/// A listening TCP socket on 127.0.0.1, port 0 (the kernel picks): {fd, port}.
std::pair<Fd, int> make_listener();

/// Writes all of `data` to a (blocking or not) fd, retrying EAGAIN briefly.
void write_all(int fd, const std::string& data);
/// Reads what is available now (non-blocking fd); "" at EAGAIN or EOF.
std::string read_some(int fd);

/// A fresh directory in the system's temporary folder, named after
/// `prefix`, removed with everything in it when the object goes (symbolic
/// links are removed, never what they point to).
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "reactor-test");
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return path_; }
    /// The path of `name` inside the directory.
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

/// Creates or truncates the file `path` and writes `data` to it; REQUIREs
/// that all of it was written.
void write_file(const std::filesystem::path& path, std::string_view data);

/// The path of example NAME as the suites run it: $REACTOR_EXAMPLES/NAME
/// (`make test` points it at the examples built against the test library,
/// so they run on every backend, emulated kqueue included), else
/// $BUILD/examples/NAME, else build/examples/NAME.
std::string example_path(const std::string& name);

/// The backend this run uses (REACTOR_BACKEND, or the default), for messages.
std::string backend_name();

/// An EventLoop that checks, as it goes, that the test left nothing behind:
/// declared first in a test (so destroyed last, after every server, client
/// and connection), it lets the loop settle (posted functions and deferred
/// releases that the teardown itself queued run for a few iterations),
/// then asserts that no fd watcher, timer, posted function or queue_work
/// completion is still live. A handle left behind is a leak the test
/// reports, not one the loop quietly frees.
class CheckedLoop : public EventLoop {
public:
    using EventLoop::EventLoop;
    ~CheckedLoop();
};

}  // namespace reactor::test
