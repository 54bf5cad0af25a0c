// runs-on: every backend
// kqueue: every flavour
// tests/poller_conformance_test.cpp -- what each poller backend reports, situation by situation.
//
// This suite is the executable form of the conformance table in
// docs/backends.md: each row of the table is one TEST_CASE below (same
// name), and each cell is the expectation for one backend, asserted here
// whenever the suite runs on that backend (REACTOR_BACKEND). Where backends
// legitimately differ, the test says so per backend with expect_by_backend().
//
// The poller is driven directly, without an EventLoop, on pipes, AF_UNIX
// socketpairs and loopback TCP pairs. Every wait is bounded; every fd is
// closed by its Fd owner.
//
// On Linux the kqueue runs are against the emulation in tests/kqueue_emu/,
// once per emulated kernel (REACTOR_KQUEUE_FLAVOR=freebsd|macos, see
// scripts/run-tests.sh): the kqueue cells must hold for both. Where a cell
// depends on the host kernel itself, not on the poller (TCP's answer to a
// close with unread data), the test asks REACTOR_KERNEL_LINUX.
#include "test_util.hpp"
#include "base/platform.hpp"  // REACTOR_KERNEL_LINUX

#include <reactor/poller.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace reactor;
using reactor::test::Fd;
using reactor::test::kDeadline;

constexpr std::uint64_t kToken = 0x9e3779b97f4a7c15ull;  // any 64-bit value must round-trip

std::unique_ptr<Poller> make_poller() {
    auto p = Poller::create();
    REQUIRE(p != nullptr);
    REQUIRE(p->name() == test::backend_name());
    return p;
}

// The expectation of one table cell per backend.
struct ByBackend {
    Events epoll;
    Events kqueue;
    Events poll;
};

Events expect_by_backend(const Poller& p, ByBackend e) {
    if (p.name() == "epoll") return e.epoll;
    if (p.name() == "kqueue") return e.kqueue;
    REQUIRE(p.name() == "poll");
    return e.poll;
}

// One wait; returns what it reported for `token` (NoEvents if nothing), and
// checks the rule that a wait reports each fd at most once.
Events wait_once(Poller& p, std::uint64_t token, int timeout_ms) {
    std::vector<PollEvent> out;
    REQUIRE_FALSE(p.wait(out, timeout_ms));
    Events seen = NoEvents;
    int entries = 0;
    for (const PollEvent& e : out) {
        if (e.token != token) continue;
        seen = e.events;
        ++entries;
    }
    CHECK(entries <= 1);
    return seen;
}

// Waits (bounded) until the report for `token` contains all of `expected`,
// then returns it. The kernel may take a moment to process a loopback FIN or
// RST; once it has, a level-triggered backend reports the same set on every
// wait, which is checked too.
Events settled(Poller& p, std::uint64_t token, Events expected) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    Events got = NoEvents;
    do {
        got = wait_once(p, token, 10);
        if (got != NoEvents && (got & expected) == expected) break;
    } while (std::chrono::steady_clock::now() < deadline);
    CHECK(to_string_events(wait_once(p, token, 0)) == to_string_events(got));
    return got;
}

// Asserts the report for `token` equals the cell of this backend.
void check_reports(Poller& p, std::uint64_t token, ByBackend cell) {
    const Events want = expect_by_backend(p, cell);
    INFO("backend: " << p.name());
    if (want == NoEvents) {
        CHECK(to_string_events(wait_once(p, token, 20)) == "None");
        CHECK(to_string_events(wait_once(p, token, 0)) == "None");
    } else {
        CHECK(to_string_events(settled(p, token, want)) == to_string_events(want));
    }
}

// Waits (bounded) until `fd` has something to read, with poll(2): used to be
// sure data reached the peer before it closes, not to test a backend.
void await_readable(int fd) {
    pollfd pfd{fd, POLLIN, 0};
    REQUIRE(::poll(&pfd, 1, static_cast<int>(kDeadline.count())) == 1);
}

