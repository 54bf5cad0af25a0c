// tests/http_response_queue_test.cpp -- the ResponseQueue without a socket
// or a loop: pipelined order, sized and chunked streams, drain callbacks,
// abandonment, and every order in which a response, its drain callback and
// the connection can die. Pure: runs once.
//
// The owner here plays the Session: on every change it takes the queue's
// output onto `wire`, and it says when its output has "left" by calling
// output_drained() itself. No Date header (no DateCache), so the bytes are
// exact.
#include "http/response_queue.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace reactor;
using namespace reactor::http;
using reactor::http::detail::ResponseQueue;

namespace {

const std::string kHello = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

std::string ok(const std::string& body, bool close = false) {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           (close ? "Connection: close\r\n" : "") + "\r\n" + body;
}

const std::string k500 =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 22\r\n\r\nInternal Server Error\n";

// A connection without a socket. Owns one reference to its queue, as a
// Session does; close() detaches the queue, as a connection's close does.
struct FakeConnection : ResponseQueue::Owner {
    ResponseQueue* queue;
    std::string wire;             // every byte taken from the queue, in order
    std::size_t in_flight = 0;    // pretend socket backlog
    bool open = true;
    int changes = 0;
    std::function<void()> on_change;  // runs inside queue_changed()

    explicit FakeConnection(std::size_t max_owed = 16)
        : queue(new ResponseQueue(*this, nullptr, nullptr, max_owed)) {}
    ~FakeConnection() {
        queue->detach();
        queue->release();
    }

    void queue_changed() override {
        ++changes;
        wire += queue->output();
        queue->clear_output();
        if (on_change) on_change();
    }
    std::size_t bytes_in_flight() const noexcept override { return in_flight; }
    bool connection_open() const noexcept override { return open; }

    Response push(bool keep_alive = true, bool head = false) {
        return queue->push(Version::Http11, keep_alive, head);
    }
    void close() {
        open = false;
        queue->detach();
    }
    std::string take() { return std::exchange(wire, {}); }
};

}  // namespace

// ---- order and framing --------------------------------------------------------------

TEST_CASE("responses go out in request order whatever order they complete in") {
    FakeConnection c;
    Response a = c.push(), b = c.push(), d = c.push();
    CHECK(c.queue->owed() == 3);
    d.send("third");
    b.send("second");
    CHECK(c.take().empty());  // waiting for the first
    CHECK(b.done());
    CHECK_FALSE(a.done());
    a.send("first");
    CHECK(c.take() == ok("first") + ok("second") + ok("third"));
    CHECK(c.queue->owed() == 0);
}

TEST_CASE("sized and chunked streams, HEAD and bodiless statuses") {
    FakeConnection c;
    Response sized = c.push();
    sized.send_head(6);
    sized.write("abc");
    CHECK_THROWS_AS(sized.write("defg"), std::logic_error);  // beyond the length
    sized.write("def");
    sized.end();
    CHECK(c.take() == "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef");

    Response chunked = c.push();
    chunked.header("X-A", "1").start_chunked();
    chunked.write("one");
    chunked.write("");  // nothing: an empty chunk would end the body
    chunked.write("two!");
    chunked.end();
    CHECK(c.take() ==
          "HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\none\r\n4\r\ntwo!\r\n0\r\n\r\n");

    Response head = c.push(true, /*head=*/true);
    head.send_head(4);
    head.write("body");  // dropped: HEAD
    head.end();
    CHECK(c.take() == "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");

    Response no_content = c.push();
    no_content.status(204).send_head(0);
    no_content.end();
    CHECK(c.take() == "HTTP/1.1 204 No Content\r\n\r\n");
    CHECK_FALSE(c.queue->ended());
}

TEST_CASE("a short sized body and a closing response end the queue; later ones are dropped") {
    FakeConnection c;
    Response shorted = c.push();
    Response behind = c.push();
    behind.send("never");
    shorted.send_head(10);
    shorted.write("abc");
    shorted.end();  // the framing is broken: the connection must close
    CHECK(c.queue->ended());
    CHECK(c.queue->owed() == 0);
    CHECK(c.take() == "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");

    FakeConnection d;
    Response bye = d.push();
    Response next = d.push();
    bye.close_connection().send("bye");
    CHECK(d.queue->ended());
    CHECK(next.done());  // dropped with the queue's end
    next.send("ignored, no exception");
    CHECK(d.take() == ok("bye", true));
}

