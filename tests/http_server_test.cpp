// runs-on: every backend
// tests/http_server_test.cpp -- http::Server as a client sees it: exact
// bytes on the wire, keep-alive and close, pipelining and ordering, limits
// and timeouts, deferred and abandoned responses, routing, shutdown.
// The client is a plain socket (http_server_util.hpp), not the library.
#include "http_server_util.hpp"

#include <reactor/http/server.hpp>
#include <reactor/worker_pool.hpp>

#include <sys/socket.h>

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;
using namespace std::chrono_literals;

namespace {

// A loop and a server on 127.0.0.1, port 0. The server is destroyed before
// the loop, and the loop then runs briefly so deferred closes finish.
struct ServerFixture {
    CheckedLoop loop;
    std::optional<http::Server> server;

    explicit ServerFixture(http::ServerOptions options = {}) {
        server.emplace(loop, SocketAddress::parse("127.0.0.1:0"), std::move(options));
    }
    ~ServerFixture() {
        server.reset();
        run_for(loop, 10ms);
    }
    HttpClient client() { return HttpClient(server->local_address()); }
    void hello_route() {
        server->route("GET", "/", [](const http::Request&, http::Response res) {
            res.header("Content-Type", "text/plain").send("Hello, World!");
        });
    }
};

// Echoes the method, path, query and body: "GET /a?b [body]".
void echo_route(http::Server& server) {
    server.route("", "/", [](const http::Request& req, http::Response res) {
        std::string text(req.method());
        text += ' ';
        text += req.path();
        if (!req.query().empty()) text += "?" + std::string(req.query());
        if (!req.body().empty()) text += " [" + std::string(req.body()) + "]";
        res.header("Content-Type", "text/plain").send(text);
    });
}

}  // namespace

