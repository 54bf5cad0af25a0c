// tests/loadgen_test.cpp -- the load generator (examples/loadgen/): its
// command line, payloads, reply verification per mode, report, JSON and
// chart, then the program itself against small loopback servers that
// behave well or badly on purpose.
#include "../examples/loadgen/chat_verify.hpp"
#include "../examples/loadgen/conn.hpp"
#include "../examples/loadgen/echo_verify.hpp"
#include "../examples/loadgen/http_verify.hpp"
#include "../examples/loadgen/options.hpp"
#include "../examples/loadgen/payload.hpp"
#include "../examples/loadgen/report.hpp"
#include "../examples/loadgen/source_address.hpp"
#include "../examples/loadgen/svg.hpp"
#include "loadgen_util.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace loadgen;
using std::chrono::steady_clock;

namespace {

ParseResult parse(std::vector<std::string_view> args) { return parse_options(args); }

// Checks that every element opened in `doc` is closed, in order, and that
// nothing follows the root: enough to catch a broken writer without an XML
// library.
bool well_formed(const std::string& doc, std::string& why) {
    std::vector<std::string> open;
    std::size_t i = 0;
    bool root_closed = false;
    while ((i = doc.find('<', i)) != std::string::npos) {
        if (root_closed) {
            why = "content after the root element";
            return false;
        }
        const std::size_t end = doc.find('>', i);
        if (end == std::string::npos) {
            why = "unterminated tag";
            return false;
        }
        const std::string tag = doc.substr(i + 1, end - i - 1);
        if (tag.empty()) {
            why = "empty tag";
            return false;
        }
        if (tag[0] == '/') {
            if (open.empty() || open.back() != tag.substr(1)) {
                why = "</" + tag.substr(1) + "> closes nothing open";
                return false;
            }
            open.pop_back();
            root_closed = open.empty();
        } else if (tag.back() != '/') {
            open.push_back(tag.substr(0, tag.find(' ')));
        }
        i = end + 1;
    }
    if (!open.empty()) {
        why = "<" + open.back() + "> never closed";
        return false;
    }
    return true;
}

}  // namespace

// ---- command line ---------------------------------------------------------

TEST_CASE("options: the defaults") {
    const auto r = parse({"echo", "--port", "7000"});
    REQUIRE(r.ok());
    const Options& o = r.options;
    CHECK(o.mode == Mode::Echo);
    CHECK(o.host == "127.0.0.1");
    CHECK(o.port == 7000);
    CHECK(o.connections == 100);
    CHECK(o.connect_rate == 10000);
    CHECK(o.size == 64);
    CHECK(o.interval_ms == 0);
    CHECK(o.duration_s == 10);
    CHECK(o.pipeline == 1);
    CHECK(o.threads == 1);
    CHECK(o.seed == 1);
    CHECK(o.timeout_s == 5);
    CHECK_FALSE(o.json);
    CHECK(o.svg.empty());
}

TEST_CASE("options: every option, as two words and with '='") {
    const auto r = parse({"http", "--host", "::1", "--port=8080", "--connections", "2000",
                          "--connect-rate", "5000/s", "--size=128", "--interval", "2.5",
                          "--duration", "30", "--pipeline", "8", "--threads=2", "--seed", "42",
                          "--timeout", "0.5", "--json", "--svg", "out.svg"});
    REQUIRE(r.ok());
    const Options& o = r.options;
    CHECK(o.mode == Mode::Http);
    CHECK(o.host == "::1");
    CHECK(o.port == 8080);
    CHECK(o.connections == 2000);
    CHECK(o.connect_rate == 5000);
    CHECK(o.size == 128);
    CHECK(o.interval_ms == 2.5);
    CHECK(o.duration_s == 30);
    CHECK(o.pipeline == 8);
    CHECK(o.threads == 2);
    CHECK(o.seed == 42);
    CHECK(o.timeout_s == 0.5);
    CHECK(o.json);
    CHECK(o.svg == "out.svg");
}

TEST_CASE("options: the mode may come after the options") {
    const auto r = parse({"--port", "1", "chat"});
    REQUIRE(r.ok());
    CHECK(r.options.mode == Mode::Chat);
}

TEST_CASE("options: --help wins over everything, even errors after it") {
    CHECK(parse({"--help"}).help);
    CHECK(parse({"echo", "-h"}).help);
    CHECK(parse({"--help", "--bogus"}).help);
    CHECK(std::string(usage_text()).find("--connect-rate") != std::string::npos);
}

