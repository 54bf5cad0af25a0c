// kqueue: every flavour
// tests/kqueue_emu_test.cpp -- the kqueue()/kevent() behaviour the kqueue backend relies on.
//
// On Linux these run against the test-only emulation in tests/kqueue_emu/,
// once per emulated kernel (REACTOR_KQUEUE_FLAVOR=freebsd|macos), and check
// that it behaves as that kernel's source says (kqueue_emu.cpp cites them);
// on FreeBSD or macOS the same tests run against the real kernel, whose
// flavour is its own. Only the value of fflags for a pending socket error
// differs (see KQUEUE_EMU_PENDING_ERROR).
#include "test_util.hpp"

#if __has_include(<sys/event.h>)

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

namespace {

using reactor::test::Fd;

// Which kernel answers: where FreeBSD and macOS differ, the tests expect
// each its own (FreeBSD sys/kern/kern_event.c and sys_pipe.c; xnu
// bsd/kern/kern_event.c and sys_pipe.c).
bool macos() {
#ifdef REACTOR_KQUEUE_EMU
    return std::string(kqueue_emu_flavor()) == "macos";
#elif defined(__APPLE__)
    return true;
#else
    return false;
#endif
}

Fd make_kqueue() {
    Fd kq(::kqueue());
    REQUIRE(kq.get() >= 0);
    return kq;
}

struct kevent change(int fd, short filter, unsigned short flags, void* udata = nullptr) {
    struct kevent k {};
    EV_SET(&k, static_cast<uintptr_t>(fd), filter, flags, 0, 0, udata);
    return k;
}

// Applies one change without waiting; returns its errno (0: done).
int apply(int kq, struct kevent c) {
    c.flags |= EV_RECEIPT;
    struct kevent answer {};
    const struct timespec no_wait {};
    const int n = ::kevent(kq, &c, 1, &answer, 1, &no_wait);
    REQUIRE(n == 1);
    REQUIRE((answer.flags & EV_ERROR) != 0);
    return static_cast<int>(answer.data);
}

// Collects what a wait of `ms` milliseconds returns.
std::vector<struct kevent> wait_events(int kq, int ms) {
    std::vector<struct kevent> out(16);
    struct timespec ts {};
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = static_cast<long>(ms % 1000) * 1000000L;
    const int n = ::kevent(kq, nullptr, 0, out.data(), static_cast<int>(out.size()), &ts);
    REQUIRE(n >= 0);
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Waits (bounded by `ms`) for an entry for (fd, filter); fills `found`.
bool find_event(int kq, int fd, short filter, struct kevent& found, int ms = 1000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    do {
        for (const struct kevent& k : wait_events(kq, 10)) {
            if (k.ident == static_cast<uintptr_t>(fd) && k.filter == filter) {
                found = k;
                return true;
            }
        }
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
}

}  // namespace

TEST_CASE("kevent: udata and data come back with the event") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    reactor::test::write_all(b.get(), "12345");
    int marker = 0;
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD, &marker)) == 0);
    struct kevent k {};
    REQUIRE(find_event(kq.get(), a.get(), EVFILT_READ, k));
    CHECK(k.udata == &marker);
    CHECK(k.data == 5);
    CHECK((k.flags & (EV_EOF | EV_ERROR)) == 0);
}

TEST_CASE("kevent: changes are applied before waiting, in the same call") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    reactor::test::write_all(b.get(), "x");
    const struct kevent add = change(a.get(), EVFILT_READ, EV_ADD);
    struct kevent out[4];
    const struct timespec timeout {5, 0};
    const int n = ::kevent(kq.get(), &add, 1, out, 4, &timeout);
    REQUIRE(n == 1);
    CHECK(out[0].ident == static_cast<uintptr_t>(a.get()));
    CHECK(out[0].filter == EVFILT_READ);
}

TEST_CASE("kevent: the change list and the event list may be the same array") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    struct kevent list[2] = {change(a.get(), EVFILT_WRITE, EV_ADD),
                             change(b.get(), EVFILT_WRITE, EV_ADD)};
    const struct timespec timeout {5, 0};
    const int n = ::kevent(kq.get(), list, 2, list, 2, &timeout);
    REQUIRE(n == 2);
    CHECK(list[0].filter == EVFILT_WRITE);
    CHECK(list[1].filter == EVFILT_WRITE);
    CHECK(list[0].ident != list[1].ident);
}