TEST_CASE("GET / is answered with exactly the expected bytes, Date included") {
    ServerFixture f;
    f.hello_route();
    HttpClient c = f.client();
    c.send(get("/"));
    REQUIRE(run_until(f.loop, [&] {
        c.pump();
        return c.in.find("Hello, World!") != std::string::npos;
    }));
    // The Date value changes each second: check its shape, then compare the
    // rest byte for byte.
    const std::size_t at = c.in.find("Date: ");
    REQUIRE(at != std::string::npos);
    const std::string date = c.in.substr(at + 6, 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
    CHECK(date.substr(3, 2) == ", ");
    CHECK(date.substr(25) == " GMT");
    const std::string days = "MonTueWedThuFriSatSun";
    const std::size_t day = days.find(date.substr(0, 3));
    CHECK((day != std::string::npos && day % 3 == 0));
    CHECK(date[19] == ':');
    CHECK(date[22] == ':');
    std::string rest = c.in;
    rest.replace(at + 6, 29, "<date>");
    CHECK(rest ==
          "HTTP/1.1 200 OK\r\n"
          "Content-Type: text/plain\r\n"
          "Content-Length: 13\r\n"
          "Date: <date>\r\n"
          "\r\n"
          "Hello, World!");
    // Kept alive: a second request on the same connection.
    c.in.clear();
    c.send(get("/"));
    CHECK(c.reply(f.loop).body == "Hello, World!");
    CHECK_FALSE(c.eof);
}

TEST_CASE("a request sent one byte at a time is answered once, when complete") {
    ServerFixture f;
    echo_route(*f.server);
    HttpClient c = f.client();
    const std::string request = "POST /upload?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello";
    for (std::size_t i = 0; i + 1 < request.size(); ++i) {
        c.send(request.substr(i, 1));
        f.loop.run_once(1ms);
        c.pump();
        REQUIRE(c.in.empty());  // nothing before the request is complete
    }
    c.send(request.substr(request.size() - 1));
    const HttpReply r = c.reply(f.loop);
    CHECK(r.status == 200);
    CHECK(r.body == "POST /upload?x=1 [hello]");
}

TEST_CASE("100 pipelined requests in one write are answered in order") {
    ServerFixture f;
    echo_route(*f.server);
    HttpClient c = f.client();
    std::string batch;
    for (int i = 0; i < 100; ++i) batch += get("/r" + std::to_string(i));
    c.send(batch);
    const auto replies = c.replies(f.loop, 100);
    REQUIRE(replies.size() == 100);
    for (int i = 0; i < 100; ++i) CHECK(replies[i].body == "GET /r" + std::to_string(i));
    CHECK_FALSE(c.eof);
}

TEST_CASE("keep-alive rules: HTTP/1.1 default, Connection: close, HTTP/1.0") {
    ServerFixture f;
    f.hello_route();

    SUBCASE("Connection: close is answered with Connection: close, then the server closes") {
        HttpClient c = f.client();
        c.send(get("/", "Connection: close\r\n") + get("/"));  // the second is never read
        const HttpReply r = c.reply(f.loop);
        CHECK(r.header("Connection") == "close");
        CHECK(c.wait_eof(f.loop));
        CHECK(c.in.empty());
    }
    SUBCASE("HTTP/1.0 without keep-alive: close") {
        HttpClient c = f.client();
        c.send("GET / HTTP/1.0\r\n\r\n");
        const HttpReply r = c.reply(f.loop);
        CHECK(r.status == 200);
        CHECK(r.head.rfind("HTTP/1.1 200 OK", 0) == 0);
        CHECK(r.header("Connection") == "close");
        CHECK(c.wait_eof(f.loop));
    }
    SUBCASE("HTTP/1.0 with keep-alive: kept, and told so") {
        HttpClient c = f.client();
        c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        CHECK(c.reply(f.loop).header("Connection") == "keep-alive");
        c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        CHECK(c.reply(f.loop).body == "Hello, World!");
        CHECK_FALSE(c.eof);
    }
    SUBCASE("the handler closes: Connection: close, later requests unanswered") {
        f.server->route("GET", "/bye", [](const http::Request&, http::Response res) {
            res.close_connection().send("bye");
        });
        HttpClient c = f.client();
        c.send(get("/bye") + get("/"));
        const HttpReply r = c.reply(f.loop);
        CHECK(r.body == "bye");
        CHECK(r.header("Connection") == "close");
        CHECK(c.wait_eof(f.loop));
        CHECK(c.in.empty());
    }
}

TEST_CASE("malformed and oversized requests get their status, Connection: close, and a close") {
    http::ServerOptions options;
    options.limits.max_body = 100;
    options.limits.max_header_bytes = 1024;
    ServerFixture f(options);
    echo_route(*f.server);

    struct Case {
        const char* name;
        std::string request;
        int status;
    };
    const Case cases[] = {
        {"bare LF in the request line", "GET / HTTP/1.1\nHost: t\r\n\r\n", 400},
        {"Content-Length and Transfer-Encoding", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        {"bad chunk size", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"body over the limit", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n", 413},
        {"head over the limit", "GET / HTTP/1.1\r\nHost: t\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 431},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505},
    };
    for (const Case& k : cases) {
        INFO(k.name);
        HttpClient c = f.client();
        c.send(k.request);
        const HttpReply r = c.reply(f.loop);
        CHECK(r.status == k.status);
        CHECK(r.header("Connection") == "close");
        CHECK(c.wait_eof(f.loop));
    }

    SUBCASE("a good request before a bad one is answered first") {
        HttpClient c = f.client();
        c.send(get("/ok") + "BAD LINE\r\n\r\n");
        const auto replies = c.replies(f.loop, 2);
        REQUIRE(replies.size() == 2);
        CHECK(replies[0].body == "GET /ok");
        CHECK(replies[1].status == 400);
        CHECK(c.wait_eof(f.loop));
    }
}

TEST_CASE("a chunked request body reaches the handler de-chunked") {
    ServerFixture f;
    echo_route(*f.server);
    HttpClient c = f.client();
    c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\n\r\n");
    CHECK(c.reply(f.loop).body == "POST /c [hello, world]");
}

TEST_CASE("Expect: 100-continue gets 100 Continue once the headers are in") {
    ServerFixture f;
    echo_route(*f.server);
    HttpClient c = f.client();
    c.send("PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    REQUIRE(run_until(f.loop, [&] {
        c.pump();
        return c.in.size() >= 25;
    }));
    CHECK(c.in == "HTTP/1.1 100 Continue\r\n\r\n");
    c.in.clear();
    c.send("data");
    CHECK(c.reply(f.loop).body == "PUT /up [data]");

    SUBCASE("not sent when the body is already too large") {
        http::ServerOptions options;
        options.limits.max_body = 3;
        ServerFixture g(options);
        echo_route(*g.server);
        HttpClient d = g.client();
        d.send("PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
        CHECK(d.reply(g.loop).status == 413);
    }
}

TEST_CASE("header and idle timeouts") {
    http::ServerOptions options;
    options.header_timeout = 200ms;
    options.idle_timeout = 300ms;
    ServerFixture f(options);
    f.hello_route();

    SUBCASE("an incomplete head gets 408 and a close") {
        HttpClient c = f.client();
        c.send("GET / HTTP/1.1\r\nHost: t\r\n");
        run_for(f.loop, 100ms);
        c.pump();
        CHECK(c.in.empty());  // not yet
        const HttpReply r = c.reply(f.loop);
        CHECK(r.status == 408);
        CHECK(r.header("Connection") == "close");
        CHECK(c.wait_eof(f.loop));
    }
    SUBCASE("a connection that never sends is closed silently") {
        HttpClient c = f.client();
        CHECK(c.wait_eof(f.loop));
        CHECK(c.in.empty());
    }
    SUBCASE("a keep-alive connection idle after a response is closed silently") {
        HttpClient c = f.client();
        c.send(get("/"));
        CHECK(c.reply(f.loop).status == 200);
        run_for(f.loop, 150ms);
        c.pump();
        CHECK_FALSE(c.eof);  // idle_timeout is not over yet
        CHECK(c.wait_eof(f.loop));
        CHECK(c.in.empty());
    }
    SUBCASE("a slow handler is not timed out") {
        f.server->route("GET", "/slow", [&](const http::Request&, http::Response res) {
            f.loop.run_after(500ms, [res]() mutable { res.send("late"); });
        });
        HttpClient c = f.client();
        c.send(get("/slow"));
        CHECK(c.reply(f.loop).body == "late");
    }
}

TEST_CASE("responses completed later: from a timer, from queue_work, out of order") {
    ServerFixture f;
    f.server->route("GET", "/timer", [&](const http::Request& req, http::Response res) {
        // The request's views die with the call: copy what is needed.
        std::string path(req.path());
        f.loop.run_after(30ms, [res, path]() mutable { res.send("timer " + path); });
    });
    f.server->route("GET", "/work", [&](const http::Request&, http::Response res) {
        queue_work(f.loop, [] { return std::string("computed"); },
                          [res](std::error_code ec, std::string result) mutable {
                              res.status(ec ? 500 : 200).send(result);
                          });
    });
    f.server->route("GET", "/fast", [](const http::Request&, http::Response res) { res.send("fast"); });

    HttpClient c = f.client();
    c.send(get("/timer/a"));
    CHECK(c.reply(f.loop).body == "timer /timer/a");
    c.send(get("/work"));
    CHECK(c.reply(f.loop).body == "computed");

    // The slow one was asked first: it is answered first.
    c.send(get("/timer/slow") + get("/fast") + get("/work") + get("/fast"));
    const auto replies = c.replies(f.loop, 4);
    REQUIRE(replies.size() == 4);
    CHECK(replies[0].body == "timer /timer/slow");
    CHECK(replies[1].body == "fast");
    CHECK(replies[2].body == "computed");
    CHECK(replies[3].body == "fast");
    run_until(f.loop, [&] { return pending_work(f.loop) == 0; });
}

TEST_CASE("body_timeout is a total: a body trickled a byte at a time still gets 408 at the deadline") {
    http::ServerOptions options;
    options.header_timeout = 200ms;
    options.body_timeout = 300ms;
    ServerFixture f(options);
    echo_route(*f.server);
    HttpClient c = f.client();
    const auto start = std::chrono::steady_clock::now();
    c.send("POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
    // One byte every 40 ms: progress well within header_timeout each time,
    // which the old per-read timeout would have accepted for ever.
    bool answered = false;
    REQUIRE(run_until(f.loop, [&] {
        if (!c.eof) c.send("x");
        run_for(f.loop, 40ms);
        c.pump();
        answered = c.in.find("\r\n\r\n") != std::string::npos;
        return answered || c.eof;
    }, 3s));
    const auto took = std::chrono::steady_clock::now() - start;
    const HttpReply r = c.reply(f.loop);
    CHECK(r.status == 408);
    CHECK(r.header("Connection") == "close");
    CHECK(took >= 290ms);
    CHECK(took < 2s);
    CHECK(c.wait_eof(f.loop));

    SUBCASE("a body that arrives in time is served") {
        HttpClient d = f.client();
        d.send("POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab");
        run_for(f.loop, 100ms);
        d.send("cd");
        CHECK(d.reply(f.loop).body == "POST /ok [abcd]");
    }
}

TEST_CASE("send_timeout: a client that reads nothing is cut off; one that reads slowly is not") {
    http::ServerOptions options;
    options.send_timeout = 500ms;
    ServerFixture f(options);
    const std::string big(32 << 20, 'x');  // more than loopback's socket buffers hold
    f.server->route("GET", "/big", [&](const http::Request&, http::Response res) { res.send(big); });
    f.hello_route();

    for (const bool close_after : {false, true}) {
        CAPTURE(close_after);  // true: the response is the last, the connection is closing
        HttpClient c = f.client();
        const auto start = std::chrono::steady_clock::now();
        c.send(get("/big", close_after ? "Connection: close\r\n" : ""));
        // Reads nothing: the server's output stalls, then the connection goes.
        REQUIRE(run_until(f.loop, [&] { return f.server->tcp().connection_count() == 1; }));
        run_for(f.loop, 250ms);
        CHECK(f.server->tcp().connection_count() == 1);  // not yet
        CHECK(run_until(f.loop, [&] { return f.server->tcp().connection_count() == 0; }, 3s));
        const auto took = std::chrono::steady_clock::now() - start;
        CHECK(took >= 490ms);
        CHECK(took < 2500ms);
    }
}

TEST_CASE("send_timeout: a slow reader making progress keeps its connection past it") {
    // The server sees progress when the kernel takes more of its output,
    // which happens once the socket's send buffer has room again: the
    // reader must read a good share of that buffer per send_timeout
    // (1 MiB per 100 ms against a 2 s timeout here; with the 60 s default,
    // a few KiB/s). The timeout is twice the longest pause a loaded CI
    // machine has been seen to give this thread, which runs both ends: a
    // pause longer than the timeout is, to the server, a reader that stopped.
    http::ServerOptions options;
    options.send_timeout = 2s;
    ServerFixture f(options);
    const std::string big(64 << 20, 'x');
    f.server->route("GET", "/big", [&](const http::Request&, http::Response res) { res.send(big); });
    f.hello_route();
    HttpClient c = f.client();
    c.send(get("/big"));
    const auto until = std::chrono::steady_clock::now() + 3500ms;
    std::string buf(1 << 20, '\0');
    while (std::chrono::steady_clock::now() < until) {
        run_for(f.loop, 100ms);
        const ssize_t n = ::recv(c.fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n > 0) c.in.append(buf.data(), static_cast<std::size_t>(n));
    }
    INFO("read by the slow reader: " << c.in.size());
    CHECK(c.in.size() < big.size());  // slow indeed: the server had more to send
    CHECK(f.server->tcp().connection_count() == 1);
    const auto replies = c.replies(f.loop, 1);  // now reads at full speed
    REQUIRE(replies.size() == 1);
    CHECK(replies[0].body.size() == big.size());
    c.send(get("/"));
    CHECK(c.reply(f.loop).body == "Hello, World!");
}

TEST_CASE("max_pipelined: reading pauses at the cap, nothing is lost") {
    http::ServerOptions options;
    options.max_pipelined = 2;
    ServerFixture f(options);
    std::vector<http::Response> held;
    std::size_t handled = 0;
    f.server->route("GET", "/", [&](const http::Request& req, http::Response res) {
        ++handled;
        res.header("X-Path", req.path());
        held.push_back(std::move(res));
    });
    HttpClient c = f.client();
    std::string batch;
    for (int i = 0; i < 10; ++i) batch += get("/" + std::to_string(i));
    c.send(batch);
    run_for(f.loop, 50ms);
    CHECK(handled == 2);  // at the cap: the rest waits

    std::vector<HttpReply> replies;
    REQUIRE(run_until(f.loop, [&] {
        // Answer the oldest held response; the server then reads on.
        if (!held.empty()) {
            held.front().send("ok");
            held.erase(held.begin());
        }
        CHECK(held.size() <= 2);
        c.pump();
        while (auto r = take_reply(c.in)) replies.push_back(*r);
        return replies.size() == 10;
    }));
    CHECK(handled == 10);
    for (int i = 0; i < 10; ++i) CHECK(replies[i].header("X-Path") == "/" + std::to_string(i));
}

TEST_CASE("max_output_bytes: a client that does not read stops being read") {
    http::ServerOptions options;
    options.max_output_bytes = 1;  // any output the kernel does not take at once
    ServerFixture f(options);
    const std::string big(32 << 20, 'x');  // more than loopback's socket buffers hold
    std::size_t handled = 0;
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) {
        ++handled;
        res.send(big);
    });
    HttpClient c = f.client();
    c.send(get("/"));
    REQUIRE(run_until(f.loop, [&] { return handled == 1; }));
    c.send(get("/"));
    run_for(f.loop, 50ms);
    CHECK(handled == 1);  // the second request waits in the kernel
    const auto replies = c.replies(f.loop, 2);
    REQUIRE(replies.size() == 2);
    CHECK(replies[1].body.size() == big.size());
    CHECK(handled == 2);
}

TEST_CASE("a handler that throws: the client gets 500, the connection goes on") {
    ServerFixture f;
    f.server->route("GET", "/throw", [](const http::Request&, http::Response) {
        throw std::runtime_error("handler failed");
    });
    f.hello_route();
    HttpClient c = f.client();
    c.send(get("/throw"));
    CHECK(c.reply(f.loop).status == 500);
    c.send(get("/"));
    CHECK(c.reply(f.loop).body == "Hello, World!");
}

TEST_CASE("a dropped Response is answered with 500; copies keep it alive") {
    ServerFixture f;
    std::optional<http::Response> kept;
    f.server->route("GET", "/drop", [](const http::Request&, http::Response) {});
    f.server->route("GET", "/keep", [&](const http::Request&, http::Response res) {
        http::Response copy = res;  // one copy more, dropped at once
        kept = res;
    });
    HttpClient c = f.client();
    c.send(get("/drop"));
    const HttpReply r = c.reply(f.loop);
    CHECK(r.status == 500);
    CHECK_FALSE(c.eof);  // a well-framed 500: the connection stays

    c.send(get("/keep"));
    run_for(f.loop, 30ms);
    c.pump();
    CHECK(c.in.empty());  // one copy is still held
    REQUIRE(kept);
    CHECK_FALSE(kept->done());
    kept.reset();
    CHECK(c.reply(f.loop).status == 500);

    SUBCASE("a streamed response dropped after its head closes the connection") {
        f.server->route("GET", "/stream", [](const http::Request&, http::Response res) {
            res.start_chunked();
            res.write("partial");
        });
        c.send(get("/stream"));
        CHECK(c.wait_eof(f.loop));
        CHECK(c.in.find("partial") != std::string::npos);
        CHECK(c.in.find("0\r\n\r\n") == std::string::npos);
    }
}

TEST_CASE("the client leaves before a deferred response: later calls do nothing") {
    ServerFixture f;
    std::optional<http::Response> kept;
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) { kept = res; });
    {
        HttpClient c = f.client();
        c.send(get("/"));
        REQUIRE(run_until(f.loop, [&] { return kept.has_value(); }));
        CHECK(kept->connection_open());
    }  // the client closes
    REQUIRE(run_until(f.loop, [&] { return !kept->connection_open(); }));
    CHECK(kept->done());
    kept->header("X", "y").send("too late");  // no effect, no exception
    kept->start_chunked();
    kept.reset();
    run_until(f.loop, [&] { return f.server->tcp().connection_count() == 0; });
    CHECK(f.server->tcp().connection_count() == 0);
}

