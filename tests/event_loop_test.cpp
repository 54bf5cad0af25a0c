// runs-on: every backend
// tests/event_loop_test.cpp -- the fd-watcher half of EventLoop, as a
// specification: readiness, end of stream, interest changes inside
// callbacks, removal during a dispatch batch, errors, backend choice, now().
//
// Every test bounds its waits (run_until / run_for) and ends with no live
// watcher (watcher_count() == 0) and every fd closed (Fd closes itself).
#include "test_util.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>

using namespace reactor;
using namespace reactor::test;

namespace {

// A short span in which an idle fd must report nothing. Long enough for
// several iterations, short enough to keep the suite quick.
constexpr auto kQuiet = std::chrono::milliseconds(30);

/// Writes into a non-blocking fd until the kernel refuses (EAGAIN): the
/// output is "full". Returns the bytes written.
std::size_t fill(int fd) {
    const std::string chunk(65536, 'f');
    std::size_t total = 0;
    for (;;) {
        const ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n > 0) {
            total += static_cast<std::size_t>(n);
            continue;
        }
        REQUIRE(n < 0);
        REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
        if (errno != EINTR) return total;
    }
}

/// Reads everything available now; returns the byte count (0 at EAGAIN/EOF).
std::size_t drain(int fd) { return read_some(fd).size(); }

/// Sets (or unsets) an environment variable for one scope.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

}  // namespace

// ---- readiness ----------------------------------------------------------------

