// src/loop/watcher.hpp -- one fd watcher, as the loop's slot table holds it.
//
// Shared by event_loop.cpp (the table) and event_loop_trace.cpp (the tracer,
// which reads a watcher's fd and label kind). Internal: not installed.
#pragma once

#include <reactor/event_loop.hpp>

#include <cstdint>

namespace reactor {

struct EventLoop::Watcher {
    IoCallback cb;
    int fd = -1;
    Events interest = NoEvents;
    std::uint32_t generation = 1;
    bool live = false;
    bool in_poller = false;  // the poller only holds fds with non-empty interest
    // What the tracer calls this fd. One byte the struct had spare as
    // padding: labels cost no memory per watcher (the name of a Named
    // watcher lives in EventLoop::watcher_names_).
    WatchLabel::Kind label = WatchLabel::Fd;
};
// (event_loop.cpp asserts that the label kept the size: the callback plus
// 16 bytes.)

namespace detail {

/// A watcher's id and poller token: generation in the high half, slot
/// index in the low half.
inline std::uint64_t make_token(std::uint32_t index, std::uint32_t generation) noexcept {
    return (std::uint64_t{generation} << 32) | index;
}

}  // namespace detail
}  // namespace reactor