// ---- clients that leave mid-response ----------------------------------------------

namespace {

// A body streamed in 64 KiB chunks, each written once the previous one has
// left (on_drain), as a file server paces a download. The callback holds
// the stream, and so the last Response: the shape of issue 11.
struct Stream {
    http::Response res;
    int left = 0;
};

void stream_next(const std::shared_ptr<Stream>& s) {
    if (!s->res.connection_open()) return;
    if (s->left == 0) {
        s->res.end();
        return;
    }
    --s->left;
    s->res.write(std::string(64 * 1024, 'x'));
    s->res.on_drain([s] { stream_next(s); });
}

// Closes with a reset: SO_LINGER with a zero timeout makes close() send RST.
void reset_client(HttpClient& c) {
    const linger l{1, 0};
    ::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    c.fd.reset();
}

// Routes for the leaving clients: /hold keeps the Response before its head,
// /head after a sized head, /stream streams 64 MiB (more than loopback
// buffers), /timer answers from a timer 50 ms later.
void leaving_routes(ServerFixture& f, std::vector<http::Response>& held, int& timers_fired) {
    f.hello_route();
    f.server->route("GET", "/hold", [&](const http::Request&, http::Response res) {
        held.push_back(std::move(res));
    });
    f.server->route("GET", "/head", [&](const http::Request&, http::Response res) {
        res.send_head(100);
        held.push_back(std::move(res));
    });
    f.server->route("GET", "/stream", [](const http::Request&, http::Response res) {
        res.start_chunked();
        auto s = std::make_shared<Stream>();
        s->res = std::move(res);
        s->left = 1024;
        stream_next(s);
    });
    f.server->route("GET", "/timer", [&](const http::Request&, http::Response res) {
        f.loop.run_after(50ms, [res, &timers_fired]() mutable {
            ++timers_fired;
            res.send("late");  // the client may be gone: a no-op then
        });
    });
}

}  // namespace

