// runs-on: every backend
// tests/fault_injection_test.cpp -- echo, chat, HTTP and TcpClient with the
// kernel misbehaving on purpose (tests/fault/): interrupted, refused and
// short calls, resets and broken pipes, accept out of fds, failing poller
// waits and control calls.
//
// What every case asserts: no crash; every connection that survives got
// every byte, once and in order; one that does not survive ends with a
// clear error (its close callback's error_code, its peer's EOF or reset)
// and what it received is a prefix of what it was owed; the server serves
// on; and the loop ends empty (CheckedLoop). Seeded cases print their seed
// on failure: REACTOR_FAULT_SEED=<seed> replays it.
#include "fault_util.hpp"
#include "http_server_util.hpp"

#include <reactor/http/server.hpp>
#include <reactor/tcp_client.hpp>
#include <reactor/tcp_server.hpp>
#include <reactor/udp_socket.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <sstream>

using namespace reactor;
using namespace reactor::test;
namespace fault = reactor::fault;

namespace {

bool poll_backend() { return backend_name() == "poll"; }

// ---- echo ---------------------------------------------------------------------------

struct EchoResult {
    std::vector<std::string> sent, got;
    std::vector<int> state;
    std::vector<std::error_code> closes;  // the server's close callbacks
    TcpServerCounters counters;
    int wait_errors = 0;
    bool finished = false;

    std::size_t survivors() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < got.size(); ++i) n += got[i] == sent[i] ? 1 : 0;
        return n;
    }
    std::size_t failed_closes() const {
        std::size_t n = 0;
        for (const auto& ec : closes) n += ec ? 1 : 0;
        return n;
    }
    // Each stream is whole or a prefix of what was owed.
    bool intact() const {
        for (std::size_t i = 0; i < got.size(); ++i) {
            if (!is_prefix(got[i], sent[i])) return false;
        }
        return true;
    }
};

// `clients` plain clients each send `bytes` to an echo server and read the
// echo until it is whole or their connection ends. The clients then close
// and the server is gone before this returns.
EchoResult run_echo(EventLoop& loop, std::size_t clients, std::size_t bytes) {
    EchoResult r;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    server.on_close([&](const TcpConnectionPtr&, std::error_code ec) { r.closes.push_back(ec); });
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (std::size_t i = 0; i < clients; ++i) {
        peers.push_back(std::make_unique<RawPeer>(server.local_address()));
        peers.back()->out = stream_pattern(bytes, static_cast<unsigned>(i));
    }
    r.finished = drive(loop, [&] {
        bool all = true;
        for (auto& p : peers) {
            p->pump();
            all = all && (p->closed() || p->in.size() >= p->out.size());
        }
        return all;
    }, &r.wait_errors);
    for (auto& p : peers) {
        r.sent.push_back(p->out);
        r.got.push_back(p->in);
        r.state.push_back(p->state);
        p->fd.reset();
    }
    // The server sees every close before it goes.
    drive(loop, [&] { return server.connection_count() == 0; }, &r.wait_errors);
    r.counters = server.counters();
    return r;
}

// ---- chat -----------------------------------------------------------------------------