TEST_CASE("kevent: EV_RECEIPT answers every change at once, with its errno") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    reactor::test::write_all(b.get(), "x");  // ready, yet not reported by this call
    struct kevent changes[2] = {change(a.get(), EVFILT_READ, EV_ADD | EV_RECEIPT),
                                change(a.get(), EVFILT_WRITE, EV_DELETE | EV_RECEIPT)};
    struct kevent out[4];
    const struct timespec timeout {5, 0};
    const auto start = std::chrono::steady_clock::now();
    const int n = ::kevent(kq.get(), changes, 2, out, 4, &timeout);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));  // did not wait
    REQUIRE(n == 2);
    // FreeBSD answers with flags = EV_ERROR; macOS adds EV_ERROR to the
    // change's own flags.
    INFO("macOS: " << macos());
    CHECK(out[0].flags == (macos() ? EV_ADD | EV_RECEIPT | EV_ERROR : EV_ERROR));
    CHECK(out[0].filter == EVFILT_READ);
    CHECK(out[0].data == 0);
    CHECK(out[1].flags == (macos() ? EV_DELETE | EV_RECEIPT | EV_ERROR : EV_ERROR));
    CHECK(out[1].filter == EVFILT_WRITE);
    CHECK(out[1].data == ENOENT);
    // The successful change took effect.
    struct kevent k {};
    CHECK(find_event(kq.get(), a.get(), EVFILT_READ, k));
}

TEST_CASE("kevent: a failing change is an EV_ERROR entry if there is room, else the call fails") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    SUBCASE("no room: the call fails with the change's errno") {
        const struct kevent del = change(a.get(), EVFILT_READ, EV_DELETE);
        errno = 0;
        CHECK(::kevent(kq.get(), &del, 1, nullptr, 0, nullptr) == -1);
        CHECK(errno == ENOENT);
        const struct kevent bad = change(-1, EVFILT_READ, EV_ADD);
        errno = 0;
        CHECK(::kevent(kq.get(), &bad, 1, nullptr, 0, nullptr) == -1);
        CHECK(errno == EBADF);
    }
    SUBCASE("room: reported in the list, and the other changes still apply") {
        struct kevent changes[2] = {change(a.get(), EVFILT_READ, EV_DELETE),
                                    change(a.get(), EVFILT_WRITE, EV_ADD)};
        struct kevent out[4];
        const struct timespec timeout {5, 0};
        const int n = ::kevent(kq.get(), changes, 2, out, 4, &timeout);
        REQUIRE(n == 1);
        CHECK((out[0].flags & EV_ERROR) != 0);
        CHECK(out[0].filter == EVFILT_READ);
        CHECK(out[0].data == ENOENT);
        struct kevent k {};
        CHECK(find_event(kq.get(), a.get(), EVFILT_WRITE, k));
    }
}

TEST_CASE("kevent: unknown filters fail with ENOENT, bad fds with EBADF") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    CHECK(apply(kq.get(), change(a.get(), EVFILT_READ, EV_DELETE)) == ENOENT);
    CHECK(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ENABLE)) == ENOENT);
    CHECK(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DISABLE)) == ENOENT);
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD)) == 0);
    // The read filter exists, the write filter still does not.
    CHECK(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DELETE)) == ENOENT);
    CHECK(apply(kq.get(), change(a.get(), EVFILT_READ, EV_DELETE)) == 0);
    CHECK(apply(kq.get(), change(a.get(), EVFILT_READ, EV_DELETE)) == ENOENT);
    CHECK(apply(kq.get(), change(-1, EVFILT_READ, EV_ADD)) == EBADF);
}

TEST_CASE("kevent: EV_DISABLE silences a filter, EV_ENABLE reports its level again") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_ADD)) == 0);
    struct kevent k {};
    REQUIRE(find_event(kq.get(), a.get(), EVFILT_WRITE, k));
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DISABLE)) == 0);
    CHECK(wait_events(kq.get(), 20).empty());
    // Re-adding updates the filter but leaves it disabled.
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_ADD)) == 0);
    CHECK(wait_events(kq.get(), 20).empty());
    // Enabling reports the still-writable socket although nothing changed.
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_ENABLE)) == 0);
    CHECK(find_event(kq.get(), a.get(), EVFILT_WRITE, k));
    // A disabled filter still exists: deleting it succeeds.
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DISABLE)) == 0);
    CHECK(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DELETE)) == 0);
}

TEST_CASE("kevent: EV_CLEAR reports changes, not levels") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD | EV_CLEAR)) == 0);
    reactor::test::write_all(b.get(), "x");
    struct kevent k {};
    REQUIRE(find_event(kq.get(), a.get(), EVFILT_READ, k));
    CHECK((k.flags & EV_CLEAR) != 0);
    CHECK(wait_events(kq.get(), 20).empty());  // still unread, but not new
    reactor::test::write_all(b.get(), "y");
    REQUIRE(find_event(kq.get(), a.get(), EVFILT_READ, k));
    CHECK(k.data == 2);
}