TEST_CASE("a client leaving mid-response, closed or reset, at every point, leaves the server serving") {
    ServerFixture f;
    std::vector<http::Response> held;
    int timers_fired = 0;
    leaving_routes(f, held, timers_fired);
    struct Point {
        const char* name;
        std::string requests;
        std::size_t read_before_leaving;  // bytes of the answer read first
    };
    const Point points[] = {
        {"before the head", get("/hold"), 0},
        {"after the head", get("/head"), 1},
        {"mid-chunked body, drain callback pending", get("/stream"), 200 * 1024},
        {"right after the stream's head", get("/stream"), 1},
        {"pipelined responses queued behind a stream", get("/stream") + get("/") + get("/hold") + get("/head"), 100 * 1024},
        {"pipelined behind a held one", get("/hold") + get("/") + get("/stream") + get("/timer"), 0},
        {"a timer still holding the Response", get("/timer"), 0},
    };
    for (const bool reset : {false, true}) {
        for (const Point& p : points) {
            CAPTURE(reset);
            INFO(std::string(p.name));
            const std::size_t handled_before = held.size();
            HttpClient c = f.client();
            c.send(p.requests);
            if (p.read_before_leaving > 0) {
                REQUIRE(run_until(f.loop, [&] {
                    c.pump();
                    return c.in.size() >= p.read_before_leaving;
                }));
            } else {
                run_for(f.loop, 20ms);  // the handlers run; nothing is read
            }
            if (reset) {
                reset_client(c);
            } else {
                c.fd.reset();
            }
            // The server notices, drops what the client was owed, and serves on.
            HttpClient next = f.client();
            next.send(get("/"));
            CHECK(next.reply(f.loop).body == "Hello, World!");
            CHECK(held.size() >= handled_before);
        }
    }
    // Every held Response is now a no-op; dropping them answers nobody.
    for (http::Response& r : held) {
        CHECK(r.done());
        CHECK_FALSE(r.connection_open());
        r.write("ignored");
    }
    held.clear();
    CHECK(run_until(f.loop, [&] { return timers_fired == 4; }));
    CHECK(run_until(f.loop, [&] { return f.server->tcp().connection_count() == 0; }));
}

