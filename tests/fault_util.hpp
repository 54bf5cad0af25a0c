// tests/fault_util.hpp -- workloads for the fault-injection and
// misbehaving-peer suites: plain-socket peers (not built on the library, so
// the faults only ever hit the library's side) that check every byte.
#pragma once

#include "fault/fault.hpp"
#include "tcp_util.hpp"

#include <reactor/event_loop.hpp>
#include <reactor/http/server.hpp>
#include <reactor/worker_pool.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace reactor::test {

/// One plain client socket: what it still has to send, what it received,
/// and how its connection ended.
struct RawPeer {
    Fd fd;
    std::string out;        // everything it sends
    std::size_t sent = 0;   // how much of `out` the socket took
    std::string in;         // everything it received
    int state = 1;          // 1 open, 0 EOF, -1 error (reset)

    explicit RawPeer(const SocketAddress& address) : fd(tcp_connect(address)) {}
    void pump() {
        if (state != 1) return;
        write_some(fd.get(), out, sent);
        state = read_into(fd.get(), in);
    }
    bool closed() const { return state != 1; }
};

/// Runs the loop until `done()` or `limit`, like run_until, but a poller
/// failure thrown out of run_once() (an injected wait error) is counted in
/// `wait_errors` and the loop runs on: the exception policy says the loop
/// stays usable.
inline bool drive(EventLoop& loop, const std::function<bool()>& done, int* wait_errors = nullptr,
                  std::chrono::milliseconds limit = kDeadline) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        const auto left = deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return done();
        try {
            loop.run_once(std::min<EventLoop::Duration>(left, std::chrono::milliseconds(20)));
        } catch (const std::system_error& e) {
            if (wait_errors == nullptr) throw;
            ++*wait_errors;
        }
    }
    return true;
}

/// True if `got` is a prefix of `want`: nothing lost in the middle,
/// duplicated or reordered, though the end may be missing.
inline bool is_prefix(const std::string& got, const std::string& want) {
    return got.size() <= want.size() && want.compare(0, got.size(), got) == 0;
}

/// A distinct pattern per stream (seeded by `id`), so that bytes from one
/// connection can never pass for another's.
inline std::string stream_pattern(std::size_t size, unsigned id) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) {
        s[i] = static_cast<char>('A' + (i * 7 + i / 253 + id * 11) % 58);
    }
    return s;
}

/// A response body streamed from a file as examples/http_files.cpp does:
/// one slice read on the worker pool (pread), written, and the next read
/// only once it has drained (Response::on_drain), so a slow client holds
/// one slice, never the file.
struct FileStream {
    Fd file;
    std::size_t size = 0;    // bytes promised by send_head()
    std::size_t offset = 0;  // next byte to read
    std::size_t slice = 16 * 1024;
    http::Response response;
};

inline void stream_file(EventLoop& loop, const std::shared_ptr<FileStream>& s) {
    if (!s->response.connection_open()) return;
    if (s->offset >= s->size) {
        s->response.end();
        return;
    }
    const std::size_t length = std::min(s->slice, s->size - s->offset);
    reactor::queue_work(loop,
        [fd = s->file.get(), offset = s->offset, length] {
            std::string data(length, '\0');
            const ssize_t n = ::pread(fd, data.data(), length, static_cast<off_t>(offset));
            data.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
            return data;
        },
        [&loop, s](std::error_code ec, std::string data) {
            if (ec || data.empty()) {
                s->response.end();  // short: the connection closes
                return;
            }
            s->response.write(data);
            s->offset += data.size();
            s->response.on_drain([&loop, s] { stream_file(loop, s); });
        });
}

}  // namespace reactor::test
