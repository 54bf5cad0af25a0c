// runs-on: every backend
// tests/trace_test.cpp -- the loop tracer (EventLoop::set_trace, REACTOR_TRACE=1)
// says, per iteration, what timeout the wait was given and why, why it
// ended, each ready fd by its label with its events, how long each callback
// took, which timers and posted functions ran, and when connections open
// and close. docs/tutorial/03-one-iteration.md reads such a trace.
#include "tcp_util.hpp"

#include <reactor/tcp_server.hpp>
#include <reactor/udp_socket.hpp>

#include <csignal>
#include <cstdio>
#include <regex>
#include <string>

using namespace reactor;
using namespace reactor::test;

namespace {

std::string slurp(std::FILE* f) {
    std::string out;
    std::fflush(f);
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    return out;
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// Whether some line of `text` matches `pattern` (ECMAScript, whole line).
bool has_line(const std::string& text, const std::string& pattern) {
    const std::regex re(pattern);
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (std::regex_match(text.substr(start, end - start), re)) return true;
        start = end + 1;
    }
    return false;
}

// A tmpfile the tracer writes to; closed by the test after set_trace(nullptr).
struct TraceFile {
    std::FILE* f = std::tmpfile();
    ~TraceFile() {
        if (f != nullptr) std::fclose(f);
    }
};

const std::string kMs = R"(\d+\.\d{3} ms)";

}  // namespace

TEST_CASE("the tracer labels each ready fd and times its callback, the timers and the posted functions") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    // Named references, not structured bindings: clang before 16 cannot
    // capture those in a lambda.
    auto p1 = make_pipe();
    auto p2 = make_pipe();
    Fd& r = p1.first;
    Fd& w = p1.second;
    Fd& r2 = p2.first;
    Fd& w2 = p2.second;
    int reads = 0;
    const WatcherId named = loop.watch(r.get(), Readable, [&](Events) {
        read_some(r.get());
        ++reads;
    }, "the test pipe");
    const WatcherId plain = loop.watch(r2.get(), Readable, [&](Events) {
        read_some(r2.get());
        ++reads;
    });
    write_all(w.get(), "x");
    write_all(w2.get(), "y");
    bool fired = false;
    bool posted = false;
    loop.run_after(std::chrono::milliseconds(1), [&] { fired = true; });
    loop.post([&] { posted = true; });
    CHECK(run_until(loop, [&] { return reads == 2 && fired && posted; }));
    loop.unwatch(named);
    loop.unwatch(plain);
    loop.set_trace(nullptr);
    const std::string text = slurp(out.f);
    INFO(text);
    const std::string backend(loop.backend());
    // The wait: its timeout and what decided it, then why it ended.
    CHECK(has_line(text, R"(\[reactor\] iteration \d+: wait \()" + backend + R"(\), timeout \d+ ms: the next timer)"));
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + R"(: .*\d+ ready fds?.*)"));
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + R"(: .*posted work \(the waker\).*)"));
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + R"(: .*a timer due.*)"));
    // Each ready fd by its label, each callback's duration.
    CHECK(has(text, "[reactor]   + watch the test pipe (fd " + std::to_string(r.get()) + ")"));
    CHECK(has(text, "[reactor]   the test pipe (fd " + std::to_string(r.get()) + "): Readable\n"));
    CHECK(has(text, "[reactor]   fd " + std::to_string(r2.get()) + ": Readable\n"));
    CHECK(has_line(text, R"(\[reactor\]     callback took )" + kMs));
    CHECK(has(text, "[reactor]   - unwatch the test pipe (fd " + std::to_string(r.get()) + ")"));
    // The waker is labelled too, and the timer and the posted function are timed.
    CHECK(has_line(text, R"(\[reactor\]   waker \(fd \d+\): Readable)"));
    CHECK(has_line(text, R"(\[reactor\]   timer \(once\) ran, took )" + kMs));
    CHECK(has_line(text, R"(\[reactor\]   posted function ran, took )" + kMs));
    CHECK(has(text, "timers run: 1"));
}

TEST_CASE("the tracer says when the wait had no timeout, and when it simply timed out") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    auto pipe = make_pipe();
    Fd& r = pipe.first;
    Fd& w = pipe.second;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) { read_some(r.get()); });
    write_all(w.get(), "x");
    loop.run_once();  // no timer, no limit: the ready pipe ends the wait
    loop.run_once(std::chrono::milliseconds(2));  // nothing ready: the caller's limit ends it
    loop.unwatch(id);
    loop.set_trace(nullptr);
    const std::string text = slurp(out.f);
    INFO(text);
    CHECK(has_line(text, R"(\[reactor\] iteration \d+: wait \(.*\), no timeout: no timer pending)"));
    CHECK(has_line(text, R"(\[reactor\] iteration \d+: wait \(.*\), timeout 2 ms: the caller's limit)"));
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + ": the timeout, nothing ready"));
}

