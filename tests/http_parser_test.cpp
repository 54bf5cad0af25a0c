// tests/http_parser_test.cpp -- the HTTP/1.1 request parser, as a specification:
// what it accepts, how it splits a stream into requests, what it refuses and
// with which status. Pure: no loop, so it runs once (no "runs-on" marker).
#include <reactor/http/request_parser.hpp>

#include "http/chars.hpp"
#include "http/uri.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace std::string_literals;
using reactor::http::Limits;
using reactor::http::RequestParser;
using reactor::http::Version;

namespace {

// Everything a parser exposes about one request, copied out of it, so two
// parses can be compared after the parsers are gone.
struct Parsed {
    bool done = false;
    bool failed = false;
    int status = 0;
    std::size_t consumed = 0;
    std::string method, target, path, query, authority, body;
    Version version = Version::Http11;
    std::vector<std::pair<std::string, std::string>> headers;
    bool keep_alive = false;
    bool expects_continue = false;
    bool chunked = false;

    bool operator==(const Parsed&) const = default;
};

Parsed snapshot(const RequestParser& p, std::size_t consumed) {
    Parsed r;
    r.done = p.done();
    r.failed = p.failed();
    r.status = p.error_status();
    r.consumed = consumed;
    if (p.headers_complete()) {
        const auto& q = p.request();
        r.method = q.method();
        r.target = q.target();
        r.path = q.path();
        r.query = q.query();
        r.authority = q.authority();
        r.body = q.body();
        r.version = q.version();
        for (const auto& h : q.headers()) r.headers.emplace_back(h.name, h.value);
        r.keep_alive = q.keep_alive();
        r.expects_continue = q.expects_continue();
        r.chunked = q.chunked();
    }
    return r;
}

// Feeds `input` in one call.
Parsed parse_whole(std::string_view input, Limits limits = {}) {
    RequestParser p(limits);
    const std::size_t n = p.feed(input);
    return snapshot(p, n);
}

// Feeds `input` one byte per call, stopping when the parser does.
Parsed parse_bytewise(std::string_view input, Limits limits = {}) {
    RequestParser p(limits);
    std::size_t consumed = 0;
    for (std::size_t i = 0; i < input.size() && !p.done() && !p.failed(); ++i) {
        consumed += p.feed(input.substr(i, 1));
    }
    return snapshot(p, consumed);
}

// Feeds `input` in two calls split at `at`.
Parsed parse_split(std::string_view input, std::size_t at, Limits limits = {}) {
    RequestParser p(limits);
    std::size_t consumed = p.feed(input.substr(0, at));
    if (!p.done() && !p.failed()) consumed += p.feed(input.substr(at));
    return snapshot(p, consumed);
}

// Checks that `input` gets the same verdict and the same request whether it
// is fed whole, one byte at a time, or in two pieces split anywhere; returns
// the whole-buffer result.
Parsed parse_all_ways(std::string_view input, Limits limits = {}) {
    const Parsed whole = parse_whole(input, limits);
    CHECK(parse_bytewise(input, limits) == whole);
    for (std::size_t at = 0; at <= input.size(); ++at) {
        CAPTURE(at);
        CHECK(parse_split(input, at, limits) == whole);
    }
    return whole;
}

// 0 when `input` parses completely, the error status when it fails, -1 when
// the parser still waits for more.
int outcome(std::string_view input, Limits limits = {}) {
    const Parsed r = parse_whole(input, limits);
    if (r.done) return 0;
    if (r.failed) return r.status;
    return -1;
}

std::string get(std::string_view extra_headers = {}) {
    return "GET / HTTP/1.1\r\nHost: x\r\n" + std::string(extra_headers) + "\r\n";
}

const char* const kBrowserGet =
    "GET /index.html?lang=en&q=a%20b HTTP/1.1\r\n"
    "Host: www.example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=abc123; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "\r\n";

const std::vector<std::string> kSamples = {
    kBrowserGet,
    "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n",
    "\r\n\r\nGET /after-empty-lines HTTP/1.1\r\nHost: h\r\n\r\n",
    "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
    "PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n1;name=value;other\r\n \r\nA\r\n0123456789\r\n0\r\n"
    "Checksum: abc\r\nX-Trailer: 1\r\n\r\n",
    "GET /old HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
    "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Spaces: \t padded \t \r\n\r\n",
};

}  // namespace

TEST_CASE("a simple GET: request line, headers, no body") {
    const Parsed r = parse_whole("GET /hello?name=world HTTP/1.1\r\nHost: example.com\r\n"
                                 "Accept: */*\r\n\r\n");
    REQUIRE(r.done);
    CHECK(r.method == "GET");
    CHECK(r.target == "/hello?name=world");
    CHECK(r.path == "/hello");
    CHECK(r.query == "name=world");
    CHECK(r.version == Version::Http11);
    CHECK(r.headers == std::vector<std::pair<std::string, std::string>>{
                           {"Host", "example.com"}, {"Accept", "*/*"}});
    CHECK(r.body.empty());
    CHECK(r.keep_alive);
    CHECK_FALSE(r.expects_continue);
}