// `clients` clients each send `lines` lines; the server relays every whole
// line to every other client. Each receiver must get each sender's lines
// once and in order. Returns a description of the first discrepancy, or "".
std::string run_chat(EventLoop& loop, std::size_t clients, std::size_t lines, int* wait_errors) {
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    std::vector<TcpConnectionPtr> members;
    server.on_connect([&](const TcpConnectionPtr& c) { members.push_back(c); });
    server.on_close([&](const TcpConnectionPtr& c, std::error_code) {
        std::erase(members, c);
    });
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) {
        for (;;) {
            const std::size_t nl = in.find('\n');
            if (nl == Buffer::npos) return;
            const std::string line = in.take(nl + 1);
            for (const auto& m : members) {
                if (m != c) m->send(line);
            }
        }
    });
    std::vector<std::unique_ptr<RawPeer>> peers;
    for (std::size_t i = 0; i < clients; ++i) peers.push_back(std::make_unique<RawPeer>(server.local_address()));
    if (!drive(loop, [&] { return members.size() == clients; }, wait_errors)) return "not all joined";
    for (std::size_t i = 0; i < clients; ++i) {
        for (std::size_t k = 0; k < lines; ++k) {
            peers[i]->out += "c" + std::to_string(i) + " line " + std::to_string(k) + " " +
                             std::string(k % 50, 'x') + "\n";
        }
    }
    std::size_t expected = 0;  // per receiver: every other sender's bytes
    for (std::size_t i = 1; i < clients; ++i) expected += peers[i]->out.size();
    const bool done = drive(loop, [&] {
        bool all = true;
        for (auto& p : peers) {
            p->pump();
            all = all && p->in.size() >= expected;
        }
        return all;
    }, wait_errors);
    std::string verdict;
    for (std::size_t r = 0; r < clients && verdict.empty(); ++r) {
        std::map<std::string, std::string> by_sender;  // "cN" -> its lines, in arrival order
        std::istringstream in(peers[r]->in);
        for (std::string line; std::getline(in, line);) by_sender[line.substr(0, line.find(' '))] += line + "\n";
        for (std::size_t s = 0; s < clients; ++s) {
            if (s == r) continue;
            if (by_sender["c" + std::to_string(s)] != peers[s]->out) {
                verdict = "client " + std::to_string(r) + " got sender " + std::to_string(s) +
                          "'s lines wrong";
                break;
            }
        }
    }
    if (verdict.empty() && !done) verdict = "timed out";
    for (auto& p : peers) p->fd.reset();
    drive(loop, [&] { return server.connection_count() == 0; }, wait_errors);
    return verdict;
}

// ---- HTTP -----------------------------------------------------------------------------

constexpr std::size_t kFileSize = 200 * 1000;

struct HttpFixture {
    TempDir dir{"reactor-fault"};
    std::string file_body = stream_pattern(kFileSize, 99);
    std::string chunk_body;
    http::Server server;
    int handled = 0;

    HttpFixture(EventLoop& loop, http::ServerOptions options = {})
        : server(loop, SocketAddress::ipv4_loopback(0), options) {
        write_file(dir / "file.bin", file_body);
        for (int i = 0; i < 40; ++i) chunk_body += "chunk " + std::to_string(i) + " " + std::string(i * 13, 'c') + ";";
        server.route("GET", "/small", [this](const http::Request& req, http::Response res) {
            ++handled;
            res.header("Content-Type", "text/plain").send("small " + std::string(req.path()));
        });
        server.route("GET", "/chunked", [this, &loop](const http::Request&, http::Response res) {
            ++handled;
            res.start_chunked();
            // Half now, half from the loop: a response completed later
            // than the ones pipelined behind it.
            const std::string body = chunk_body;
            res.write(body.substr(0, body.size() / 2));
            loop.post([res, body]() mutable {
                res.write(body.substr(body.size() / 2));
                res.end();
            });
        });
        server.route("GET", "/file", [this, &loop](const http::Request&, http::Response res) {
            ++handled;
            auto s = std::make_shared<FileStream>();
            s->file = Fd(::open((dir / "file.bin").c_str(), O_RDONLY | O_CLOEXEC));
            s->size = kFileSize;
            s->response = res;
            res.send_head(kFileSize);
            stream_file(loop, s);
        });
    }

    // The pipelined requests one client sends, and what each reply must be.
    static std::string requests() {
        return get("/small/1") + get("/chunked") + get("/file") + get("/small/2") + get("/chunked") +
               get("/small/3");
    }
    std::vector<std::string> bodies() const {
        return {"small /small/1", chunk_body, file_body, "small /small/2", chunk_body, "small /small/3"};
    }
};

struct HttpResult {
    std::size_t clients_whole = 0;  // every reply right and in order
    std::size_t clients_cut = 0;    // connection ended early; the replies it got were right
    std::size_t clients_wrong = 0;  // a wrong, reordered or duplicated reply
    int wait_errors = 0;
    std::string first_wrong;
};

