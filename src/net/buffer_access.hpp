// src/net/buffer_access.hpp -- lending a thread's read scratch area to a Buffer.
//
// Why: an idle connection must hold no heap buffer (the 256-byte-per-
// connection goal, docs/tcp.md), yet the message callback must receive a
// Buffer, and the common read ("a whole request arrived") must cost one
// read() and no allocation. So a connection with an empty input buffer
// borrows the thread's 64 KiB scratch block as its input storage, reads into
// it directly, runs the message callback, and settles: if the callback
// consumed everything the buffer simply lets go of the block; if bytes are
// left (a partial message) they are copied into a block of the
// connection's own, sized to fit. Only partial messages cost an allocation.
//
// The lent block is marked `borrowed`: a Buffer never frees it, and moving
// or swapping a Buffer that holds it copies the content instead of taking
// the block, so a callback that keeps the Buffer cannot keep the scratch.
// One lease per thread at a time; a second lend_scratch() while the first
// is out returns false and the caller reads into its own storage instead.
//
// Internal: not installed.
#pragma once

#include <reactor/buffer.hpp>

namespace reactor::detail {

class BufferAccess {
public:
    /// Points an empty, storage-less `buffer` at this thread's scratch block
    /// (allocated on first use). False if the scratch is already lent (or
    /// `buffer` has storage): the caller then uses buffer.read_fd().
    static bool lend_scratch(Buffer& buffer) noexcept;
    /// Ends a lease (no-op if `buffer` does not hold the scratch any more):
    /// unconsumed bytes move to an owned block, else the buffer ends up with
    /// no storage.
    static void settle(Buffer& buffer);
    /// True if `buffer` currently holds this thread's scratch block.
    static bool holds_scratch(const Buffer& buffer) noexcept;

private:
    struct Scratch;
    struct ScratchFreer;
    static Scratch& scratch() noexcept;
};

}  // namespace reactor::detail