TEST_CASE("options: errors are one line naming the option and the value") {
    struct Case {
        std::vector<std::string_view> args;
        std::string error;
    };
    const std::vector<Case> cases = {
        {{"echo"}, "missing --port (see --help)"},
        {{"--port", "80"}, "missing MODE (echo, http or chat; see --help)"},
        {{"ping", "--port", "80"}, "unknown mode 'ping' (expected echo, http or chat)"},
        {{"echo", "http", "--port", "80"}, "unexpected argument 'http'"},
        {{"echo", "--port", "80", "--verbose"}, "unknown option '--verbose' (see --help)"},
        {{"echo", "--port"}, "option --port needs a value"},
        {{"echo", "--port", "http"}, "--port: 'http' is not a port (1-65535)"},
        {{"echo", "--port", "65536"}, "--port: '65536' is not a port (1-65535)"},
        {{"echo", "--port", "80", "--connections", "0"},
         "--connections: '0' is not a count (1-1000000)"},
        {{"echo", "--port", "80", "--connections", "12abc"},
         "--connections: '12abc' is not a count (1-1000000)"},
        {{"echo", "--port", "80", "--connect-rate", "-5"},
         "--connect-rate: '-5' is not a positive rate"},
        {{"echo", "--port", "80", "--size", "0"}, "--size: '0' is not a size (1-16777216 bytes)"},
        {{"echo", "--port", "80", "--interval", "-1"},
         "--interval: '-1' is not an interval in ms (0 or more)"},
        {{"echo", "--port", "80", "--duration", "0"},
         "--duration: '0' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--duration", "nan"},
         "--duration: 'nan' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--duration", "0x10"},
         "--duration: '0x10' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--duration", " 5"},
         "--duration: ' 5' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--duration", "5s"},
         "--duration: '5s' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--duration", "1e400"},
         "--duration: '1e400' is not a duration in seconds (more than 0)"},
        {{"echo", "--port", "80", "--pipeline", "2000"},
         "--pipeline: '2000' is not a depth (1-1024)"},
        {{"echo", "--port", "80", "--threads", "0"},
         "--threads: '0' is not a thread count (1-64)"},
        {{"echo", "--port", "80", "--seed", "-3"},
         "--seed: '-3' is not a seed (a non-negative integer)"},
        {{"echo", "--port", "80", "--timeout", "0"},
         "--timeout: '0' is not a timeout in seconds (more than 0)"},
        {{"echo", "--port", "80", "--svg="}, "--svg: empty file name"},
        {{"echo", "--port", "80", "--host", ""}, "--host: empty address"},
        {{"echo", "--port", "80", "--json=yes"}, "--json takes no value"},
    };
    for (const auto& c : cases) {
        const auto r = parse(c.args);
        CAPTURE(c.error);
        CHECK_FALSE(r.help);
        CHECK(r.error == c.error);
        CHECK(r.error.find('\n') == std::string::npos);
    }
}

TEST_CASE("options: chat is bounded because it is N^2") {
    SUBCASE("fewer connections by default") {
        const auto r = parse({"chat", "--port", "80"});
        REQUIRE(r.ok());
        CHECK(r.options.connections == kDefaultChatConnections);
        CHECK(kDefaultChatConnections < kDefaultConnections);
    }
    SUBCASE("an explicit count is kept") {
        CHECK(parse({"chat", "--port", "80", "--connections", "7"}).options.connections == 7);
    }
    SUBCASE("limits") {
        CHECK(parse({"chat", "--port", "80", "--connections", "1001"}).error ==
              "--connections: chat is N^2 and allows at most 1000");
        CHECK(parse({"chat", "--port", "80", "--connections", "1"}).error ==
              "--connections: chat needs at least 2 connections");
        CHECK(parse({"chat", "--port", "80", "--threads", "2"}).error ==
              "--threads: chat mode runs on one thread");
        CHECK(parse({"chat", "--port", "80", "--pipeline", "2"}).error ==
              "--pipeline: chat mode sends one line at a time");
    }
}

TEST_CASE("options: more threads than connections are cut to one per connection") {
    const auto r = parse({"echo", "--port", "80", "--connections", "3", "--threads", "8"});
    REQUIRE(r.ok());
    CHECK(r.options.threads == 3);
}

// ---- payloads ---------------------------------------------------------------

TEST_CASE("payloads: printable, newline-terminated, reproducible, distinct") {
    const std::string a = make_echo_message(1, 7, 0, 64);
    CHECK(a.size() == 64);
    CHECK(a.back() == '\n');
    for (std::size_t i = 0; i + 1 < a.size(); ++i) {
        CHECK(a[i] >= '!');
        CHECK(a[i] <= '~');
    }
    CHECK(make_echo_message(1, 7, 0, 64) == a);
    CHECK(make_echo_message(1, 8, 0, 64) != a);  // another connection
    CHECK(make_echo_message(1, 7, 1, 64) != a);  // another message
    CHECK(make_echo_message(2, 7, 0, 64) != a);  // another seed
    CHECK(make_echo_message(1, 7, 0, 1) == "\n");
}