TEST_CASE("byte-at-a-time and split parsing equal whole-buffer parsing") {
    for (const std::string& s : kSamples) {
        CAPTURE(s);
        const Parsed whole = parse_whole(s);
        REQUIRE(whole.done);
        CHECK(whole.consumed == s.size());
        CHECK(parse_bytewise(s) == whole);
        for (std::size_t at = 0; at <= s.size(); ++at) {
            CAPTURE(at);
            CHECK(parse_split(s, at) == whole);
        }
    }
    // And the values are the ones sent.
    const Parsed chunked = parse_whole(kSamples[4]);
    CHECK(chunked.body == "hello 0123456789");
    CHECK(chunked.chunked);
    CHECK(parse_whole(kSamples[2]).path == "/after-empty-lines");
    const Parsed options = parse_whole(kSamples[6]);
    CHECK(options.path == "*");
    CHECK(options.headers[1] == std::pair<std::string, std::string>{"X-Empty", ""});
    CHECK(options.headers[2] == std::pair<std::string, std::string>{"X-Spaces", "padded"});
}

TEST_CASE("100 pipelined requests in one buffer are parsed one at a time, in order") {
    std::string stream;
    for (int i = 0; i < 100; ++i) {
        const std::string path = "/r" + std::to_string(i);
        if (i % 3 == 1) {
            const std::string body = "body-" + std::to_string(i);
            stream += "POST " + path + " HTTP/1.1\r\nHost: h\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
        } else if (i % 3 == 2) {
            stream += "POST " + path + " HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n";
        } else {
            stream += "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n";
        }
    }
    RequestParser p;
    std::string_view rest = stream;
    for (int i = 0; i < 100; ++i) {
        CAPTURE(i);
        const std::size_t n = p.feed(rest);
        REQUIRE(p.done());
        CHECK(n <= rest.size());
        rest.remove_prefix(n);
        CHECK(p.request().path() == "/r" + std::to_string(i));
        if (i % 3 == 1) CHECK(p.request().body() == "body-" + std::to_string(i));
        if (i % 3 == 2) CHECK(p.request().body() == "abc");
        // A finished request takes no more bytes until reset().
        CHECK(p.feed(rest) == 0);
        p.reset();
        CHECK_FALSE(p.started());
    }
    CHECK(rest.empty());
}

TEST_CASE("feed stops after one request and the leftover starts the next") {
    const std::string two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n";
    RequestParser p;
    const std::size_t n = p.feed(two);
    REQUIRE(p.done());
    CHECK(n == two.size() / 2);
    CHECK(p.request().path() == "/a");
    p.reset();
    CHECK(p.feed(std::string_view(two).substr(n)) == two.size() - n);
    REQUIRE(p.done());
    CHECK(p.request().path() == "/b");
}

TEST_CASE("views point into the parser's own storage, so input can be discarded") {
    std::string input = kBrowserGet;
    RequestParser p;
    p.feed(input);
    REQUIRE(p.done());
    input.assign(input.size(), 'X');  // the caller reuses its buffer
    const auto inside = [&](std::string_view v) {
        const auto storage = p.head_storage();
        return v.data() >= storage.data() && v.data() + v.size() <= storage.data() + storage.size();
    };
    CHECK(p.request().method() == "GET");
    CHECK(inside(p.request().method()));
    CHECK(inside(p.request().target()));
    for (const auto& h : p.request().headers()) {
        CHECK(inside(h.name));
        CHECK(inside(h.value));
    }
    CHECK(p.request().header("cookie") == "session=abc123; theme=dark");
}

TEST_CASE("header lookup is case-insensitive and returns the first of repeated names") {
    RequestParser p;
    p.feed("GET / HTTP/1.1\r\nHost: h\r\nX-Thing: one\r\nx-thing: two\r\n"
           "Content-Type: text/plain\r\n\r\n");
    REQUIRE(p.done());
    const auto& r = p.request();
    CHECK(r.header("content-type") == "text/plain");
    CHECK(r.header("CONTENT-TYPE") == "text/plain");
    CHECK(r.header("x-THING") == "one");
    CHECK(r.headers().size() == 4);
    CHECK_FALSE(r.header("content-length").has_value());
    CHECK_FALSE(r.header("content-typ").has_value());
}

TEST_CASE("the target splits into path and query") {
    const auto split = [](std::string_view target, std::string_view method = "GET") {
        const Parsed r = parse_whole(std::string(method) + " " + std::string(target) +
                                     " HTTP/1.1\r\nHost: h\r\n\r\n");
        REQUIRE(r.done);
        return std::pair<std::string, std::string>{r.path, r.query};
    };
    using P = std::pair<std::string, std::string>;
    CHECK(split("/") == P{"/", ""});
    CHECK(split("/a/b") == P{"/a/b", ""});
    CHECK(split("/a?") == P{"/a", ""});
    CHECK(split("/a?x=1&y=2") == P{"/a", "x=1&y=2"});
    CHECK(split("/a?x=?") == P{"/a", "x=?"});
    CHECK(split("http://example.com/p/q?z") == P{"/p/q", "z"});
    CHECK(split("http://example.com") == P{"/", ""});
    CHECK(split("http://example.com?z") == P{"/", "z"});
    CHECK(split("*", "OPTIONS") == P{"*", ""});
    CHECK(split("example.com:443", "CONNECT") == P{"example.com:443", ""});
}