// `clients` clients each send the pipelined requests in one write and read
// the replies until all are in or the connection ends.
HttpResult run_http(EventLoop& loop, HttpFixture& fx, std::size_t clients) {
    HttpResult r;
    const std::vector<std::string> want = fx.bodies();
    std::vector<std::unique_ptr<HttpClient>> peers;
    std::vector<std::vector<HttpReply>> got(clients);
    for (std::size_t i = 0; i < clients; ++i) {
        peers.push_back(std::make_unique<HttpClient>(fx.server.local_address()));
        peers.back()->send(HttpFixture::requests());
    }
    drive(loop, [&] {
        bool all = true;
        for (std::size_t i = 0; i < clients; ++i) {
            HttpClient& c = *peers[i];
            c.pump();
            while (auto reply = take_reply(c.in, false, c.eof)) got[i].push_back(std::move(*reply));
            all = all && (got[i].size() == want.size() || c.eof);
        }
        return all;
    }, &r.wait_errors);
    for (std::size_t i = 0; i < clients; ++i) {
        bool right = got[i].size() <= want.size();
        for (std::size_t k = 0; right && k < got[i].size(); ++k) {
            right = got[i][k].status == 200 && got[i][k].body == want[k];
            if (!right && r.first_wrong.empty()) {
                r.first_wrong = "client " + std::to_string(i) + " reply " + std::to_string(k) + ": " +
                                got[i][k].head.substr(0, 40) + " body of " +
                                std::to_string(got[i][k].body.size()) + " bytes";
            }
        }
        if (!right) {
            ++r.clients_wrong;
        } else if (got[i].size() == want.size()) {
            ++r.clients_whole;
        } else {
            ++r.clients_cut;
        }
    }
    peers.clear();
    drive(loop, [&] { return fx.server.tcp().connection_count() == 0 && pending_work(loop) == 0; },
          &r.wait_errors);
    return r;
}

// ---- TcpClient, connecting again and again ----------------------------------------------

// A TcpClient connects, sends a stream, reads its echo whole, closes, and
// connects again, `rounds` times. Returns "" or what went wrong.
std::string run_client_rounds(EventLoop& loop, int rounds, int* wait_errors) {
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    TcpClientOptions options;
    options.max_attempts = 5;
    options.initial_backoff = std::chrono::milliseconds(5);
    TcpClient client(loop, server.local_address(), options);
    std::string echoed;
    client.on_message([&](const TcpConnectionPtr&, Buffer& in) { echoed += in.take_all(); });
    std::string verdict;
    for (int round = 0; round < rounds && verdict.empty(); ++round) {
        const std::string stream = stream_pattern(24 * 1024, static_cast<unsigned>(round));
        echoed.clear();
        bool connected = false;
        std::error_code result;
        client.connect([&](std::error_code ec, const TcpConnectionPtr& c) {
            connected = true;
            result = ec;
            if (c) c->send(stream);
        });
        if (!drive(loop, [&] { return connected; }, wait_errors)) {
            verdict = "no connect callback";
        } else if (result) {
            verdict = "connect failed: " + result.message();
        } else if (!drive(loop, [&] { return echoed.size() >= stream.size() || !client.connection(); },
                          wait_errors)) {
            verdict = "no echo";
        } else if (echoed != stream) {
            verdict = "echo of round " + std::to_string(round) + " differs";
        }
        if (client.connection()) client.connection()->close();
        drive(loop, [&] { return !client.connection() && server.connection_count() == 0; }, wait_errors);
    }
    return verdict;
}

// ---- faults that every connection must survive ------------------------------------------

struct Case {
    const char* what;
    fault::Fault fault;
};

// Interrupted, refused-for-now and short calls: ordinary events the
// library must absorb without losing, doubling or reordering a byte.
std::vector<Case> survivable() {
    using fault::Fault;
    return {
        {"reads interrupted (EINTR), every 2nd", Fault::fail(fault::Reads, EINTR).every(2)},
        {"reads would block (EAGAIN), every 3rd", Fault::fail(fault::Reads, EAGAIN).every(3)},
        {"short reads of 1 byte, every 2nd", Fault::cut(fault::Reads, 1).every(2)},
        {"writes interrupted (EINTR), every 2nd", Fault::fail(fault::Writes, EINTR).every(2)},
        {"writes would block (EAGAIN), every 2nd", Fault::fail(fault::Writes, EAGAIN).every(2)},
        {"short writes of 1 byte, every 2nd", Fault::cut(fault::Writes, 1).every(2)},
        {"short writes of 1000 bytes, each", Fault::cut(fault::Writes, 1000)},
        {"accept interrupted (EINTR), 3 times", Fault::fail(fault::Accept, EINTR).times(3)},
        {"accept finds the connection aborted (ECONNABORTED), twice",
         Fault::fail(fault::Accept, ECONNABORTED).times(2)},
        {"accept would block (EAGAIN), every 2nd", Fault::fail(fault::Accept, EAGAIN).every(2)},
        {"poller wait interrupted (EINTR), every 3rd", Fault::fail(fault::Wait, EINTR).every(3)},
        {"poller wait takes 1 event at a time", Fault::cut(fault::Wait, 1)},
    };
}

