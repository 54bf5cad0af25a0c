// reactor/buffer.hpp -- a growable byte buffer for socket input and output.
//
// The bytes live in one heap block, split by two indices into three regions:
//
//     +--------------+--------------------+------------------+
//     | prependable  |   readable bytes   |  writable bytes  |
//     |   (room)     |     (content)      |   (free space)   |
//     +--------------+--------------------+------------------+
//     0           read_index          write_index         capacity
//
//   invariant: 0 <= read_index <= write_index <= capacity
//
//   - append() writes at write_index and moves it right (growing the
//     block, or sliding the content left into consumed room, when the
//     free space is short);
//   - consume() moves read_index right; when it meets write_index both
//     go back to kPrependRoom, so a buffer that keeps being drained never
//     needs to slide its content;
//   - prepend() writes just before read_index and moves it left: a length
//     header can be put in front of a message already appended, without
//     copying the message. kPrependRoom bytes are kept free for that.
//
// Because prepend() may use that room, kPrependRoom + size() can be larger
// than the capacity (after shrink_to_fit(), say). Room checks therefore
// never subtract from the capacity anything not known to be smaller; they
// compare sums that are first checked not to wrap. A request beyond what a
// size_t can describe throws std::length_error; one the allocator refuses
// throws std::bad_alloc. Either way the buffer is left as it was.
//
// A Buffer is one pointer wide, and an empty Buffer with no storage holds no
// memory at all: a server with 10,000 idle connections pays 16 bytes for
// their two buffers, not 10,000 blocks (docs/tcp.md has the arithmetic).
// The indices and capacity live in the block's own header, so they cost
// nothing while there is no block.
//
// read_fd() reads with one readv() into the free space plus a 64 KiB spill
// area on the stack, so a read never needs a large block reserved in advance
// and usually costs one system call; only bytes that do not fit the free
// space are copied in afterwards.
//
// Thread safety: none; a Buffer belongs to one thread at a time.
#pragma once

#include <cassert>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <system_error>

namespace reactor {

namespace detail {
class BufferAccess;
}

class Buffer {
public:
    /// Room kept free in front of the content for prepend() (e.g. a 4- or
    /// 8-byte length header).
    static constexpr std::size_t kPrependRoom = 8;
    /// The smallest block ever allocated (bytes of data area).
    static constexpr std::size_t kMinCapacity = 256;
    /// The size of read_fd()'s stack spill area.
    static constexpr std::size_t kSpillSize = 64 * 1024;
    static constexpr std::size_t npos = std::string_view::npos;

    /// An empty buffer without storage (allocates nothing).
    Buffer() noexcept = default;
    ~Buffer();
    /// Moving takes the storage; the source is left empty without storage.
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    /// Copying is explicit (clone()), so a large buffer is never copied by
    /// accident.
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    /// A deep copy of the readable bytes.
    Buffer clone() const;

    // ---- sizes ---------------------------------------------------------------

    /// Readable bytes (the content).
    std::size_t size() const noexcept;
    bool empty() const noexcept { return size() == 0; }
    /// Free bytes after the content.
    std::size_t writable_bytes() const noexcept;
    /// Free bytes before the content (consumed bytes plus the prepend room).
    std::size_t prependable_bytes() const noexcept;
    /// The data area of the block; 0 when there is no storage.
    std::size_t capacity() const noexcept;
    /// True when a block is allocated (even if empty).
    bool has_storage() const noexcept { return block_ != nullptr; }

    // ---- reading the content (no copies) ---------------------------------------

    /// The first readable byte; nullptr when there is no storage. Valid until
    /// the next call that changes the buffer.
    const char* data() const noexcept;
    std::string_view view() const noexcept { return {data(), size()}; }
    std::span<const std::byte> bytes() const noexcept;
    /// The byte at `offset` from the start of the content (offset < size()).
    char operator[](std::size_t offset) const noexcept { return data()[offset]; }

    /// Offset of the first `c` in the content, or npos.
    std::size_t find(char c, std::size_t from = 0) const noexcept;
    /// Offset of the first occurrence of `needle` in the content, or npos.
    std::size_t find(std::string_view needle, std::size_t from = 0) const noexcept;
    /// Offset of the first "\r\n" (of its '\r'), or npos.
    std::size_t find_crlf(std::size_t from = 0) const noexcept { return find("\r\n", from); }

    // ---- consuming -------------------------------------------------------------