TEST_CASE("versions: 1.0 and 1.1 parse, 1.x reads as 1.1, other majors are 505, garbage 400") {
    CHECK(parse_whole("GET / HTTP/1.0\r\n\r\n").version == Version::Http10);
    CHECK(parse_whole("GET / HTTP/1.1\r\nHost: h\r\n\r\n").version == Version::Http11);
    CHECK(parse_whole("GET / HTTP/1.2\r\nHost: h\r\n\r\n").version == Version::Http11);
    CHECK(outcome("GET / HTTP/2.0\r\nHost: h\r\n\r\n") == 505);
    CHECK(outcome("GET / HTTP/0.9\r\n\r\n") == 505);
    CHECK(outcome("GET / HTTP/1.10\r\nHost: h\r\n\r\n") == 400);
    CHECK(outcome("GET / http/1.1\r\nHost: h\r\n\r\n") == 400);
    CHECK(outcome("GET / HTTP/1\r\nHost: h\r\n\r\n") == 400);
    CHECK(outcome("GET / HTTP/1.1 \r\nHost: h\r\n\r\n") == 400);
    CHECK(outcome("GET /\r\nHost: h\r\n\r\n") == 400);
}

TEST_CASE("keep-alive: HTTP/1.1 on unless close, HTTP/1.0 off unless keep-alive") {
    const auto keep = [](std::string_view version, std::string_view headers) {
        const Parsed r = parse_whole("GET / " + std::string(version) + "\r\nHost: h\r\n" +
                                     std::string(headers) + "\r\n");
        REQUIRE(r.done);
        return r.keep_alive;
    };
    CHECK(keep("HTTP/1.1", ""));
    CHECK_FALSE(keep("HTTP/1.1", "Connection: close\r\n"));
    CHECK_FALSE(keep("HTTP/1.1", "Connection: CLOSE\r\n"));
    CHECK_FALSE(keep("HTTP/1.1", "Connection: Upgrade, close\r\n"));
    CHECK_FALSE(keep("HTTP/1.1", "Connection: keep-alive\r\nConnection: close\r\n"));
    CHECK(keep("HTTP/1.1", "Connection: keep-alive\r\n"));
    CHECK(keep("HTTP/1.1", "Connection: closed\r\n"));  // a different token
    CHECK_FALSE(keep("HTTP/1.0", ""));
    CHECK(keep("HTTP/1.0", "Connection: keep-alive\r\n"));
    CHECK(keep("HTTP/1.0", "Connection: Keep-Alive\r\n"));
    CHECK(keep("HTTP/1.0", "connection: keep-alive, Upgrade\r\n"));
    CHECK(keep("HTTP/1.0", "Connection: Upgrade ,\t keep-alive \r\n"));
    CHECK_FALSE(keep("HTTP/1.0", "Connection: keep-alive, close\r\n"));
}

