// runs-on: every backend
// tests/tutorial_test.cpp -- the tutorial's own programs (docs/tutorial/):
// each example a chapter asks the reader to run is run here and its output
// checked against what the chapter promises, and the worked answers that
// are tests rather than programs (backpressure, an HTTP route) live here,
// quoted by the chapters between "// [name]" markers.
#include "child_process.hpp"
#include "http_server_util.hpp"

#include <reactor/reactor.hpp>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

using namespace reactor;
using namespace reactor::test;
using namespace std::chrono_literals;

namespace {

// Runs example `name` to its end: its first `count` stdout lines and its
// exit status (-1 if it did not end within the deadline).
struct Run {
    std::vector<std::string> lines;
    int status = -1;
    std::string text() const {
        std::string all;
        for (const std::string& l : lines) all += l + "\n";
        return all;
    }
};

Run run_example(const std::string& name, std::vector<std::string> args, std::size_t count) {
    ChildProcess child(name, std::move(args));
    Run r;
    for (std::size_t i = 0; i < count; ++i) r.lines.push_back(child.read_stdout_line());
    r.status = child.stop(0);
    return r;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("01: c10k_budget does the arithmetic for the asked connection count") {
    const Run r = run_example("c10k_budget", {"1000"}, 4);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    CHECK(starts_with(r.lines[0], "open files: soft limit "));
    CHECK(starts_with(r.lines[1], "thread per connection: 1000 threads x "));
    CHECK(r.lines[3] == "one event loop: 1 thread, 1000 connections x 177 B = 0.2 MiB (docs/tcp.md)");
}

TEST_CASE("02: nonblocking shows EAGAIN, readiness, and a pipe's capacity") {
    const Run r = run_example("nonblocking", {}, 6);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    CHECK(r.lines[0] == "read on an empty pipe: -1, errno EAGAIN");
    CHECK(r.lines[1] == "readable? no  writable? yes");
    CHECK(r.lines[2] == "after writing 5 bytes, readable? yes");
    CHECK(starts_with(r.lines[3], "the pipe took "));
    CHECK(r.lines[3].find(" bytes, then write said EAGAIN") != std::string::npos);
    CHECK(r.lines[4] == "full pipe: writable? no");
    CHECK(r.lines[5].find("writable? yes") != std::string::npos);
}

TEST_CASE("04: writable_spin -- Writable interest with nothing to write spins, Readable only does not") {
    const Run r = run_example("writable_spin", {}, 2);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);  // the program checks: more than 10 calls (thousands, usually), then none
    CHECK(starts_with(r.lines[0], "Readable|Writable, nothing to write: "));
    CHECK(r.lines[1] == "Readable only:                       0 calls in 100 ms");
}

TEST_CASE("05: edge_pitfall -- level reports again, edge gets stuck, draining fixes it") {
    const Run r = run_example("edge_pitfall", {}, 9);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    const std::string want =
        "level-triggered:\n"
        "  wait 1: readable, read 10 bytes, 90 left\n"
        "  wait 2: readable, read 10 bytes, 80 left\n"
        "  wait 3: readable, read 10 bytes, 70 left\n"
        "edge-triggered:\n"
        "  wait 1: readable, read 10 bytes, 90 left\n"
        "  wait 2: no event within 100 ms, 90 bytes still unread -- stuck\n"
        "edge-triggered, draining:\n"
        "  wait 1: readable, read 100 bytes, 0 left\n";
    CHECK(r.text() == want);
}

TEST_CASE("06: timers run in deadline order, never early; the idle timeout follows the last activity") {
    const Run r = run_example("timers", {}, 7);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    const std::string want =
        "B: one-shot, added second          (asked for  10 ms)\n"
        "tick 1                             (asked for  20 ms)\n"
        "A: one-shot                        (asked for  30 ms)\n"
        "tick 2                             (asked for  40 ms)\n"
        "tick 3, cancelling the ticker      (asked for  60 ms)\n"
        "idle: 100 ms without activity      (asked for 180 ms)\n"
        "no timer ran early\n";
    CHECK(r.text() == want);
}

// [backpressure]
// Chapter 7, exercise 1: a client sends 32 MiB to an echo server and reads
// nothing. With pause_reading() above a 64 KiB mark, the server's queue for
// that client stays near the mark; the kernel buffers fill (the client's
// receive buffer is made small, the server's grow to a few MiB), and the client's writes
// stop being accepted long before it has sent everything.
TEST_CASE("07: the high-water mark bounds what a server queues for a client that does not read") {
    CheckedLoop loop;
    std::optional<TcpServer> server;
    server.emplace(loop, SocketAddress::parse("127.0.0.1:0"));
    const std::size_t mark = 64 * 1024;
    server->set_high_water_mark(mark);
    std::size_t most_queued = 0;
    int paused = 0;
    server->on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        c->send(in);  // echo
        most_queued = std::max(most_queued, c->output_bytes());
    });
    server->on_high_water([&](const TcpConnectionPtr& c, std::size_t) {
        ++paused;
        c->pause_reading();
    });
    server->on_write_complete([](const TcpConnectionPtr& c) { c->resume_reading(); });

    Fd client = tcp_connect(server->local_address());
    const int small = 4096;
    ::setsockopt(client.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    const std::string data = pattern(32 << 20);
    std::size_t sent = 0;
    // Send until the kernel takes no more for 500 ms: the server stopped reading.
    auto last_progress = std::chrono::steady_clock::now();
    run_until(loop, [&] {
        const std::size_t before = sent;
        write_some(client.get(), data, sent);
        if (sent != before) last_progress = std::chrono::steady_clock::now();
        return sent == data.size() || std::chrono::steady_clock::now() - last_progress > 500ms;
    });
    INFO("sent " << sent << " bytes; the server queued at most " << most_queued);
    CHECK(paused >= 1);
    CHECK(sent < data.size());  // the client is held back, not the server's memory
    // One read of at most 64 KiB can land on top of the mark before the pause.
    CHECK(most_queued <= mark + 64 * 1024);
    client.reset();
    server.reset();
    run_for(loop, 10ms);
}
// [/backpressure]

