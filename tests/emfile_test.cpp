// runs-on: every backend
// tests/emfile_test.cpp -- running out of fds: the server neither spins nor
// stops for good (reserve fd + paused listener with backoff).
//
// The server runs in a forked child with RLIMIT_NOFILE 64; the parent
// floods it with connections, checks that an already-accepted client is
// still served while the child is out of fds, frees the fds, and checks
// that a new client is served. The child measures its own CPU time over
// the whole run (a listener left readable on a level-triggered loop would
// burn ~100% of it) and exits with its verdict; it also reports its figures
// through a pipe so a failure says why.
#include "tcp_util.hpp"

#include <reactor/tcp_server.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;

namespace {

double cpu_seconds() {
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
    return secs(usage.ru_utime) + secs(usage.ru_stime);
}

// How the child's server meets the flood.
enum class Cap {
    None,       // no connection cap: the fds run out, the EMFILE path
    Automatic,  // the default cap, the fd limit less a reserve: never EMFILE
};

// The child's whole life. Returns its exit status (0: low CPU and, with no
// cap, the listener was paused at least once; with the automatic cap, the
// excess was refused and the listener never had to pause).
int run_server_child(int port_out, int control_in, int report_out, Cap cap) {
    rlimit limit{64, 64};
    if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
    CheckedLoop loop;
    TcpServerOptions options;
    if (cap == Cap::None) options.max_connections = TcpServerOptions::kNoConnectionCap;
    TcpServer server(loop, SocketAddress::ipv4_loopback(0), options);
    server.on_message([](const TcpConnectionPtr& c, Buffer& in) { c->send(in); });
    bool stop = false;
    // The parent closes its end of the control pipe when it is done.
    const WatcherId control = loop.watch(control_in, Readable, [&](Events) { stop = true; });
    const std::string port = std::to_string(server.local_address().port()) + "\n";
    if (::write(port_out, port.data(), port.size()) != static_cast<ssize_t>(port.size())) return 11;

    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    while (!stop && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
        loop.run_once(std::chrono::milliseconds(100));
    }
    const double cpu = cpu_seconds() - cpu0;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    loop.unwatch(control);
    const TcpServerCounters counters = server.counters();
    char report[200];
    const int n = std::snprintf(report, sizeof report, "cpu=%.3f wall=%.3f paused=%llu refused=%llu accepted=%llu\n",
                                cpu, wall, static_cast<unsigned long long>(counters.paused),
                                static_cast<unsigned long long>(counters.refused),
                                static_cast<unsigned long long>(counters.accepted));
    (void)::write(report_out, report, static_cast<std::size_t>(n));
    if (cpu >= 0.5 * wall) return 1;
    if (cap == Cap::None) return counters.paused >= 1 ? 0 : 2;
    return counters.paused == 0 && counters.refused >= 1 ? 0 : 3;
}

// Sends `text` on a blocking-with-deadline basis and waits for its echo.
bool echoes(int fd, const std::string& text) {
    if (::send(fd, text.data(), text.size(), REACTOR_MSG_NOSIGNAL) != static_cast<ssize_t>(text.size())) return false;
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (got.size() < text.size() && std::chrono::steady_clock::now() < deadline) {
        if (read_into(fd, got) <= 0) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return got == text;
}

}  // namespace

namespace {

// Runs the child, floods it with far more connections than it has fds,
// and checks that it keeps serving; returns the child's report line.
std::string flood_child(Cap cap) {
    int port_pipe[2], control_pipe[2], report_pipe[2];
    REQUIRE(::pipe(port_pipe) == 0);
    REQUIRE(::pipe(control_pipe) == 0);
    REQUIRE(::pipe(report_pipe) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(port_pipe[0]);
        ::close(control_pipe[1]);
        ::close(report_pipe[0]);
        ::_exit(run_server_child(port_pipe[1], control_pipe[0], report_pipe[1], cap));
    }
    ::close(port_pipe[1]);
    ::close(control_pipe[0]);
    ::close(report_pipe[1]);
    Fd port_in(port_pipe[0]), control_out(control_pipe[1]), report_in(report_pipe[0]);

    const std::string port_text = read_line_blocking(port_in.get());
    REQUIRE_FALSE(port_text.empty());
    const auto where = SocketAddress::ipv4_loopback(static_cast<std::uint16_t>(std::stoi(port_text)));

    // One ordinary connection first, served and closed while fds are
    // plentiful, as in any real server's life. (It also matters under
    // UBSan: its vptr check needs a spare fd the first time it meets a
    // polymorphic type, so the close path must not be new at exhaustion.)
    {
        Fd warm = tcp_connect(where);
        CHECK(echoes(warm.get(), "warm up"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    // The flood: far more connections than the child has fds. They complete
    // in the kernel (backlog) whether or not the child accepts them.
    std::vector<Fd> flood;
    for (int i = 0; i < 150; ++i) {
        Fd fd = make_stream_socket(AF_INET);
        (void)::connect(fd.get(), where.native(), where.length());
        flood.push_back(std::move(fd));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    // The first client was accepted before the fds ran out: still served.
    CHECK(echoes(flood.front().get(), "still alive"));
    // Stay exhausted for a while: a spinning server would burn this time.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));

    // Free the fds; a newcomer is served again. The server learns of the
    // flood's end one EOF at a time, so until it has, a newcomer may still
    // be refused (at the cap, or by the reserve-fd trick): a refused client
    // tries again, as a real one would, within the deadline.
    flood.clear();
    bool served = false;
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!served && std::chrono::steady_clock::now() < until) {
        Fd late = tcp_connect(where);
        served = echoes(late.get(), "served again");
        if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK(served);

    control_out.reset();  // tells the child to finish
    const std::string report = read_line_blocking(report_in.get());
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("child report: " << report);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    return report;
}

}  // namespace

TEST_CASE("out of fds: the server stays responsive at low CPU and accepts again later") {
    // With the cap off, connections alone exhaust the fds: the EMFILE path.
    const std::string report = flood_child(Cap::None);
    CHECK(report.find("paused=0 ") == std::string::npos);
}

TEST_CASE("the default cap keeps fds in reserve: a flood is refused, never reaches EMFILE") {
    const std::string report = flood_child(Cap::Automatic);
    CHECK(report.find("paused=0 ") != std::string::npos);
    CHECK(report.find("refused=0 ") == std::string::npos);
}
