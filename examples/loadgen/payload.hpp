// examples/loadgen/payload.hpp -- the bytes loadgen sends: pseudo-random,
// printable, different per connection and per message, and reproducible
// from --seed, so a reply can be checked without storing what was sent and
// a failing run can be repeated byte for byte.
#pragma once

#include <cstdint>
#include <string>

namespace loadgen {

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, well-mixed 64-bit
/// generator step; good enough for payloads and jitter, not for secrets.
inline std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// A stream of printable characters ('!' .. '~') determined by its key.
class PrintableStream {
public:
    PrintableStream(std::uint64_t seed, std::uint64_t conn, std::uint64_t seq)
        : state_(mix64(seed ^ mix64(conn ^ mix64(seq)))) {}
    char next() {
        if (left_ == 0) {
            state_ = mix64(state_);
            bits_ = state_;
            left_ = 8;
        }
        const auto byte = static_cast<unsigned>(bits_ & 0xff);
        bits_ >>= 8;
        --left_;
        return static_cast<char>('!' + byte % 94);
    }

private:
    std::uint64_t state_;
    std::uint64_t bits_ = 0;
    int left_ = 0;
};

/// Echo message `seq` of connection `conn`: `size` bytes, the last one '\n',
/// the others printable (so a line-based echo server works as well).
inline std::string make_echo_message(std::uint64_t seed, std::uint64_t conn, std::uint64_t seq,
                                     std::size_t size) {
    std::string out;
    out.reserve(size);
    PrintableStream s(seed, conn, seq);
    for (std::size_t i = 0; i + 1 < size; ++i) out.push_back(s.next());
    out.push_back('\n');
    return out;
}

/// Chat line `seq` of connection `conn`, without its '\n': the token
/// "msg CONN SEQ" then printable padding up to `size` - 1 bytes (the token
/// alone when `size` is smaller).
inline std::string make_chat_line(std::uint64_t seed, std::uint64_t conn, std::uint64_t seq,
                                  std::size_t size) {
    std::string out = "msg " + std::to_string(conn) + " " + std::to_string(seq);
    PrintableStream s(seed, conn, seq);
    if (out.size() + 2 < size) {
        out.push_back(' ');
        while (out.size() + 1 < size) out.push_back(s.next());
    }
    return out;
}

/// A start offset in [0, range) for connection `conn`, so that thousands of
/// connections sending once per interval spread over the interval instead
/// of all firing in the same millisecond.
inline std::uint64_t jitter(std::uint64_t seed, std::uint64_t conn, std::uint64_t range) {
    return range == 0 ? 0 : mix64(seed * 31 + conn + 0x5eed) % range;
}

}  // namespace loadgen