TEST_CASE("a Response held by a timer after the connection was reset: the timer's calls do nothing") {
    ServerFixture f;
    std::optional<http::Response> seen;
    bool fired = false;
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) {
        seen = res;
        f.loop.run_after(100ms, [res, &fired]() mutable {
            fired = true;
            CHECK_FALSE(res.connection_open());
            CHECK(res.done());
            res.status(200).header("X", "y").start_chunked();
            res.write("nobody");
            res.on_drain([] { FAIL("a drain callback on a closed connection never runs"); });
            res.end();
        });
    });
    HttpClient c = f.client();
    c.send(get("/"));
    REQUIRE(run_until(f.loop, [&] { return seen.has_value(); }));
    seen.reset();
    reset_client(c);
    CHECK(run_until(f.loop, [&] { return fired; }));
    run_for(f.loop, 20ms);
    CHECK(f.server->tcp().connection_count() == 0);
}

TEST_CASE("the server destroyed while responses are held, streams paced, and drain callbacks pending") {
    std::vector<http::Response> held;
    int timers_fired = 0;
    CheckedLoop loop;
    {
        ServerFixture f;
        leaving_routes(f, held, timers_fired);
        std::vector<HttpClient> clients;
        for (const char* path : {"/hold", "/head", "/stream", "/timer"}) {
            clients.push_back(f.client());
            clients.back().send(get(path) + get("/hold"));
        }
        REQUIRE(run_until(f.loop, [&] {
            for (HttpClient& c : clients) c.pump();
            return held.size() >= 2 && clients[2].in.size() > 1000;
        }));
        f.server.reset();  // everything closes at once; the handles stay valid
        for (HttpClient& c : clients) CHECK(c.wait_eof(f.loop));
        for (http::Response& r : held) {
            CHECK(r.done());
            r.send("after the server");
        }
        run_for(f.loop, 80ms);  // the timer fires on a Response whose server is gone
        CHECK(timers_fired == 1);
    }  // the loop goes too: the Responses outlive both
    CHECK_FALSE(held.empty());
    for (http::Response& r : held) {
        CHECK(r.done());
        CHECK_FALSE(r.connection_open());
    }
    held.clear();
}