TEST_CASE("misuse is reported while the connection is open") {
    FakeConnection c;
    Response r = c.push();
    CHECK_THROWS_AS(r.write("x"), std::logic_error);
    CHECK_THROWS_AS(r.end(), std::logic_error);
    CHECK_THROWS_AS(r.header("Bad Name", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.header("Date", "x"), std::invalid_argument);
    CHECK_THROWS_AS(r.header("X", "a\nb"), std::invalid_argument);
    r.send("ok");
    CHECK_THROWS_AS(r.send("again"), std::logic_error);
    CHECK_THROWS_AS(r.header("X", "y"), std::logic_error);
    CHECK_THROWS_AS(r.loop(), std::logic_error);  // no loop behind this queue
    Response empty;
    CHECK(empty.done());
    CHECK_THROWS_AS(empty.loop(), std::logic_error);
}

// ---- abandonment --------------------------------------------------------------------

TEST_CASE("every handle dropped: 500 before the head, a close after it") {
    FakeConnection c;
    {
        Response r = c.push();
        Response copy = r;
        r.header("X", "lost");
    }
    CHECK(c.take() == k500);
    CHECK_FALSE(c.queue->ended());

    Response behind;
    {
        Response streaming = c.push();
        behind = c.push();
        behind.send("behind");
        streaming.start_chunked();
        streaming.write("part");
    }
    CHECK(c.queue->ended());
    CHECK(c.take() ==
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\npart\r\n");  // no last chunk
    CHECK(behind.done());
}

TEST_CASE("a response dropped behind an open one waits its turn with its 500") {
    FakeConnection c;
    Response first = c.push();
    { Response second = c.push(); }
    CHECK(c.take().empty());
    first.send("first");
    CHECK(c.take() == ok("first") + k500);
}

// ---- drain callbacks ----------------------------------------------------------------

TEST_CASE("on_drain: the front's runs at output_drained; one behind waits for its turn") {
    FakeConnection c;
    std::vector<std::string> ran;
    Response a = c.push(), b = c.push();
    b.on_drain([&] { ran.push_back("b"); });
    a.start_chunked();
    a.on_drain([&] { ran.push_back("a1"); });
    a.on_drain([&] { ran.push_back("a2"); });  // replaces a1
    CHECK(ran.empty());  // never from inside the call
    c.queue->output_drained();
    CHECK(ran == std::vector<std::string>{"a2"});
    c.queue->output_drained();  // nothing pending any more for a
    CHECK(ran.size() == 1);
    a.end();
    // b is the front now; its callback is due.
    CHECK(c.queue->drain_due());
    c.queue->output_drained();
    CHECK(ran == std::vector<std::string>{"a2", "b"});
    // On a complete response: runs at the next drain.
    b.send("x");
    b.on_drain([&] { ran.push_back("b-done"); });
    c.queue->output_drained();
    CHECK(ran.back() == "b-done");
    CHECK_FALSE(c.queue->drain_due());
}

TEST_CASE("buffered_bytes counts the queue's output, the held bytes and the socket's") {
    FakeConnection c;
    c.on_change = nullptr;
    Response a = c.push(), b = c.push();
    b.start_chunked();  // held: b is not the front
    c.in_flight = 100;
    const std::size_t held = std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").size();
    CHECK(b.buffered_bytes() == 100 + held);
    CHECK(a.buffered_bytes() == 100);
}

TEST_CASE("a drain callback holding the last Response of its own slot") {
    SUBCASE("destroyed by the connection's close") {
        FakeConnection c;
        {
            Response r = c.push();
            r.start_chunked();
            r.on_drain([keep = r] {});
        }
        CHECK(c.queue->owed() == 1);  // alive through its callback
        c.close();  // the callback dies, and the Response in it, on a detached queue
        CHECK(c.queue->owed() == 0);
        CHECK_FALSE(c.queue->drain_due());
    }
    SUBCASE("destroyed after running, once its response completed") {
        FakeConnection c;
        bool ran = false;
        {
            Response r = c.push();
            r.start_chunked();
            r.on_drain([keep = r, &ran]() mutable {
                ran = true;
                keep.end();  // completes from inside its own callback
            });
        }
        c.queue->output_drained();
        CHECK(ran);
        CHECK(c.queue->owed() == 0);
        CHECK_FALSE(c.queue->ended());  // completed properly: the connection goes on
        CHECK(c.take().find("0\r\n\r\n") != std::string::npos);
    }
    SUBCASE("retired with its completion, never run: destroyed by the close") {
        FakeConnection c;
        {
            Response r = c.push();
            r.on_drain([keep = r] {});
            Response(r).send("done");  // completes: the callback waits for the drain
        }
        CHECK(c.queue->drain_due());
        c.close();
        CHECK_FALSE(c.queue->drain_due());
    }
    SUBCASE("replaced: the old callback dies after the new one is in place") {
        FakeConnection c;
        Response r = c.push();
        r.start_chunked();
        Response other = c.push();  // the old callback holds the last handle of `other`
        r.on_drain([keep = std::move(other)] {});
        int ran = 0;
        r.on_drain([&] { ++ran; });  // `other` is dropped: its 500 waits behind r
        c.queue->output_drained();
        CHECK(ran == 1);
        r.end();
        const std::string wire = c.take();
        CHECK(wire.size() >= k500.size());
        CHECK(wire.substr(wire.size() - k500.size()) == k500);
        CHECK(c.queue->owed() == 0);
    }
    SUBCASE("the last handle in a callback of a response dropped by an earlier close") {
        FakeConnection c;
        Response bye = c.push();
        {
            Response r = c.push();
            r.start_chunked();
            r.on_drain([keep = r] {});
        }
        bye.close_connection().send("bye");  // ends the queue: r and its callback are dropped
        CHECK(c.queue->ended());
        CHECK(c.queue->owed() == 0);
        CHECK_FALSE(c.queue->drain_due());
    }
}

TEST_CASE("a drain callback that drops another response, or closes the connection") {
    SUBCASE("drops the last handle of the response behind: it gets its 500 at once") {
        FakeConnection c;
        Response a = c.push();
        std::optional<Response> b = c.push();
        a.start_chunked();
        a.on_drain([&] {
            b.reset();
            a.end();
        });
        c.take();
        c.queue->output_drained();
        CHECK(c.take() == "0\r\n\r\n" + k500);
        CHECK(c.queue->owed() == 0);
    }
    SUBCASE("closes the connection: the callbacks after it never run") {
        FakeConnection c;
        Response a = c.push();
        a.send("a");
        int ran = 0;
        a.on_drain([&] {
            ++ran;
            c.close();
        });
        a.on_drain([&] { ++ran; });  // a is complete: both wait for the drain
        c.queue->output_drained();
        CHECK(ran == 1);
        CHECK(a.done());
        CHECK_FALSE(a.connection_open());
    }
    SUBCASE("a change notification that completes another response re-enters consistently") {
        FakeConnection c;
        Response a = c.push(), b = c.push();
        std::vector<std::size_t> owed_seen;
        c.on_change = [&] {
            owed_seen.push_back(c.queue->owed());
            if (c.queue->owed() == 1 && !b.done()) b.send("b");  // from inside a's change
        };
        a.send("a");
        CHECK(c.take() == ok("a") + ok("b"));
        CHECK(c.queue->owed() == 0);
        CHECK(owed_seen.front() == 1);
    }
}

// ---- the connection goes first ------------------------------------------------------

TEST_CASE("the connection closes while a handler holds a Response: every call is a no-op") {
    FakeConnection c;
    Response held = c.push();
    held.on_drain([] {});
    c.close();
    CHECK(held.done());
    CHECK_FALSE(held.connection_open());
    CHECK(held.buffered_bytes() == 0);
    held.header("X", "y").status(201).send("too late");
    held.start_chunked();
    held.write("x");
    held.end();
    held.on_drain([] { FAIL("never runs"); });
    c.queue->output_drained();
    CHECK(c.take().empty());
}

TEST_CASE("a Response outlives its connection and the queue's owner") {
    std::optional<Response> kept;
    std::optional<Response> streaming;
    {
        FakeConnection c;
        kept = c.push();
        streaming = c.push();
        streaming->on_drain([keep = *streaming] {});
    }  // the owner detaches and drops its reference: the handles keep the queue
    CHECK(kept->done());
    kept->send("nobody listens");
    Response copy = *kept;
    kept.reset();
    streaming.reset();
    copy.end();
}  // the last handle frees the queue (the sanitizer build checks it)

TEST_CASE("a queue is reusable only when nothing of it is left out there") {
    FakeConnection c;
    CHECK(c.queue->reusable());
    {
        Response r = c.push();
        CHECK_FALSE(c.queue->reusable());
        r.send("x");
        c.take();
    }
    CHECK(c.queue->reusable());
    Response kept = c.push();
    kept.send("y");
    c.take();
    CHECK_FALSE(c.queue->reusable());  // a handle is still out
}