TEST_CASE("Expect: 100-continue is visible once the headers are complete") {
    RequestParser p;
    const std::string head = "POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                             "Content-Length: 5\r\n\r\n";
    CHECK(p.feed(head) == head.size());
    CHECK(p.headers_complete());
    CHECK_FALSE(p.done());
    CHECK(p.request().expects_continue());
    CHECK(p.request().body().empty());
    // The server answers "100 Continue"; the client then sends the body.
    CHECK(p.feed("hel") == 3);
    CHECK_FALSE(p.done());
    CHECK(p.feed("lo") == 2);
    REQUIRE(p.done());
    CHECK(p.request().body() == "hello");

    // Not before the head is complete, not from HTTP/1.0, not other values.
    RequestParser q;
    q.feed("POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n");
    CHECK_FALSE(q.headers_complete());
    CHECK_FALSE(parse_whole("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
                    .expects_continue);
    CHECK_FALSE(parse_whole(get("Expect: something-else\r\n")).expects_continue);
}

TEST_CASE("started() tells an idle connection from one in the middle of a request") {
    RequestParser p;
    CHECK_FALSE(p.started());
    p.feed("G");
    CHECK(p.started());
    CHECK_FALSE(p.headers_complete());
    p.reset();
    CHECK_FALSE(p.started());
    p.feed("\r\n");
    CHECK(p.started());
}

TEST_CASE("a failed parser stays failed and consumes nothing more") {
    RequestParser p;
    p.feed("GET / HTTP/1.1\nHost: h\r\n\r\n");
    REQUIRE(p.failed());
    CHECK(p.error_status() == 400);
    CHECK(std::string_view(p.error_reason()) == "bare LF in the request line");
    CHECK(p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n") == 0);
    CHECK(p.failed());
    CHECK_FALSE(p.done());
    p.reset();
    CHECK_FALSE(p.failed());
    CHECK(p.error_status() == 0);
    p.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    CHECK(p.done());
}

// ---- limits --------------------------------------------------------------------

TEST_CASE("request line plus headers: exactly max_header_bytes passes, one more is 431") {
    Limits limits;
    limits.max_header_bytes = 200;
    const std::string base = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: \r\n\r\n";
    const std::string at_limit =
        "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(200 - base.size(), 'a') + "\r\n\r\n";
    REQUIRE(at_limit.size() == 200);
    CHECK(outcome(at_limit, limits) == 0);
    CHECK(parse_bytewise(at_limit, limits).done);
    const std::string over =
        "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + std::string(201 - base.size(), 'a') + "\r\n\r\n";
    CHECK(outcome(over, limits) == 431);
    CHECK(parse_bytewise(over, limits).status == 431);
    // The default limit is 8 KiB, and it counts empty lines before the request.
    CHECK(outcome(get("X-Pad: " + std::string(8000, 'a') + "\r\n")) == 0);
    CHECK(outcome(get("X-Pad: " + std::string(8200, 'a') + "\r\n")) == 431);
    CHECK(outcome("\r\n" + at_limit, limits) == 431);
}

TEST_CASE("a head that never ends is refused as soon as it passes the limit") {
    Limits limits;
    limits.max_header_bytes = 64;
    RequestParser p(limits);
    CHECK(p.feed("GET /" + std::string(59, 'a')) == 64);  // no LF yet, at the limit
    CHECK_FALSE(p.failed());
    p.feed("a");
    CHECK(p.failed());
    CHECK(p.error_status() == 431);
}

TEST_CASE("max_headers: exactly the limit passes, one more is 431") {
    Limits limits;
    limits.max_headers = 5;
    std::string four;
    for (int i = 0; i < 4; ++i) four += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(outcome(get(four), limits) == 0);  // Host + 4 = 5
    CHECK(outcome(get(four + "X-9: v\r\n"), limits) == 431);
    std::string hundred;
    for (int i = 0; i < 99; ++i) hundred += "X-" + std::to_string(i) + ": v\r\n";
    CHECK(outcome(get(hundred)) == 0);  // default: 100
    CHECK(outcome(get(hundred + "X-last: v\r\n")) == 431);
}

TEST_CASE("a Content-Length body: exactly max_body passes, one more is 413 before any body byte") {
    Limits limits;
    limits.max_body = 16;
    const auto post = [](std::size_t n) {
        return "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n" +
               std::string(n, 'b');
    };
    CHECK(outcome(post(16), limits) == 0);
    CHECK(parse_whole(post(16), limits).body == std::string(16, 'b'));
    RequestParser p(limits);
    p.feed("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n");
    CHECK(p.failed());
    CHECK(p.error_status() == 413);
    CHECK(outcome(post(1024 * 1024)) == 0);  // default: 1 MiB
    CHECK(outcome(post(1024 * 1024 + 1)) == 413);
}

TEST_CASE("a chunked body: exactly max_body passes, one more is 413 as chunks accumulate") {
    Limits limits;
    limits.max_body = 16;
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string eight = "8\r\n" + std::string(8, 'c') + "\r\n";
    CHECK(outcome(head + eight + eight + "0\r\n\r\n", limits) == 0);
    CHECK(outcome(head + eight + eight + "1\r\nc\r\n0\r\n\r\n", limits) == 413);
    CHECK(outcome(head + "11\r\n", limits) == 413);  // 0x11 = 17, refused from the size line
}

TEST_CASE("trailers are bounded like headers: bytes and count") {
    Limits limits;
    limits.max_header_bytes = 100;
    limits.max_headers = 3;
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "1\r\nx\r\n0\r\n";
    CHECK(outcome(head + "A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == 0);
    CHECK(outcome(head + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits) == 431);
    // A trailer section of exactly 100 bytes ("T: " + 95 + CRLF CRLF) passes; 101 does not.
    CHECK(outcome(head + "T: " + std::string(93, 'v') + "\r\n\r\n", limits) == 0);
    CHECK(outcome(head + "T: " + std::string(94, 'v') + "\r\n\r\n", limits) == 431);
}

TEST_CASE("limits above 4 GiB of head are refused at construction") {
    Limits limits;
    limits.max_header_bytes = std::size_t{1} << 32;
    CHECK_THROWS_AS(RequestParser{limits}, std::invalid_argument);
}

// ---- chunked bodies ----------------------------------------------------------------

TEST_CASE("chunked bodies: several chunks, hex sizes, extensions, trailers") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(parse_whole(head + "0\r\n\r\n").body.empty());
    CHECK(parse_whole(head + "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").body == "abcde");
    CHECK(parse_whole(head + "a\r\n0123456789\r\nA\r\n0123456789\r\n0\r\n\r\n").body ==
          "01234567890123456789");
    CHECK(parse_whole(head + "0003\r\nabc\r\n000\r\n\r\n").body == "abc");
    CHECK(parse_whole(head + "3;ext\r\nabc\r\n0;last=\"yes\"\r\n\r\n").body == "abc");
    CHECK(parse_whole(head + "3 ;a=b\r\nabc\r\n0\r\n\r\n").body == "abc");
    CHECK(parse_whole(head + "3\r\nabc\r\n0\r\nExpires: never\r\nX: y\r\n\r\n").body == "abc");
    // Transfer-Encoding is a case-insensitive list; chunked may follow nothing else.
    CHECK(outcome("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n") ==
          0);
    // A chunk's data may contain CR, LF and anything else.
    const std::string binary = head + "4\r\n" + std::string("\r\n\0\n", 4) + "\r\n0\r\n\r\n";
    CHECK(parse_whole(binary).body == std::string("\r\n\0\n", 4));
}

TEST_CASE("chunked bodies: bad sizes and framing are 400") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    CHECK(outcome(head + "g\r\n") == 400);                       // not hex
    CHECK(outcome(head + "\r\n") == 400);                        // empty size
    CHECK(outcome(head + "-1\r\n") == 400);                      // sign
    CHECK(outcome(head + "0x3\r\nabc\r\n0\r\n\r\n") == 400);     // prefix
    CHECK(outcome(head + "1 2\r\n") == 400);                     // space inside
    CHECK(outcome(head + "3 \r\nabc\r\n0\r\n\r\n") == 400);      // whitespace without extension
    CHECK(outcome(head + "10000000000000000\r\n") == 400);       // 17 hex digits: overflow
    CHECK(outcome(head + "3\nabc\r\n0\r\n\r\n") == 400);         // bare LF after the size
    CHECK(outcome(head + "3\rabc\r\n0\r\n\r\n") == 400);         // bare CR after the size
    CHECK(outcome(head + "3;a\nb\r\nabc\r\n0\r\n\r\n") == 400);  // bare LF in an extension
    CHECK(outcome(head + "3\r\nabcd\r\n0\r\n\r\n") == 400);      // data longer than the size
    CHECK(outcome(head + "3\r\nabc\n0\r\n\r\n") == 400);         // LF alone after the data
    CHECK(outcome(head + "3\r\nabc0\r\n\r\n") == 400);           // no CRLF after the data
    CHECK(outcome(head + "0\r\nX: 1\n\r\n") == 400);             // bare LF in a trailer
    CHECK(outcome(head + "0\r\n\n") == 400);                     // bare LF ending the trailers
    CHECK(outcome(head + "0\r\nX : 1\r\n\r\n") == 400);          // space before a trailer colon
    CHECK(outcome(head + "0\r\n folded\r\n\r\n") == 400);        // obs-fold in the trailers
    CHECK(outcome(head + "0\r\nX: a\x01\r\n\r\n") == 400);       // control character
    CHECK(outcome(head + "0\r\n:v\r\n\r\n") == 400);             // empty trailer name
    CHECK(outcome(head + "1;" + std::string(2000, 'e') + "\r\n") == 400);  // endless extension
    // Up to 16 hex digits is fine as a number; 413 once it exceeds the body limit.
    CHECK(outcome(head + "ffffffffffffffff\r\n") == 413);
}

// ---- strictness --------------------------------------------------------------------

TEST_CASE("each smuggling or malformation case is a 400") {
    const std::vector<std::pair<const char*, std::string>> cases = {
        {"both Content-Length and Transfer-Encoding",
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
        {"Transfer-Encoding then Content-Length",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"},
        {"differing Content-Length",
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
        {"Content-Length list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc"},
        {"non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n"},
        {"negative Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n"},
        {"signed Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\nx"},
        {"empty Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"},
        {"overflowing Content-Length",
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n"},
        {"hex Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n"},
        {"chunked not final",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"},
        {"chunked twice",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"},
        {"chunked twice over two lines",
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n"},
        {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,\r\n\r\n"},
        {"Transfer-Encoding in HTTP/1.0",
         "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"bare LF ending the request line", "GET / HTTP/1.1\nHost: h\r\n\r\n"},
        {"bare LF ending a header line", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"},
        {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: h\r\n\n"},
        {"bare LF before the request line", "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"CR inside the request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"non-token method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"method with a slash", "GET/ / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"empty target", "GET  HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"space in the target", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"tab in the target", "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"control character in the target", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"DEL in the target", "GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"non-ASCII byte in the target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"},
        {"NUL in the method", "GE\0T / HTTP/1.1\r\nHost: h\r\n\r\n"s},
        {"control character in a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n"},
        {"NUL in a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n"s},
        {"bare CR in a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n"},
        {"DEL in a header value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n"},
        {"whitespace between name and colon", "GET / HTTP/1.1\r\nHost: h\r\nX : y\r\n\r\n"},
        {"tab between name and colon", "GET / HTTP/1.1\r\nHost: h\r\nX\t: y\r\n\r\n"},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"},
        {"obs-fold with a tab", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n"},
        {"whitespace before the first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n"},
        {"empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: y\r\n\r\n"},
        {"header line without a colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"},
        {"non-token header name", "GET / HTTP/1.1\r\nHost: h\r\nX(y): z\r\n\r\n"},
        {"missing Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: y\r\n\r\n"},
        {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
    };
    // Not a structured binding: clang before 16 cannot capture one in CAPTURE's lambda.
    for (const auto& c : cases) {
        const std::string& request = c.second;
        CAPTURE(c.first);
        CHECK(outcome(request) == 400);
        CHECK(parse_bytewise(request).status == 400);
    }
}

TEST_CASE("what the strict rules still accept") {
    // Identical repeated Content-Length lines (RFC 9110 section 8.6).
    const Parsed dup =
        parse_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc");
    CHECK(dup.done);
    CHECK(dup.body == "abc");
    // Leading zeros, whitespace around the value, HTAB and obs-text in values.
    CHECK(parse_whole("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  003 \r\n\r\nabc").body == "abc");
    CHECK(outcome(get("X: a\tb \xe9\r\n")) == 0);
    // Any token is a method; HTTP/1.0 needs no Host.
    CHECK(parse_whole("M-SEARCH / HTTP/1.1\r\nHost: h\r\n\r\n").method == "M-SEARCH");
    CHECK(outcome("GET / HTTP/1.0\r\n\r\n") == 0);
    // A head without Content-Length has no body: the next bytes are the next request.
    CHECK(parse_whole("POST / HTTP/1.1\r\nHost: h\r\n\r\nGET").consumed ==
          std::string("POST / HTTP/1.1\r\nHost: h\r\n\r\n").size());
}

TEST_CASE("unknown transfer codings are 501") {
    CHECK(outcome("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n") == 501);
    CHECK(outcome("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n") == 501);
    // A coding that is not chunked at the end leaves the length unknown: 400.
    CHECK(outcome("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n") == 400);
}

TEST_CASE("reset keeps buffers, so a warmed-up parser does not reallocate") {
    RequestParser p;
    p.feed(kBrowserGet);
    REQUIRE(p.done());
    const char* storage = p.head_storage().data();
    p.reset();
    p.feed(kBrowserGet);
    REQUIRE(p.done());
    CHECK(p.head_storage().data() == storage);
}

TEST_CASE("the word-at-a-time scans agree with the byte table for every byte and position") {
    using reactor::detail::has_class;
    using reactor::detail::kFieldValue;
    using reactor::detail::kToken;
    for (int b = 0; b < 256; ++b) {
        for (std::size_t length = 1; length <= 19; ++length) {
            for (std::size_t at = 0; at < length; ++at) {
                std::string s(length, 'a');
                s[at] = static_cast<char>(b);
                CAPTURE(b);
                CAPTURE(length);
                CAPTURE(at);
                CHECK(reactor::detail::is_field_value(s.data(), s.size()) ==
                      has_class(s[at], kFieldValue));
                CHECK(reactor::detail::token_prefix(s.data(), s.size()) ==
                      (has_class(s[at], kToken) ? length : at));
            }
        }
    }
}

// ---- Host (RFC 9112 section 3.2, RFC 3986 section 3.2.2) ---------------------------

namespace {

// A GET with the given Host line(s) and version.
std::string with_host(std::string_view host_lines, std::string_view version = "HTTP/1.1") {
    return "GET / " + std::string(version) + "\r\n" + std::string(host_lines) + "\r\n";
}

}  // namespace

TEST_CASE("Host: uri-host [\":\" port] is accepted, and is the request's authority") {
    const char* const valid[] = {
        "example.com",
        "example.com:8080",
        "example.com:",  // an empty port is allowed by RFC 3986
        "EXAMPLE.com.",
        "localhost",
        "127.0.0.1",
        "127.0.0.1:80",
        "999.1.1.1",  // not an IPv4 address, but a valid reg-name
        "_srv.xn--bcher-kva.example",
        "a%2Db.example",
        "a!$&'()*+,;=b~",  // sub-delims and unreserved
        "[::1]",
        "[::1]:8080",
        "[2001:db8::1]",
        "[2001:DB8:0:0:0:0:0:1]:443",
        "[::ffff:192.0.2.1]",
        "[v1.fe80::a+b]",
        "[V1F.x:y]:1",
    };
    for (const char* host : valid) {
        CAPTURE(host);
        const Parsed r = parse_all_ways(with_host("Host: " + std::string(host) + "\r\n"));
        CHECK(r.done);
        CHECK(r.authority == host);
    }
    // Surrounding whitespace is not part of the value.
    CHECK(parse_whole(with_host("Host: \t h:1 \t\r\n")).authority == "h:1");
    // HTTP/1.0 may leave Host out; its authority is then unknown.
    const Parsed old = parse_all_ways(with_host("", "HTTP/1.0"));
    CHECK(old.done);
    CHECK(old.authority.empty());
    CHECK(parse_whole(with_host("Host: h\r\n", "HTTP/1.0")).authority == "h");
}

TEST_CASE("Host: a missing, repeated, empty or malformed Host is 400") {
    const char* const invalid[] = {
        "exa mple.com",
        "a/b",
        "a?b",
        "a#b",
        "a\\b",
        "a\"b",
        "user@example.com",
        "user:pw@example.com",
        "a%2",
        "a%zz",
        ":80",  // empty host
        "example.com:80a",
        "example.com:-1",
        "example.com:80:90",
        "example.com, other.com",
        "::1",  // an IPv6 address needs brackets
        "[::1",
        "[::1]x",
        "[::1]:x",
        "[::1]]",
        "[]",
        "[example.com]",
        "[1:2:3:4:5:6:7:8:9]",
        "[1:2:3:4:5:6:7]",
        "[1::2::3]",
        "[12345::]",
        "[::1.2.3.256]",
        "[::01.2.3.4]",
        "[fe80::1%25eth0]",  // zone identifiers are not in RFC 3986
        "[v1.]",
        "[vz.a]",
        "[v1.a/b]",
        "caf\xc3\xa9.example",  // IDNs travel as xn-- names
    };
    for (const char* host : invalid) {
        CAPTURE(host);
        const Parsed r = parse_all_ways(with_host("Host: " + std::string(host) + "\r\n"));
        CHECK(r.failed);
        CHECK(r.status == 400);
        // The same rule for HTTP/1.0: a Host that is sent must be valid.
        CHECK(outcome(with_host("Host: " + std::string(host) + "\r\n", "HTTP/1.0")) == 400);
    }
    const std::pair<const char*, std::string> cases[] = {
        {"empty Host", with_host("Host:\r\n")},
        {"blank Host", with_host("Host:  \t \r\n")},
        {"empty Host in HTTP/1.0", with_host("Host:\r\n", "HTTP/1.0")},
        {"missing Host", with_host("")},
        {"missing Host, absolute-form", "GET http://example.com/ HTTP/1.1\r\n\r\n"},
        {"two Host fields", with_host("Host: a\r\nHost: a\r\n")},
        {"two Host fields, other case", with_host("Host: a\r\nhOST: b\r\n")},
        {"two Host fields in HTTP/1.0", with_host("Host: a\r\nHost: b\r\n", "HTTP/1.0")},
        {"an empty Host after a valid one", with_host("Host: a\r\nHost:\r\n")},
    };
    for (const auto& c : cases) {
        CAPTURE(c.first);
        const Parsed r = parse_all_ways(c.second);
        CHECK(r.failed);
        CHECK(r.status == 400);
    }
}

TEST_CASE("IPv6 addresses follow RFC 3986 exactly") {
    using reactor::detail::is_ipv6_address;
    for (const char* a : {"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "1:2:3:4:5:6:7::",
                          "::2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "::ffff:0.0.0.0",
                          "1:2:3:4:5::255.255.255.255", "abcd:EF01::", "0:0:0:0:0:0:0:0"}) {
        CAPTURE(a);
        CHECK(is_ipv6_address(a));
    }
    for (const char* a : {"", ":", ":::", "1", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1::2::3", ":1::", "1::2:",
                          "1:", ":1", "12345::", "g::", "1.2.3.4", "::1.2.3", "::1.2.3.4.5",
                          "::1.2.3.4:1", "1:2:3:4:5:6:7:1.2.3.4", "::256.1.1.1", "::1.02.3.4",
                          "1:2:3:4:5:6:1.2.3.4::"}) {
        CAPTURE(a);
        CHECK_FALSE(is_ipv6_address(a));
    }
}

// ---- request-target forms (RFC 9112 section 3.2) ----------------------------------

TEST_CASE("request-target: origin-, absolute-, authority- and asterisk-form where each belongs") {
    struct Case {
        const char* request_line;
        const char* path;
        const char* query;
        const char* authority;
    };
    const Case accepted[] = {
        {"GET /a?b HTTP/1.1", "/a", "b", "h"},
        {"GET //double HTTP/1.1", "//double", "", "h"},
        {"OPTIONS * HTTP/1.1", "*", "", "h"},
        {"OPTIONS /x HTTP/1.1", "/x", "", "h"},
        {"OPTIONS http://example.com HTTP/1.1", "/", "", "example.com"},
        // absolute-form: http or https in any case; its authority wins over Host.
        {"GET http://example.com HTTP/1.1", "/", "", "example.com"},
        {"GET http://example.com/ HTTP/1.1", "/", "", "example.com"},
        {"GET http://example.com?x=1 HTTP/1.1", "/", "x=1", "example.com"},
        {"GET HTTP://Example.COM:8080/a/b?c=d HTTP/1.1", "/a/b", "c=d", "Example.COM:8080"},
        {"POST https://example.com/up HTTP/1.1", "/up", "", "example.com"},
        {"GET hTTpS://[::1]:443/p HTTP/1.1", "/p", "", "[::1]:443"},
        {"GET http://example.com:/p HTTP/1.1", "/p", "", "example.com:"},
        // authority-form: CONNECT only, with a port.
        {"CONNECT example.com:443 HTTP/1.1", "example.com:443", "", "example.com:443"},
        {"CONNECT [2001:db8::1]:8443 HTTP/1.1", "[2001:db8::1]:8443", "", "[2001:db8::1]:8443"},
        {"CONNECT 192.0.2.1:80 HTTP/1.0", "192.0.2.1:80", "", "192.0.2.1:80"},
    };
    for (const Case& c : accepted) {
        CAPTURE(c.request_line);
        const Parsed r = parse_all_ways(std::string(c.request_line) + "\r\nHost: h\r\n\r\n");
        REQUIRE(r.done);
        CHECK(r.path == c.path);
        CHECK(r.query == c.query);
        CHECK(r.authority == c.authority);
    }
    // The target itself is kept as sent.
    CHECK(parse_whole("GET HTTP://Example.COM HTTP/1.1\r\nHost: h\r\n\r\n").target ==
          "HTTP://Example.COM");
    // HTTP/1.0 without Host: the absolute-form's authority is still known.
    CHECK(parse_whole("GET http://example.com/ HTTP/1.0\r\n\r\n").authority == "example.com");

    const char* const refused[] = {
        "GET index.html HTTP/1.1",
        "GET *, HTTP/1.1",
        "GET * HTTP/1.1",
        "POST * HTTP/1.1",
        "M-SEARCH * HTTP/1.1",
        "OPTIONS ** HTTP/1.1",
        "OPTIONS *x HTTP/1.1",
        "GET example.com:80 HTTP/1.1",
        "GET example.com HTTP/1.1",
        "GET ?x HTTP/1.1",
        "CONNECT /x HTTP/1.1",
        "CONNECT * HTTP/1.1",
        "CONNECT example.com HTTP/1.1",
        "CONNECT example.com: HTTP/1.1",
        "CONNECT :443 HTTP/1.1",
        "CONNECT http://example.com:443/ HTTP/1.1",
        "CONNECT user@example.com:443 HTTP/1.1",
        "CONNECT example.com:443/x HTTP/1.1",
        "connect example.com:443 HTTP/1.1",  // methods are case-sensitive: not CONNECT
        "GET ftp://example.com/ HTTP/1.1",
        "GET urn:isbn:123 HTTP/1.1",
        "GET http:/example.com/ HTTP/1.1",
        "GET http:example.com HTTP/1.1",
        "GET http:// HTTP/1.1",
        "GET http:///a HTTP/1.1",
        "GET http://:80/ HTTP/1.1",
        "GET http://user@example.com/ HTTP/1.1",
        "GET http://exa%mple.com/ HTTP/1.1",
        "GET http://example.com:80:90/ HTTP/1.1",
        "GET http://[::1/ HTTP/1.1",
        "GET http://example.com#f HTTP/1.1",
        "GET httpx://example.com/ HTTP/1.1",
    };
    for (const char* line : refused) {
        CAPTURE(line);
        const Parsed r = parse_all_ways(std::string(line) + "\r\nHost: h\r\n\r\n");
        CHECK(r.failed);
        CHECK(r.status == 400);
    }
}

TEST_CASE("request-target: a wrong form is refused at the request line, before any header") {
    RequestParser p;
    p.feed("GET * HTTP/1.1\r\n");
    CHECK(p.failed());
    CHECK(p.error_status() == 400);
    CHECK(std::string_view(p.error_reason()) == "'*' target with a method other than OPTIONS");
}

// ---- chunk extensions (RFC 9112 section 7.1.1) ------------------------------------

TEST_CASE("chunk extensions: names, token and quoted values, BWS, are accepted and skipped") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char* const valid[] = {
        "3;a",
        "3;a=b",
        "3;a;b;c=d",
        "3;name=value;other",
        "3 ;a",
        "3\t; a = b ; c\t=\td",
        "3;a=\"\"",
        "3;a=\"quoted ; = value\"",
        "3;a=\"esc \\\" \\\\ \\a\"",
        "3;a=\"tab\there\"",
        "3;a=\"obs-text \xe9\xff\"",
        "3;a=\"\\\xe9\"",
        "3;a=\"x\";b=y",
        "3;a=\"x\" ;b",
        "3;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
    };
    for (const char* size_line : valid) {
        CAPTURE(size_line);
        const std::string body = std::string(size_line) + "\r\nabc\r\n0;last=\"yes\"\r\n\r\n";
        const Parsed r = parse_all_ways(head + body);
        CHECK(r.done);
        CHECK(r.body == "abc");
    }
}

TEST_CASE("chunk extensions: anything else after the chunk size is 400") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char* const invalid[] = {
        "3 ",            // BWS without an extension
        "3;",            // no name
        "3; ",
        "3;;a",
        "3;a ",          // BWS only before ';' or '='
        "3;a= ",
        "3;a=",          // no value
        "3;a=b ",
        "3;=b",
        "3;a=b=c",
        "3;a b",
        "3;a=b c",
        "3;a=\"",        // unterminated quoted-string
        "3;a=\"x",
        "3;a=\"x\"y",
        "3;a=\"x\"\"y\"",
        "3;a=\"\x01\"",  // control characters inside quotes
        "3;a=\"\x7f\"",
        "3;a=\"\\\x01\"",
        "3;a=\"\\",
        "3;(a)",         // non-token name or value
        "3;a=(b)",
        "3;a=b,c",
        "3;a/b",
        "3;\xe9",        // obs-text only inside quotes
        "3;a=\xe9",
        "3,a",
        "3 x",
    };
    for (const char* size_line : invalid) {
        CAPTURE(size_line);
        const Parsed r = parse_all_ways(head + size_line + "\r\nabc\r\n0\r\n\r\n");
        CHECK(r.failed);
        CHECK(r.status == 400);
    }
    // A CR or LF inside a quoted-string is never part of it.
    CHECK(outcome(head + "3;a=\"x\r\ny\"\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(outcome(head + "3;a=\"x\ny\"\r\nabc\r\n0\r\n\r\n") == 400);
    // The last chunk's extensions are checked too.
    CHECK(outcome(head + "0;\r\n\r\n") == 400);
}

TEST_CASE("chunk extensions are bounded per line (1 KiB) and per body (max_header_bytes)") {
    const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    // Per line: size, extensions and CRLF together at most 1024 bytes.
    const std::string fits = "1;" + std::string(1024 - 4, 'e');  // + CRLF = 1024
    CHECK(outcome(head + fits + "\r\nx\r\n0\r\n\r\n") == 0);
    CHECK(outcome(head + fits + "e\r\nx\r\n0\r\n\r\n") == 400);
    // Per body: the extension bytes (from the end of the size to the CR) of
    // every chunk-size line together at most max_header_bytes.
    Limits limits;
    limits.max_header_bytes = 100;
    const std::string ext40 = ";" + std::string(39, 'e');  // 40 extension bytes
    const std::string ext20 = ";" + std::string(19, 'e');  // 20
    const std::string at_limit =
        "1" + ext40 + "\r\nx\r\n1" + ext40 + "\r\ny\r\n0" + ext20 + "\r\n\r\n";
    const Parsed ok = parse_all_ways(head + at_limit, limits);
    CHECK(ok.done);
    CHECK(ok.body == "xy");
    const std::string over =
        "1" + ext40 + "\r\nx\r\n1" + ext40 + "\r\ny\r\n0" + ext20 + "e\r\n\r\n";
    const Parsed r = parse_all_ways(head + over, limits);
    CHECK(r.failed);
    CHECK(r.status == 400);
}

// ---- per-request state --------------------------------------------------------------

TEST_CASE("nothing of one request leaks into the next: a reused parser equals a fresh one") {
    const std::vector<std::string> sequence = {
        "GET http://example.com:81/abs?q HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: other\r\n\r\n",
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        "GET /old HTTP/1.0\r\n\r\n",
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        "3;a=\"b\"\r\nabc\r\n0\r\nT: 1\r\n\r\n",
        "POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET /bad HTTP/1.1\r\nHost: a b\r\n\r\n",
        "GET /after-failure HTTP/1.1\r\nHost: h\r\n\r\n",
    };
    RequestParser reused;
    for (const std::string& request : sequence) {
        CAPTURE(request);
        const std::size_t n = reused.feed(request);
        CHECK(snapshot(reused, n) == parse_whole(request));
        reused.reset();
        CHECK_FALSE(reused.started());
        CHECK_FALSE(reused.headers_complete());
        CHECK(reused.error_status() == 0);
        CHECK(std::string_view(reused.error_reason()).empty());
        CHECK(reused.request().authority().empty());
        CHECK(reused.request().path().empty());
        CHECK(reused.request().headers().empty());
    }
}
