// tests/fuzz/buffer_fuzz.cpp -- libFuzzer target for Buffer, checked against
// a std::string model. Built and run by scripts/fuzz.sh (`make fuzz`); not a
// doctest suite.
// fuzz-sources: src/net/buffer.cpp
//
// The input is a program: each operation is one byte (the opcode, modulo 16)
// followed by the argument bytes it needs; missing bytes read as zero. Two
// buffers, `a` and `b`, each have a std::string model. Every operation is
// applied to a buffer and to its model, and after every step both buffers
// must hold exactly their model's bytes, with the three regions (front room,
// content, free space) inside the block. Most operations work on `a`; swap,
// clone and move bring `b` in.
//
// The scratch lending of buffer_access.hpp is exercised as the connection
// uses it: only `a` is ever lent the scratch, only while it has no storage
// and no lease is out, and the lease is always settled before `a` dies
// (a lease left behind would block every later lend on this thread).
//
// The failing sequence behind the regression test "append after prepend into
// a trimmed block stays inside the block" is the seed
// corpus/buffer/prepend_after_shrink.
#include <reactor/buffer.hpp>

#include "net/buffer_access.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include "fuzz_check.hpp"

using reactor::Buffer;
using reactor::detail::BufferAccess;

namespace {

// Reads the program: bytes past the end read as zero, so every input is a
// complete program.
class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    bool done() const { return pos_ >= size_; }
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// Bytes to write: a running counter, so that moved or duplicated bytes show.
std::string next_bytes(std::size_t n, std::uint8_t& counter) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(counter++);
    return s;
}

void check(const Buffer& buffer, const std::string& model) {
    FUZZ_CHECK(buffer.size() == model.size());
    FUZZ_CHECK(buffer.empty() == model.empty());
    FUZZ_CHECK(buffer.view() == model);
    FUZZ_CHECK(buffer.bytes().size() == model.size());
    if (!buffer.has_storage()) {
        FUZZ_CHECK(buffer.capacity() == 0);
        FUZZ_CHECK(buffer.data() == nullptr);
        return;
    }
    // Each part on its own, then the sum: with write_index past the end,
    // writable_bytes() wraps and the sum alone still comes out right.
    FUZZ_CHECK(buffer.prependable_bytes() <= buffer.capacity());
    FUZZ_CHECK(buffer.size() <= buffer.capacity() - buffer.prependable_bytes());
    FUZZ_CHECK(buffer.writable_bytes() <= buffer.capacity());
    FUZZ_CHECK(buffer.prependable_bytes() + buffer.size() + buffer.writable_bytes() ==
               buffer.capacity());
}

// A non-blocking pipe for read_fd() and write_fd(), made once per process.
struct Pipe {
    int r = -1;
    int w = -1;
    Pipe() {
        int fds[2];
        FUZZ_CHECK(::pipe(fds) == 0);
        r = fds[0];
        w = fds[1];
        for (int fd : fds) {
            FUZZ_CHECK(::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
            FUZZ_CHECK(::fcntl(fd, F_SETFD, FD_CLOEXEC) == 0);
        }
    }
};

Pipe& the_pipe() {
    static Pipe pipe;
    return pipe;
}

// Reads whatever is in the pipe (it is always drained between steps).
std::string drain(int fd) {
    std::string out;
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n <= 0) break;
        out.append(chunk, static_cast<std::size_t>(n));
    }
    return out;
}

// Keeps the models small enough that a long program stays fast.
constexpr std::size_t kModelCap = 1 << 20;

struct State {
    Buffer a;
    Buffer b;
    std::string model_a;
    std::string model_b;
    bool leased = false;  // `a` is the lessee of this thread's scratch
    std::uint8_t counter = 0;

    ~State() {
        // The lease must end before `a` does (see the top of the file).
        BufferAccess::settle(a);
    }

