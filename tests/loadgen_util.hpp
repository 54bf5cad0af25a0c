// tests/loadgen_util.hpp -- what tests/loadgen_test.cpp needs to drive the
// real loadgen program: small loopback servers that behave well or badly on
// purpose, and a way to run a program with a time limit and collect its
// output.
//
// The servers run on a plain thread with poll(2), deliberately not on
// reactor's EventLoop: they are the fixed point loadgen is measured
// against, and a bug in the loop should not hide in both sides at once.
#pragma once

#include "test_util.hpp"
#include "base/platform.hpp"  // REACTOR_MSG_NOSIGNAL

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace reactor::test {

/// A loopback server on its own thread, listening on 127.0.0.1 (port 0).
/// Stops (closing every socket) when destroyed.
class PeerServer {
public:
    enum class Behaviour {
        Echo,          ///< writes back every byte
        CorruptEcho,   ///< echoes, but flips the 100th byte of each connection
        CloseAtOnce,   ///< closes each connection on its first read
        ChatRelay,     ///< relays each line as "[fdN] LINE" to every other client
        HttpHello,     ///< answers each "\r\n\r\n"-terminated request with "Hello, World!"
    };

    explicit PeerServer(Behaviour b) : behaviour_(b) {
        auto [fd, port] = make_listener();
        listener_ = std::move(fd);
        port_ = port;
        auto [r, w] = make_pipe();
        stop_read_ = std::move(r);
        stop_write_ = std::move(w);
        thread_ = std::thread([this] { serve(); });
    }
    ~PeerServer() {
        const char c = 'x';
        (void)::write(stop_write_.get(), &c, 1);
        thread_.join();
    }
    PeerServer(const PeerServer&) = delete;
    PeerServer& operator=(const PeerServer&) = delete;

    int port() const { return port_; }

private:
    struct Client {
        Fd fd;
        std::string in;  // chat / http: bytes of an unfinished line or request
        std::size_t seen = 0;  // corrupt echo: bytes echoed so far
    };

    void send_all(int fd, const std::string& data) {
        std::size_t off = 0;
        // The clients read promptly; a short wait on a full buffer is fine in a test server.
        for (int tries = 0; off < data.size() && tries < 1000; ++tries) {
            const ssize_t n = ::send(fd, data.data() + off, data.size() - off, REACTOR_MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                return;
            } else {
                pollfd p{fd, POLLOUT, 0};
                (void)::poll(&p, 1, 10);
            }
        }
    }

    void serve() {
        std::map<int, Client> clients;
        char buf[65536];
        for (;;) {
            std::vector<pollfd> fds;
            fds.push_back({stop_read_.get(), POLLIN, 0});
            fds.push_back({listener_.get(), POLLIN, 0});
            for (auto& [fd, c] : clients) fds.push_back({fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
            if (fds[0].revents) return;
            if (fds[1].revents & POLLIN) {
                for (;;) {
                    const int cfd = ::accept(listener_.get(), nullptr, nullptr);
                    if (cfd < 0) break;
                    set_nonblocking(cfd);
                    if (behaviour_ == Behaviour::ChatRelay) {
                        for (auto& [ofd, o] : clients) send_all(ofd, "* fd" + std::to_string(cfd) + " joined\n");
                    }
                    clients[cfd].fd = Fd(cfd);
                }
            }
            for (std::size_t i = 2; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                const int fd = fds[i].fd;
                const ssize_t n = ::read(fd, buf, sizeof buf);
                if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
                if (n <= 0 || behaviour_ == Behaviour::CloseAtOnce) {
                    clients.erase(fd);
                    if (behaviour_ == Behaviour::ChatRelay) {
                        for (auto& [ofd, o] : clients) send_all(ofd, "* fd" + std::to_string(fd) + " left\n");
                    }
                    continue;
                }
                on_data(clients, clients[fd], fd, std::string(buf, static_cast<std::size_t>(n)));
            }
        }
    }

    void on_data(std::map<int, Client>& clients, Client& c, int fd, std::string data) {
        switch (behaviour_) {
        case Behaviour::Echo:
            send_all(fd, data);
            break;
        case Behaviour::CorruptEcho:
            for (char& ch : data) {
                if (++c.seen == 100) ch = ch == 'x' ? 'y' : 'x';
            }
            send_all(fd, data);
            break;
        case Behaviour::CloseAtOnce:
            break;
        case Behaviour::ChatRelay: {
            c.in += data;
            std::size_t nl;
            while ((nl = c.in.find('\n')) != std::string::npos) {
                const std::string line = "[fd" + std::to_string(fd) + "] " + c.in.substr(0, nl + 1);
                c.in.erase(0, nl + 1);
                for (auto& [ofd, o] : clients) {
                    if (ofd != fd) send_all(ofd, line);
                }
            }
            break;
        }
        case Behaviour::HttpHello: {
            c.in += data;
            std::size_t end;
            std::string out;
            while ((end = c.in.find("\r\n\r\n")) != std::string::npos) {
                c.in.erase(0, end + 4);
                out += "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHello, World!";
            }
            send_all(fd, out);
            break;
        }
        }
    }

    Behaviour behaviour_;
    Fd listener_;
    int port_ = 0;
    Fd stop_read_, stop_write_;
    std::thread thread_;
};

/// What a finished program left behind.
struct ProgramResult {
    int exit_code = -1;  ///< -1 if it was killed (by the time limit or a signal)
    std::string out;     ///< its stdout
    std::string err;     ///< its stderr
};

/// Runs `argv` (argv[0] a path) with stdout and stderr captured in
/// temporary files, killing it if it runs longer than `limit`. With
/// `interrupt`, sends it one SIGINT (Ctrl-C) as soon as it has written
/// something on stderr.
inline ProgramResult run_program(const std::vector<std::string>& argv,
                                 std::chrono::milliseconds limit = kDeadline,
                                 bool interrupt = false) {
    ProgramResult result;
    char out_path[] = "/tmp/loadgen_test_out_XXXXXX";
    char err_path[] = "/tmp/loadgen_test_err_XXXXXX";
    Fd out(::mkstemp(out_path)), err(::mkstemp(err_path));
    REQUIRE(out.get() >= 0);
    REQUIRE(err.get() >= 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err.get(), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE_MESSAGE(rc == 0, "cannot start " << argv[0]);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    for (;;) {
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) break;
        if (interrupt && ::lseek(err.get(), 0, SEEK_END) > 0) {
            ::kill(pid, SIGINT);
            interrupt = false;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            (void)::waitpid(pid, &status, 0);
            FAIL_CHECK(argv[0] << " ran past its time limit and was killed");
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    auto slurp = [](const char* path) {
        std::ifstream in(path);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    result.out = slurp(out_path);
    result.err = slurp(err_path);
    ::unlink(out_path);
    ::unlink(err_path);
    return result;
}

}  // namespace reactor::test