TEST_CASE("kevent: a full event list loses nothing; the rest comes next time") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    reactor::test::write_all(b.get(), "x");
    for (unsigned short clear : {0, EV_CLEAR}) {
        INFO("EV_CLEAR: " << (clear != 0));
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD | clear)) == 0);
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_ADD | clear)) == 0);
        const struct timespec timeout {5, 0};
        struct kevent first {};
        struct kevent second {};
        REQUIRE(::kevent(kq.get(), nullptr, 0, &first, 1, &timeout) == 1);
        REQUIRE(::kevent(kq.get(), nullptr, 0, &second, 1, &timeout) == 1);
        CHECK(first.ident == static_cast<uintptr_t>(a.get()));
        CHECK(second.ident == static_cast<uintptr_t>(a.get()));
        if (clear != 0) {
            CHECK(first.filter != second.filter);  // each edge once
            CHECK(wait_events(kq.get(), 20).empty());
        }
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_DELETE)) == 0);
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DELETE)) == 0);
    }
}

TEST_CASE("kevent: EV_EOF per direction, with the pending error in fflags") {
    Fd kq = make_kqueue();
    struct kevent k {};
    SUBCASE("the peer shuts down writing: EOF on the read filter, data still counted") {
        auto [a, b] = reactor::test::make_tcp_pair();
        reactor::test::write_all(b.get(), "abc");
        REQUIRE(::shutdown(b.get(), SHUT_WR) == 0);
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD)) == 0);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        do {
            REQUIRE(find_event(kq.get(), a.get(), EVFILT_READ, k));
        } while ((k.flags & EV_EOF) == 0 && std::chrono::steady_clock::now() < deadline);
        CHECK((k.flags & EV_EOF) != 0);
        CHECK(k.fflags == 0);
        CHECK(k.data == 3);
    }
    SUBCASE("we shut down writing: EOF on the write filter") {
        for (bool tcp : {false, true}) {
            auto [a, b] = tcp ? reactor::test::make_tcp_pair() : reactor::test::make_socketpair();
            REQUIRE(::shutdown(a.get(), SHUT_WR) == 0);
            REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_ADD)) == 0);
            REQUIRE(find_event(kq.get(), a.get(), EVFILT_WRITE, k));
            CHECK((k.flags & EV_EOF) != 0);
            CHECK(k.fflags == 0);
            REQUIRE(apply(kq.get(), change(a.get(), EVFILT_WRITE, EV_DELETE)) == 0);
        }
    }
    SUBCASE("the peer resets: EOF with the error, which the program can still read") {
        auto [a, b] = reactor::test::make_tcp_pair();
        linger lg{};
        lg.l_onoff = 1;
        lg.l_linger = 0;
        REQUIRE(::setsockopt(b.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
        b.reset();
        REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD)) == 0);
        REQUIRE(find_event(kq.get(), a.get(), EVFILT_READ, k));
        CHECK((k.flags & EV_EOF) != 0);
#ifdef REACTOR_KQUEUE_EMU
        CHECK(k.fflags == KQUEUE_EMU_PENDING_ERROR);
#else
        CHECK(k.fflags == ECONNRESET);
#endif
        int err = 0;
        socklen_t len = sizeof err;
        REQUIRE(::getsockopt(a.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0);
        CHECK(err == ECONNRESET);
    }
    SUBCASE("pipes: EOF on the read end when the writer goes, on the write end when the reader does") {
        auto [r1, w1] = reactor::test::make_pipe();
        w1.reset();
        REQUIRE(apply(kq.get(), change(r1.get(), EVFILT_READ, EV_ADD)) == 0);
        REQUIRE(find_event(kq.get(), r1.get(), EVFILT_READ, k));
        CHECK((k.flags & EV_EOF) != 0);
        CHECK(k.data == 0);
        auto [r2, w2] = reactor::test::make_pipe();
        REQUIRE(apply(kq.get(), change(w2.get(), EVFILT_WRITE, EV_ADD)) == 0);
        r2.reset();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        do {
            REQUIRE(find_event(kq.get(), w2.get(), EVFILT_WRITE, k));
        } while ((k.flags & EV_EOF) == 0 && std::chrono::steady_clock::now() < deadline);
        CHECK((k.flags & EV_EOF) != 0);
        CHECK(k.fflags == 0);
    }
}

