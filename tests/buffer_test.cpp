// tests/buffer_test.cpp -- Buffer: regions, growth, prepend, search, fd I/O.
#include "net/buffer_access.hpp"
#include "tcp_util.hpp"

#include <reactor/buffer.hpp>

#include <ostream>  // doctest prints std::error_code through it
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>

using namespace reactor;
using namespace reactor::test;

TEST_CASE("a new buffer holds no memory") {
    Buffer b;
    CHECK(b.empty());
    CHECK_FALSE(b.has_storage());
    CHECK(b.capacity() == 0);
    CHECK(b.view().empty());
    CHECK(b.find('x') == Buffer::npos);
    b.consume(10);  // harmless
    CHECK(b.empty());
}

TEST_CASE("append, consume and the three regions") {
    Buffer b;
    b.append("hello, world");
    CHECK(b.size() == 12);
    CHECK(b.prependable_bytes() == Buffer::kPrependRoom);
    CHECK(b.capacity() >= Buffer::kMinCapacity);
    CHECK(b.writable_bytes() == b.capacity() - Buffer::kPrependRoom - 12);
    CHECK(b.view() == "hello, world");

    b.consume(7);
    CHECK(b.view() == "world");
    CHECK(b.prependable_bytes() == Buffer::kPrependRoom + 7);

    // Draining everything resets both indices: no slide ever needed.
    b.consume(5);
    CHECK(b.empty());
    CHECK(b.prependable_bytes() == Buffer::kPrependRoom);
    CHECK(b.has_storage());
    b.release();
    CHECK_FALSE(b.has_storage());
}

TEST_CASE("take returns and removes bytes; views do not copy") {
    Buffer b;
    b.append("abcdef");
    const char* before = b.data();
    CHECK(b.view().data() == before);
    CHECK(reinterpret_cast<const char*>(b.bytes().data()) == before);
    CHECK(b.take(2) == "ab");
    CHECK(b.take(100) == "cdef");
    CHECK(b.empty());
}

TEST_CASE("growth keeps the content; reclaimed room is reused before growing") {
    Buffer b;
    const std::string big = pattern(10000);
    b.append(big);
    CHECK(b.view() == big);
    const std::size_t capacity = b.capacity();
    b.consume(9000);
    b.append(std::string(5000, 'z'));  // fits once the consumed 9000 are reclaimed
    CHECK(b.capacity() == capacity);
    CHECK(b.view() == big.substr(9000) + std::string(5000, 'z'));
}

TEST_CASE("prepend puts a header in front without moving the content") {
    Buffer b;
    b.append("payload");
    const char* payload = b.data();
    const std::uint32_t length = 7;
    b.prepend(&length, sizeof length);
    CHECK(b.size() == 4 + 7);
    CHECK(b.data() + 4 == payload);
    std::uint32_t read_back = 0;
    std::memcpy(&read_back, b.data(), 4);
    CHECK(read_back == 7);

    // More than the reserved room: the buffer makes room itself.
    const std::string header(40, 'H');
    b.prepend(header.data(), header.size());
    CHECK(b.view().substr(0, 40) == header);
    CHECK(b.view().substr(44) == "payload");
}