bool applies(const fault::Fault& f) {
    // poll() has no event count to cut.
    return !(poll_backend() && f.calls_ == fault::Wait && f.error_ == 0);
}

// Runs body(loop, faults, c) for each case c (anything with `what` and
// `fault`): a fresh loop each time, c.fault scheduled first (index 0), and
// the case's name and the schedule's seed reported by any failure inside.
template <typename Cases, typename Body>
void under_each_fault(const Cases& cases, Body body) {
    for (const auto& c : cases) {
        CAPTURE(std::string(c.what));
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        INFO(faults.describe());
        faults.add(c.fault);
        body(loop, faults, c);
    }
}

}  // namespace

TEST_CASE("echo: every byte survives interrupted, refused and short calls") {
    under_each_fault(survivable(), [&](EventLoop& loop, fault::Schedule& faults, const Case& c) {
        const EchoResult r = run_echo(loop, 4, 48 * 1024);
        CHECK(r.finished);
        CHECK(r.survivors() == 4);
        CHECK(r.failed_closes() == 0);
        if (applies(c.fault)) CHECK(faults.injected() > 0);
    });
}

TEST_CASE("chat: every line reaches every other client, once and in order, under each fault") {
    under_each_fault(survivable(), [&](EventLoop& loop, fault::Schedule& faults, const Case& c) {
        int wait_errors = 0;
        CHECK(run_chat(loop, 4, 150, &wait_errors) == "");
        CHECK(wait_errors == 0);
        if (applies(c.fault)) CHECK(faults.injected() > 0);
    });
}

TEST_CASE("TcpClient: connects, echoes and reconnects, every byte whole, under each fault") {
    under_each_fault(survivable(), [&](EventLoop& loop, fault::Schedule& faults, const Case& c) {
        int wait_errors = 0;
        CHECK(run_client_rounds(loop, 3, &wait_errors) == "");
        CHECK(wait_errors == 0);
        if (applies(c.fault)) CHECK(faults.injected() > 0);
    });
}

TEST_CASE("HTTP: pipelined, chunked and streamed-file replies arrive whole and in order under each fault") {
    under_each_fault(survivable(), [&](EventLoop& loop, fault::Schedule& faults, const Case& c) {
        HttpFixture fx(loop);
        const HttpResult r = run_http(loop, fx, 3);
        CHECK(r.clients_whole == 3);
        CHECK(r.first_wrong == "");
        if (applies(c.fault)) CHECK(faults.injected() > 0);
    });
}

// ---- faults that end a connection -------------------------------------------------------

TEST_CASE("a reset or a broken pipe ends that one connection with its error; the others are whole") {
    struct Fatal {
        const char* what;
        fault::Fault fault;
        std::errc expected;
    };
    const Fatal cases[] = {
        {"a read fails with ECONNRESET", fault::Fault::fail(fault::Reads, ECONNRESET).skip(5).times(1),
         std::errc::connection_reset},
        {"a write fails with EPIPE", fault::Fault::fail(fault::Writes, EPIPE).skip(5).times(1),
         std::errc::broken_pipe},
        {"a write fails with ECONNRESET", fault::Fault::fail(fault::Writes, ECONNRESET).skip(3).times(1),
         std::errc::connection_reset},
    };
    under_each_fault(cases, [&](EventLoop& loop, fault::Schedule& faults, const Fatal& c) {
        const EchoResult r = run_echo(loop, 4, 64 * 1024);
        CHECK(r.finished);
        CHECK(faults.injected() == 1);
        CHECK(r.survivors() == 3);
        CHECK(r.intact());
        REQUIRE(r.failed_closes() == 1);
        for (const auto& ec : r.closes) {
            if (ec) CHECK(ec == c.expected);
        }
    });
}

