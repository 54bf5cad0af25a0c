// src/http/chars.hpp -- HTTP character classes (RFC 9110 section 5.6), shared by
// the request parser and the response writer. Internal: not installed.
//
// One 256-entry table of bit flags answers "may this byte appear here?" with
// a single load, which keeps the per-byte loops of the parser branch-light.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace reactor::detail {

enum CharClass : std::uint8_t {
    kToken = 1,       // tchar: may appear in a method or a field name
    kTarget = 2,      // may appear in a request-target: visible ASCII (VCHAR)
    kFieldValue = 4,  // may appear in a field value: HTAB, SP, VCHAR, obs-text
    kHex = 8,         // hexadecimal digit
    kRegName = 16,    // may appear in a host name (RFC 3986 reg-name): unreserved / sub-delims
    kDigit = 32,      // decimal digit
};

constexpr std::array<std::uint8_t, 256> make_char_classes() {
    std::array<std::uint8_t, 256> t{};
    for (int c = 0; c < 256; ++c) {
        std::uint8_t f = 0;
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        const bool digit = c >= '0' && c <= '9';
        if (alpha || digit || std::string_view("!#$%&'*+-.^_`|~").find(char(c)) !=
                                      std::string_view::npos) {
            f |= kToken;
        }
        if (c >= 0x21 && c <= 0x7e) f |= kTarget;
        if (c == '\t' || (c >= 0x20 && c <= 0x7e) || c >= 0x80) f |= kFieldValue;
        if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
        if (digit) f |= kDigit;
        if (alpha || digit || std::string_view("-._~!$&'()*+,;=").find(char(c)) !=
                                      std::string_view::npos) {
            f |= kRegName;
        }
        t[c] = f;
    }
    return t;
}

inline constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

inline bool has_class(char c, CharClass cls) noexcept {
    return (kCharClasses[static_cast<unsigned char>(c)] & cls) != 0;
}

inline char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
}

/// ASCII case-insensitive equality (field names and tokens are ASCII).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    }
    return true;
}

/// The eight bytes at `s` as one word (any alignment; the byte order does not
/// matter to the callers, which only compare words or test every byte).
inline std::uint64_t load_u64(const char* s) noexcept {
    std::uint64_t w;
    std::memcpy(&w, s, 8);
    return w;
}

inline std::uint32_t load_u32(const char* s) noexcept {
    std::uint32_t w;
    std::memcpy(&w, s, 4);
    return w;
}

/// True if the field name `name`, made of token characters only, equals
/// `lower` ignoring ASCII case, where `lower` holds only lowercase letters
/// and '-' (the framing headers' names). Setting bit 0x20 of every byte
/// maps 'A'-'Z' onto 'a'-'z' and leaves 'a'-'z' and '-' alone; the only
/// other byte it maps onto a letter or '-' is CR (onto '-'), which no token
/// contains. So for token input it is exact, and it compares eight (or
/// four) bytes at a time: this runs for every header of every request.
inline bool token_iequals(std::string_view name, std::string_view lower) noexcept {
    const std::size_t n = lower.size();
    if (name.size() != n) return false;
    const char* a = name.data();
    const char* b = lower.data();
    if (n >= 8) {
        constexpr std::uint64_t kCase64 = 0x2020202020202020ULL;
        for (std::size_t i = 0; i + 8 < n; i += 8) {
            if ((load_u64(a + i) | kCase64) != load_u64(b + i)) return false;
        }
        // The last word overlaps the previous one when n is not a multiple of 8.
        return (load_u64(a + n - 8) | kCase64) == load_u64(b + n - 8);
    }
    if (n >= 4) {
        constexpr std::uint32_t kCase32 = 0x20202020U;
        return (load_u32(a) | kCase32) == load_u32(b) &&
               (load_u32(a + n - 4) | kCase32) == load_u32(b + n - 4);
    }
    for (std::size_t i = 0; i < n; ++i) {
        if ((a[i] | 0x20) != b[i]) return false;
    }
    return true;
}

/// True if every byte of `s` has class `cls` (and `s` is not empty).
inline bool all_of_class(std::string_view s, CharClass cls) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        if (!has_class(c, cls)) return false;
    }
    return true;
}

/// True if every byte of [s, s + n) may appear in a field value (HTAB, SP,
/// VCHAR, obs-text). This runs over every header value of every request, so
/// it looks at eight bytes at a time and merges the verdicts: when no word
/// has a byte below 0x20 or a DEL (the usual case) the value is accepted
/// after one test; otherwise it is re-checked byte by byte, since HTAB is
/// allowed. The bit tricks are the classic "has a byte less than n" and "has
/// a zero byte" tests, exact as booleans.
inline bool is_field_value(const char* s, std::size_t n) noexcept {
    if (n >= 8) {
        constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
        constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
        const auto suspicious = [](std::uint64_t w) {
            const std::uint64_t below_space = (w - kOnes * 0x20) & ~w;
            const std::uint64_t x = w ^ (kOnes * 0x7f);
            const std::uint64_t del = (x - kOnes) & ~x;
            return (below_space | del) & kHighs;
        };
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i + 8 < n; i += 8) seen |= suspicious(load_u64(s + i));
        // The last word overlaps the previous one when n is not a multiple of 8.
        seen |= suspicious(load_u64(s + n - 8));
        if (seen == 0) return true;
    }
    for (std::size_t i = 0; i < n; ++i) {
        if (!has_class(s[i], kFieldValue)) return false;
    }
    return true;
}

/// The length of the longest prefix of [s, s + n) whose bytes all have class
/// `cls`. Four table lookups per step, combined, keep the loop to one branch
/// per four bytes on typical names.
inline std::size_t class_prefix(const char* s, std::size_t n, CharClass cls) noexcept {
    const auto at = [&](std::size_t i) { return kCharClasses[static_cast<unsigned char>(s[i])]; };
    std::size_t i = 0;
    while (i + 4 <= n && (at(i) & at(i + 1) & at(i + 2) & at(i + 3) & cls) != 0) i += 4;
    while (i < n && (at(i) & cls) != 0) ++i;
    return i;
}

/// The length of the longest prefix of [s, s + n) made of token characters
/// (a method or a field name).
inline std::size_t token_prefix(const char* s, std::size_t n) noexcept {
    return class_prefix(s, n, kToken);
}

/// The length of the longest prefix of [s, s + n) made of visible ASCII
/// (VCHAR, 0x21-0x7e: what a request-target may hold). Eight bytes at a time
/// while a word has no byte below 0x21, none with the high bit and no DEL
/// (the tests are exact as booleans, as in is_field_value); byte by byte
/// from the first word that has one.
inline std::size_t target_prefix(const char* s, std::size_t n) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighs = 0x8080808080808080ULL;
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const std::uint64_t w = load_u64(s + i);
        const std::uint64_t below = (w - kOnes * 0x21) & ~w & kHighs;
        const std::uint64_t x = w ^ (kOnes * 0x7f);
        const std::uint64_t del = (x - kOnes) & ~x & kHighs;
        if ((below | del | (w & kHighs)) != 0) break;
    }
    while (i < n && has_class(s[i], kTarget)) ++i;
    return i;
}

/// `s` without leading and trailing SP / HTAB (optional whitespace, OWS).
inline std::string_view trim_ows(std::string_view s) noexcept {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return s.substr(b, e - b);
}

}  // namespace reactor::detail