    void step(Input& in) {
        const std::uint8_t op = in.byte() % 16;
        switch (op) {
        case 0: {  // append a little (small sizes reach the edge cases soonest)
            if (model_a.size() > kModelCap) break;
            const std::string s = next_bytes(in.byte() % 32, counter);
            a.append(s);
            model_a += s;
            break;
        }
        case 1: {  // append a lot (up to 16 KiB): growth and slides
            if (model_a.size() > kModelCap) break;
            const std::string s = next_bytes(std::size_t{in.byte()} * 64, counter);
            a.append(s);
            model_a += s;
            break;
        }
        case 2: {  // prepend, half the time more than the reserved room
            const std::size_t n = in.byte() % (2 * Buffer::kPrependRoom);
            const std::string s = next_bytes(n, counter);
            const char* before = a.data();
            const bool in_place = a.has_storage() && n != 0 && a.prependable_bytes() >= n;
            a.prepend(s.data(), s.size());
            model_a.insert(0, s);
            // Within the front room the content does not move.
            if (in_place) FUZZ_CHECK(a.data() + n == before);
            break;
        }
        case 3: {  // consume, sometimes more than there is
            const std::uint8_t arg = in.byte();
            const std::size_t n = arg == 255 ? Buffer::npos : arg;
            a.consume(n);
            model_a.erase(0, std::min(n, model_a.size()));
            if (model_a.empty() && a.has_storage()) {
                FUZZ_CHECK(a.prependable_bytes() == Buffer::kPrependRoom);
            }
            break;
        }
        case 4:  // consume_all keeps the storage
        {
            const bool had_storage = a.has_storage();
            a.consume_all();
            model_a.clear();
            FUZZ_CHECK(a.has_storage() == had_storage);
            break;
        }
        case 5: {  // take
            const std::size_t n = in.byte();
            const std::string got = a.take(n);
            FUZZ_CHECK(got == model_a.substr(0, n));
            model_a.erase(0, std::min(n, model_a.size()));
            break;
        }
        case 6: {  // ensure_writable, write through write_pointer, commit
            const std::uint8_t arg = in.byte();
            const std::uint8_t fill = in.byte();
            if (arg == 255) {
                // A request no block can satisfy: refused, buffer unchanged.
                const std::size_t huge = std::numeric_limits<std::size_t>::max() - fill % 16;
                bool threw = false;
                try {
                    a.ensure_writable(huge);
                } catch (const std::length_error&) {
                    threw = true;
                }
                FUZZ_CHECK(threw);
                break;
            }
            if (model_a.size() > kModelCap) break;
            const std::size_t n = std::size_t{arg} * 16;
            a.ensure_writable(n);
            FUZZ_CHECK(a.writable_bytes() >= n);
            FUZZ_CHECK(a.writable_span().size() == a.writable_bytes());
            const std::size_t k = std::min(a.writable_bytes(), n) * fill / 255;
            const std::string s = next_bytes(k, counter);
            if (k != 0) {
                std::copy(s.begin(), s.end(), a.write_pointer());
                a.commit(k);
            }
            model_a += s;
            break;
        }
        case 7:  // shrink_to_fit
            a.shrink_to_fit();
            if (model_a.empty()) {
                FUZZ_CHECK(!a.has_storage());
            } else {
                FUZZ_CHECK(a.capacity() - a.size() <= Buffer::kPrependRoom);
            }
            break;
        case 8:  // release
            a.release();
            model_a.clear();
            FUZZ_CHECK(!a.has_storage());
            break;
        case 9:  // swap
            a.swap(b);
            model_a.swap(model_b);
            break;
        case 10:  // clone into b
            b = a.clone();
            model_b = model_a;
            break;
        case 11:  // move one way or the other
            if (in.byte() & 1) {
                a = std::move(b);
                model_a = std::move(model_b);
                model_b.clear();
                FUZZ_CHECK(!b.has_storage());
            } else {
                b = std::move(a);
                model_b = std::move(model_a);
                model_a.clear();
                FUZZ_CHECK(!a.has_storage());
            }
            break;
        case 12: {  // lend the scratch to `a`
            const bool expected = !a.has_storage() && !leased;
            const bool lent = BufferAccess::lend_scratch(a);
            FUZZ_CHECK(lent == expected);
            if (lent) {
                leased = true;
                FUZZ_CHECK(BufferAccess::holds_scratch(a));
                FUZZ_CHECK(a.empty());
            }
            break;
        }
        case 13:  // settle `a`'s lease (harmless without one)
            BufferAccess::settle(a);
            leased = false;
            FUZZ_CHECK(!BufferAccess::holds_scratch(a));
            if (model_a.empty()) FUZZ_CHECK(!a.has_storage());
            break;
        case 14: {  // read_fd what was written into the pipe
            if (model_a.size() > kModelCap) break;
            const std::string s = next_bytes(std::size_t{in.byte()} * 32, counter);
            if (s.empty()) break;
            FUZZ_CHECK(::write(the_pipe().w, s.data(), s.size()) ==
                       static_cast<ssize_t>(s.size()));
            std::size_t got = 0;
            while (got < s.size()) {
                std::error_code ec;
                const ssize_t n = a.read_fd(the_pipe().r, ec);
                FUZZ_CHECK(n > 0);
                got += static_cast<std::size_t>(n);
            }
            FUZZ_CHECK(got == s.size());
            model_a += s;
            break;
        }
        case 15: {  // write_fd into the pipe
            std::error_code ec;
            const ssize_t n = a.write_fd(the_pipe().w, ec);
            const std::string written = drain(the_pipe().r);
            if (model_a.empty()) {
                FUZZ_CHECK(n <= 0);
                FUZZ_CHECK(written.empty());
            } else {
                FUZZ_CHECK(n > 0);
                FUZZ_CHECK(written.size() == static_cast<std::size_t>(n));
                FUZZ_CHECK(written == model_a.substr(0, written.size()));
                model_a.erase(0, written.size());
            }
            break;
        }
        }
        // Only `a` is ever lent the scratch, and only while the lease is out.
        FUZZ_CHECK(!BufferAccess::holds_scratch(b));
        if (BufferAccess::holds_scratch(a)) FUZZ_CHECK(leased);
        check(a, model_a);
        check(b, model_b);
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in(data, size);
    State state;
    while (!in.done()) state.step(in);
    return 0;
}