TEST_CASE("HTTP: a reset or broken pipe mid-response ends that connection only; the server serves on") {
    const fault::Fault cases[] = {
        fault::Fault::fail(fault::Reads, ECONNRESET).skip(2).times(1),
        fault::Fault::fail(fault::Writes, EPIPE).skip(2).times(1),
        fault::Fault::fail(fault::Writes, ECONNRESET).skip(6).times(1),
    };
    for (const fault::Fault& f : cases) {
        CAPTURE(f.describe());
        CheckedLoop loop;
        HttpFixture fx(loop);
        {
            fault::Schedule faults(fault::seed_from_env());
            faults.add(f);
            const HttpResult r = run_http(loop, fx, 3);
            CHECK(faults.injected() == 1);
            CHECK(r.clients_wrong == 0);
            CHECK(r.first_wrong == "");
            CHECK(r.clients_cut == 1);
            CHECK(r.clients_whole == 2);
        }
        // After the fault: a new client is served whole.
        const HttpResult after = run_http(loop, fx, 1);
        CHECK(after.clients_whole == 1);
    }
}

TEST_CASE("accept out of fds: the server drops one newcomer, pauses, and serves the rest") {
    for (int error : {EMFILE, ENFILE}) {
        CAPTURE(error);
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        INFO(faults.describe());
        faults.add(fault::Fault::fail(fault::Accept, error).times(1));
        const EchoResult r = run_echo(loop, 6, 8 * 1024);
        CHECK(r.finished);
        CHECK(faults.injected() == 1);
        CHECK(r.counters.paused == 1);
        // The one taken with the reserve fd and dropped at once learns it
        // from its EOF or reset; it got nothing. Every other one is whole.
        CHECK(r.counters.refused == 1);
        CHECK(r.survivors() == 5);
        std::size_t dropped = 0;
        for (std::size_t i = 0; i < r.got.size(); ++i) {
            if (r.got[i] != r.sent[i]) {
                ++dropped;
                CHECK(r.got[i].empty());
                CHECK(r.state[i] != 1);
            }
        }
        CHECK(dropped == 1);
    }
}

TEST_CASE("accept out of kernel memory: the server pauses, drops no one, and serves every client") {
    for (int error : {ENOBUFS, ENOMEM}) {
        CAPTURE(error);
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        INFO(faults.describe());
        faults.add(fault::Fault::fail(fault::Accept, error).times(1));
        const EchoResult r = run_echo(loop, 6, 8 * 1024);
        CHECK(r.finished);
        CHECK(faults.injected() == 1);
        CHECK(r.counters.paused == 1);
        CHECK(r.counters.refused == 0);  // a free fd would not have helped: no one is sacrificed
        CHECK(r.counters.accepted == 6);
        CHECK(r.survivors() == 6);
        for (std::size_t i = 0; i < r.got.size(); ++i) CHECK(r.got[i] == r.sent[i]);
    }
}

TEST_CASE("a poller control call that fails closes that connection with the error") {
    SUBCASE("registering an accepted connection fails: it is refused, the others are whole") {
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        faults.add(fault::Fault::fail(fault::Add, ENOMEM).skip(1).times(1));  // the listener's add passes
        const EchoResult r = run_echo(loop, 4, 16 * 1024);
        CHECK(r.finished);
        if (poll_backend()) {
            CHECK(faults.injected() == 0);  // interest lives in user space
            CHECK(r.survivors() == 4);
        } else {
            CHECK(faults.injected() == 1);
            CHECK(r.counters.refused == 1);
            CHECK(r.survivors() == 3);
            CHECK(r.intact());
        }
    }
    SUBCASE("asking to write fails: that connection closes with ENOMEM") {
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        const std::size_t modify = faults.add(fault::Fault::fail(fault::Modify, ENOMEM).times(1));
        // A short write leaves output queued, which asks for Writable.
        faults.add(fault::Fault::cut(fault::Writes, 1).times(1));
        const EchoResult r = run_echo(loop, 4, 16 * 1024);
        CHECK(r.finished);
        CHECK(r.intact());
        if (poll_backend()) {
            CHECK(faults.injected(modify) == 0);
            CHECK(r.survivors() == 4);
        } else {
            CHECK(faults.injected(modify) == 1);
            CHECK(r.survivors() == 3);
            REQUIRE(r.failed_closes() == 1);
            for (const auto& ec : r.closes) {
                if (ec) CHECK(ec == std::errc::not_enough_memory);
            }
        }
    }
    SUBCASE("forgetting a closed connection fails: later connections on the same fd number still work") {
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        faults.add(fault::Fault::fail(fault::Remove, ENOMEM));
        for (int round = 0; round < 5; ++round) {
            CAPTURE(round);
            const EchoResult r = run_echo(loop, 3, 4 * 1024);
            CHECK(r.finished);
            CHECK(r.survivors() == 3);
        }
        if (!poll_backend()) CHECK(faults.injected() > 0);
    }
}

