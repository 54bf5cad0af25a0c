// tests/worker_util.hpp -- helpers for the suites that use the worker pool.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "test_util.hpp"

namespace reactor::test {

/// A one-way gate: pool work waits at it until the test opens it. Every
/// wait is bounded, so a test that forgets to open it fails instead of
/// hanging (the waiting work returns false).
class Gate {
public:
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        cv_.notify_all();
    }
    /// Waits until open() or `limit`; returns whether the gate opened.
    bool wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        return cv_.wait_for(lock, limit, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    bool open_ = false;
};

}  // namespace reactor::test

#include <cstdio>
#include <cstdlib>
#include <string>
#include <sys/wait.h>

namespace reactor::test {

/// Runs a shell command; returns its standard output and exit status
/// (-1 if it did not exit normally).
inline std::pair<std::string, int> run_command(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return {out, -1};
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
    const int status = ::pclose(pipe);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

}  // namespace reactor::test