TEST_CASE("kevent: EVFILT_WRITE added to a pipe whose reader is gone") {
    Fd kq = make_kqueue();
    auto [r, w] = reactor::test::make_pipe();
    r.reset();
    const int err = apply(kq.get(), change(w.get(), EVFILT_WRITE, EV_ADD));
    struct kevent k {};
    INFO("macOS: " << macos());
    if (macos()) {
        // xnu pipe_kqfilter attaches it; it fires at once with EV_EOF.
        REQUIRE(err == 0);
        REQUIRE(find_event(kq.get(), w.get(), EVFILT_WRITE, k));
        CHECK((k.flags & EV_EOF) != 0);
        CHECK(apply(kq.get(), change(w.get(), EVFILT_WRITE, EV_DELETE)) == 0);
    } else {
        // FreeBSD pipe_kqfilter: EPIPE, and nothing is registered.
        CHECK(err == EPIPE);
        CHECK(wait_events(kq.get(), 20).empty());
        CHECK(apply(kq.get(), change(w.get(), EVFILT_WRITE, EV_DELETE)) == ENOENT);
    }
}

TEST_CASE("kevent: a regular file is readable only while unread bytes remain") {
    Fd kq = make_kqueue();
    char path[] = "/tmp/reactor-kqueue-emu-XXXXXX";
    Fd file(::mkstemp(path));
    REQUIRE(file.get() >= 0);
    Fd appender(::open(path, O_WRONLY | O_APPEND));
    REQUIRE(appender.get() >= 0);
    ::unlink(path);
    reactor::test::write_all(file.get(), "abc");
    REQUIRE(::lseek(file.get(), 0, SEEK_SET) == 0);
    REQUIRE(apply(kq.get(), change(file.get(), EVFILT_READ, EV_ADD)) == 0);
    struct kevent k {};
    REQUIRE(find_event(kq.get(), file.get(), EVFILT_READ, k));
    CHECK(k.data == 3);  // FreeBSD filt_vfsread, xnu filt_vnode_common: size - offset
    CHECK((k.flags & EV_EOF) == 0);
    char buf[8];
    REQUIRE(::read(file.get(), buf, sizeof buf) == 3);
    // At the end: not ready, and no EOF is ever reported.
    CHECK(wait_events(kq.get(), 30).empty());
    // Someone appends: ready again.
    reactor::test::write_all(appender.get(), "de");
    REQUIRE(find_event(kq.get(), file.get(), EVFILT_READ, k));
    CHECK(k.data == 2);
    REQUIRE(apply(kq.get(), change(file.get(), EVFILT_READ, EV_DELETE)) == 0);
    // Writing is always ready.
    REQUIRE(apply(kq.get(), change(file.get(), EVFILT_WRITE, EV_ADD)) == 0);
    CHECK(find_event(kq.get(), file.get(), EVFILT_WRITE, k));
}

TEST_CASE("kevent: a kqueue is not inherited by a child of fork()") {
    Fd kq = make_kqueue();
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // kqueue(2): "The queue is not inherited by a child created with fork(2)".
        ::_exit(::fcntl(kq.get(), F_GETFD) < 0 && errno == EBADF ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(::fcntl(kq.get(), F_GETFD) >= 0);  // the parent's is untouched
}

TEST_CASE("kevent: closing an fd drops its filters") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    const int fd = a.get();
    REQUIRE(apply(kq.get(), change(fd, EVFILT_WRITE, EV_ADD)) == 0);
    a.reset();
    CHECK(wait_events(kq.get(), 20).empty());
    // FreeBSD looks the fd up first (EBADF); macOS looks for the knote
    // first, which the close dropped (ENOENT). Adding needs the fd: EBADF.
    CHECK(apply(kq.get(), change(fd, EVFILT_WRITE, EV_DELETE)) == (macos() ? ENOENT : EBADF));
    CHECK(apply(kq.get(), change(fd, EVFILT_WRITE, EV_ADD)) == EBADF);
    // The number reused by another file: its filters are not the old ones.
    REQUIRE(apply(kq.get(), change(b.get(), EVFILT_WRITE, EV_ADD)) == 0);
    REQUIRE(::dup2(b.get(), fd) == fd);
    Fd reused(fd);
    CHECK(apply(kq.get(), change(fd, EVFILT_WRITE, EV_DELETE)) == ENOENT);
    CHECK(apply(kq.get(), change(fd, EVFILT_WRITE, EV_ADD)) == 0);
    CHECK(apply(kq.get(), change(fd, EVFILT_WRITE, EV_DELETE)) == 0);
}

TEST_CASE("kevent: a zero timeout returns at once, a timeout is not cut short") {
    Fd kq = make_kqueue();
    auto [a, b] = reactor::test::make_socketpair();
    REQUIRE(apply(kq.get(), change(a.get(), EVFILT_READ, EV_ADD)) == 0);
    CHECK(wait_events(kq.get(), 0).empty());
    const auto start = std::chrono::steady_clock::now();
    CHECK(wait_events(kq.get(), 30).empty());
    CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(25));
}

#endif  // __has_include(<sys/event.h>)
