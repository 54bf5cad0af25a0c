// examples/loadgen/http_verify.hpp -- finds complete HTTP/1.x responses in
// a keep-alive byte stream, however the stream is sliced.
//
// Only what loadgen needs: the status code, the headers that frame the body
// (Content-Length, Transfer-Encoding: chunked), and the body's length. The
// body itself is skipped, never stored. A stream that does not frame like
// HTTP/1.x (a bad status line, a body longer than Content-Length, which
// shows up as garbage where the next status line should be, a response with
// neither Content-Length nor chunked framing on a keep-alive connection) is
// an error: loadgen counts it as a mismatch and closes the connection.
//
// Interim responses (1xx) are skipped; 204 and 304 have no body.
#pragma once

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

/// The request loadgen sends in http mode: the smallest keep-alive GET.
inline std::string make_http_request(const std::string& host, int port) {
    // An IPv6 literal goes in brackets (RFC 3986 IP-literal); servers that
    // check the Host syntax, as ours does, answer 400 to a bare "::1:8080".
    const bool ipv6 = host.find(':') != std::string::npos && host.front() != '[';
    const std::string authority = (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
    return "GET / HTTP/1.1\r\nHost: " + authority + "\r\n\r\n";
}

struct HttpResponse {
    int status = 0;
    std::uint64_t body_length = 0;  ///< bytes of body (decoded, for chunked)
    bool chunked = false;
};

class HttpResponseScanner {
public:
    /// Limits that keep a broken or hostile server from growing memory.
    static constexpr std::size_t kMaxLine = 8192;
    static constexpr int kMaxHeaders = 100;
    static constexpr std::uint64_t kMaxBody = 1ull << 30;

    /// Consumes `data`; calls `on_response(const HttpResponse&)` for each
    /// response completed in it. Returns false when the stream is malformed
    /// (error() says how); the scanner is then unusable, like the stream.
    template <class OnResponse>
    bool feed(std::string_view data, OnResponse&& on_response) {
        if (!error_.empty()) return false;
        std::size_t i = 0;
        while (i < data.size()) {
            if (state_ == State::Body || state_ == State::ChunkData) {
                const auto n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(remaining_, data.size() - i));
                remaining_ -= n;
                i += n;
                if (remaining_ > 0) break;
                if (state_ == State::Body) {
                    on_response(response_);
                    start_response();
                } else {
                    state_ = State::ChunkDataEnd;
                }
                continue;
            }
            // Every other state consumes whole lines.
            const std::size_t nl = data.find('\n', i);
            const std::size_t stop = nl == std::string_view::npos ? data.size() : nl;
            if (line_.size() + (stop - i) > kMaxLine) return fail("line longer than 8 KiB");
            line_.append(data.substr(i, stop - i));
            if (nl == std::string_view::npos) break;
            i = nl + 1;
            if (!line_.empty() && line_.back() == '\r') line_.pop_back();
            const bool ok = on_line(line_);
            line_.clear();
            if (!ok) return false;
            if (state_ == State::Done) {
                on_response(response_);
                start_response();
            } else if (state_ == State::Interim) {
                start_response();
            }
        }
        return true;
    }

    /// True when part of a response has arrived but not all of it.
    bool in_progress() const { return state_ != State::StatusLine || !line_.empty(); }
    /// Why the last feed() returned false.
    const std::string& error() const { return error_; }

private:
    enum class State {
        StatusLine, Headers, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Done, Interim
    };

    void start_response() {
        state_ = State::StatusLine;
        response_ = HttpResponse{};
        content_length_ = -1;
        headers_ = 0;
    }

    bool fail(std::string why) {
        error_ = std::move(why);
        return false;
    }

    static std::string lower(std::string_view s) {
        std::string out(s);
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    }

    static std::string_view trim(std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    }

    static std::string printable(std::string_view s) {
        std::string out;
        for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
        return out;
    }

    bool parse_number(std::string_view s, int base, std::uint64_t& out) {
        if (s.empty()) return false;
        std::uint64_t v = 0;
        for (char c : s) {
            int digit;
            if (c >= '0' && c <= '9') digit = c - '0';
            else if (base == 16 && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
            else if (base == 16 && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
            else return false;
            v = v * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(digit);
            if (v > kMaxBody) return false;
        }
        out = v;
        return true;
    }

    bool on_line(std::string_view line) {
        switch (state_) {
        case State::StatusLine: {
            // "HTTP/1.1 200 OK": version, space, three digits, then a space
            // and a reason phrase or nothing.
            if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ' ||
                !std::isdigit(static_cast<unsigned char>(line[9])) ||
                !std::isdigit(static_cast<unsigned char>(line[10])) ||
                !std::isdigit(static_cast<unsigned char>(line[11])) ||
                (line.size() > 12 && line[12] != ' ')) {
                return fail("not an HTTP/1.x status line: \"" + printable(line) + "\"");
            }
            response_.status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
            state_ = State::Headers;
            return true;
        }
        case State::Headers: {
            if (line.empty()) return end_of_headers();
            if (++headers_ > kMaxHeaders) return fail("more than 100 header lines");
            const std::size_t colon = line.find(':');
            if (colon == std::string_view::npos || colon == 0) {
                return fail("malformed header line: \"" + printable(line) + "\"");
            }
            const std::string name = lower(line.substr(0, colon));
            const std::string_view value = trim(line.substr(colon + 1));
            if (name == "content-length") {
                std::uint64_t n = 0;
                if (!parse_number(value, 10, n)) {
                    return fail("bad Content-Length: \"" + printable(value) + "\"");
                }
                content_length_ = static_cast<std::int64_t>(n);
            } else if (name == "transfer-encoding") {
                if (lower(value).find("chunked") != std::string::npos) response_.chunked = true;
            }
            return true;
        }
        case State::ChunkSize: {
            std::string_view size = line.substr(0, line.find(';'));  // chunk extensions
            std::uint64_t n = 0;
            if (!parse_number(trim(size), 16, n)) {
                return fail("bad chunk size line: \"" + printable(line) + "\"");
            }
            if (response_.body_length + n > kMaxBody) return fail("chunked body over 1 GiB");
            response_.body_length += n;
            if (n == 0) {
                state_ = State::Trailers;
            } else {
                remaining_ = n;
                state_ = State::ChunkData;
            }
            return true;
        }
        case State::ChunkDataEnd:
            if (!line.empty()) return fail("chunk data longer than its size");
            state_ = State::ChunkSize;
            return true;
        case State::Trailers:
            if (line.empty()) state_ = State::Done;
            return true;
        default:
            return fail("internal: line in a body state");
        }
    }

    bool end_of_headers() {
        const int s = response_.status;
        if (s >= 100 && s < 200) {
            state_ = State::Interim;
            return true;
        }
        if (s == 204 || s == 304) {
            state_ = State::Done;
        } else if (response_.chunked) {
            state_ = State::ChunkSize;
        } else if (content_length_ >= 0) {
            response_.body_length = static_cast<std::uint64_t>(content_length_);
            remaining_ = response_.body_length;
            state_ = remaining_ == 0 ? State::Done : State::Body;
        } else {
            return fail("response has neither Content-Length nor chunked encoding");
        }
        return true;
    }

    State state_ = State::StatusLine;
    HttpResponse response_;
    std::int64_t content_length_ = -1;
    int headers_ = 0;
    std::uint64_t remaining_ = 0;  // body or chunk bytes still to skip
    std::string line_;             // the line being assembled
    std::string error_;
};

}  // namespace loadgen