TEST_CASE("a failing poller wait leaves run_once() as an exception; the loop goes on") {
    for (int error : {EBADF, EINVAL, ENOMEM}) {
        CAPTURE(error);
        CheckedLoop loop;
        fault::Schedule faults(fault::seed_from_env());
        faults.add(fault::Fault::fail(fault::Wait, error).every(2).times(3));
        EchoResult r = run_echo(loop, 3, 16 * 1024);
        CHECK(r.finished);
        CHECK(r.survivors() == 3);
        CHECK(r.failed_closes() == 0);
        CHECK(faults.injected() >= 1);
        CHECK(r.wait_errors == static_cast<int>(faults.injected()));
    }
}

TEST_CASE("HTTP: accept out of fds, a refused registration, a failed shutdown: the others are served whole") {
    struct HttpCase {
        const char* what;
        fault::Fault fault;
        bool control;  // a poller control call: nothing to fail on poll
    };
    const HttpCase cases[] = {
        {"accept fails with EMFILE once", fault::Fault::fail(fault::Accept, EMFILE).times(1), false},
        {"registering a connection fails once", fault::Fault::fail(fault::Add, ENOMEM).skip(1).times(1), true},
        {"asking for Writable fails once", fault::Fault::fail(fault::Modify, ENOMEM).times(1), true},
    };
    under_each_fault(cases, [&](EventLoop& loop, fault::Schedule& faults, const HttpCase& c) {
        // Short writes, so that output waits and asks for Writable.
        faults.add(fault::Fault::cut(fault::Writes, 1000).every(3));
        HttpFixture fx(loop);
        const HttpResult r = run_http(loop, fx, 4);
        CHECK(r.clients_wrong == 0);
        CHECK(r.first_wrong == "");
        const std::uint64_t fired = faults.injected(0);
        if (c.control && poll_backend()) {
            CHECK(fired == 0);
            CHECK(r.clients_whole == 4);
        } else {
            CHECK(fired == 1);
            CHECK(r.clients_whole == 3);
            CHECK(r.clients_cut == 1);
        }
    });
    SUBCASE("shutting down our side fails: the reply was out whole, the connection closes") {
        CheckedLoop loop;
        HttpFixture fx(loop);
        fault::Schedule faults(fault::seed_from_env());
        faults.add(fault::Fault::fail(fault::Shutdown, ENOTCONN));
        HttpClient client(fx.server.local_address());
        client.send(get("/small/x", "Connection: close\r\n"));
        const HttpReply reply = client.reply(loop);
        CHECK(reply.body == "small /small/x");
        CHECK(client.wait_eof(loop));
        CHECK(faults.injected() == 1);
        CHECK(drive(loop, [&] { return fx.server.tcp().connection_count() == 0; }));
    }
}

TEST_CASE("UDP: interrupted and refused receives lose no datagram; a refused send is reported") {
    CheckedLoop loop;
    UdpSocket server(loop, SocketAddress::parse("127.0.0.1:0"));
    UdpSocket client(loop, SocketAddress::parse("127.0.0.1:0"));
    std::vector<std::string> got;
    server.on_datagram([&](std::string_view data, const SocketAddress&) { got.emplace_back(data); });
    fault::Schedule faults(fault::seed_from_env());
    // ECONNREFUSED on a receive is ICMP news about an earlier send: the
    // datagram waiting stays queued for the next wake-up.
    faults.add(fault::Fault::fail(fault::Recvfrom, EINTR).every(3));
    faults.add(fault::Fault::fail(fault::Recvfrom, ECONNREFUSED).every(4));
    const std::size_t refused = faults.add(fault::Fault::fail(fault::Sendto, ENOBUFS).when_armed());
    for (int i = 0; i < 100; ++i) REQUIRE_FALSE(client.send_to("datagram " + std::to_string(i), server.local_address()));
    CHECK(run_until(loop, [&] { return got.size() == 100; }));
    for (int i = 0; i < 100 && i < static_cast<int>(got.size()); ++i) CHECK(got[i] == "datagram " + std::to_string(i));
    faults.arm(refused);
    CHECK(client.send_to("lost", server.local_address()) == std::errc::no_buffer_space);
    CHECK(faults.injected() > 2);
}