int pending_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    REQUIRE(::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0);
    return err;
}

void set_linger_zero(int fd) {
    linger lg{};
    lg.l_onoff = 1;
    lg.l_linger = 0;
    REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
}

// remove() of a closed fd that is not (or no longer) registered: poll and
// kqueue keep their own table and say ENOENT; epoll keeps none, and the
// kernel answers EBADF for any closed fd, which the backend must accept as
// "already gone" (the fd may have been registered): it succeeds.
void check_second_remove_of_closed_fd(Poller& p, int fd) {
    const std::error_code ec = p.remove(fd);
    if (p.name() == "epoll") {
        CHECK_FALSE(ec);
    } else {
        CHECK(ec == std::errc::no_such_file_or_directory);
    }
}

enum class Transport { Unix, Tcp };

std::pair<Fd, Fd> make_stream_pair(Transport t) {
    return t == Transport::Unix ? test::make_socketpair() : test::make_tcp_pair();
}

constexpr Events RW = Readable | Writable;

// Does the host kernel answer a TCP close with unread data with RST?
#if REACTOR_KERNEL_LINUX || defined(__APPLE__)
constexpr bool kTcpResetsOnUnreadClose = true;
#else
constexpr bool kTcpResetsOnUnreadClose = false;  // FreeBSD: FIN
#endif

}  // namespace

// ---- readiness ------------------------------------------------------------------

