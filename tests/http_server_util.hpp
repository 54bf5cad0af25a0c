// tests/http_server_util.hpp -- a plain-socket HTTP client for the server
// suites: it is NOT built on the library's parser or writer, so it checks
// them from the outside. It splits a byte stream into responses (sized,
// chunked, or ended by EOF) and runs the loop while it waits. take_reply()
// is the one reply parser of the suites (the library's own, the examples'
// run as child processes).
#pragma once

#include "tcp_util.hpp"

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace reactor::test {

struct HttpReply {
    int status = 0;
    std::string head;  // status line and header lines, the final CRLF excluded
    std::string body;  // de-chunked
    /// The value of the first header `name` (case-insensitive), or "".
    std::string header(const std::string& name) const {
        std::size_t at = head.find("\r\n");
        while (at != std::string::npos) {
            const std::size_t start = at + 2;
            const std::size_t end = head.find("\r\n", start);
            const std::string line = head.substr(start, end == std::string::npos ? std::string::npos : end - start);
            const std::size_t colon = line.find(':');
            if (colon == name.size()) {
                bool same = true;
                for (std::size_t i = 0; i < colon; ++i) {
                    same = same && std::tolower(static_cast<unsigned char>(line[i])) ==
                                       std::tolower(static_cast<unsigned char>(name[i]));
                }
                if (same) {
                    std::size_t v = colon + 1;
                    while (v < line.size() && line[v] == ' ') ++v;
                    return line.substr(v);
                }
            }
            at = end;
        }
        return {};
    }
    /// False for a default HttpReply, which stands for one that never came.
    bool complete() const { return status != 0; }
    bool has_header(const std::string& name) const {
        return head.find("\r\n" + name + ":") != std::string::npos;
    }
};

/// Takes one complete response off the front of `in`, or nullopt if it is
/// not all there yet. `head_request`: the response has no body whatever
/// its headers say. `eof`: the peer closed, so a body without framing ends here.
inline std::optional<HttpReply> take_reply(std::string& in, bool head_request = false, bool eof = false) {
    const std::size_t end = in.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    HttpReply r;
    r.head = in.substr(0, end);
    // A well-formed head: "HTTP/1.x NNN ...", then "name: value" lines.
    REQUIRE_MESSAGE(r.head.rfind("HTTP/1.", 0) == 0, "not a status line: " << r.head);
    for (std::size_t at = r.head.find("\r\n"); at != std::string::npos;) {
        const std::size_t next = r.head.find("\r\n", at + 2);
        const std::string line = r.head.substr(at + 2, next == std::string::npos ? next : next - at - 2);
        REQUIRE_MESSAGE(line.find(':') != std::string::npos, "not a header line: " << line);
        at = next;
    }
    r.status = std::atoi(r.head.c_str() + 9);
    std::size_t pos = end + 4;
    const bool bodiless = head_request || (r.status >= 100 && r.status < 200) || r.status == 204 ||
                          r.status == 304;
    if (bodiless) {
    } else if (r.header("Transfer-Encoding") == "chunked") {
        for (;;) {
            const std::size_t line_end = in.find("\r\n", pos);
            if (line_end == std::string::npos) return std::nullopt;
            const std::size_t size = std::strtoul(in.c_str() + pos, nullptr, 16);
            pos = line_end + 2;
            if (size == 0) {
                if (in.size() < pos + 2) return std::nullopt;
                pos += 2;  // no trailers from this server
                break;
            }
            if (in.size() < pos + size + 2) return std::nullopt;
            r.body.append(in, pos, size);
            pos += size + 2;
        }
    } else if (const std::string cl = r.header("Content-Length"); !cl.empty()) {
        const std::size_t size = std::strtoul(cl.c_str(), nullptr, 10);
        if (in.size() < pos + size) return std::nullopt;
        r.body = in.substr(pos, size);
        pos += size;
    } else {
        if (!eof) return std::nullopt;
        r.body = in.substr(pos);
        pos = in.size();
    }
    in.erase(0, pos);
    return r;
}

/// A client connection: what it received so far, and whether the server
/// closed it.
struct HttpClient {
    Fd fd;
    std::string in;
    bool eof = false;

    explicit HttpClient(const SocketAddress& address) : fd(tcp_connect(address)) {}

    void send(const std::string& bytes) { write_all(fd.get(), bytes); }
    void pump() {
        if (!eof && read_into(fd.get(), in) <= 0) eof = true;
    }
    /// Runs the loop until `n` responses arrived (or the deadline).
    std::vector<HttpReply> replies(EventLoop& loop, std::size_t n, bool head_request = false) {
        std::vector<HttpReply> out;
        run_until(loop, [&] {
            pump();
            while (out.size() < n) {
                auto r = take_reply(in, head_request, eof);
                if (!r) break;
                out.push_back(std::move(*r));
            }
            return out.size() >= n || eof;
        });
        // A reply that ended with the connection.
        while (out.size() < n) {
            auto r = take_reply(in, head_request, eof);
            if (!r) break;
            out.push_back(std::move(*r));
        }
        return out;
    }
    HttpReply reply(EventLoop& loop, bool head_request = false) {
        auto v = replies(loop, 1, head_request);
        REQUIRE_MESSAGE(v.size() == 1, "no complete response; received: " << in);
        return v.front();
    }
    /// Runs the loop until the server closes the connection.
    bool wait_eof(EventLoop& loop) {
        return run_until(loop, [&] {
            pump();
            return eof;
        });
    }
};

/// "GET <path> HTTP/1.1" with a Host header and `extra` header lines.
inline std::string get(const std::string& path, const std::string& extra = "") {
    return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

}  // namespace reactor::test