TEST_CASE("the tracer names a signal as the reason the wait ended, and the signal pipe") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    bool got = false;
    const SignalId id = loop.on_signal(SIGUSR1, [&](int) { got = true; });
    ::raise(SIGUSR1);
    CHECK(run_until(loop, [&] { return got; }));
    loop.remove_signal(id);
    loop.set_trace(nullptr);
    const std::string text = slurp(out.f);
    INFO(text);
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + R"(: .*a signal.*)"));
    CHECK(has_line(text, R"(\[reactor\]   signal pipe \(fd \d+\): Readable)"));
}

TEST_CASE("the tracer labels a listener by its address and a connection by its peer, and shows open and close") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    const std::string listen = server.local_address().to_string();
    std::string peer;
    {
        Fd client = tcp_connect(server.local_address());
        peer = [&] {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            REQUIRE(::getsockname(client.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0);
            const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
            return "127.0.0.1:" + std::to_string(ntohs(in->sin_port));
        }();
        write_all(client.get(), "ping\n");
        std::string echoed;
        CHECK(read_exactly(loop, client.get(), echoed, 5));
    }  // the client closes: the server sees EOF and closes its side
    CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));
    loop.set_trace(nullptr);
    const std::string text = slurp(out.f);
    INFO(text);
    CHECK(has_line(text, R"(\[reactor\]   \+ watch listener )" + listen + R"( \(fd \d+\))"));
    CHECK(has_line(text, R"(\[reactor\]   listener )" + listen + R"( \(fd \d+\): Readable)"));
    CHECK(has_line(text, R"(\[reactor\]   \+ open conn )" + peer + R"( \(fd \d+\))"));
    CHECK(has_line(text, R"(\[reactor\]   conn )" + peer + R"( \(fd \d+\): Readable)"));
    CHECK(has_line(text, R"(\[reactor\]   - close conn )" + peer + R"( \(fd \d+\))"));
}

TEST_CASE("the tracer labels a UDP socket by its own address") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    int got = 0;
    {
        UdpSocket udp(loop, SocketAddress::ipv4_loopback(0));
        udp.on_datagram([&](std::string_view, const SocketAddress&) { ++got; });
        UdpSocket sender(loop, SocketAddress::ipv4_loopback(0));
        CHECK_FALSE(sender.send_to("x", udp.local_address()));
        CHECK(run_until(loop, [&] { return got == 1; }));
        const std::string address = udp.local_address().to_string();
        loop.set_trace(nullptr);
        const std::string text = slurp(out.f);
        INFO(text);
        CHECK(has_line(text, R"(\[reactor\]   udp )" + address + R"( \(fd \d+\): Readable)"));
    }
}

TEST_CASE("with the tracer off nothing is written") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    loop.set_trace(out.f);
    loop.set_trace(nullptr);
    auto pipe = make_pipe();
    Fd& r = pipe.first;
    Fd& w = pipe.second;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) { read_some(r.get()); }, "quiet");
    write_all(w.get(), "x");
    bool fired = false;
    loop.run_after(std::chrono::milliseconds(1), [&] { fired = true; });
    CHECK(run_until(loop, [&] { return fired; }));
    loop.unwatch(id);
    CHECK(slurp(out.f).empty());
}

// The worked answer to exercise 2 of docs/tutorial/03-one-iteration.md: give
// the server an idle timeout and the trace changes in three places. The
// wait gets a timeout decided by a timer (the server's timeout sweep, which
// runs while it has connections), the sweep shows up as a repeating timer,
// and an idle connection's close happens inside that timer, not inside a
// ready fd's callback.
TEST_CASE("chapter 3, exercise 2: with an idle timeout the sweep timer decides the wait and closes the idle connection") {
    CheckedLoop loop;
    TraceFile out;
    REQUIRE(out.f != nullptr);
    TcpServerOptions options;
    options.connection.idle_timeout = std::chrono::milliseconds(40);
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    Fd client = tcp_connect(server.local_address());
    CHECK(run_until(loop, [&] { return server.connection_count() == 1; }));
    loop.set_trace(out.f);
    // The client says nothing: the sweep closes the connection.
    CHECK(run_until(loop, [&] { return server.connection_count() == 0; }));
    loop.set_trace(nullptr);
    const std::string text = slurp(out.f);
    INFO(text);
    CHECK(has_line(text, R"(\[reactor\] iteration \d+: wait \(.*\), timeout \d+ ms: the next timer)"));
    CHECK(has_line(text, R"(\[reactor\]   woke after )" + kMs + ": a timer due"));
    // The sweep runs every quarter of the shortest timeout, at least every 10 ms.
    CHECK(has_line(text, R"(\[reactor\]   - close conn 127\.0\.0\.1:\d+ \(fd \d+\))"));
    CHECK(has_line(text, R"(\[reactor\]   timer \(every 10 ms\) ran, took )" + kMs));
    // The close comes before the line of the timer whose callback closed it.
    const auto close_at = text.find("- close conn");
    REQUIRE(close_at != std::string::npos);
    CHECK(text.find("timer (every 10 ms) ran", close_at) != std::string::npos);
}