TEST_CASE("payloads: chat lines carry their token and reach the requested size") {
    CHECK(make_chat_line(1, 3, 17, 64).rfind("msg 3 17 ", 0) == 0);
    CHECK(make_chat_line(1, 3, 17, 64).size() == 63);  // plus '\n' = 64
    CHECK(make_chat_line(1, 3, 17, 4) == "msg 3 17");  // the token alone when size is small
}

TEST_CASE("payloads: jitter stays in its range and spreads") {
    std::vector<int> buckets(10, 0);
    for (std::uint64_t c = 0; c < 1000; ++c) {
        const auto j = jitter(1, c, 1000);
        REQUIRE(j < 1000);
        ++buckets[j / 100];
    }
    for (int b : buckets) CHECK(b > 50);  // about 100 each
    CHECK(jitter(1, 5, 0) == 0);
}

// ---- echo verification ---------------------------------------------------------

TEST_CASE("echo: an exact echo completes each message with its send time") {
    EchoVerifier v;
    const auto t0 = steady_clock::time_point{} + std::chrono::seconds(1);
    const auto t1 = t0 + std::chrono::milliseconds(5);
    v.expect("hello\n", t0);
    v.expect("world\n", t1);
    CHECK(v.pending() == 2);
    CHECK(v.oldest() == t0);
    std::vector<steady_clock::time_point> done;
    CHECK(v.feed("hello\nworld\n", [&](auto sent) { done.push_back(sent); }));
    CHECK(done == std::vector{t0, t1});
    CHECK(v.pending() == 0);
    CHECK(v.pending_bytes() == 0);
}

TEST_CASE("echo: partial replies are held until the message is complete") {
    EchoVerifier v;
    v.expect("abcdef\n", {});
    int done = 0;
    auto count = [&](auto) { ++done; };
    CHECK(v.feed("ab", count));
    CHECK(done == 0);
    CHECK(v.pending_bytes() == 5);
    CHECK(v.feed("cde", count));
    CHECK(done == 0);
    CHECK(v.feed("f\n", count));
    CHECK(done == 1);
    SUBCASE("and a reply may end one message and start the next") {
        v.expect("12\n", {});
        v.expect("34\n", {});
        CHECK(v.feed("12\n3", count));
        CHECK(done == 2);
        CHECK(v.pending() == 1);
        CHECK(v.feed("4\n", count));
        CHECK(done == 3);
    }
}

TEST_CASE("echo: a wrong byte is a mismatch that says where") {
    EchoVerifier v;
    v.expect("hello\n", {});
    v.expect("world\n", {});
    int done = 0;
    CHECK_FALSE(v.feed("hello\nwoXld\n", [&](auto) { ++done; }));
    CHECK(v.error() == "byte 2 of a message differs: expected 'r', got 'X'");
    SUBCASE("even when it is split across reads") {
        EchoVerifier w;
        w.expect("abc\n", {});
        CHECK(w.feed("ab", [](auto) {}));
        CHECK_FALSE(w.feed("C\n", [](auto) {}));
        CHECK(w.error() == "byte 2 of a message differs: expected 'c', got 'C'");
    }
}

TEST_CASE("echo: bytes nobody asked for are a mismatch") {
    EchoVerifier v;
    CHECK_FALSE(v.feed("x", [](auto) {}));
    CHECK(v.error() == "unexpected byte(s) with no message pending, from byte 0 of the stream");
    EchoVerifier w;
    w.expect("a\n", {});
    CHECK_FALSE(w.feed("a\nzz", [](auto) {}));
    CHECK(w.error() == "unexpected byte(s) with no message pending, from byte 2 of the stream");
}

// Found by tests/fuzz/loadgen_verify_fuzz.cpp: the text counted the stray
// bytes of the read it arrived in, so the same reply sliced differently
// gave a different report.
TEST_CASE("echo: the verdict and its text do not depend on how the reply is sliced") {
    const std::string reply = "abc\nmore";
    std::string whole_error;
    {
        EchoVerifier v;
        v.expect("abc\n", {});
        CHECK_FALSE(v.feed(reply, [](auto) {}));
        whole_error = v.error();
    }
    for (std::size_t cut = 0; cut <= reply.size(); ++cut) {
        CAPTURE(cut);
        EchoVerifier v;
        v.expect("abc\n", {});
        const bool first = v.feed(std::string_view(reply).substr(0, cut), [](auto) {});
        const bool ok = first && v.feed(std::string_view(reply).substr(cut), [](auto) {});
        CHECK_FALSE(ok);
        CHECK(v.error() == whole_error);
    }
}

TEST_CASE("echo: a long-lived pipelined stream keeps its buffer small") {
    EchoVerifier v;
    int done = 0;
    v.expect(make_echo_message(1, 0, 0, 1000), {});
    for (std::uint64_t seq = 1; seq < 200; ++seq) {
        v.expect(make_echo_message(1, 0, seq, 1000), {});
        CHECK(v.feed(make_echo_message(1, 0, seq - 1, 1000), [&](auto) { ++done; }));
        CHECK(v.pending() == 1);
        CHECK(v.pending_bytes() == 1000);
    }
    CHECK(done == 199);
}