TEST_CASE("find, find_crlf and find of a string") {
    Buffer b;
    b.append("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(b.find_crlf() == 14);
    CHECK(b.find_crlf(15) == 23);
    CHECK(b.find("\r\n\r\n") == 23);
    CHECK(b.find('/') == 4);
    CHECK(b.find('/', 5) == 10);
    CHECK(b.find('#') == Buffer::npos);
    b.consume(16);
    CHECK(b.find_crlf() == 7);
}

TEST_CASE("direct writing through write_pointer and commit") {
    Buffer b;
    b.ensure_writable(100);
    CHECK(b.writable_bytes() >= 100);
    std::memcpy(b.write_pointer(), "xyz", 3);
    b.commit(3);
    CHECK(b.view() == "xyz");
}

TEST_CASE("moving and swapping take the storage; clone copies") {
    Buffer a;
    a.append("data");
    Buffer b = std::move(a);
    CHECK(b.view() == "data");
    CHECK_FALSE(a.has_storage());
    Buffer c = b.clone();
    CHECK(c.view() == "data");
    CHECK(c.data() != b.data());
    Buffer d;
    d.swap(c);
    CHECK(d.view() == "data");
    CHECK(c.empty());
}

TEST_CASE("shrink_to_fit frees an empty buffer and trims a full one") {
    Buffer b;
    b.append(pattern(5000));
    b.consume(4990);
    b.shrink_to_fit();
    CHECK(b.view() == pattern(5000).substr(4990));
    CHECK(b.capacity() == Buffer::kPrependRoom + 10);
    b.consume_all();
    b.shrink_to_fit();
    CHECK_FALSE(b.has_storage());
}

TEST_CASE("read_fd reads into the free space and spills the excess in one call") {
    auto [r, w] = make_pipe();
    Buffer b;
    b.append("x");  // a small block: most of the read must spill
    const std::size_t free_before = b.writable_bytes();
    const std::string data = pattern(60000);
    write_all(w.get(), data);
    std::error_code ec;
    const ssize_t n = b.read_fd(r.get(), ec);
    REQUIRE(n == static_cast<ssize_t>(data.size()));
    CHECK(free_before < data.size());
    CHECK(b.view() == "x" + data);

    // Nothing more: EAGAIN comes back as an error code, not a throw.
    CHECK(b.read_fd(r.get(), ec) == -1);
    CHECK(ec == std::errc::resource_unavailable_try_again);

    // EOF reads as 0.
    w.reset();
    CHECK(b.read_fd(r.get(), ec) == 0);
}

TEST_CASE("read_fd into a buffer without storage allocates only what arrived") {
    auto [r, w] = make_pipe();
    write_all(w.get(), "tiny");
    Buffer b;
    std::error_code ec;
    CHECK(b.read_fd(r.get(), ec) == 4);
    CHECK(b.view() == "tiny");
    CHECK(b.capacity() == Buffer::kMinCapacity);
}

TEST_CASE("write_fd writes and consumes what the fd took") {
    auto [r, w] = make_pipe();
    Buffer b;
    b.append("to the pipe");
    std::error_code ec;
    CHECK(b.write_fd(w.get(), ec) == 11);
    CHECK(b.empty());
    CHECK(read_some(r.get()) == "to the pipe");
}

TEST_CASE("the thread's scratch block is lent, settled, and never escapes") {
    using detail::BufferAccess;
    Buffer input;
    REQUIRE(BufferAccess::lend_scratch(input));
    CHECK(BufferAccess::holds_scratch(input));
    Buffer other;
    CHECK_FALSE(BufferAccess::lend_scratch(other));  // one lease at a time

    input.append("complete message|partial");
    input.consume(17);
    // Moving out of a lent buffer copies: the mover gets its own block.
    Buffer kept = std::move(input);
    CHECK(kept.view() == "partial");
    CHECK_FALSE(BufferAccess::holds_scratch(kept));
    BufferAccess::settle(input);
    CHECK_FALSE(input.has_storage());

    // A settled lease with leftovers keeps them in an owned block.
    Buffer again;
    REQUIRE(BufferAccess::lend_scratch(again));
    again.append("left over");
    BufferAccess::settle(again);
    CHECK(again.view() == "left over");
    CHECK_FALSE(BufferAccess::holds_scratch(again));
    CHECK(again.capacity() == Buffer::kMinCapacity);

    // Fully consumed: no storage at all afterwards.
    Buffer idle;
    REQUIRE(BufferAccess::lend_scratch(idle));
    idle.append("all of it");
    idle.consume_all();
    BufferAccess::settle(idle);
    CHECK_FALSE(idle.has_storage());
}

// The three regions always lie inside the block. (Their sum alone would not
// tell: with write_index past the capacity, writable_bytes() wraps and the
// sum still comes out right, modulo 2^64.)
static void check_regions(const Buffer& b) {
    CHECK(b.prependable_bytes() + b.size() <= b.capacity());
    CHECK(b.writable_bytes() <= b.capacity());
    CHECK(b.prependable_bytes() + b.size() + b.writable_bytes() == b.capacity());
}

TEST_CASE("append after prepend into a trimmed block stays inside the block") {
    // shrink_to_fit() leaves exactly kPrependRoom in front and no free space
    // behind; prepend() then takes part of the front room, so content plus
    // kPrependRoom is larger than the block. The slide-or-grow check in
    // ensure_writable() used to subtract that from the capacity, wrapped,
    // and slid the content past the end of the block.
    Buffer b;
    b.append("abcd");
    b.shrink_to_fit();
    b.prepend("x", 1);
    b.append("y");
    CHECK(b.view() == "xabcdy");
    check_regions(b);
}

TEST_CASE("room requests too large for memory are refused, not wrapped") {
    Buffer b;
    b.append("abc");
    CHECK_THROWS_AS(b.ensure_writable(static_cast<std::size_t>(-1)), std::length_error);
    CHECK_THROWS_AS(b.ensure_writable(static_cast<std::size_t>(-1) - 8), std::length_error);
    // A header larger than the front room, sized so that the new front room
    // plus the content would wrap: refused before a byte is read.
    const char header[1] = {'h'};
    CHECK_THROWS_AS(b.prepend(header, static_cast<std::size_t>(-1) - 4), std::length_error);
    CHECK(b.view() == "abc");
    check_regions(b);
}