// ---- TcpClient ------------------------------------------------------------------------------

TEST_CASE("TcpClient: refused, interrupted and failed connects are retried until one connects") {
    struct ConnectCase {
        const char* what;
        fault::Fault fault;
        unsigned attempts;  // what the client needs
    };
    const ConnectCase cases[] = {
        {"connect refused twice", fault::Fault::fail(fault::Connect, ECONNREFUSED).times(2), 3},
        {"connect unreachable once", fault::Fault::fail(fault::Connect, ENETUNREACH).times(1), 2},
        {"connect interrupted: it goes on in the background",
         fault::Fault::fail(fault::Connect, EINTR).times(1), 1},
        {"the handshake ends refused (SO_ERROR)", fault::Fault::fail(fault::SoError, ECONNREFUSED).times(1), 2},
        {"the handshake times out (SO_ERROR)", fault::Fault::fail(fault::SoError, ETIMEDOUT).times(1), 2},
        {"no fd for the socket (EMFILE)", fault::Fault::fail(fault::Socket, EMFILE).times(1), 2},
    };
    for (const ConnectCase& c : cases) {
        CAPTURE(std::string(c.what));
        CheckedLoop loop;
        TcpServer server(loop, SocketAddress::ipv4_loopback(0));
        fault::Schedule faults(fault::seed_from_env());
        faults.add(c.fault);
        server.on_message([](const TcpConnectionPtr& conn, Buffer& in) { conn->send(in); });
        TcpClientOptions options;
        options.max_attempts = 4;
        options.initial_backoff = std::chrono::milliseconds(5);
        TcpClient client(loop, server.local_address(), options);
        std::string echoed;
        client.on_message([&](const TcpConnectionPtr&, Buffer& in) { echoed += in.take_all(); });
        std::error_code result = std::make_error_code(std::errc::interrupted);
        bool called = false;
        client.connect([&](std::error_code ec, const TcpConnectionPtr& conn) {
            called = true;
            result = ec;
            if (conn) conn->send("hello after faults");
        });
        REQUIRE(run_until(loop, [&] { return called; }));
        // A SO_ERROR fault needs a handshake that was still in progress;
        // loopback may connect at once, and then there is nothing to fail.
        const bool took_effect = faults.injected() >= 1;
        CHECK_FALSE(result);
        CHECK(client.attempts() == (took_effect ? c.attempts : 1u));
        if (c.fault.calls_ != fault::SoError) CHECK(took_effect);
        CHECK(run_until(loop, [&] { return echoed == "hello after faults"; }));
        if (client.connection()) client.connection()->close();
        CHECK(run_until(loop, [&] { return !client.connection() && server.connection_count() == 0; }));
    }
}

TEST_CASE("TcpClient: reset mid-stream, reconnects and finishes; each connection's bytes are a prefix") {
    CheckedLoop loop;
    fault::Schedule faults(fault::seed_from_env());
    INFO(faults.describe());
    TcpServer server(loop, SocketAddress::ipv4_loopback(0));
    server.on_message([](const TcpConnectionPtr& conn, Buffer& in) { conn->send(in); });
    TcpClientOptions options;
    options.max_attempts = 3;
    options.initial_backoff = std::chrono::milliseconds(5);
    TcpClient client(loop, server.local_address(), options);

    // The client sends the stream in 4 KiB pieces, each once the previous
    // piece's echo is back; a reset ends a connection, and the client
    // reconnects and starts the stream over.
    const std::string stream = stream_pattern(64 * 1024, 7);
    constexpr std::size_t kPiece = 4096;
    std::string echoed;  // on the current connection
    std::vector<std::string> ended;  // what each reset connection got
    std::vector<std::error_code> errors;
    int connections = 0;
    bool complete = false;
    const std::size_t reset = faults.add(fault::Fault::fail(fault::Reads, ECONNRESET).when_armed());

    std::function<void()> connect = [&] {
        client.connect([&](std::error_code ec, const TcpConnectionPtr& conn) {
            REQUIRE_FALSE(ec);
            ++connections;
            echoed.clear();
            conn->send(std::string_view(stream).substr(0, kPiece));
        });
    };
    client.on_message([&](const TcpConnectionPtr& conn, Buffer& in) {
        echoed += in.take_all();
        if (echoed.size() == stream.size()) {
            complete = true;
            return;
        }
        if (echoed.size() % kPiece == 0) {
            // The first two connections are reset halfway: the next read
            // anywhere fails with ECONNRESET (client or server side).
            if (connections <= 2 && echoed.size() == stream.size() / 2) faults.arm(reset);
            conn->send(std::string_view(stream).substr(echoed.size(), kPiece));
        }
    });
    client.on_close([&](const TcpConnectionPtr&, std::error_code ec) {
        errors.push_back(ec);
        ended.push_back(echoed);
        loop.post(connect);
    });
    connect();
    CHECK(run_until(loop, [&] { return complete; }));
    CHECK(echoed == stream);
    CHECK(connections == 3);
    CHECK(faults.injected(reset) == 2);
    CHECK(ended.size() == 2);
    for (const std::string& e : ended) CHECK(is_prefix(e, stream));
    for (const auto& ec : errors) {
        // The client's own read failed (reset), or the server's did and it
        // closed: then the client sees EOF (no error) or a reset.
        CHECK((!ec || ec == std::errc::connection_reset));
    }
    client.on_close(nullptr);
    if (client.connection()) client.connection()->close();
    CHECK(run_until(loop, [&] { return !client.connection() && server.connection_count() == 0; }));
}