    /// Drops the first `n` readable bytes (all of them if n >= size()).
    void consume(std::size_t n) noexcept;
    /// Drops all content; keeps the storage for reuse.
    void consume_all() noexcept;
    /// Removes and returns the first `n` bytes (fewer if size() < n).
    std::string take(std::size_t n);
    std::string take_all() { return take(size()); }

    // ---- writing ---------------------------------------------------------------

    /// Copies `n` bytes after the content. Throws std::length_error or
    /// std::bad_alloc (buffer unchanged) if the block cannot grow enough.
    void append(const void* data, std::size_t n);
    void append(std::string_view text) { append(text.data(), text.size()); }
    /// Puts `n` bytes just before the content, growing the front room if
    /// needed (a copy of the content, only when kPrependRoom is not enough).
    /// Throws as append() does.
    void prepend(const void* data, std::size_t n);
    /// Makes room for at least `n` more bytes after the content. Throws as
    /// append() does.
    void ensure_writable(std::size_t n);
    /// Direct writing: fill write_pointer()[0 .. writable_bytes()), then
    /// commit() the bytes written (n <= writable_bytes(), asserted).
    /// ensure_writable() first.
    char* write_pointer() noexcept;
    std::span<char> writable_span() noexcept { return {write_pointer(), writable_bytes()}; }
    void commit(std::size_t n) noexcept;

    // ---- storage ---------------------------------------------------------------

    /// Frees the storage and drops any content: afterwards the buffer holds
    /// no memory. Connections call it when a buffer drains, so an idle
    /// connection pins no block.
    void release() noexcept;
    /// Frees the storage if empty, else shrinks the block to the content
    /// (plus the prepend room).
    void shrink_to_fit();
    void swap(Buffer& other) noexcept;

    // ---- file descriptors (non-blocking fds; EINTR retried) --------------------

    /// Reads once with readv() into the free space and a kSpillSize stack
    /// area, appending what arrived. Returns the bytes read, 0 at EOF, -1
    /// with `ec` set on failure (EAGAIN included: nothing was ready).
    ssize_t read_fd(int fd, std::error_code& ec);
    /// Writes the content once with write() and consumes what was written.
    /// Returns the bytes written or -1 with `ec` set (EAGAIN included).
    /// For sockets TcpConnection uses send() with MSG_NOSIGNAL instead.
    ssize_t write_fd(int fd, std::error_code& ec) noexcept;

private:
    friend class detail::BufferAccess;
    // The block header sits in front of the data area, in the same
    // allocation: a Buffer without a block is a null pointer and costs
    // nothing else. Defined here so the accessors below inline.
    struct Block {
        std::size_t capacity;  // bytes in the data area
        std::size_t read;      // read_index
        std::size_t write;     // write_index
        bool borrowed;         // a thread's scratch block: never freed by a Buffer
        char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
    };
    // The largest data area: header plus data area must fit one size_t.
    static constexpr std::size_t kMaxCapacity =
        std::numeric_limits<std::size_t>::max() - sizeof(Block);
    static bool exceeds_max_capacity(std::size_t a, std::size_t b, std::size_t c) noexcept;
    static Block* allocate_block(std::size_t capacity);
    static void free_block(Block* block) noexcept;
    void reallocate(std::size_t capacity, std::size_t front);
    Block* block_ = nullptr;
};

// The accessors are on every read and write path: inline.
inline std::size_t Buffer::size() const noexcept {
    return block_ != nullptr ? block_->write - block_->read : 0;
}
inline std::size_t Buffer::writable_bytes() const noexcept {
    return block_ != nullptr ? block_->capacity - block_->write : 0;
}
inline std::size_t Buffer::prependable_bytes() const noexcept {
    return block_ != nullptr ? block_->read : 0;
}
inline std::size_t Buffer::capacity() const noexcept {
    return block_ != nullptr ? block_->capacity : 0;
}
inline const char* Buffer::data() const noexcept {
    return block_ != nullptr ? block_->bytes() + block_->read : nullptr;
}
inline char* Buffer::write_pointer() noexcept {
    return block_ != nullptr ? block_->bytes() + block_->write : nullptr;
}
inline void Buffer::commit(std::size_t n) noexcept {
    assert(n <= writable_bytes());
    if (block_ != nullptr) block_->write += n;
}
inline void Buffer::consume_all() noexcept {
    if (block_ != nullptr) block_->read = block_->write = kPrependRoom;
}
inline void Buffer::consume(std::size_t n) noexcept {
    if (n >= size()) {
        consume_all();
    } else {
        block_->read += n;
    }
}

}  // namespace reactor
