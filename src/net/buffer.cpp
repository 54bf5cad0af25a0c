// src/net/buffer.cpp -- the block layout, growth, and fd I/O of Buffer.
#include <reactor/buffer.hpp>

#include "net/buffer_access.hpp"
#include "base/syscall.hpp"

#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <stdexcept>
#include <utility>

namespace reactor {

// True when a + b + c is larger than the largest block. Written as
// comparisons against differences that cannot wrap (each difference is taken
// only once the value subtracted is known to be smaller), because the sum
// itself could wrap around and look small.
bool Buffer::exceeds_max_capacity(std::size_t a, std::size_t b, std::size_t c) noexcept {
    return a > kMaxCapacity || b > kMaxCapacity - a || c > kMaxCapacity - a - b;
}

Buffer::Block* Buffer::allocate_block(std::size_t capacity) {
    // The header and the data area are one allocation whose size is a size_t.
    if (capacity > kMaxCapacity) throw std::length_error("reactor::Buffer: block too large");
    void* memory = ::operator new(sizeof(Block) + capacity);
    return new (memory) Block{capacity, kPrependRoom, kPrependRoom, false};
}

void Buffer::free_block(Block* block) noexcept {
    if (block != nullptr && !block->borrowed) ::operator delete(block);
}

Buffer::~Buffer() { free_block(block_); }

Buffer::Buffer(Buffer&& other) noexcept {
    swap(other);
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    if (this != &other) {
        release();
        swap(other);
    }
    return *this;
}

Buffer Buffer::clone() const {
    Buffer copy;
    copy.append(data(), size());
    return copy;
}

void Buffer::swap(Buffer& other) noexcept {
    // A borrowed scratch block must never leave the buffer it was lent to
    // (the scratch is reused as soon as the lease ends), so a Buffer holding
    // one gives away a private copy of its content instead. The copy is the
    // only allocation here; if it fails the content is lost, which is why
    // the connection settles its lease before user code could keep a Buffer.
    auto privatize = [](Buffer& b) noexcept {
        if (b.block_ == nullptr || !b.block_->borrowed) return;
        Block* borrowed = std::exchange(b.block_, nullptr);
        const std::size_t n = borrowed->write - borrowed->read;
        if (n == 0) return;
        try {
            b.append(borrowed->bytes() + borrowed->read, n);
        } catch (const std::bad_alloc&) {
            b.block_ = nullptr;
        }
        borrowed->read = borrowed->write = kPrependRoom;
    };
    privatize(*this);
    privatize(other);
    std::swap(block_, other.block_);
}

std::span<const std::byte> Buffer::bytes() const noexcept {
    return {reinterpret_cast<const std::byte*>(data()), size()};
}

std::size_t Buffer::find(char c, std::size_t from) const noexcept {
    const std::size_t n = size();
    if (from >= n) return npos;
    const void* hit = std::memchr(data() + from, c, n - from);
    return hit == nullptr ? npos : static_cast<std::size_t>(static_cast<const char*>(hit) - data());
}

std::size_t Buffer::find(std::string_view needle, std::size_t from) const noexcept {
    return view().find(needle, from);
}

std::string Buffer::take(std::size_t n) {
    n = std::min(n, size());
    std::string out(data(), n);
    consume(n);
    return out;
}

void Buffer::reallocate(std::size_t capacity, std::size_t front) {
    const std::size_t n = size();
    assert(n <= capacity && front <= capacity - n);
    Block* fresh = allocate_block(capacity);
    if (n != 0) std::memcpy(fresh->bytes() + front, data(), n);
    fresh->read = front;
    fresh->write = front + n;
    if (block_ != nullptr && block_->borrowed) block_->read = block_->write = kPrependRoom;
    free_block(block_);
    block_ = fresh;
}

void Buffer::ensure_writable(std::size_t n) {
    if (writable_bytes() >= n) return;
    const std::size_t content = size();
    // What the content needs with the usual front room in a fresh layout.
    // prepend() may have used part of that room, so `kPrependRoom + content`
    // can exceed the capacity of the current block: it is never subtracted
    // from the capacity, only compared with it.
    if (exceeds_max_capacity(kPrependRoom, content, n)) {
        throw std::length_error("reactor::Buffer: size too large");
    }
    const std::size_t needed = kPrependRoom + content + n;
    if (block_ != nullptr && !block_->borrowed && needed <= block_->capacity &&
        content <= block_->capacity / 2) {
        // Enough room overall once consumed bytes are reclaimed, and little
        // to move: slide the content back to the front instead of growing.
        std::memmove(block_->bytes() + kPrependRoom, data(), content);
        block_->read = kPrependRoom;
        block_->write = kPrependRoom + content;
        return;
    }
    // Doubling keeps appends amortized O(1); a borrowed scratch block's size
    // says nothing about this buffer's needs, so it does not count. Past half
    // the largest block, doubling would wrap: the largest block is the cap.
    std::size_t doubled = 0;
    if (block_ != nullptr && !block_->borrowed) {
        doubled = capacity() <= kMaxCapacity / 2 ? capacity() * 2 : kMaxCapacity;
    }
    const std::size_t grown = std::max({needed, doubled, kMinCapacity});
    reallocate(grown, kPrependRoom);
}

void Buffer::append(const void* bytes, std::size_t n) {
    if (n == 0) return;
    ensure_writable(n);
    std::memcpy(write_pointer(), bytes, n);
    block_->write += n;
}

void Buffer::prepend(const void* bytes, std::size_t n) {
    if (n == 0) return;
    if (prependable_bytes() < n) {
        // Rare: more than the reserved room. Make a block with enough front
        // room for this header plus the usual reserve, content and free
        // space after it (the bytes from read_index to the end).
        const std::size_t tail = capacity() - prependable_bytes();
        if (exceeds_max_capacity(n, kPrependRoom, tail)) {
            throw std::length_error("reactor::Buffer: size too large");
        }
        const std::size_t front = n + kPrependRoom;
        reallocate(std::max(front + tail, kMinCapacity), front);
    }
    block_->read -= n;
    std::memcpy(block_->bytes() + block_->read, bytes, n);
}

void Buffer::release() noexcept {
    Block* old = std::exchange(block_, nullptr);
    if (old != nullptr && old->borrowed) old->read = old->write = kPrependRoom;
    free_block(old);
}

void Buffer::shrink_to_fit() {
    if (empty()) {
        release();
    } else if (capacity() - size() > kPrependRoom) {  // size() <= capacity(): no wrap
        reallocate(kPrependRoom + size(), kPrependRoom);
    }
}

ssize_t Buffer::read_fd(int fd, std::error_code& ec) {
    // Stack spill: a read larger than the free space lands here in the same
    // system call, so no block is grown on speculation.
    char spill[kSpillSize];
    const std::size_t free_space = writable_bytes();
    iovec vec[2];
    int count = 0;
    if (free_space > 0) vec[count++] = iovec{write_pointer(), free_space};
    // Beyond 64 KiB of free space one read is bound enough (reads per
    // wake-up are bounded by the caller).
    if (free_space < kSpillSize) vec[count++] = iovec{spill, sizeof spill};
    const ssize_t n = detail::retry_eintr(ec, [&] { return REACTOR_SYS(readv)(fd, vec, count); });
    if (n <= 0) return n;
    const auto got = static_cast<std::size_t>(n);
    if (got <= free_space) {
        block_->write += got;
    } else {
        if (free_space > 0) block_->write += free_space;
        append(spill, got - free_space);
    }
    return n;
}

ssize_t Buffer::write_fd(int fd, std::error_code& ec) noexcept {
    const ssize_t n = detail::retry_eintr(ec, [&] { return REACTOR_SYS(write)(fd, data(), size()); });
    if (n > 0) consume(static_cast<std::size_t>(n));
    return n;
}

// ---- the per-thread read scratch (buffer_access.hpp) --------------------------

namespace detail {

// One scratch block per thread, created on first use and freed when the
// thread ends. `lessee` is the Buffer holding the lease, so that a second
// reader at the same time (a nested loop run inside a callback, say) falls
// back to its own storage, and only the lessee's settle() ends the lease.
// The per-thread state is two plain pointers: constant-initialized
// thread_locals need no guard on access, which matters on every read. The
// block is freed at thread exit by a second thread_local with a destructor,
// touched only when the block is first allocated.
struct BufferAccess::Scratch {
    Buffer::Block* block = nullptr;
    const Buffer* lessee = nullptr;
};

BufferAccess::Scratch& BufferAccess::scratch() noexcept {
    thread_local constinit Scratch t_scratch{};
    return t_scratch;
}

struct BufferAccess::ScratchFreer {
    Buffer::Block** block = nullptr;
    ~ScratchFreer() {
        if (block != nullptr && *block != nullptr) ::operator delete(*block);
    }
};

bool BufferAccess::lend_scratch(Buffer& buffer) noexcept {
    Scratch& t_scratch = scratch();
    if (buffer.block_ != nullptr || t_scratch.lessee != nullptr) return false;
    if (t_scratch.block == nullptr) {
        void* memory = ::operator new(sizeof(Buffer::Block) + Buffer::kSpillSize, std::nothrow);
        if (memory == nullptr) return false;
        t_scratch.block = new (memory)
            Buffer::Block{Buffer::kSpillSize, Buffer::kPrependRoom, Buffer::kPrependRoom, true};
        thread_local ScratchFreer freer;
        freer.block = &t_scratch.block;
    }
    t_scratch.block->read = t_scratch.block->write = Buffer::kPrependRoom;
    t_scratch.lessee = &buffer;
    buffer.block_ = t_scratch.block;
    return true;
}

bool BufferAccess::holds_scratch(const Buffer& buffer) noexcept {
    const Scratch& t_scratch = scratch();
    return buffer.block_ != nullptr && buffer.block_ == t_scratch.block;
}

void BufferAccess::settle(Buffer& buffer) {
    Scratch& t_scratch = scratch();
    if (t_scratch.lessee == &buffer) t_scratch.lessee = nullptr;
    if (holds_scratch(buffer)) {
        Buffer::Block* scratch = std::exchange(buffer.block_, nullptr);
        const std::size_t from = scratch->read;
        const std::size_t left = scratch->write - scratch->read;
        scratch->read = scratch->write = Buffer::kPrependRoom;
        // A partial message stays: copy it into a block of the buffer's own,
        // sized to fit (the scratch bytes are untouched until the next lease).
        if (left != 0) buffer.append(scratch->bytes() + from, left);
        return;
    }
    if (buffer.empty()) buffer.release();
}

}  // namespace detail
}  // namespace reactor