TEST_CASE("a drain callback or a handler may destroy the server it runs in") {
    SUBCASE("a drain callback") {
        ServerFixture f;
        f.server->route("GET", "/", [&](const http::Request&, http::Response res) {
            res.start_chunked();
            res.write("first");
            res.on_drain([&f, res]() mutable {
                res.write("never sent");  // still inside: the server is whole
                f.server.reset();         // the session is freed after this step
                res.write("after");       // a no-op now
                CHECK_FALSE(res.connection_open());
            });
        });
        HttpClient c = f.client();
        HttpClient other = f.client();
        c.send(get("/"));
        CHECK(c.wait_eof(f.loop));
        CHECK(other.wait_eof(f.loop));
        CHECK_FALSE(f.server.has_value());
    }
    SUBCASE("a handler, with pipelined requests behind it") {
        ServerFixture f;
        std::optional<http::Response> held;
        f.server->route("GET", "/hold", [&](const http::Request&, http::Response res) { held = res; });
        f.server->route("GET", "/die", [&](const http::Request&, http::Response res) {
            res.send("bye");
            f.server.reset();
        });
        HttpClient c = f.client();
        c.send(get("/hold") + get("/die") + get("/hold"));
        CHECK(c.wait_eof(f.loop));
        REQUIRE(held.has_value());
        CHECK(held->done());
        held->send("nobody");
        held.reset();
    }
}

TEST_CASE("with allow_half_close, a client that shuts down its side still gets deferred responses") {
    http::ServerOptions options;
    options.tcp.connection.allow_half_close = true;
    ServerFixture f(options);
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) {
        f.loop.run_after(30ms, [res]() mutable { res.send("late"); });
    });
    HttpClient c = f.client();
    c.send(get("/"));
    ::shutdown(c.fd.get(), SHUT_WR);
    CHECK(c.reply(f.loop).body == "late");
    CHECK(c.wait_eof(f.loop));
}

