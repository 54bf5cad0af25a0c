// tests/fuzz/loadgen_verify_fuzz.cpp -- libFuzzer target for the load
// generator's reply checkers (examples/loadgen/*_verify.hpp): EchoVerifier,
// HttpResponseScanner, LineSplitter and parse_chat_line. Built and run by
// scripts/fuzz.sh (`make fuzz`); not a doctest suite.
// fuzz-sources:
//
// The first input byte picks the checker (byte % 3: echo, http, chat); the
// rest is the stream a server sent. Each stream is fed four ways: whole,
// split in two at a position taken from the first byte, split in three at
// positions taken from a hash of the input, and one byte at a time (inputs
// up to 1 KiB). Checked:
//   - echo: the rest is "SENT\0RECEIVED" (no NUL: the server echoed SENT
//     exactly); SENT is cut into messages after each '\n'. The verdict is
//     that of a plain oracle (RECEIVED is a prefix of SENT), the messages
//     completed are exactly those RECEIVED covers, in order with their send
//     times, pending() and pending_bytes() agree, and a rejection's error
//     text is the same however the stream was split;
//   - http: every split gives the same responses (status, body length,
//     chunked), the same verdict, the same error text and the same
//     in_progress(); a scanner that failed stays failed;
//   - chat: every split gives the same lines and the same verdict, no line
//     holds a '\n' and none is longer than kMaxLine; each
//     line is classified without crashing, a Message that is intact is
//     exactly the line make_chat_line() makes for its numbers, and a line
//     made by make_chat_line() from numbers in the input parses back intact
//     behind any prefix.
#include "../../examples/loadgen/chat_verify.hpp"
#include "../../examples/loadgen/echo_verify.hpp"
#include "../../examples/loadgen/http_verify.hpp"
#include "../../examples/loadgen/payload.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

using namespace loadgen;

namespace {

using TimePoint = std::chrono::steady_clock::time_point;

TimePoint at(std::size_t i) { return TimePoint(std::chrono::nanoseconds(i + 1)); }

// Cuts `s` into pieces of the given sizes (what is left is the last piece).
std::vector<std::string_view> split(std::string_view s, const std::vector<std::size_t>& sizes) {
    std::vector<std::string_view> out;
    for (std::size_t n : sizes) {
        n = std::min(n, s.size());
        out.push_back(s.substr(0, n));
        s.remove_prefix(n);
    }
    out.push_back(s);
    return out;
}

// ---- echo ----------------------------------------------------------------

struct EchoResult {
    bool ok = true;
    std::vector<TimePoint> completed;
    std::size_t pending = 0;
    std::size_t pending_bytes = 0;
    std::string error;
    bool operator==(const EchoResult&) const = default;
};

EchoResult drive_echo(const std::vector<std::string_view>& messages,
                      const std::vector<std::string_view>& pieces) {
    EchoVerifier v;
    for (std::size_t i = 0; i < messages.size(); ++i) v.expect(messages[i], at(i));
    EchoResult r;
    for (std::string_view piece : pieces) {
        r.ok = v.feed(piece, [&](TimePoint sent) { r.completed.push_back(sent); });
        if (!r.ok) {
            r.error = v.error();
            FUZZ_CHECK(!r.error.empty());
            return r;  // the connection is closed at the first mismatch
        }
    }
    r.pending = v.pending();
    r.pending_bytes = v.pending_bytes();
    return r;
}

void check_echo(std::string_view rest, const std::vector<std::vector<std::size_t>>& splits) {
    const std::size_t nul = rest.find('\0');
    const std::string_view sent = rest.substr(0, nul);
    const std::string_view received = nul == std::string_view::npos ? sent : rest.substr(nul + 1);
    std::vector<std::string_view> messages;
    for (std::string_view s = sent; !s.empty();) {
        const std::size_t nl = s.find('\n');
        const std::size_t n = nl == std::string_view::npos ? s.size() : nl + 1;
        messages.push_back(s.substr(0, n));
        s.remove_prefix(n);
    }

    const EchoResult whole = drive_echo(messages, {received});
    // The oracle: the echo is right while it continues what was sent.
    const bool prefix = received.size() <= sent.size() && sent.substr(0, received.size()) == received;
    FUZZ_CHECK(whole.ok == prefix);
    if (whole.ok) {
        std::size_t end = 0, complete = 0;
        for (std::string_view m : messages) {
            end += m.size();
            if (end > received.size()) break;
            FUZZ_CHECK(whole.completed.size() > complete && whole.completed[complete] == at(complete));
            ++complete;
        }
        FUZZ_CHECK(whole.completed.size() == complete);
        FUZZ_CHECK(whole.pending == messages.size() - complete);
        FUZZ_CHECK(whole.pending_bytes == sent.size() - received.size());
    }
    for (const auto& sizes : splits) {
        const EchoResult r = drive_echo(messages, split(received, sizes));
        FUZZ_CHECK(r.ok == whole.ok);
        // A rejection may come after fewer completions when the stream is cut
        // differently (a read is checked whole before its messages count),
        // but never says something else.
        if (r.ok) {
            FUZZ_CHECK(r == whole);
        } else {
            FUZZ_CHECK(r.error == whole.error);
        }
    }
}

// ---- http ----------------------------------------------------------------

struct HttpResult {
    bool ok = true;
    std::vector<HttpResponse> responses;
    bool in_progress = false;
    std::string error;
    bool operator==(const HttpResult& o) const {
        if (ok != o.ok || in_progress != o.in_progress || error != o.error) return false;
        if (responses.size() != o.responses.size()) return false;
        for (std::size_t i = 0; i < responses.size(); ++i) {
            const HttpResponse& a = responses[i];
            const HttpResponse& b = o.responses[i];
            if (a.status != b.status || a.body_length != b.body_length || a.chunked != b.chunked) {
                return false;
            }
        }
        return true;
    }
};

HttpResult drive_http(const std::vector<std::string_view>& pieces) {
    HttpResponseScanner scanner;
    HttpResult r;
    for (std::string_view piece : pieces) {
        r.ok = scanner.feed(piece, [&](const HttpResponse& resp) {
            FUZZ_CHECK(resp.status >= 0 && resp.status <= 999);
            FUZZ_CHECK(resp.status < 100 || resp.status >= 200);  // interim ones are skipped
            FUZZ_CHECK(resp.body_length <= HttpResponseScanner::kMaxBody);
            r.responses.push_back(resp);
        });
        if (!r.ok) {
            r.error = scanner.error();
            FUZZ_CHECK(!r.error.empty());
            // Failed stays failed, and reports nothing more.
            FUZZ_CHECK(!scanner.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                                     [](const HttpResponse&) { FUZZ_CHECK(false); }));
            break;
        }
    }
    r.in_progress = scanner.in_progress();
    return r;
}

