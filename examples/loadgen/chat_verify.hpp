// examples/loadgen/chat_verify.hpp -- splits a chat stream into lines and
// recognises the lines loadgen itself sent.
//
// A chat server relays each line to every other client with a prefix
// naming the sender (its format does not matter here, e.g. "[127.0.0.1:
// 40000] ") and announces arrivals and departures ("* NAME joined"). Every
// line loadgen sends carries a token, "msg CONN SEQ" followed by padding
// derived from --seed, so a receiver can tell which line it got and check
// that it arrived intact. Lines without a token (announcements, anything
// else the server says) are ignored. Two control lines synchronise the
// start (see worker.cpp): "loadgen-sync" and "loadgen-ready CONN".
#pragma once

#include "payload.hpp"

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

/// Assembles lines from arbitrarily sliced input.
class LineSplitter {
public:
    static constexpr std::size_t kMaxLine = 1u << 20;

    /// Calls `on_line(std::string_view)` for each complete line in `data`
    /// (without its '\n', and without a '\r' before it). Returns false if a
    /// line is longer than kMaxLine, ended or not: the same verdict however
    /// the input is sliced.
    template <class OnLine>
    bool feed(std::string_view data, OnLine&& on_line) {
        while (!data.empty()) {
            const std::size_t nl = data.find('\n');
            if (nl == std::string_view::npos) {
                if (partial_.size() + data.size() > kMaxLine) return false;
                partial_.append(data);
                return true;
            }
            // The limit holds however the line was sliced into reads.
            if (partial_.size() + nl > kMaxLine) return false;
            std::string_view line;
            if (partial_.empty()) {
                line = data.substr(0, nl);
            } else {
                partial_.append(data.substr(0, nl));
                line = partial_;
            }
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            on_line(line);
            partial_.clear();
            data.remove_prefix(nl + 1);
        }
        return true;
    }

    /// True while a line has started but not ended.
    bool in_progress() const { return !partial_.empty(); }

private:
    std::string partial_;
};

struct ChatLine {
    enum class Kind {
        Other,    ///< no token: an announcement or anything else; ignored
        Message,  ///< "msg CONN SEQ ..."; `intact` says whether it matches what was sent
        Sync,     ///< "loadgen-sync": the coordinator asks who is registered
        Ready,    ///< "loadgen-ready CONN": CONN received a sync line
    };
    Kind kind = Kind::Other;
    std::uint64_t conn = 0;
    std::uint64_t seq = 0;
    bool intact = false;
};

namespace detail {

// Finds `word` at the start of `line` or right after a space or ']', so a
// token is found behind any prefix the server adds, but not inside another
// word.
inline std::size_t find_word(std::string_view line, std::string_view word) {
    for (std::size_t at = line.find(word); at != std::string_view::npos;
         at = line.find(word, at + 1)) {
        if (at == 0 || line[at - 1] == ' ' || line[at - 1] == ']') return at;
    }
    return std::string_view::npos;
}

inline bool read_number(std::string_view& s, std::uint64_t& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc{} || end == s.data()) return false;
    s.remove_prefix(static_cast<std::size_t>(end - s.data()));
    return true;
}

}  // namespace detail

/// Classifies one received line (without '\n'). A Message is intact when
/// everything from its token to the end of the line is exactly the line
/// make_chat_line(seed, CONN, SEQ, size) produced.
inline ChatLine parse_chat_line(std::string_view line, std::uint64_t seed, std::size_t size) {
    ChatLine out;
    if (const auto at = detail::find_word(line, "msg "); at != std::string_view::npos) {
        std::string_view rest = line.substr(at + 4);
        std::uint64_t conn = 0, seq = 0;
        if (!detail::read_number(rest, conn) || rest.empty() || rest.front() != ' ') return out;
        rest.remove_prefix(1);
        if (!detail::read_number(rest, seq) || (!rest.empty() && rest.front() != ' ')) return out;
        out.kind = ChatLine::Kind::Message;
        out.conn = conn;
        out.seq = seq;
        out.intact = line.substr(at) == make_chat_line(seed, conn, seq, size);
        return out;
    }
    if (const auto at = detail::find_word(line, "loadgen-ready "); at != std::string_view::npos) {
        std::string_view rest = line.substr(at + 14);
        if (detail::read_number(rest, out.conn) && rest.empty()) out.kind = ChatLine::Kind::Ready;
        return out;
    }
    if (const auto at = detail::find_word(line, "loadgen-sync"); at != std::string_view::npos &&
                                                                  at + 12 == line.size()) {
        out.kind = ChatLine::Kind::Sync;
    }
    return out;
}

}  // namespace loadgen
