// tests/http_response_test.cpp -- the response writer and the Date cache: the
// exact bytes each kind of response produces. Pure: runs once.
#include <reactor/http/request_parser.hpp>
#include "http/response.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace reactor::http;

namespace {

// 784111777 is the example date of RFC 9110 section 5.6.7.
constexpr std::time_t kRfcExample = 784111777;

ResponseOptions options(Version version, bool keep_alive, bool head = false,
                        const DateCache* date = nullptr) {
    ResponseOptions o;
    o.version = version;
    o.keep_alive = keep_alive;
    o.head = head;
    o.date = date;
    return o;
}

}  // namespace

TEST_CASE("DateCache formats an IMF-fixdate") {
    DateCache d(kRfcExample);
    CHECK(d.value() == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(d.header_line() == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    CHECK(d.time() == kRfcExample);
    d.update(0);
    CHECK(d.value() == "Thu, 01 Jan 1970 00:00:00 GMT");
    d.update(951782400);  // a leap day
    CHECK(d.value() == "Tue, 29 Feb 2000 00:00:00 GMT");
    d.update(4102444799);  // the last second of 2099
    CHECK(d.value() == "Thu, 31 Dec 2099 23:59:59 GMT");
    // The default constructor formats "now": a well-formed value either way.
    DateCache now;
    CHECK(now.value().size() == 29);
    CHECK(now.value().substr(25) == " GMT");
}

TEST_CASE("DateCache keeps its value for a time it cannot format") {
    DateCache d(kRfcExample);
    d.update(static_cast<std::time_t>(400000000000LL));  // year ~14645
    CHECK(d.value() == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(d.time() == kRfcExample);
}

TEST_CASE("a 200 with a body on a keep-alive HTTP/1.1 connection") {
    const DateCache date(kRfcExample);
    std::string out = "previous bytes|";
    ResponseWriter w(out, 200, options(Version::Http11, true, false, &date));
    w.header("Content-Type", "text/plain");
    w.finish("Hello, World!");
    CHECK(out == "previous bytes|"
                 "HTTP/1.1 200 OK\r\n"
                 "Content-Type: text/plain\r\n"
                 "Content-Length: 13\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "\r\n"
                 "Hello, World!");
    CHECK(w.keep_alive());
}

TEST_CASE("Connection: close when not kept alive, keep-alive for an HTTP/1.0 client that stays") {
    std::string closing;
    ResponseWriter(closing, 404, options(Version::Http11, false)).finish("no");
    CHECK(closing == "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\nno");

    std::string old_kept;
    ResponseWriter(old_kept, 200, options(Version::Http10, true)).finish("");
    CHECK(old_kept ==
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");

    std::string old_closed;
    ResponseWriter(old_closed, 200, options(Version::Http10, false)).finish("x");
    CHECK(old_closed == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
}

TEST_CASE("options follow the request: version, keep-alive, HEAD") {
    RequestParser p;
    p.feed("HEAD /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    REQUIRE(p.done());
    const DateCache date(kRfcExample);
    const ResponseOptions o = ResponseOptions::for_request(p.request(), &date);
    CHECK(o.version == Version::Http10);
    CHECK(o.keep_alive);
    CHECK(o.head);
    CHECK(o.date == &date);
}

TEST_CASE("HEAD: the headers a GET would get, Content-Length included, no body") {
    std::string out;
    ResponseWriter w(out, 200, options(Version::Http11, true, true));
    w.header("Content-Type", "text/html");
    w.finish("<html>twenty bytes..");
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 20\r\n\r\n");

    std::string sized;
    ResponseWriter(sized, 200, options(Version::Http11, true, true)).finish_head(123456789);
    CHECK(sized == "HTTP/1.1 200 OK\r\nContent-Length: 123456789\r\n\r\n");
}

TEST_CASE("finish_head announces a body the caller sends itself") {
    std::string out;
    ResponseWriter w(out, 206, options(Version::Http11, true));
    w.header("Content-Range", "bytes 0-9/100");
    w.finish_head(10);
    CHECK(out == "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/100\r\n"
                 "Content-Length: 10\r\n\r\n");
}

TEST_CASE("bodiless statuses: no body; no Content-Length for 204, the real length for 304") {
    std::string no_content;
    ResponseWriter(no_content, 204, options(Version::Http11, true)).finish("ignored");
    CHECK(no_content == "HTTP/1.1 204 No Content\r\n\r\n");

    std::string not_modified;
    ResponseWriter(not_modified, 304, options(Version::Http11, true)).finish_head(42);
    CHECK(not_modified == "HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n");
}

TEST_CASE("a chunked stream: head, chunks in hex, the last chunk") {
    std::string out;
    ResponseWriter w(out, 200, options(Version::Http11, true));
    w.header("Content-Type", "text/event-stream");
    const ChunkedBody body = w.start_chunked();
    body.append(out, "hello");
    body.append(out, "");  // writes nothing: an empty chunk would end the body
    body.append(out, std::string(26, 'z'));
    body.finish(out);
    CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "5\r\nhello\r\n"
                 "1a\r\n" + std::string(26, 'z') + "\r\n"
                 "0\r\n\r\n");
    CHECK(body.keep_alive());
    CHECK(w.keep_alive());
}

TEST_CASE("the chunked stream a writer produces parses back into the same body") {
    std::string out;
    ResponseWriter w(out, 200, options(Version::Http11, true));
    const ChunkedBody body = w.start_chunked();
    std::string expected;
    for (int i = 1; i <= 20; ++i) {
        const std::string piece(static_cast<std::size_t>(i * 7), static_cast<char>('a' + i));
        body.append(out, piece);
        expected += piece;
    }
    body.finish(out);
    // Reuse the request parser on the body part by giving it a request head.
    const std::string as_request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                   out.substr(out.find("\r\n\r\n") + 4);
    RequestParser p;
    CHECK(p.feed(as_request) == as_request.size());
    REQUIRE(p.done());
    CHECK(p.request().body() == expected);
}

TEST_CASE("streaming to an HTTP/1.0 client: raw bytes, then close") {
    std::string out;
    ResponseWriter w(out, 200, options(Version::Http10, true));
    const ChunkedBody body = w.start_chunked();
    body.append(out, "part one,");
    body.append(out, "part two");
    body.finish(out);
    CHECK(out == "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart one,part two");
    CHECK_FALSE(body.keep_alive());
    CHECK_FALSE(w.keep_alive());
}

TEST_CASE("streaming in answer to HEAD: the head says chunked, no body bytes follow") {
    std::string out;
    ResponseWriter w(out, 200, options(Version::Http11, true, true));
    const ChunkedBody body = w.start_chunked();
    body.append(out, "data");
    body.finish(out);
    CHECK(out == "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
}

TEST_CASE("custom reason phrases and unknown statuses") {
    std::string custom;
    ResponseWriter(custom, 200, "Fine", options(Version::Http11, true)).finish("");
    CHECK(custom == "HTTP/1.1 200 Fine\r\nContent-Length: 0\r\n\r\n");
    std::string unknown;
    ResponseWriter(unknown, 599, options(Version::Http11, true)).finish("");
    CHECK(unknown == "HTTP/1.1 599 \r\nContent-Length: 0\r\n\r\n");
    CHECK(reason_phrase(431) == "Request Header Fields Too Large");
    CHECK(reason_phrase(413) == "Content Too Large");
    CHECK(reason_phrase(42).empty());
}

TEST_CASE("the writer refuses what would split or reframe the response") {
    std::string out;
    const DateCache date(kRfcExample);
    ResponseWriter w(out, 200, options(Version::Http11, true, false, &date));
    const std::string head = out;
    CHECK_THROWS_AS(w.header("X-Evil", "a\r\nSet-Cookie: x=y"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("X-Evil", "a\nb"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("X Evil", "v"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("", "v"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("Content-Length", "5"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("transfer-encoding", "chunked"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("Connection", "close"), std::invalid_argument);
    CHECK_THROWS_AS(w.header("Date", "today"), std::invalid_argument);
    CHECK(out == head);  // nothing was appended by the refused calls
    w.header("X-Fine", "tab\tand obs-text \xe9");
    w.finish("");
    CHECK(out.find("X-Fine: tab\tand obs-text \xe9\r\n") != std::string::npos);

    // Without a DateCache the caller may set Date itself.
    std::string own_date;
    ResponseWriter(own_date, 200, options(Version::Http11, true)).header("Date", "x").finish("");
    CHECK(own_date.find("Date: x\r\n") != std::string::npos);

    std::string bad;
    CHECK_THROWS_AS(ResponseWriter(bad, 99, options(Version::Http11, true)), std::invalid_argument);
    CHECK_THROWS_AS(ResponseWriter(bad, 1000, options(Version::Http11, true)),
                    std::invalid_argument);
    CHECK_THROWS_AS(ResponseWriter(bad, 200, "O\r\nK", options(Version::Http11, true)),
                    std::invalid_argument);
    CHECK(bad.empty());
}

TEST_CASE("error responses for the parser's statuses close the connection") {
    const DateCache date(kRfcExample);
    std::string out;
    write_error(out, 400, &date);
    CHECK(out == "HTTP/1.1 400 Bad Request\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n"
                 "Content-Length: 12\r\n"
                 "Connection: close\r\n"
                 "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                 "\r\n"
                 "Bad Request\n");
    for (int status : {413, 431, 501, 505}) {
        CAPTURE(status);
        std::string e;
        write_error(e, status);
        const std::string reason(reason_phrase(status));
        CHECK(e.rfind("HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n", 0) == 0);
        CHECK(e.find("\r\nConnection: close\r\n") != std::string::npos);
        CHECK(e.find("\r\nContent-Length: " + std::to_string(reason.size() + 1) + "\r\n") !=
              std::string::npos);
        CHECK(e.substr(e.size() - reason.size() - 1) == reason + "\n");
    }
}

TEST_CASE("100 Continue is a bare interim status line") {
    std::string out;
    write_continue(out);
    CHECK(out == "HTTP/1.1 100 Continue\r\n\r\n");
}