TEST_CASE("routing: longest prefix on segment boundaries, methods, 404 and 405") {
    ServerFixture f;
    auto named = [](std::string name) {
        return [name](const http::Request&, http::Response res) { res.send(name); };
    };
    f.server->route("GET", "/", named("root"));
    f.server->route("GET", "/api", named("api"));
    f.server->route("POST", "/api/items", named("post items"));
    f.server->route("", "/any", named("any"));
    f.server->route("DELETE", "/only-delete", named("delete"));
    HttpClient c = f.client();
    auto ask = [&](const std::string& method, const std::string& path) {
        c.send(method + " " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        return c.reply(f.loop, method == "HEAD");
    };
    CHECK(ask("GET", "/").body == "root");
    CHECK(ask("GET", "/api").body == "api");
    CHECK(ask("GET", "/api/").body == "api");
    CHECK(ask("GET", "/api/x/y").body == "api");
    CHECK(ask("GET", "/apix").body == "root");  // not on a segment boundary
    CHECK(ask("POST", "/api/items").body == "post items");
    CHECK(ask("GET", "/api/items").body == "api");  // the longest prefix taking GET
    CHECK(ask("PATCH", "/any/thing").body == "any");
    const HttpReply wrong = ask("PUT", "/api/items");
    CHECK(wrong.status == 405);
    CHECK(wrong.header("Allow") == "GET, HEAD, POST");
    CHECK(ask("GET", "/only-delete").body == "root");

    SUBCASE("the fallback answers what no route takes") {
        ServerFixture g;
        g.server->route("GET", "/a", named("a"));
        HttpClient d = g.client();
        d.send(get("/b"));
        CHECK(d.reply(g.loop).status == 404);
        g.server->on_request([](const http::Request& req, http::Response res) {
            res.status(418).send(std::string(req.path()));
        });
        d.send(get("/b"));
        const HttpReply r = d.reply(g.loop);
        CHECK(r.status == 418);
        CHECK(r.body == "/b");
    }
    SUBCASE("bad routes are refused") {
        CHECK_THROWS_AS(f.server->route("G T", "/", named("x")), std::invalid_argument);
        CHECK_THROWS_AS(f.server->route("GET", "nope", named("x")), std::invalid_argument);
    }
}

TEST_CASE("HEAD gets the head a GET would get, and no body") {
    ServerFixture f;
    f.hello_route();
    HttpClient c = f.client();
    c.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    const HttpReply r = c.reply(f.loop, true);
    CHECK(r.status == 200);
    CHECK(r.header("Content-Length") == "13");
    CHECK(c.in.empty());
    // The next response starts right after the head: no stray body bytes.
    c.send(get("/"));
    CHECK(c.reply(f.loop).body == "Hello, World!");
}

TEST_CASE("streamed bodies: chunked, and sized with send_head") {
    ServerFixture f;
    f.server->route("GET", "/chunked", [&](const http::Request&, http::Response res) {
        res.header("Content-Type", "text/plain").start_chunked();
        res.write("one ");
        f.loop.run_after(10ms, [res]() mutable {
            res.write("two");
            res.end();
        });
    });
    f.server->route("GET", "/sized", [](const http::Request&, http::Response res) {
        res.send_head(6);
        res.write("abc");
        res.write("def");
        CHECK_THROWS_AS(res.write("g"), std::logic_error);
        res.end();
    });
    f.server->route("GET", "/short", [](const http::Request&, http::Response res) {
        res.send_head(6);
        res.write("abc");
        res.end();
    });
    HttpClient c = f.client();
    c.send(get("/chunked") + get("/sized"));
    const auto replies = c.replies(f.loop, 2);
    REQUIRE(replies.size() == 2);
    CHECK(replies[0].header("Transfer-Encoding") == "chunked");
    CHECK(replies[0].body == "one two");
    CHECK(replies[1].body == "abcdef");

    c.send(get("/short"));
    CHECK(c.wait_eof(f.loop));  // a short body breaks the framing: closed
}

TEST_CASE("Response misuse is reported") {
    ServerFixture f;
    bool checked = false;
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) {
        CHECK_THROWS_AS(res.header("Bad Name", "x"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("X", "a\r\nInjected: 1"), std::invalid_argument);
        CHECK_THROWS_AS(res.header("Content-Length", "5"), std::invalid_argument);
        CHECK_THROWS_AS(res.status(100), std::invalid_argument);
        CHECK_THROWS_AS(res.write("x"), std::logic_error);
        res.send("ok");
        CHECK(res.done());
        CHECK_THROWS_AS(res.send("again"), std::logic_error);
        checked = true;
    });
    HttpClient c = f.client();
    c.send(get("/"));
    CHECK(c.reply(f.loop).body == "ok");
    CHECK(checked);
    http::Response empty;
    CHECK(empty.done());
    CHECK_FALSE(empty.connection_open());
    empty.send("nothing happens");
}