// ---- HTTP response scanning ---------------------------------------------------------

namespace {
const std::string kHello = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                           "Content-Length: 13\r\n\r\nHello, World!";
}

TEST_CASE("http: a response with Content-Length") {
    HttpResponseScanner s;
    std::vector<HttpResponse> got;
    CHECK(s.feed(kHello, [&](const HttpResponse& r) { got.push_back(r); }));
    REQUIRE(got.size() == 1);
    CHECK(got[0].status == 200);
    CHECK(got[0].body_length == 13);
    CHECK_FALSE(got[0].chunked);
    CHECK_FALSE(s.in_progress());
}

TEST_CASE("http: one byte at a time gives the same answer") {
    HttpResponseScanner s;
    int done = 0;
    for (std::size_t i = 0; i < kHello.size(); ++i) {
        CHECK(done == 0);
        CHECK(s.feed(kHello.substr(i, 1), [&](const HttpResponse& r) {
            ++done;
            CHECK(r.body_length == 13);
        }));
        if (i + 1 < kHello.size()) CHECK(s.in_progress());
    }
    CHECK(done == 1);
}

TEST_CASE("http: pipelined responses in one buffer, status of each reported") {
    HttpResponseScanner s;
    const std::string not_found = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
    std::vector<int> statuses;
    CHECK(s.feed(kHello + not_found + kHello,
                 [&](const HttpResponse& r) { statuses.push_back(r.status); }));
    CHECK(statuses == std::vector{200, 404, 200});
}

TEST_CASE("http: chunked bodies, with extensions and trailers") {
    HttpResponseScanner s;
    const std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "5;name=x\r\nHello\r\n8\r\n, World!\r\n0\r\nX-Trailer: 1\r\n\r\n";
    std::vector<HttpResponse> got;
    CHECK(s.feed(chunked + kHello, [&](const HttpResponse& r) { got.push_back(r); }));
    REQUIRE(got.size() == 2);
    CHECK(got[0].chunked);
    CHECK(got[0].body_length == 13);
    CHECK(got[1].body_length == 13);
}

TEST_CASE("http: interim responses are skipped, 204 has no body, HTTP/1.0 is fine") {
    HttpResponseScanner s;
    std::vector<int> statuses;
    CHECK(s.feed("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 204 No Content\r\n\r\n" + kHello,
                 [&](const HttpResponse& r) { statuses.push_back(r.status); }));
    CHECK(statuses == std::vector{204, 200});
}

TEST_CASE("http: what does not frame like HTTP is an error") {
    auto fails = [](const std::string& stream, const std::string& why) {
        HttpResponseScanner s;
        const bool ok = s.feed(stream, [](const HttpResponse&) {});
        CHECK_FALSE(ok);
        CHECK(s.error() == why);
        CHECK_FALSE(s.feed("HTTP/1.1 200 OK\r\n", [](const HttpResponse&) {}));  // stays failed
    };
    fails("garbage\r\n", "not an HTTP/1.x status line: \"garbage\"");
    fails("HTTP/1.1 20 OK\r\n", "not an HTTP/1.x status line: \"HTTP/1.1 20 OK\"");
    // A body longer than its Content-Length shows up where the next status line should be.
    fails("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello, World!\r\n",
          "not an HTTP/1.x status line: \", World!\"");
    fails("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", "bad Content-Length: \"5x\"");
    fails("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
          "malformed header line: \"no colon here\"");
    fails("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n",
          "response has neither Content-Length nor chunked encoding");
    fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
          "bad chunk size line: \"zz\"");
    fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
          "chunk data longer than its size");
    fails(std::string(9000, 'a'), "line longer than 8 KiB");
}

TEST_CASE("http: the request is a keep-alive GET with a Host header") {
    CHECK(make_http_request("127.0.0.1", 8080) == "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n");
    CHECK(make_http_request("::1", 8080) == "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n");
}

// ---- the connection table ------------------------------------------------------------