void check_http(std::string_view rest, const std::vector<std::vector<std::size_t>>& splits) {
    const HttpResult whole = drive_http({rest});
    for (const auto& sizes : splits) FUZZ_CHECK(drive_http(split(rest, sizes)) == whole);
}

// ---- chat ----------------------------------------------------------------

struct ChatResult {
    bool ok = true;
    std::vector<std::string> lines;
    bool in_progress = false;
    bool operator==(const ChatResult&) const = default;
};

ChatResult drive_chat(const std::vector<std::string_view>& pieces) {
    LineSplitter splitter;
    ChatResult r;
    for (std::string_view piece : pieces) {
        r.ok = splitter.feed(piece, [&](std::string_view line) { r.lines.emplace_back(line); });
        if (!r.ok) return r;
    }
    r.in_progress = splitter.in_progress();
    return r;
}

void check_chat(std::string_view rest, const std::vector<std::vector<std::size_t>>& splits) {
    const ChatResult whole = drive_chat({rest});
    for (const auto& sizes : splits) FUZZ_CHECK(drive_chat(split(rest, sizes)) == whole);

    const std::uint64_t seed = rest.empty() ? 1 : static_cast<unsigned char>(rest[0]);
    const std::size_t size = 64;
    for (const std::string& line : whole.lines) {
        FUZZ_CHECK(line.find('\n') == std::string::npos);
        FUZZ_CHECK(line.size() <= LineSplitter::kMaxLine);
        const ChatLine got = parse_chat_line(line, seed, size);
        if (got.kind == ChatLine::Kind::Message && got.intact) {
            const std::string made = make_chat_line(seed, got.conn, got.seq, size);
            FUZZ_CHECK(line.size() >= made.size());
            FUZZ_CHECK(line.substr(line.size() - made.size()) == made);
        }
    }

    // A line loadgen made is recognised behind the server's prefix (the
    // line's own bytes up to the first ']', as a relay adds one).
    std::uint64_t conn = 0, seq = 0;
    for (std::size_t i = 0; i < rest.size() && i < 8; ++i) {
        (i < 4 ? conn : seq) = ((i < 4 ? conn : seq) << 8) | static_cast<unsigned char>(rest[i]);
    }
    const std::string made = make_chat_line(seed, conn, seq, size);
    std::string prefix(rest.substr(0, rest.find(']')));
    if (prefix.find('\n') != std::string::npos || prefix.find('\r') != std::string::npos) {
        prefix.clear();
    }
    prefix += prefix.empty() ? "" : "] ";
    const ChatLine back = parse_chat_line(prefix + made, seed, size);
    if (prefix.find("msg ") == std::string::npos && prefix.find("loadgen-") == std::string::npos) {
        FUZZ_CHECK(back.kind == ChatLine::Kind::Message);
        FUZZ_CHECK(back.conn == conn && back.seq == seq && back.intact);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    const std::size_t n = rest.size();

    std::vector<std::vector<std::size_t>> splits;
    splits.push_back({data[0] % (n + 1)});
    // Two more cut points, independent of the first byte (FNV-1a of the input).
    std::uint64_t hash = 14695981039346656037ULL;
    for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ULL;
    const std::size_t first = static_cast<std::size_t>(hash % (n + 1));
    const std::size_t second = static_cast<std::size_t>((hash >> 32) % (n - first + 1));
    splits.push_back({first, second});
    if (n <= 1024) splits.push_back(std::vector<std::size_t>(n, 1));

    switch (data[0] % 3) {
    case 0: check_echo(rest, splits); break;
    case 1: check_http(rest, splits); break;
    default: check_chat(rest, splits); break;
    }
    return 0;
}