TEST_CASE("shutdown: idle connections close at once, in-flight responses finish, then done") {
    ServerFixture f;
    std::optional<http::Response> in_flight;
    f.server->route("GET", "/", [](const http::Request&, http::Response res) { res.send("hi"); });
    f.server->route("GET", "/slow", [&](const http::Request&, http::Response res) { in_flight = res; });

    HttpClient idle = f.client();
    idle.send(get("/"));
    CHECK(idle.reply(f.loop).body == "hi");
    HttpClient busy = f.client();
    busy.send(get("/slow"));
    REQUIRE(run_until(f.loop, [&] { return in_flight.has_value(); }));

    bool done = false;
    f.server->shutdown(5s, [&] { done = true; });
    CHECK(idle.wait_eof(f.loop));
    idle.fd.reset();  // as a client does on EOF; the server waits for it (a lingering close)
    CHECK_FALSE(done);
    busy.pump();
    CHECK_FALSE(busy.eof);

    in_flight->send("finished");
    in_flight.reset();
    const HttpReply r = busy.reply(f.loop);
    CHECK(r.body == "finished");
    CHECK(r.header("Connection") == "close");
    CHECK(busy.wait_eof(f.loop));
    busy.fd.reset();
    CHECK(run_until(f.loop, [&] { return done; }, 4s));  // well before the grace period
    CHECK_FALSE(f.server->tcp().listening());
}

TEST_CASE("shutdown force-closes what is still open after the grace period") {
    ServerFixture f;
    std::optional<http::Response> stuck;
    f.server->route("GET", "/", [&](const http::Request&, http::Response res) { stuck = res; });
    HttpClient c = f.client();
    c.send(get("/"));
    REQUIRE(run_until(f.loop, [&] { return stuck.has_value(); }));
    bool done = false;
    f.server->shutdown(100ms, [&] { done = true; });
    CHECK(c.wait_eof(f.loop));
    CHECK(run_until(f.loop, [&] { return done; }));
    CHECK_FALSE(stuck->connection_open());
    stuck.reset();
}

TEST_CASE("shutdown with no connection calls done from the loop") {
    ServerFixture f;
    bool done = false;
    f.server->shutdown(1s, [&] { done = true; });
    CHECK_FALSE(done);
    CHECK(run_until(f.loop, [&] { return done; }));
}

// ---- several loops ---------------------------------------------------------------

TEST_CASE("with tcp.threads = 2, requests are served on both loops, and shutdown ends both") {
    for (const Balance balance : {Balance::HandOff, Balance::ReusePort}) {
        CAPTURE(static_cast<int>(balance));
        std::mutex mutex;
        std::set<std::thread::id> threads;  // where handlers ran
        http::ServerOptions options;
        options.tcp.threads = 2;
        options.tcp.balance = balance;
        ServerFixture f(options);
        f.server->route("GET", "/", [&](const http::Request& req, http::Response res) {
            {
                std::lock_guard lock(mutex);
                threads.insert(std::this_thread::get_id());
            }
            // A deferred answer on the connection's own loop.
            const std::string body = std::string(req.path());
            res.loop().run_after(1ms, [res, body]() mutable { res.send(body); });
        });
        std::vector<HttpClient> clients;
        for (int i = 0; i < 100; ++i) clients.push_back(f.client());
        for (std::size_t i = 0; i < clients.size(); ++i) {
            clients[i].send(get("/" + std::to_string(i)) + get("/again" + std::to_string(i)));
        }
        for (std::size_t i = 0; i < clients.size(); ++i) {
            const std::vector<HttpReply> r = clients[i].replies(f.loop, 2);
            REQUIRE(r.size() == 2);
            CHECK(r[0].body == "/" + std::to_string(i));
            CHECK(r[1].body == "/again" + std::to_string(i));
        }
        {
            std::lock_guard lock(mutex);
            CHECK(threads.size() == 2);
        }
        bool done = false;
        f.server->shutdown(5s, [&] { done = true; });
        for (HttpClient& c : clients) {
            CHECK(c.wait_eof(f.loop));
            c.fd.reset();
        }
        CHECK(run_until(f.loop, [&] { return done; }));
        CHECK(f.server->tcp().connection_count() == 0);
    }
}

TEST_CASE("with tcp.threads = 2, destroying the server with open connections closes them") {
    http::ServerOptions options;
    options.tcp.threads = 2;
    options.tcp.balance = Balance::HandOff;
    ServerFixture f(options);
    f.hello_route();
    std::vector<HttpClient> clients;
    for (int i = 0; i < 20; ++i) clients.push_back(f.client());
    for (HttpClient& c : clients) {
        c.send(get("/"));
        CHECK(c.reply(f.loop).body == "Hello, World!");
    }
    f.server.reset();
    for (HttpClient& c : clients) CHECK(c.wait_eof(f.loop));
}
