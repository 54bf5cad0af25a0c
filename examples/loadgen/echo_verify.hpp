// examples/loadgen/echo_verify.hpp -- checks an echo stream byte for byte.
//
// The messages a connection sent are queued, in order, with the time each
// was sent. Whatever bytes arrive must continue the queued bytes exactly;
// replies may arrive in any slicing (a message in three reads, or the tail
// of one and the head of the next in one read). A message is complete when
// its last byte has arrived; its latency is the time since it was sent.
#pragma once

#include "fifo.hpp"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace loadgen {

class EchoVerifier {
public:
    using TimePoint = std::chrono::steady_clock::time_point;

    /// Queues `message`, sent at `sent`, as the next bytes the peer must
    /// echo.
    void expect(std::string_view message, TimePoint sent) {
        expected_.append(message);
        ends_.push_back({consumed_ + (expected_.size() - matched_), sent});
    }

    /// Compares `data` with the bytes expected next. For each message
    /// completed, calls `on_complete(sent_time)`. Returns false at the first
    /// byte that differs or that arrives when nothing is expected; error()
    /// then says where. After a false return the stream is out of step and
    /// the verifier should be discarded with the connection.
    template <class OnComplete>
    bool feed(std::string_view data, OnComplete&& on_complete) {
        std::size_t i = 0;
        while (i < data.size()) {
            const std::size_t available = expected_.size() - matched_;
            if (available == 0) {
                // Where the stray bytes start, not how many came in this
                // read: the text must not depend on how replies are sliced.
                error_ = "unexpected byte(s) with no message pending, from byte " +
                         std::to_string(consumed_) + " of the stream";
                return false;
            }
            const std::size_t n = std::min(available, data.size() - i);
            for (std::size_t k = 0; k < n; ++k) {
                if (data[i + k] != expected_[matched_ + k]) {
                    error_ = "byte " + std::to_string(offset_in_message(consumed_ + k)) +
                             " of a message differs: expected " +
                             describe(expected_[matched_ + k]) + ", got " + describe(data[i + k]);
                    return false;
                }
            }
            matched_ += n;
            consumed_ += n;
            i += n;
            while (!ends_.empty() && ends_.front().end <= consumed_) {
                const TimePoint sent = ends_.front().sent;
                front_start_ = ends_.front().end;
                ends_.pop_front();
                on_complete(sent);
            }
            compact();
        }
        return true;
    }

    /// Messages sent whose echo is not complete yet.
    std::size_t pending() const { return ends_.size(); }
    /// When the oldest pending message was sent (pending() > 0).
    TimePoint oldest() const { return ends_.front().sent; }
    /// Bytes sent and not yet echoed.
    std::size_t pending_bytes() const { return expected_.size() - matched_; }
    /// What went wrong at the last false feed().
    const std::string& error() const { return error_; }

private:
    struct End {
        std::size_t end;  // stream offset just past the message's last byte
        TimePoint sent;
    };

    // Where stream byte `at` lies within its message (for the error text).
    std::size_t offset_in_message(std::size_t at) {
        std::size_t start = front_start_;
        for (std::size_t j = 0; j < ends_.size() && ends_.at(j).end <= at; ++j) {
            start = ends_.at(j).end;
        }
        return at - start;
    }

    static std::string describe(char c) {
        if (c >= 0x20 && c < 0x7f) return std::string("'") + c + "'";
        return "byte " + std::to_string(static_cast<unsigned char>(c));
    }

    // Drops bytes already echoed, so the buffer holds about what is in
    // flight, however long the connection lives.
    void compact() {
        if (matched_ == expected_.size()) {
            expected_.clear();
            matched_ = 0;
        } else if (matched_ >= 4096 && matched_ * 2 >= expected_.size()) {
            expected_.erase(0, matched_);
            matched_ = 0;
        }
    }

    std::string expected_;         // bytes sent, from the oldest not fully echoed
    std::size_t matched_ = 0;      // prefix of expected_ already echoed
    std::size_t consumed_ = 0;     // stream offset: bytes echoed in total
    std::size_t front_start_ = 0;  // stream offset where the oldest pending message starts
    Fifo<End> ends_;
    std::string error_;
};

}  // namespace loadgen