// ---- seeded chaos ----------------------------------------------------------------------------

TEST_CASE("seeded: a random mix of survivable faults loses, doubles and reorders nothing") {
    const std::uint64_t seed = fault::seed_from_env();
    fault::Schedule faults(seed);
    INFO("seed " << seed << " (replay: REACTOR_FAULT_SEED=" << seed << ")");
    using fault::Fault;
    faults.add(Fault::fail(fault::Reads, EINTR).chance(0.1));
    faults.add(Fault::fail(fault::Reads, EAGAIN).chance(0.1));
    faults.add(Fault::cut(fault::Reads, 1).chance(0.1));
    faults.add(Fault::fail(fault::Writes, EINTR).chance(0.1));
    faults.add(Fault::fail(fault::Writes, EAGAIN).chance(0.1));
    faults.add(Fault::cut(fault::Writes, 1).chance(0.2));
    faults.add(Fault::fail(fault::Accept, EINTR).chance(0.2));
    faults.add(Fault::fail(fault::Wait, EINTR).chance(0.1));
    faults.add(Fault::cut(fault::Wait, 1).chance(0.2));
    INFO(faults.describe());
    CheckedLoop loop;
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        const EchoResult echo = run_echo(loop, 6, 32 * 1024);
        CHECK(echo.survivors() == 6);
        int wait_errors = 0;
        CHECK(run_chat(loop, 4, 100, &wait_errors) == "");
        CHECK(run_client_rounds(loop, 2, &wait_errors) == "");
        CHECK(wait_errors == 0);
        HttpFixture fx(loop);
        const HttpResult http = run_http(loop, fx, 3);
        CHECK(http.clients_whole == 3);
        CHECK(http.first_wrong == "");
    }
    CHECK(faults.injected() > 0);
}

TEST_CASE("seeded: random resets and broken pipes end connections cleanly, never corrupt one") {
    const std::uint64_t seed = fault::seed_from_env();
    fault::Schedule faults(seed);
    INFO("seed " << seed << " (replay: REACTOR_FAULT_SEED=" << seed << ")");
    using fault::Fault;
    faults.add(Fault::fail(fault::Reads, ECONNRESET).chance(0.02));
    faults.add(Fault::fail(fault::Writes, EPIPE).chance(0.02));
    faults.add(Fault::fail(fault::Reads, EINTR).chance(0.1));
    faults.add(Fault::cut(fault::Writes, 1).chance(0.2));
    faults.add(Fault::fail(fault::Accept, EMFILE).chance(0.05));
    INFO(faults.describe());
    CheckedLoop loop;
    for (int round = 0; round < 3; ++round) {
        const EchoResult echo = run_echo(loop, 6, 32 * 1024);
        CHECK(echo.finished);
        CHECK(echo.intact());
        HttpFixture fx(loop);
        const HttpResult http = run_http(loop, fx, 3);
        CHECK(http.clients_wrong == 0);
        CHECK(http.first_wrong == "");
    }
}