TEST_CASE("08: count_lines counts on the pool and answers on the loop") {
    TempDir dir;
    const std::string path = dir / "three-lines.txt";
    {
        std::ofstream out(path);
        out << "one\ntwo\nthree\n";
    }
    const Run r = run_example("count_lines", {path}, 2);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    CHECK(r.lines[0] == "counting " + path + " on the pool...");
    CHECK(starts_with(r.lines[1], path + ": 3 lines (the loop ticked "));
    std::remove(path.c_str());

    ChildProcess missing("count_lines", {path});  // gone now
    CHECK(missing.read_stderr_line().find("No such file") != std::string::npos);
    CHECK(missing.stop(0) == 1);
}

TEST_CASE("09: loop_lag reports ordered percentiles of 500 ticks") {
    const Run r = run_example("loop_lag", {}, 2);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    CHECK(r.lines[0] == "500 ticks, lateness in microseconds:");
    unsigned long long mn = 0, p50 = 0, p90 = 0, p99 = 0, mx = 0;
    double mean = 0;
    REQUIRE(std::sscanf(r.lines[1].c_str(), "  min %llu  p50 %llu  p90 %llu  p99 %llu  max %llu  mean %lf", &mn, &p50,
                        &p90, &p99, &mx, &mean) == 6);
    CHECK(mn <= p50);
    CHECK(p50 <= p90);
    CHECK(p90 <= p99);
    CHECK(p99 <= mx);
}

TEST_CASE("10: loops -- jobs run round-robin on two loop threads, results come back by post()") {
    const Run r = run_example("loops", {}, 8);
    INFO("it printed:\n" << r.text());
    CHECK(r.status == 0);
    for (int job = 0; job < 8; ++job) {
        CHECK(r.lines[static_cast<std::size_t>(job)] ==
              "job " + std::to_string(job) + " ran on loop " + std::to_string(job % 2) + "'s thread");
    }
}

// [counter]
// Chapter 11, exercise 1: a route that answers how many requests the
// server has answered. The count needs no lock: handlers run on the loop.
void counter_routes(http::Server& server, long& answered) {
    server.route("GET", "/count", [&answered](const http::Request&, http::Response res) {
        res.header("Content-Type", "text/plain").send(std::to_string(++answered) + "\n");
    });
}
// [/counter]

TEST_CASE("11: the /count route counts across connections") {
    CheckedLoop loop;
    std::optional<http::Server> server;
    server.emplace(loop, SocketAddress::parse("127.0.0.1:0"));
    long answered = 0;
    counter_routes(*server, answered);
    HttpClient a(server->local_address());
    a.send(get("/count") + get("/count"));
    const auto two = a.replies(loop, 2);
    REQUIRE(two.size() == 2);
    CHECK(two[0].body == "1\n");
    CHECK(two[1].body == "2\n");
    HttpClient b(server->local_address());
    b.send(get("/count"));
    CHECK(b.reply(loop).body == "3\n");
    server.reset();
    run_for(loop, 10ms);
}

TEST_CASE("12: kv_server -- SET, GET, DEL, errors, lines in pieces and several at once") {
    ChildProcess server("kv_server", {"--port", "0"});
    const SocketAddress where = listening_address(server.read_stdout_line());
    Fd c = tcp_connect(where);
    write_all(c.get(), "SET name reactor\r\nGET name\n");  // two at once
    CHECK(read_line_blocking(c.get()) == "OK");
    CHECK(read_line_blocking(c.get()) == "VALUE reactor");
    write_all(c.get(), "GE");  // one in pieces
    std::this_thread::sleep_for(20ms);
    write_all(c.get(), "T nobody\n");
    CHECK(read_line_blocking(c.get()) == "NOT_FOUND");
    write_all(c.get(), "DEL name\nDEL name\nHELLO\n");
    CHECK(read_line_blocking(c.get()) == "DELETED");
    CHECK(read_line_blocking(c.get()) == "NOT_FOUND");
    CHECK(read_line_blocking(c.get()) == "ERROR unknown command");

    Fd other = tcp_connect(where);  // the store is shared
    write_all(other.get(), "SET k v\n");
    CHECK(read_line_blocking(other.get()) == "OK");
    write_all(c.get(), "GET k\n");
    CHECK(read_line_blocking(c.get()) == "VALUE v");

    write_all(other.get(), std::string(5000, 'x'));  // no newline
    CHECK(read_line_blocking(other.get()) == "ERROR line too long");
    std::string rest;
    CHECK(read_until_closed_blocking(other.get(), rest) != 1);
    CHECK(server.stop(SIGTERM) == 0);
}