TEST_CASE("connection table: states move one way and the counters follow them") {
    ConnTable table;
    Conn& a = table.add(std::make_unique<Conn>());
    Conn& b = table.add(std::make_unique<Conn>());
    Conn& never = table.add(std::make_unique<Conn>());
    CHECK(table.size() == 3);
    CHECK(a.state() == ConnState::Waiting);
    table.connecting(a);
    table.connecting(b);
    CHECK(table.connecting() == 2);
    table.owe(a, 1);  // not open yet: nothing can be owed
    CHECK(table.in_flight() == 0);
    table.established(a);
    table.established(a);  // a second time changes nothing
    CHECK(a.is_open());
    CHECK(table.connecting() == 1);
    CHECK(table.open() == 1);
    table.owe(a, 3);
    table.settle(a, 1);
    CHECK(a.owed() == 2);
    CHECK(table.in_flight() == 2);
    table.settle(a, 5);  // never below zero
    CHECK(a.owed() == 0);
    CHECK(table.in_flight() == 0);
    table.owe(a, 4);
    SUBCASE("closing an open connection settles what it was owed") {
        CHECK(table.close(a) == ConnState::Open);
        CHECK(table.open() == 0);
        CHECK(table.in_flight() == 0);
        CHECK(a.owed() == 0);
        CHECK(table.close(a) == ConnState::Closed);  // closing twice is harmless
        table.owe(a, 1);
        CHECK(table.in_flight() == 0);
    }
    SUBCASE("closing a connecting or waiting one") {
        CHECK(table.close(b) == ConnState::Connecting);
        CHECK(table.connecting() == 0);
        CHECK(table.close(never) == ConnState::Waiting);
        table.established(b);  // too late
        CHECK(b.state() == ConnState::Closed);
        CHECK(table.open() == 1);
        CHECK(table.in_flight() == 4);
    }
}

// ---- chat verification ---------------------------------------------------------------

TEST_CASE("chat: lines are assembled from any slicing, CRLF or LF") {
    LineSplitter s;
    std::vector<std::string> lines;
    auto add = [&](std::string_view l) { lines.emplace_back(l); };
    CHECK(s.feed("one\ntw", add));
    CHECK(s.in_progress());
    CHECK(s.feed("o\r\nthr", add));
    CHECK(s.feed("ee\n\n", add));
    CHECK_FALSE(s.in_progress());
    CHECK(lines == std::vector<std::string>{"one", "two", "three", ""});
    LineSplitter big;
    CHECK_FALSE(big.feed(std::string(LineSplitter::kMaxLine + 1, 'x'), add));
}

// Written with tests/fuzz/loadgen_verify_fuzz.cpp, which checks that every
// slicing gives the same verdict: an over-long line that ended within one
// read used to pass, the same line in two reads did not.
TEST_CASE("chat: the line limit holds however the line is sliced") {
    const std::string line = std::string(LineSplitter::kMaxLine + 1, 'x') + "\n";
    int lines = 0;
    auto add = [&](std::string_view) { ++lines; };
    LineSplitter whole;
    CHECK_FALSE(whole.feed(line, add));
    LineSplitter halves;
    CHECK(halves.feed(std::string_view(line).substr(0, 10), add));
    CHECK_FALSE(halves.feed(std::string_view(line).substr(10), add));
    CHECK(lines == 0);
    LineSplitter at_limit;
    CHECK(at_limit.feed(std::string(LineSplitter::kMaxLine, 'y') + "\n", add));
    CHECK(lines == 1);
}

TEST_CASE("chat: a relayed line is found behind any prefix and checked whole") {
    const std::string line = make_chat_line(9, 4, 21, 80);
    SUBCASE("with a sender prefix") {
        const auto got = parse_chat_line("[127.0.0.1:40000] " + line, 9, 80);
        CHECK(got.kind == ChatLine::Kind::Message);
        CHECK(got.conn == 4);
        CHECK(got.seq == 21);
        CHECK(got.intact);
    }
    SUBCASE("bare, as a server without prefixes sends it") {
        CHECK(parse_chat_line(line, 9, 80).intact);
    }
    SUBCASE("a changed byte is caught") {
        std::string bad = "[x] " + line;
        bad.back() = bad.back() == 'a' ? 'b' : 'a';
        const auto got = parse_chat_line(bad, 9, 80);
        CHECK(got.kind == ChatLine::Kind::Message);
        CHECK_FALSE(got.intact);
    }
    SUBCASE("a truncated line is caught") {
        const auto got = parse_chat_line("[x] " + line.substr(0, line.size() - 1), 9, 80);
        CHECK_FALSE(got.intact);
    }
    SUBCASE("a different seed is a different line") {
        CHECK_FALSE(parse_chat_line(line, 10, 80).intact);
    }
}

