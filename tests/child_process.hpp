// tests/child_process.hpp -- an example program run as a child process, as
// a user would run it: its stdout and stderr on pipes, stopped with a signal
// and its exit status collected, and killed if a test ends without that.
#pragma once

#include "tcp_util.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace reactor::test {

class ChildProcess {
public:
    /// Starts example `name` (example_path(), so every backend's build)
    /// with `args`; a `name` containing '/' is a path, taken as it is.
    ChildProcess(const std::string& name, std::vector<std::string> args) {
        const std::string path = name.find('/') == std::string::npos ? example_path(name) : name;
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
    ~ChildProcess() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    /// The next line of its stdout / stderr (waits up to kDeadline).
    std::string read_stdout_line() { return read_line_blocking(stdout_.get()); }
    std::string read_stderr_line() { return read_line_blocking(stderr_.get()); }

    /// Sends `signo` (none if 0), then waits up to kDeadline for the exit:
    /// its status, 128 + the signal if a signal ended it, -1 if it is
    /// still running.
    int stop(int signo) {
        if (signo != 0) ::kill(pid_, signo);
        const auto deadline = std::chrono::steady_clock::now() + kDeadline;
        while (std::chrono::steady_clock::now() < deadline) {
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

/// The address in a "listening on HOST:PORT" line (a failed check if the
/// line says something else).
inline SocketAddress listening_address(const std::string& line) {
    const std::string prefix = "listening on ";
    REQUIRE_MESSAGE(line.rfind(prefix, 0) == 0, "first line: " << line);
    return SocketAddress::parse(line.substr(prefix.size()));
}

}  // namespace reactor::test
