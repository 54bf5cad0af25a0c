// src/http/chars.hpp -- HTTP character classes (RFC 9110 section 5.6), shared by
// the request parser and the response writer. Internal: not installed.
//
// One 256-entry table of bit flags answers "may this byte appear here?" with
// a single load, which keeps the per-byte loops of the parser branch-light.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace reactor::detail {

enum CharClass : std::uint8_t {
    kToken = 1,       // tchar: may appear in a method or a field name
    kTarget = 2,      // may appear in a request-target: visible ASCII (VCHAR)
    kFieldValue = 4,  // may appear in a field value: HTAB, SP, VCHAR, obs-text
    kHex = 8,         // hexadecimal digit
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

/// True if every byte of `s` has class `cls` (and `s` is not empty).
inline bool all_of_class(std::string_view s, CharClass cls) noexcept {
    if (s.empty()) return false;
    for (char c : s) {
        if (!has_class(c, cls)) return false;
    }
    return true;
}

/// `s` without leading and trailing SP / HTAB (optional whitespace, OWS).
inline std::string_view trim_ows(std::string_view s) noexcept {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return s.substr(b, e - b);
}

}  // namespace reactor::detail