TEST_CASE("conformance: data waiting is Readable") {
    auto p = make_poller();
    SUBCASE("pipe") {
        auto [r, w] = test::make_pipe();
        test::write_all(w.get(), "x");
        REQUIRE_FALSE(p->add(r.get(), Readable, kToken));
        check_reports(*p, kToken, {Readable, Readable, Readable});
        REQUIRE_FALSE(p->remove(r.get()));
    }
    SUBCASE("unix socketpair") {
        auto [a, b] = test::make_socketpair();
        test::write_all(b.get(), "x");
        REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
        check_reports(*p, kToken, {Readable, Readable, Readable});
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("tcp") {
        auto [a, b] = test::make_tcp_pair();
        test::write_all(b.get(), "x");
        REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
        check_reports(*p, kToken, {Readable, Readable, Readable});
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: nothing to read reports nothing, and stays level-triggered once data comes") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
    check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
    test::write_all(b.get(), "xy");
    check_reports(*p, kToken, {Readable, Readable, Readable});
    // Not drained: reported again on every wait.
    CHECK(wait_once(*p, kToken, 0) == Readable);
    CHECK(wait_once(*p, kToken, 0) == Readable);
    CHECK(test::read_some(a.get()) == "xy");
    check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
    REQUIRE_FALSE(p->remove(a.get()));
}

TEST_CASE("conformance: space in the send buffer is Writable") {
    auto p = make_poller();
    SUBCASE("pipe") {
        auto [r, w] = test::make_pipe();
        REQUIRE_FALSE(p->add(w.get(), Writable, kToken));
        check_reports(*p, kToken, {Writable, Writable, Writable});
        REQUIRE_FALSE(p->remove(w.get()));
    }
    SUBCASE("tcp") {
        auto [a, b] = test::make_tcp_pair();
        REQUIRE_FALSE(p->add(a.get(), Writable, kToken));
        check_reports(*p, kToken, {Writable, Writable, Writable});
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: readable and writable at once is one event per fd") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    auto [c, d] = test::make_tcp_pair();
    test::write_all(b.get(), "x");
    test::write_all(d.get(), "x");
    REQUIRE_FALSE(p->add(a.get(), RW, 1));
    REQUIRE_FALSE(p->add(c.get(), RW, 2));
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    std::vector<PollEvent> out;
    bool both = false;
    while (!both && std::chrono::steady_clock::now() < deadline) {
        REQUIRE_FALSE(p->wait(out, 10));
        // kqueue returns one kevent per filter; the backend must merge them.
        for (const PollEvent& e : out) CHECK(e.events == RW);
        CHECK(out.size() <= 2);
        both = out.size() == 2 && out[0].token != out[1].token;
    }
    CHECK(both);
    REQUIRE_FALSE(p->remove(a.get()));
    REQUIRE_FALSE(p->remove(c.get()));
}

// ---- the peer goes away ------------------------------------------------------------

TEST_CASE("conformance: peer closes with data still unread here") {
    auto p = make_poller();
    SUBCASE("unix socketpair") {
        auto [a, b] = test::make_socketpair();
        test::write_all(b.get(), "last words");
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        // Linux shuts an AF_UNIX socket both ways when its peer closes
        // (EPOLLHUP); BSD disconnects it (EV_EOF on both filters).
        check_reports(*p, kToken, {RW | Hangup, RW | Hangup, RW | Hangup});
        // Whatever was reported, the data is still there before the EOF.
        CHECK(test::read_some(a.get()) == "last words");
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("tcp") {
        auto [a, b] = test::make_tcp_pair();
        test::write_all(b.get(), "last words");
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        // A TCP FIN closes only the peer's direction: we may still write.
        check_reports(*p, kToken, {RW, RW, RW});
        CHECK(test::read_some(a.get()) == "last words");
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("pipe, read end") {
        auto [r, w] = test::make_pipe();
        test::write_all(w.get(), "last words");
        w.reset();
        REQUIRE_FALSE(p->add(r.get(), Readable, kToken));
        // kqueue has no Hangup with only the read filter (EV_EOF on it alone).
        check_reports(*p, kToken, {Readable | Hangup, Readable, Readable | Hangup});
        CHECK(test::read_some(r.get()) == "last words");
        REQUIRE_FALSE(p->remove(r.get()));
    }
}

TEST_CASE("conformance: peer closes with nothing unread") {
    auto p = make_poller();
    SUBCASE("unix socketpair, read and write interest") {
        auto [a, b] = test::make_socketpair();
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        check_reports(*p, kToken, {RW | Hangup, RW | Hangup, RW | Hangup});
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("unix socketpair, read interest only") {
        auto [a, b] = test::make_socketpair();
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
        // Hangup needs EV_EOF on both kqueue filters; only one is registered.
        check_reports(*p, kToken, {Readable | Hangup, Readable, Readable | Hangup});
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("tcp") {
        auto [a, b] = test::make_tcp_pair();
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        check_reports(*p, kToken, {RW, RW, RW});
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("pipe, read end") {
        auto [r, w] = test::make_pipe();
        w.reset();
        REQUIRE_FALSE(p->add(r.get(), Readable, kToken));
        // Linux reports a writerless empty pipe as POLLHUP without POLLIN:
        // a reader must treat Hangup as "read until EOF".
        check_reports(*p, kToken, {Hangup, Readable, Hangup});
        REQUIRE_FALSE(p->remove(r.get()));
    }
    SUBCASE("pipe, write end: the reader closes, then write interest is added") {
        auto [r, w] = test::make_pipe();
        r.reset();
        REQUIRE_FALSE(p->add(w.get(), Writable, kToken));
        // Linux flags the writer with POLLERR. FreeBSD refuses the write
        // filter with EPIPE and macOS reports EV_EOF on it; the kqueue
        // backend says Writable|Error for both, so a writer to a dead child
        // is woken (and its write() fails with EPIPE).
        check_reports(*p, kToken, {Writable | Error, Writable | Error, Writable | Error});
        // Write interest off: nothing more; on again: reported again.
        REQUIRE_FALSE(p->modify(w.get(), Readable, kToken));
        REQUIRE_FALSE(p->modify(w.get(), Writable, kToken));
        check_reports(*p, kToken, {Writable | Error, Writable | Error, Writable | Error});
        REQUIRE_FALSE(p->remove(w.get()));
        check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
        REQUIRE_FALSE(p->add(w.get(), Writable, kToken));  // added again after remove
        check_reports(*p, kToken, {Writable | Error, Writable | Error, Writable | Error});
        REQUIRE_FALSE(p->remove(w.get()));
    }
    SUBCASE("pipe, write end: the reader closes, then modify() asks for writing") {
        auto [r, w] = test::make_pipe();
        REQUIRE_FALSE(p->add(w.get(), Readable, kToken));  // a write end is never readable
        check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
        r.reset();
        REQUIRE_FALSE(p->modify(w.get(), Writable, kToken));
        check_reports(*p, kToken, {Writable | Error, Writable | Error, Writable | Error});
        REQUIRE_FALSE(p->remove(w.get()));
    }
    SUBCASE("pipe, write end: the reader closes while write interest is on") {
        auto [r, w] = test::make_pipe();
        REQUIRE_FALSE(p->add(w.get(), Writable, kToken));
        check_reports(*p, kToken, {Writable, Writable, Writable});
        r.reset();
        check_reports(*p, kToken, {Writable | Error, Writable | Error, Writable | Error});
        REQUIRE_FALSE(p->remove(w.get()));
    }
}

TEST_CASE("conformance: peer closes with our data unread on its side (it resets)") {
    auto p = make_poller();
    for (Transport t : {Transport::Unix, Transport::Tcp}) {
        INFO("transport: " << (t == Transport::Unix ? "unix" : "tcp"));
        auto [a, b] = make_stream_pair(t);
        test::write_all(a.get(), "never read");
        await_readable(b.get());
        b.reset();  // closed with unread data
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        // What the peer's kernel sends is the host's, not the poller's:
        // Linux (tcp_close) and macOS (xnu tcp_disconnect: tcp_drop when
        // so_rcv holds data) answer with RST; FreeBSD's tcp_disconnect
        // flushes the unread data and sends FIN. AF_UNIX: Linux sets
        // ECONNRESET on the survivor.
        const bool resets = t == Transport::Unix || kTcpResetsOnUnreadClose;
        if (resets) {
            check_reports(*p, kToken, {RW | Hangup | Error, RW | Hangup | Error, RW | Hangup | Error});
            // No backend consumed the error: the program still reads it.
            CHECK(pending_socket_error(a.get()) == ECONNRESET);
        } else {
            check_reports(*p, kToken, {RW, RW, RW});  // FIN: EOF to read, still writable
            CHECK(pending_socket_error(a.get()) == 0);
        }
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: peer resets (TCP, SO_LINGER 0)") {
    auto p = make_poller();
    SUBCASE("read and write interest") {
        auto [a, b] = test::make_tcp_pair();
        set_linger_zero(b.get());
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        check_reports(*p, kToken, {RW | Hangup | Error, RW | Hangup | Error, RW | Hangup | Error});
        CHECK(pending_socket_error(a.get()) == ECONNRESET);
        REQUIRE_FALSE(p->remove(a.get()));
    }
    SUBCASE("read interest only") {
        auto [a, b] = test::make_tcp_pair();
        set_linger_zero(b.get());
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
        // kqueue: EV_EOF with fflags = ECONNRESET on the read filter alone.
        check_reports(*p, kToken,
                      {Readable | Hangup | Error, Readable | Error, Readable | Hangup | Error});
        CHECK(pending_socket_error(a.get()) == ECONNRESET);
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: peer half-closes (shutdown SHUT_WR)") {
    auto p = make_poller();
    for (Transport t : {Transport::Unix, Transport::Tcp}) {
        INFO("transport: " << (t == Transport::Unix ? "unix" : "tcp"));
        auto [a, b] = make_stream_pair(t);
        REQUIRE(::shutdown(b.get(), SHUT_WR) == 0);
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        // Readable (read() says EOF), still writable, no hang-up: the peer
        // may still be reading.
        check_reports(*p, kToken, {RW, RW, RW});
        test::write_all(a.get(), "reply");
        CHECK(test::read_some(b.get()) == "reply");
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: local shutdown of writing (shutdown SHUT_WR)") {
    auto p = make_poller();
    for (Transport t : {Transport::Unix, Transport::Tcp}) {
        INFO("transport: " << (t == Transport::Unix ? "unix" : "tcp"));
        auto [a, b] = make_stream_pair(t);
        REQUIRE(::shutdown(a.get(), SHUT_WR) == 0);
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        // kqueue sets EV_EOF on the write filter here (our own side can no
        // longer send); with the read side open that is not a hang-up.
        check_reports(*p, kToken, {Writable, Writable, Writable});
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: local shutdown of writing, then the peer closes") {
    auto p = make_poller();
    for (Transport t : {Transport::Unix, Transport::Tcp}) {
        INFO("transport: " << (t == Transport::Unix ? "unix" : "tcp"));
        auto [a, b] = make_stream_pair(t);
        REQUIRE(::shutdown(a.get(), SHUT_WR) == 0);
        b.reset();
        REQUIRE_FALSE(p->add(a.get(), RW, kToken));
        check_reports(*p, kToken, {RW | Hangup, RW | Hangup, RW | Hangup});
        REQUIRE_FALSE(p->remove(a.get()));
    }
}

TEST_CASE("conformance: connect refused") {
    auto p = make_poller();
    // A port bound but not listening answers a SYN with RST, and stays ours
    // for the whole test (no other process can start listening on it).
    Fd bound(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(bound.get() >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(bound.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(bound.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);

    auto connect_refused = [&] {
        Fd s(::socket(AF_INET, SOCK_STREAM, 0));
        REQUIRE(s.get() >= 0);
        REQUIRE(::fcntl(s.get(), F_SETFL, O_NONBLOCK) == 0);
        const int rc = ::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        REQUIRE(rc == -1);
        REQUIRE(errno == EINPROGRESS);  // the refusal must arrive as an event
        return s;
    };
    SUBCASE("write interest (waiting for the connection)") {
        Fd s = connect_refused();
        REQUIRE_FALSE(p->add(s.get(), Writable, kToken));
        check_reports(*p, kToken,
                      {Writable | Hangup | Error, Writable | Error, Writable | Hangup | Error});
        CHECK(pending_socket_error(s.get()) == ECONNREFUSED);
        REQUIRE_FALSE(p->remove(s.get()));
    }
    SUBCASE("read and write interest") {
        Fd s = connect_refused();
        REQUIRE_FALSE(p->add(s.get(), RW, kToken));
        check_reports(*p, kToken, {RW | Hangup | Error, RW | Hangup | Error, RW | Hangup | Error});
        CHECK(pending_socket_error(s.get()) == ECONNREFUSED);
        REQUIRE_FALSE(p->remove(s.get()));
    }
}

// ---- the fd goes away under the poller ------------------------------------------

TEST_CASE("conformance: fd closed while registered") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    test::write_all(b.get(), "x");
    const int fd = a.get();
    REQUIRE_FALSE(p->add(fd, RW, kToken));
    a.reset();
    // epoll and kqueue forget a closed fd; poll(2) flags it POLLNVAL.
    check_reports(*p, kToken, {NoEvents, NoEvents, Error});
    CHECK_FALSE(p->remove(fd));  // allowed, and forgets it
    check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
    check_second_remove_of_closed_fd(*p, fd);
}

TEST_CASE("conformance: fd closed while a duplicate stays open") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    test::write_all(b.get(), "x");
    const int fd = a.get();
    Fd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    REQUIRE(dup.get() >= 0);
    REQUIRE_FALSE(p->add(fd, RW, kToken));
    a.reset();
    // epoll registers the open file, not the number: it goes on reporting
    // the closed fd while the duplicate lives (epoll(7), Q6). kqueue drops
    // the fd's filters at close; poll(2) flags the number POLLNVAL.
    check_reports(*p, kToken, {RW, NoEvents, Error});
    // remove() succeeds everywhere, but epoll cannot name the closed fd any
    // more (EBADF), so its kernel entry lives on until the duplicate closes.
    CHECK_FALSE(p->remove(fd));
    check_reports(*p, kToken, {RW, NoEvents, NoEvents});
    dup.reset();
    check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
}

TEST_CASE("conformance: a regular file") {
    auto p = make_poller();
    char path[] = "/tmp/reactor-conformance-XXXXXX";
    Fd file(::mkstemp(path));
    REQUIRE(file.get() >= 0);
    ::unlink(path);
    test::write_all(file.get(), "contents");
    REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);
    // epoll_ctl(2): EPERM, "The target file fd does not support epoll". poll
    // would say "always ready", kqueue "ready while unread bytes remain" (so
    // never EOF): every backend refuses it alike.
    for (Events interest : {Readable, Writable, RW}) {
        CHECK(p->add(file.get(), interest, kToken) == std::errc::operation_not_permitted);
    }
    check_reports(*p, kToken, {NoEvents, NoEvents, NoEvents});
    // Nothing was registered: remove() fails (ENOENT; epoll, which keeps no
    // table, passes on the kernel's EPERM for such an fd).
    CHECK(p->remove(file.get()));
    SUBCASE("a directory too") {
        Fd dir(::open("/tmp", O_RDONLY));
        REQUIRE(dir.get() >= 0);
        CHECK(p->add(dir.get(), Readable, kToken) == std::errc::operation_not_permitted);
    }
}

TEST_CASE("conformance: a poller destroyed in a child of fork() closes none of the child's fds") {
    // kqueue(2): a kqueue is not inherited, so in the child its number is
    // free and the child's next fd may take it. Destroying the parent's
    // poller there must not close that fd. (epoll's fd is inherited and
    // closed by its copy; poll has none.)
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // Take the lowest free numbers (a kqueue's among them, on BSD).
        int fds[16];
        int opened = 0;
        for (; opened < 16; ++opened) {
            fds[opened] = ::open("/dev/null", O_RDONLY);
            if (fds[opened] < 0) break;
        }
        p.reset();
        for (int i = 0; i < opened; ++i) {
            if (::fcntl(fds[i], F_GETFD) < 0) ::_exit(1);  // closed by the poller
        }
        ::_exit(opened == 16 ? 0 : 2);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    // The parent's poller is untouched.
    test::write_all(b.get(), "x");
    check_reports(*p, kToken, {Readable, Readable, Readable});
    REQUIRE_FALSE(p->remove(a.get()));
}

// ---- the interface's own rules ---------------------------------------------------

TEST_CASE("conformance: add twice fails with EEXIST") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    REQUIRE_FALSE(p->add(a.get(), Readable, 1));
    CHECK(p->add(a.get(), Writable, 2) == std::errc::file_exists);
    // The failed add changed nothing: still read interest, token 1.
    test::write_all(b.get(), "x");
    CHECK(to_string_events(settled(*p, 1, Readable)) == "Readable");
    REQUIRE_FALSE(p->remove(a.get()));
}

TEST_CASE("conformance: modify and remove of an unknown fd fail with ENOENT") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    CHECK(p->modify(a.get(), Readable, 1) == std::errc::no_such_file_or_directory);
    CHECK(p->remove(a.get()) == std::errc::no_such_file_or_directory);
    REQUIRE_FALSE(p->add(a.get(), Readable, 1));
    REQUIRE_FALSE(p->remove(a.get()));
    CHECK(p->remove(a.get()) == std::errc::no_such_file_or_directory);
    CHECK(p->modify(a.get(), Writable, 1) == std::errc::no_such_file_or_directory);
}

TEST_CASE("conformance: add of a bad fd") {
    auto p = make_poller();
    CHECK(p->add(-1, Readable, 1) == std::errc::bad_file_descriptor);
    int closed = -1;
    {
        auto [a, b] = test::make_socketpair();
        closed = a.get();
    }
    const std::error_code ec = p->add(closed, Readable, kToken);
    if (p->name() == "poll") {
        // poll keeps its set in user space and learns of the bad fd only
        // when it waits: POLLNVAL.
        REQUIRE_FALSE(ec);
        check_reports(*p, kToken, {NoEvents, NoEvents, Error});
        REQUIRE_FALSE(p->remove(closed));
    } else {
        CHECK(ec == std::errc::bad_file_descriptor);
        check_second_remove_of_closed_fd(*p, closed);
    }
}

TEST_CASE("conformance: modify changes interest and token") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    test::write_all(b.get(), "x");
    REQUIRE_FALSE(p->add(a.get(), Writable, 1));
    CHECK(to_string_events(settled(*p, 1, Writable)) == "Writable");
    REQUIRE_FALSE(p->modify(a.get(), Readable, 2));
    CHECK(to_string_events(settled(*p, 2, Readable)) == "Readable");
    CHECK(wait_once(*p, 1, 0) == NoEvents);
    REQUIRE_FALSE(p->modify(a.get(), RW, 3));
    CHECK(to_string_events(settled(*p, 3, RW)) == "Readable|Writable");
    // Turning write interest off and on again, as a server does when its
    // output buffer fills and drains.
    for (int i = 0; i < 3; ++i) {
        REQUIRE_FALSE(p->modify(a.get(), Readable, 3));
        CHECK(to_string_events(settled(*p, 3, Readable)) == "Readable");
        REQUIRE_FALSE(p->modify(a.get(), RW, 3));
        CHECK(to_string_events(settled(*p, 3, RW)) == "Readable|Writable");
    }
    REQUIRE_FALSE(p->remove(a.get()));
    CHECK(wait_once(*p, 3, 0) == NoEvents);
    // A removed fd can be added again.
    REQUIRE_FALSE(p->add(a.get(), Readable, 4));
    CHECK(to_string_events(settled(*p, 4, Readable)) == "Readable");
    REQUIRE_FALSE(p->remove(a.get()));
}

TEST_CASE("conformance: tokens round-trip unchanged") {
    auto p = make_poller();
    const std::uint64_t tokens[] = {0, 1, 0xffffffffull, 0x100000000ull, 0x8000000000000001ull,
                                    0xffffffffffffffffull};
    std::vector<std::pair<Fd, Fd>> pairs;
    for (std::uint64_t token : tokens) {
        pairs.push_back(test::make_socketpair());
        REQUIRE_FALSE(p->add(pairs.back().first.get(), Writable, token));
    }
    for (std::uint64_t token : tokens) {
        CHECK(to_string_events(settled(*p, token, Writable)) == "Writable");
    }
    for (auto& pair : pairs) REQUIRE_FALSE(p->remove(pair.first.get()));
}

TEST_CASE("conformance: wait honours its timeout") {
    auto p = make_poller();
    auto [a, b] = test::make_socketpair();
    REQUIRE_FALSE(p->add(a.get(), Readable, kToken));
    std::vector<PollEvent> out{PollEvent{42, Error}};  // replaced, not appended to
    REQUIRE_FALSE(p->wait(out, 0));
    CHECK(out.empty());
    // A timed wait with nothing ready returns empty, and not early.
    const auto start = std::chrono::steady_clock::now();
    REQUIRE_FALSE(p->wait(out, 30));
    const auto waited = std::chrono::steady_clock::now() - start;
    CHECK(out.empty());
    CHECK(waited >= std::chrono::milliseconds(25));
    REQUIRE_FALSE(p->remove(a.get()));
}

TEST_CASE("conformance: creating an unknown backend names the choices") {
    try {
        (void)Poller::create("select");
        FAIL("Poller::create accepted an unknown backend");
    } catch (const std::system_error& e) {
        CHECK(e.code() == std::errc::invalid_argument);
        const std::string what = e.what();
        CHECK(what.find("select") != std::string::npos);
        for (std::string_view name : Poller::available()) {
            CHECK(what.find(std::string(name)) != std::string::npos);
        }
    }
    const auto names = Poller::available();
    CHECK(std::find(names.begin(), names.end(), test::backend_name()) != names.end());
}