TEST_CASE("readiness: a read end is Readable after a write; a write end is Writable") {
    EventLoop loop;
    std::pair<Fd, Fd> ends;
    SUBCASE("pipe") { ends = make_pipe(); }
    SUBCASE("socketpair") { ends = make_socketpair(); }
    const int reader = ends.first.get();
    const int writer = ends.second.get();

    int read_calls = 0;
    Events read_seen = NoEvents;
    const WatcherId rid = loop.watch(reader, Readable, [&](Events ev) {
        ++read_calls;
        read_seen |= ev;
    });

    // Nothing has been written: the read end stays quiet.
    run_for(loop, kQuiet);
    CHECK(read_calls == 0);

    write_all(writer, "ping");
    REQUIRE(run_until(loop, [&] { return read_calls > 0; }));
    CHECK((read_seen & Readable) != 0);
    CHECK(read_some(reader) == "ping");

    // Drained: quiet again.
    read_calls = 0;
    run_for(loop, kQuiet);
    CHECK(read_calls == 0);

    // An empty pipe or socket has room: the write end is Writable at once.
    int write_calls = 0;
    Events write_seen = NoEvents;
    const WatcherId wid = loop.watch(writer, Writable, [&](Events ev) {
        ++write_calls;
        write_seen |= ev;
    });
    REQUIRE(run_until(loop, [&] { return write_calls > 0; }));
    CHECK(write_seen == Writable);

    CHECK(loop.unwatch(rid));
    CHECK(loop.unwatch(wid));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("readiness is level-triggered: reported on every iteration until drained") {
    EventLoop loop;
    auto [r, w] = make_pipe();
    write_all(w.get(), "x");
    int calls = 0;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) { ++calls; });
    for (int i = 0; i < 5; ++i) loop.run_once(kDeadline);
    // The byte was never read, so each of the five iterations reported it.
    CHECK(calls == 5);
    CHECK(drain(r.get()) == 1);
    calls = 0;
    run_for(loop, kQuiet);
    CHECK(calls == 0);
    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("readiness: a full write end is not Writable until the reader drains it") {
    EventLoop loop;
    std::pair<Fd, Fd> ends;
    SUBCASE("pipe") { ends = make_pipe(); }
    SUBCASE("socketpair") { ends = make_socketpair(); }
    const int reader = ends.first.get();
    const int writer = ends.second.get();

    const std::size_t written = fill(writer);
    REQUIRE(written > 0);
    int calls = 0;
    const WatcherId id = loop.watch(writer, Writable, [&](Events) { ++calls; });
    run_for(loop, kQuiet);
    CHECK(calls == 0);

    std::size_t read = 0;
    while (read < written) {
        const std::size_t n = drain(reader);
        REQUIRE(n > 0);
        read += n;
    }
    REQUIRE(run_until(loop, [&] { return calls > 0; }));
    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

// ---- end of stream and hang-up ------------------------------------------------

TEST_CASE("EOF: closing the writer makes the reader Readable, and read() returns 0") {
    EventLoop loop;
    std::pair<Fd, Fd> ends;
    SUBCASE("pipe") { ends = make_pipe(); }
    SUBCASE("socketpair") { ends = make_socketpair(); }
    auto& [reader, writer] = ends;

    Events seen = NoEvents;
    const WatcherId id = loop.watch(reader.get(), Readable, [&](Events ev) { seen |= ev; });
    run_for(loop, kQuiet);
    CHECK(seen == NoEvents);

    writer.reset();
    REQUIRE(run_until(loop, [&] { return seen != NoEvents; }));
    // Backends differ in whether Hangup comes too (epoll and poll report it
    // for a pipe and a socketpair; kqueue reports EV_EOF on the read
    // filter), but every one says Readable, and reading then sees EOF.
    INFO("events: " << to_string_events(seen));
    CHECK((seen & Readable) != 0);
    CHECK((seen & Error) == 0);
    char byte;
    CHECK(::read(reader.get(), &byte, 1) == 0);

    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("EOF: data written before the close is still read before the EOF") {
    EventLoop loop;
    auto reader_writer = make_socketpair();  // not a structured binding: lambdas capture these (clang 14)
    auto& reader = reader_writer.first;
    auto& writer = reader_writer.second;
    write_all(writer.get(), "last words");
    writer.reset();

    std::string received;
    bool eof = false;
    WatcherId id;
    id = loop.watch(reader.get(), Readable, [&](Events) {
        char buf[4];  // small on purpose: several wake-ups before the EOF
        const ssize_t n = ::read(reader.get(), buf, sizeof buf);
        if (n > 0) {
            received.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0) {
            eof = true;
            loop.unwatch(id);
        }
    });
    REQUIRE(run_until(loop, [&] { return eof; }));
    CHECK(received == "last words");
    CHECK(loop.watcher_count() == 0);
}

// ---- interest changes -----------------------------------------------------------

TEST_CASE("a watcher registered with NoEvents is quiet until enabled") {
    EventLoop loop;
    auto [r, w] = make_pipe();
    write_all(w.get(), "waiting");

    int calls = 0;
    Events seen = NoEvents;
    const WatcherId id = loop.watch(r.get(), NoEvents, [&](Events ev) {
        ++calls;
        seen |= ev;
    });
    REQUIRE(id);
    CHECK(loop.interest(id) == NoEvents);
    CHECK(loop.watcher_count() == 1);
    run_for(loop, kQuiet);
    CHECK(calls == 0);

    CHECK_FALSE(loop.enable(id, Readable));
    CHECK(loop.interest(id) == Readable);
    REQUIRE(run_until(loop, [&] { return calls > 0; }));
    CHECK(seen == Readable);

    // Back to NoEvents: quiet again although the data is still unread.
    CHECK_FALSE(loop.set_interest(id, NoEvents));
    calls = 0;
    run_for(loop, kQuiet);
    CHECK(calls == 0);

    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a watcher whose interest is NoEvents is never called, even on peer hang-up") {
    EventLoop loop;
    auto [a, b] = make_socketpair();
    int calls = 0;
    WatcherId id;
    SUBCASE("registered with NoEvents") {
        id = loop.watch(a.get(), NoEvents, [&](Events) { ++calls; });
    }
    SUBCASE("interest narrowed to NoEvents later") {
        id = loop.watch(a.get(), Readable | Writable, [&](Events) { ++calls; });
        REQUIRE(run_until(loop, [&] { return calls > 0; }));  // Writable at once
        CHECK_FALSE(loop.set_interest(id, NoEvents));
        calls = 0;
    }
    // epoll reports EPOLLHUP for any registered fd whatever its interest;
    // the loop therefore unregisters a NoEvents watcher from the poller.
    b.reset();
    run_for(loop, kQuiet);
    CHECK(calls == 0);
    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("Writable is turned on when output fills and off when it drains, inside callbacks") {
    // A miniature server: on a request it writes a large reply; what the
    // socket does not take at once waits in `output`, with Writable on
    // until it has all gone out. The client end reads on the same loop.
    EventLoop loop;
    auto server_client = make_socketpair();  // not a structured binding: lambdas capture these (clang 14)
    auto& server = server_client.first;
    auto& client = server_client.second;
    const std::string reply(4 * 1024 * 1024, 'r');
    std::size_t sent = 0;
    std::size_t received = 0;
    int writable_calls = 0;
    int writable_calls_after_off = 0;
    bool writable_on = false;
    WatcherId sid;

    auto send_some = [&] {
        while (sent < reply.size()) {
            const ssize_t n = ::write(server.get(), reply.data() + sent, reply.size() - sent);
            if (n <= 0) break;  // EAGAIN: the socket buffer is full
            sent += static_cast<std::size_t>(n);
        }
        const bool want = sent < reply.size();
        if (want != writable_on) {
            const std::error_code ec =
                want ? loop.enable(sid, Writable) : loop.disable(sid, Writable);
            CHECK_FALSE(ec);
            writable_on = want;
        }
    };
    sid = loop.watch(server.get(), Readable, [&](Events ev) {
        if ((ev & Writable) != 0) {
            ++writable_calls;
            if (!writable_on) ++writable_calls_after_off;
            send_some();
        }
        if ((ev & Readable) != 0 && drain(server.get()) > 0) send_some();
    });
    const WatcherId cid = loop.watch(client.get(), Readable, [&](Events) {
        received += drain(client.get());
    });

    write_all(client.get(), "GET");
    REQUIRE(run_until(loop, [&] { return received == reply.size(); }));
    // The reply is far larger than a socket buffer, so output filled (Writable
    // went on), then drained (Writable went off).
    CHECK(writable_calls > 0);
    CHECK_FALSE(writable_on);
    CHECK(loop.interest(sid) == Readable);

    // Off means off: the socket is writable, but no call says so.
    const int calls_when_off = writable_calls;
    run_for(loop, kQuiet);
    CHECK(writable_calls == calls_when_off);
    CHECK(writable_calls_after_off == 0);

    // On again: called at once, since the socket has room.
    CHECK_FALSE(loop.enable(sid, Writable));
    writable_on = true;
    REQUIRE(run_until(loop, [&] { return writable_calls > calls_when_off; }));
    CHECK_FALSE(writable_on);  // send_some() had nothing left and turned it off

    CHECK(loop.unwatch(sid));
    CHECK(loop.unwatch(cid));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a callback that disables Writable is not called again for Writable") {
    EventLoop loop;
    auto a_b = make_socketpair();  // not a structured binding: lambdas capture these (clang 14)
    auto& a = a_b.first;
    auto& b = a_b.second;
    int writable_calls = 0;
    int readable_calls = 0;
    WatcherId id;
    id = loop.watch(a.get(), Readable | Writable, [&](Events ev) {
        if ((ev & Writable) != 0) {
            ++writable_calls;
            CHECK_FALSE(loop.disable(id, Writable));
        }
        if ((ev & Readable) != 0) {
            ++readable_calls;
            drain(a.get());
        }
    });
    REQUIRE(run_until(loop, [&] { return writable_calls > 0; }));
    run_for(loop, kQuiet);
    CHECK(writable_calls == 1);
    CHECK(loop.interest(id) == Readable);

    // Readable still works.
    write_all(b.get(), "r");
    REQUIRE(run_until(loop, [&] { return readable_calls > 0; }));
    CHECK(writable_calls == 1);

    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("set_interest to the current interest is a no-op that succeeds") {
    EventLoop loop;
    auto [r, w] = make_pipe();
    const WatcherId id = loop.watch(r.get(), Readable, [](Events) {});
    CHECK_FALSE(loop.set_interest(id, Readable));
    CHECK_FALSE(loop.enable(id, Readable));
    CHECK_FALSE(loop.disable(id, Writable));
    CHECK(loop.interest(id) == Readable);
    CHECK(loop.unwatch(id));
    CHECK(loop.watcher_count() == 0);
}

// ---- removal during a dispatch batch -------------------------------------------

TEST_CASE("a callback removing another watcher whose event is in the same batch") {
    EventLoop loop;
    auto p0 = make_pipe();
    auto p1 = make_pipe();
    Fd* readers[2] = {&p0.first, &p1.first};
    write_all(p0.second.get(), "0");
    write_all(p1.second.get(), "1");
    // Both fds are readable before the iteration starts, so one wait
    // returns both events: whichever callback runs first removes the other.
    int calls[2] = {0, 0};
    WatcherId ids[2];
    int first = -1;

    SUBCASE("unwatch only") {
        for (int i = 0; i < 2; ++i) {
            ids[i] = loop.watch(readers[i]->get(), Readable, [&, i](Events) {
                ++calls[i];
                if (first < 0) {
                    first = i;
                    CHECK(loop.unwatch(ids[1 - i]));
                }
            });
        }
        loop.run_once(kDeadline);
        REQUIRE(first >= 0);
        CHECK(calls[first] == 1);
        CHECK(calls[1 - first] == 0);
        // Later iterations: the survivor, never drained, is called again;
        // the removed watcher never.
        run_for(loop, kQuiet);
        CHECK(calls[first] > 1);
        CHECK(calls[1 - first] == 0);
        CHECK(loop.unwatch(ids[first]));
    }

    SUBCASE("unwatch, close, and watch a new fd with the same number") {
        int fresh_calls = 0;
        Events fresh_seen = NoEvents;
        Fd fresh_r, fresh_w;
        WatcherId fresh_id;
        for (int i = 0; i < 2; ++i) {
            ids[i] = loop.watch(readers[i]->get(), Readable, [&, i](Events) {
                ++calls[i];
                if (first >= 0) return;
                first = i;
                Fd& victim = *readers[1 - i];
                const int old_number = victim.get();
                CHECK(loop.unwatch(ids[1 - i]));
                victim.reset();
                auto [nr, nw] = make_pipe();
                // POSIX hands out the lowest free number: the new, empty
                // pipe's read end has the number the removed watcher had.
                CHECK(nr.get() == old_number);
                fresh_r = std::move(nr);
                fresh_w = std::move(nw);
                fresh_id = loop.watch(fresh_r.get(), Readable, [&](Events ev) {
                    ++fresh_calls;
                    fresh_seen |= ev;
                });
            });
        }
        loop.run_once(kDeadline);
        REQUIRE(first >= 0);
        CHECK(calls[1 - first] == 0);
        // The event fetched for the old fd was not handed to the new watcher
        // (its pipe is empty: any call would be a stale event).
        CHECK(fresh_calls == 0);
        run_for(loop, kQuiet);
        CHECK(fresh_calls == 0);
        CHECK(calls[1 - first] == 0);

        // The new watcher works.
        write_all(fresh_w.get(), "new");
        REQUIRE(run_until(loop, [&] { return fresh_calls > 0; }));
        CHECK(fresh_seen == Readable);
        CHECK(loop.unwatch(fresh_id));
        CHECK(loop.unwatch(ids[first]));
    }
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a callback may unwatch itself, then close its fd") {
    EventLoop loop;
    auto r_w = make_pipe();  // not a structured binding: lambdas capture these (clang 14)
    auto& r = r_w.first;
    auto& w = r_w.second;
    write_all(w.get(), "once");
    int calls = 0;
    WatcherId id;
    id = loop.watch(r.get(), Readable, [&](Events) {
        ++calls;
        CHECK(loop.unwatch(id));
        CHECK_FALSE(loop.unwatch(id));  // already gone
        r.reset();
    });
    REQUIRE(run_until(loop, [&] { return calls > 0; }));
    run_for(loop, kQuiet);
    CHECK(calls == 1);
    CHECK(r.get() == -1);
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a callback's captured state lives until its call returns, then is destroyed") {
    EventLoop loop;
    auto [r, w] = make_pipe();
    write_all(w.get(), "x");
    auto state = std::make_shared<std::string>("alive");
    const std::weak_ptr<std::string> watch_state = state;
    std::string seen_after_unwatch;
    WatcherId id;

    SUBCASE("state used after unwatch") {
        id = loop.watch(r.get(), Readable, [&, state](Events) {
            loop.unwatch(id);
            // The callback (and so `state`) must still exist here; freeing
            // it inside unwatch() would make this a use after free (ASan).
            seen_after_unwatch = *state;
        });
    }
    SUBCASE("state released by the callback itself after unwatch") {
        id = loop.watch(r.get(), Readable, [&, state](Events) mutable {
            loop.unwatch(id);
            seen_after_unwatch = *state;
            state.reset();  // the last owner: the string is freed here
        });
    }
    state.reset();  // the callback holds the only reference now
    REQUIRE_FALSE(watch_state.expired());

    loop.run_once(kDeadline);
    CHECK(seen_after_unwatch == "alive");
    // Destroyed once the dispatch step is over, not leaked until the loop dies.
    CHECK(watch_state.expired());
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("destroying the loop destroys the callbacks it still holds, without calling them") {
    auto state = std::make_shared<int>(0);
    const std::weak_ptr<int> watch_state = state;
    auto [r, w] = make_pipe();
    write_all(w.get(), "x");
    {
        EventLoop loop;
        loop.watch(r.get(), Readable, [state](Events) { ++*state; });
        state.reset();
    }
    CHECK(watch_state.expired());
}

// ---- errors -----------------------------------------------------------------------

TEST_CASE("watch() of a regular file is refused with EPERM on every backend") {
    // epoll refuses regular files; poll would call them always ready and
    // kqueue ready only while unread bytes remain (never EOF), so every
    // backend refuses them alike (docs/backends.md): read such an fd directly.
    EventLoop loop;
    char path[] = "/tmp/reactor-event-loop-test-XXXXXX";
    Fd file(::mkstemp(path));
    REQUIRE(file.get() >= 0);
    ::unlink(path);
    write_all(file.get(), "contents");

    std::error_code ec;
    const WatcherId id = loop.watch(file.get(), Readable, [](Events) {}, ec);
    CHECK(ec == std::errc::operation_not_permitted);
    CHECK_FALSE(id);
    CHECK(loop.watcher_count() == 0);
    CHECK_THROWS_AS(loop.watch(file.get(), Readable, [](Events) {}), std::system_error);
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("watch() of a bad fd is an error, never a live watcher") {
    EventLoop loop;
    std::error_code ec;
    SUBCASE("negative fd, with interest") {
        CHECK_FALSE(loop.watch(-1, Readable, [](Events) {}, ec));
        CHECK(ec == std::errc::bad_file_descriptor);
    }
    SUBCASE("negative fd, NoEvents (nothing reaches the poller yet)") {
        CHECK_FALSE(loop.watch(-1, NoEvents, [](Events) {}, ec));
        CHECK(ec == std::errc::bad_file_descriptor);
    }
    SUBCASE("throwing overload") {
        try {
            loop.watch(-1, Readable, [](Events) {});
            FAIL("watch(-1) did not throw");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::bad_file_descriptor);
        }
    }
    SUBCASE("a closed fd") {
        int number;
        {
            auto [r, w] = make_pipe();
            number = r.get();
        }
        int calls = 0;
        Events seen = NoEvents;
        const WatcherId id = loop.watch(number, Readable, [&](Events ev) {
            ++calls;
            seen |= ev;
        }, ec);
        if (loop.backend() == "poll") {
            // poll(2) takes any number; the kernel then flags a closed fd
            // with POLLNVAL, which the backend reports as Error. Either
            // outcome tells the caller; silence would not.
            if (id) {
                REQUIRE(run_until(loop, [&] { return calls > 0; }));
                CHECK((seen & Error) != 0);
                CHECK(loop.unwatch(id));
            } else {
                CHECK(ec == std::errc::bad_file_descriptor);
            }
        } else {
            CHECK_FALSE(id);
            CHECK(ec == std::errc::bad_file_descriptor);
        }
    }
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("a stale or null WatcherId is rejected and matches no later watcher") {
    EventLoop loop;
    auto [r, w] = make_pipe();
    const WatcherId old_id = loop.watch(r.get(), Readable, [](Events) {});
    REQUIRE(loop.unwatch(old_id));
    loop.run_once(std::chrono::milliseconds(0));  // the slot is reclaimed after the step

    int calls = 0;
    const WatcherId new_id = loop.watch(r.get(), Readable, [&](Events) { ++calls; });
    // The slot (low 32 bits) was reused; the generation (high bits) differs.
    CHECK((new_id.value & 0xffffffffu) == (old_id.value & 0xffffffffu));
    CHECK(new_id != old_id);

    for (const WatcherId id : {old_id, WatcherId{}}) {
        CHECK(loop.set_interest(id, Readable | Writable) == std::errc::invalid_argument);
        CHECK(loop.enable(id, Writable) == std::errc::invalid_argument);
        CHECK(loop.disable(id, Readable) == std::errc::invalid_argument);
        CHECK(loop.interest(id) == NoEvents);
        CHECK_FALSE(loop.unwatch(id));
    }
    // The new watcher was untouched by any of that.
    CHECK(loop.interest(new_id) == Readable);
    write_all(w.get(), "x");
    REQUIRE(run_until(loop, [&] { return calls > 0; }));
    CHECK(loop.unwatch(new_id));
    CHECK(loop.watcher_count() == 0);
}

// ---- backend choice -------------------------------------------------------------

TEST_CASE("the backend is REACTOR_BACKEND when set, else the best available") {
    EventLoop loop;
    const char* env = std::getenv("REACTOR_BACKEND");
    if (env != nullptr && *env != '\0') {
        CHECK(loop.backend() == env);
    } else {
        CHECK(loop.backend() == Poller::available().front());
    }
    CHECK(loop.backend() == backend_name());

    // An explicit name wins over the environment.
    EventLoop poll_loop("poll");
    CHECK(poll_loop.backend() == "poll");
}

TEST_CASE("an unknown backend name throws std::system_error naming the choices") {
    SUBCASE("passed to the constructor") {
        try {
            EventLoop loop("nonesuch");
            FAIL("EventLoop(\"nonesuch\") did not throw");
        } catch (const std::system_error& e) {
            CHECK(e.code() == std::errc::invalid_argument);
            const std::string what = e.what();
            CHECK(what.find("nonesuch") != std::string::npos);
            for (std::string_view name : Poller::available()) {
                CHECK(what.find(std::string(name)) != std::string::npos);
            }
        }
    }
    SUBCASE("given in REACTOR_BACKEND") {
        ScopedEnv env("REACTOR_BACKEND", "nonesuch");
        CHECK_THROWS_AS(EventLoop(), std::system_error);
    }
}

// ---- the cached clock -----------------------------------------------------------

TEST_CASE("now() is cached for the whole iteration and never goes back") {
    EventLoop loop;
    EventLoop::TimePoint inside_before{};
    EventLoop::TimePoint inside_after{};
    EventLoop::TimePoint real_after{};
    loop.post([&] {
        inside_before = loop.now();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        inside_after = loop.now();
        real_after = EventLoop::Clock::now();
    });
    REQUIRE(run_until(loop, [&] { return real_after != EventLoop::TimePoint{}; }));
    CHECK(inside_after == inside_before);  // cached: the sleep did not move it
    CHECK(real_after > inside_after);

    // Across iterations it only moves forward, and a wait moves it by at
    // least the time waited.
    EventLoop::TimePoint previous = loop.now();
    for (int i = 0; i < 100; ++i) {
        loop.run_once(std::chrono::milliseconds(0));
        CHECK(loop.now() >= previous);
        previous = loop.now();
    }
    const auto before_wait = loop.now();
    loop.run_once(std::chrono::milliseconds(5));
    CHECK(loop.now() - before_wait >= std::chrono::milliseconds(5));

    // update_now() reads the clock afresh.
    const auto refreshed = loop.update_now();
    CHECK(refreshed == loop.now());
    CHECK(refreshed >= previous);
    CHECK(loop.watcher_count() == 0);
}

TEST_CASE("in_loop_thread() is true on the loop's thread only") {
    EventLoop loop;
    CHECK(loop.in_loop_thread());
    bool elsewhere = true;
    std::thread other([&] { elsewhere = loop.in_loop_thread(); });
    other.join();
    CHECK_FALSE(elsewhere);
}

TEST_CASE("state captured by a callback may call into the loop while the loop destroys it") {
    // A connection's destructor typically cancels its idle timer and
    // unwatches its fd; when the loop dies with the connection still held
    // by a callback, that destructor runs inside ~EventLoop.
    struct Closer {
        EventLoop* loop;
        TimerId timer;
        WatcherId watcher;
        bool* cancelled;
        ~Closer() {
            *cancelled = loop->cancel(timer);
            loop->unwatch(watcher);
        }
    };
    auto [r, w] = make_pipe();
    bool cancelled = false;
    bool timer_ran = false;
    {
        EventLoop loop;
        const TimerId timer = loop.run_after(std::chrono::hours(1), [&] { timer_ran = true; });
        const WatcherId other = loop.watch(w.get(), NoEvents, [](Events) {});
        auto closer = std::shared_ptr<Closer>(new Closer{&loop, timer, other, &cancelled});
        loop.watch(r.get(), Readable, [closer](Events) {});
    }
    CHECK_FALSE(timer_ran);
    // Watchers' callbacks die before timers', so the timer was still pending.
    CHECK(cancelled);
}