TEST_CASE("chat: announcements and other text are ignored; control lines recognised") {
    CHECK(parse_chat_line("* 127.0.0.1:40000 joined", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("* 127.0.0.1:40000 left", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("welcome!", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("[a] spam 3 4", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("[a] msg three", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("[a] nomsg 1 2", 1, 64).kind == ChatLine::Kind::Other);
    CHECK(parse_chat_line("[a] loadgen-sync", 1, 64).kind == ChatLine::Kind::Sync);
    const auto ready = parse_chat_line("[a] loadgen-ready 12", 1, 64);
    CHECK(ready.kind == ChatLine::Kind::Ready);
    CHECK(ready.conn == 12);
    CHECK(parse_chat_line("[a] loadgen-ready 12x", 1, 64).kind == ChatLine::Kind::Other);
}

// ---- source addresses ------------------------------------------------------------------

TEST_CASE("source addresses: at most 90% of half the ephemeral range per address") {
    CHECK(connections_per_source("32768\t60999\n") == 12704);  // Linux's default range
    CHECK(connections_per_source("1024 65535") == 29030);
    CHECK(connections_per_source("60000 60099") == 1000);  // a floor for tiny ranges
    CHECK(connections_per_source("") == kDefaultConnectionsPerSource);
    CHECK(connections_per_source("60999 32768") == kDefaultConnectionsPerSource);
    CHECK(connections_per_source("x y") == kDefaultConnectionsPerSource);
}

TEST_CASE("source addresses: planned from the connection count") {
    CHECK(planned_sources(10000, 12704) == 1);
    CHECK(planned_sources(12704, 12704) == 1);
    CHECK(planned_sources(12705, 12704) == 2);
    CHECK(planned_sources(19900, 12704) == 2);
    CHECK(planned_sources(100000, 12704) == 8);
    CHECK(planned_sources(5, 0) == 1);
}

TEST_CASE("source addresses: round-robin over the plan, then beyond it after EADDRNOTAVAIL") {
    CHECK(source_index(0, 1, 0) == 0);
    CHECK(source_index(7, 1, 0) == 0);  // one address: let the kernel choose
    CHECK(source_index(0, 3, 0) == 0);
    CHECK(source_index(1, 3, 0) == 1);
    CHECK(source_index(5, 3, 0) == 2);
    CHECK(source_index(5, 3, 1) == 3);  // the first address past the plan
    CHECK(source_index(6, 1, 2) == 2);
}

// ---- report, JSON, verdict -------------------------------------------------------------

TEST_CASE("report: errors by name, the verdict and the JSON agree") {
    Options o = parse({"echo", "--port", "7000", "--connections", "2"}).options;
    Totals t;
    t.attempted = 2;
    t.established = 2;
    t.requests = 10;
    t.replies = 10;
    t.elapsed_s = 2;
    for (int i = 1; i <= 10; ++i) t.latency.record(static_cast<std::uint64_t>(i) * 100'000);
    t.all_established_s = 0.01;
    CHECK(run_ok(o, t));
    CHECK(format_report(o, t).find("errors       none") != std::string::npos);
    CHECK(format_report(o, t).find("result       OK") != std::string::npos);
    std::string json = format_json(o, t);
    CHECK(json.front() == '{');
    CHECK(json.back() == '}');
    CHECK(json.find('\n') == std::string::npos);
    CHECK(json.find("\"ok\":true") != std::string::npos);
    CHECK(json.find("\"errors\":{\"mismatch\":0,\"timeout\":0,\"closed\":0}") != std::string::npos);
    // Microseconds: the histogram's p50 (0.5 ms, within its stated error).
    const double p50_us = static_cast<double>(t.latency.percentile(50)) / 1e3;
    CHECK(p50_us == doctest::Approx(500).epsilon(Histogram::kRelativeError));
    CHECK(json.find("\"p50\":" + detail::json_number(p50_us) + ",") != std::string::npos);
    CHECK(json.find("\"replies_per_s\":5,") != std::string::npos);

    SUBCASE("one timeout fails the run") {
        t.add_error(kTimeout, 1, "connection 1: no complete reply within 5 s");
        CHECK_FALSE(run_ok(o, t));
        const std::string r = format_report(o, t);
        CHECK(r.find("errors       timeout 1") != std::string::npos);
        CHECK(r.find("first error  timeout: connection 1: no complete reply") != std::string::npos);
        CHECK(format_json(o, t).find("\"timeout\":1") != std::string::npos);
        CHECK(format_json(o, t).find("\"ok\":false") != std::string::npos);
    }
    SUBCASE("a connect failure fails the run and is named") {
        t.established = 1;
        t.connect_failures["ECONNREFUSED"] = 1;
        CHECK_FALSE(run_ok(o, t));
        CHECK(format_report(o, t).find("1 failed (ECONNREFUSED 1)") != std::string::npos);
        CHECK(format_json(o, t).find("\"connect_failures\":{\"ECONNREFUSED\":1}") !=
              std::string::npos);
    }
    SUBCASE("no reply at all is not a success") {
        t.replies = 0;
        CHECK_FALSE(run_ok(o, t));
    }
}

TEST_CASE("report: totals from several threads merge") {
    Totals a, b;
    a.established = 3;
    a.all_established_s = 0.5;
    a.errors[kClosed] = 1;
    a.latency.record(10);
    b.established = 4;
    b.all_established_s = 0.7;
    b.errors[kClosed] = 2;
    b.latency.record(20);
    a.merge(b);
    CHECK(a.established == 7);
    CHECK(a.all_established_s == 0.7);
    CHECK(a.errors[kClosed] == 3);
    CHECK(a.latency.count() == 2);
    Totals c;  // a thread that did not establish all
    a.merge(c);
    CHECK(a.all_established_s < 0);
}

TEST_CASE("report: errno names") {
    CHECK(errno_name(ECONNREFUSED) == "ECONNREFUSED");
    CHECK(errno_name(EADDRNOTAVAIL) == "EADDRNOTAVAIL");
    CHECK(errno_name(ETIMEDOUT) == "ETIMEDOUT");
    CHECK(errno_name(EMFILE) == "EMFILE");
    CHECK(errno_name(99999) == "errno 99999");
}

TEST_CASE("report: the status line") {
    SeriesPoint p;
    p.t_s = 3;
    p.connections_up = 9999;
    p.replies_per_s = 10000;
    p.p99_ms = 0.25;
    CHECK(format_status(p, 10000, 2) ==
          "[  3.0 s] connections 9999/10000  replies/s 10000  p99 0.250 ms  errors 2");
}

// ---- SVG ---------------------------------------------------------------------------------

TEST_CASE("svg: a well-formed document with every series, panel and legend") {
    std::vector<SeriesPoint> points;
    for (int i = 1; i <= 30; ++i) {
        SeriesPoint p;
        p.t_s = i;
        p.replies_per_s = 10000 + i;
        p.p50_ms = 0.1;
        p.p99_ms = 0.3;
        p.connections_up = 10000;
        points.push_back(p);
    }
    ChartText text;
    text.title = "loadgen echo <&> test";
    text.subtitles = {"10000 connections", "all fine"};
    text.established_s = 0.98;
    text.established = 10000;
    text.established_label = "all 10000 established at 0.98 s";
    const std::string svg = render_svg(points, text);
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.size() > 7);
    CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
    std::string why;
    CHECK_MESSAGE(well_formed(svg, why), why);
    for (const char* s : {"data-series=\"replies/s\"", "data-series=\"errors/s\"",
                          "data-series=\"p99\"", "data-series=\"p50\"",
                          "data-series=\"open connections\"", "Throughput (per second)",
                          "Latency in each second (ms)", "Connections established",
                          "time since start (s)", "all 10000 established at 0.98 s",
                          "loadgen echo &lt;&amp;&gt; test"}) {
        CAPTURE(s);
        CHECK(svg.find(s) != std::string::npos);
    }
    CHECK(svg.find("no data") == std::string::npos);
}

TEST_CASE("svg: no points still gives a well-formed chart that says so") {
    const std::string svg = render_svg({}, ChartText{"empty", {}, -1, 0, ""});
    CHECK(svg.rfind("<svg", 0) == 0);
    CHECK(svg.substr(svg.size() - 7) == "</svg>\n");
    std::string why;
    CHECK_MESSAGE(well_formed(svg, why), why);
    CHECK(svg.find("no data") != std::string::npos);
    CHECK(svg.find("class=\"series\"") == std::string::npos);
}

TEST_CASE("svg: the checker itself rejects broken documents") {
    std::string why;
    CHECK_FALSE(well_formed("<svg><g></svg>", why));
    CHECK_FALSE(well_formed("<svg></svg><x/>", why));
    CHECK_FALSE(well_formed("<svg>", why));
    CHECK(well_formed("<svg><g><line/></g></svg>", why));
}

TEST_CASE("svg: tick steps are 1, 2 or 5 times a power of ten") {
    CHECK(svg_detail::nice_step(10000, 5) == 2000);
    CHECK(svg_detail::nice_step(30, 10) == 5);
    CHECK(svg_detail::nice_step(0.9, 5) == doctest::Approx(0.2));
    CHECK(svg_detail::nice_step(0, 5) == 1);
    CHECK(svg_detail::tick_label(20000, 5000) == "20k");
    CHECK(svg_detail::tick_label(0, 5000) == "0");
    CHECK(svg_detail::tick_label(0.4, 0.2) == "0.4");
}

// ---- the program, end to end ---------------------------------------------------------------

namespace {

using reactor::test::PeerServer;
using reactor::test::ProgramResult;

ProgramResult loadgen_run(std::vector<std::string> args, bool interrupt = false) {
    args.insert(args.begin(), reactor::test::example_path("loadgen"));
    return reactor::test::run_program(args, std::chrono::seconds(30), interrupt);
}

double json_number(const std::string& json, const std::string& key) {
    const std::size_t at = json.find("\"" + key + "\":");
    if (at == std::string::npos) return -1;
    return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

}  // namespace

TEST_CASE("loadgen: against a correct echo server every reply verifies, exit 0") {
    PeerServer server(PeerServer::Behaviour::Echo);
    const auto r = loadgen_run({"echo", "--port", std::to_string(server.port()), "--connections",
                                "20", "--interval", "20", "--duration", "1", "--threads", "2",
                                "--json"});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"ok\":true") != std::string::npos);
    CHECK(r.out.find("\"established\":20") != std::string::npos);
    CHECK(r.out.find("\"errors_total\":0") != std::string::npos);
    CHECK(r.err.find("result       OK") != std::string::npos);  // the human report, on stderr
    CHECK(r.err.find("connections 20/20") != std::string::npos);  // progress, plain lines
    CHECK(r.err.find('\r') == std::string::npos);
}

TEST_CASE("loadgen: Ctrl-C prints the report so far and exits 130") {
    PeerServer server(PeerServer::Behaviour::Echo);
    // Interrupted at its first progress line, a second into a 25 s run.
    const auto r = loadgen_run({"echo", "--port", std::to_string(server.port()), "--connections",
                                "10", "--duration", "25", "--threads", "2", "--json"},
                               true);
    CAPTURE(r.err);
    CHECK(r.exit_code == kExitInterrupted);
    CHECK(r.out.find("\"interrupted\":true") != std::string::npos);
    CHECK(r.out.find("\"ok\":false") != std::string::npos);
    CHECK(r.out.find("\"established\":10") != std::string::npos);
    // What was in flight at the moment was cut short, not failed.
    CHECK(r.out.find("\"errors_total\":0") != std::string::npos);
    CHECK(json_number(r.out, "replies") > 0);
    CHECK(json_number(r.out, "elapsed_s") < 20);
    CHECK(r.err.find("result       INTERRUPTED after") != std::string::npos);
    CHECK(r.err.find("replies verified") != std::string::npos);
}

TEST_CASE("loadgen: a corrupted echo is a mismatch, exit 1") {
    PeerServer server(PeerServer::Behaviour::CorruptEcho);
    const auto r = loadgen_run({"echo", "--port", std::to_string(server.port()), "--connections",
                                "3", "--duration", "1", "--size", "64"});
    CAPTURE(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("errors       mismatch 3") != std::string::npos);
    CHECK(r.out.find("first error  mismatch: connection") != std::string::npos);
    CHECK(r.out.find("byte 35 of a message differs") != std::string::npos);  // 100th byte
}

TEST_CASE("loadgen: a server that hangs up is counted as closed, exit 1") {
    PeerServer server(PeerServer::Behaviour::CloseAtOnce);
    const auto r = loadgen_run({"echo", "--port", std::to_string(server.port()), "--connections",
                                "4", "--duration", "1", "--json"});
    CAPTURE(r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("\"closed\":4") != std::string::npos);
}

TEST_CASE("loadgen: nobody listening is ECONNREFUSED, exit 1") {
    int port;
    {
        auto [fd, p] = reactor::test::make_listener();
        port = p;
    }  // closed: the port is now (very likely) free and refusing
    const auto r = loadgen_run({"echo", "--port", std::to_string(port), "--connections", "3",
                                "--duration", "1"});
    CAPTURE(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("3 failed (ECONNREFUSED 3)") != std::string::npos);
}

TEST_CASE("loadgen: http keep-alive with pipelining verifies every response") {
    PeerServer server(PeerServer::Behaviour::HttpHello);
    const auto r = loadgen_run({"http", "--port", std::to_string(server.port()), "--connections",
                                "5", "--pipeline", "4", "--duration", "1", "--json"});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"ok\":true") != std::string::npos);
}

TEST_CASE("loadgen: http against an echo server is a mismatch") {
    PeerServer server(PeerServer::Behaviour::Echo);
    const auto r = loadgen_run({"http", "--port", std::to_string(server.port()), "--connections",
                                "2", "--duration", "1"});
    CAPTURE(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("not an HTTP/1.x status line: \"GET / HTTP/1.1\"") != std::string::npos);
}

TEST_CASE("loadgen: chat lines reach every other client") {
    PeerServer server(PeerServer::Behaviour::ChatRelay);
    const auto r = loadgen_run({"chat", "--port", std::to_string(server.port()), "--connections",
                                "6", "--interval", "50", "--duration", "1.5", "--json"});
    CAPTURE(r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("\"ok\":true") != std::string::npos);
    CHECK(r.err.find("deliveries verified") != std::string::npos);
}

TEST_CASE("loadgen: chat against an echo server fails instead of hanging") {
    PeerServer server(PeerServer::Behaviour::Echo);
    const auto r = loadgen_run({"chat", "--port", std::to_string(server.port()), "--connections",
                                "3", "--duration", "1", "--timeout", "0.5"});
    CAPTURE(r.out);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("never received the start line") != std::string::npos);
}

TEST_CASE("loadgen: usage errors exit 2 with one line on stderr; --help exits 0") {
    auto r = loadgen_run({"echo", "--port", "80", "--frobnicate"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "loadgen: unknown option '--frobnicate' (see --help)\n");
    CHECK(r.out.empty());
    r = loadgen_run({"--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("usage: loadgen MODE", 0) == 0);
}
