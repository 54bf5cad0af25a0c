// src/http/uri.hpp -- the parts of URI syntax (RFC 3986) the request parser
// checks: a host and port as the Host field and the request-target carry
// them, and the absolute-form of a request-target. Internal: not installed.
//
// Syntax only: nothing is decoded, resolved or normalised, and no view
// outlives the string it was cut from.
//
//   authority-ish = uri-host [ ":" port ]               (RFC 9110 section 7.2)
//   uri-host      = IP-literal / IPv4address / reg-name
//   IP-literal    = "[" ( IPv6address / IPvFuture ) "]"
//   reg-name      = *( unreserved / pct-encoded / sub-delims )
//   port          = *DIGIT
//
// An IPv4address is also a valid reg-name ("999.1.1.1" is a name that fails
// to resolve, not a syntax error), so a host outside brackets is checked as a
// reg-name only. Userinfo ("user@host") is not accepted anywhere: RFC 9110
// section 4.2.4 says to treat it as an error in http(s) targets, and '@' is
// not a reg-name character. IPv6 zone identifiers (RFC 6874 "%25eth0") are
// not part of RFC 3986 or RFC 9110 and are refused.
#pragma once

#include "http/chars.hpp"

#include <cstddef>
#include <string_view>

namespace reactor::detail {

/// dec-octet: "0" to "255" without leading zeros (RFC 3986 section 3.2.2).
inline bool is_dec_octet(std::string_view s) noexcept {
    if (s.empty() || s.size() > 3 || (s.size() > 1 && s[0] == '0')) return false;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return s.size() < 3 || s <= "255";
}

/// IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet
inline bool is_ipv4_address(std::string_view s) noexcept {
    for (int i = 0; i < 3; ++i) {
        const std::size_t dot = s.find('.');
        if (dot == std::string_view::npos || !is_dec_octet(s.substr(0, dot))) return false;
        s.remove_prefix(dot + 1);
    }
    return is_dec_octet(s);
}

/// IPv6address (RFC 3986 section 3.2.2): eight pieces of 1 to 4 hex digits
/// separated by ':', where one run of zero pieces may be elided as "::" and
/// the last two pieces may be written as an IPv4 address.
inline bool is_ipv6_address(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    int pieces = 0;       // 16-bit pieces written out (an IPv4 tail counts two)
    bool elided = false;  // "::" seen
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        elided = true;
        i = 2;
    }
    while (i < n) {
        std::size_t j = i;
        while (j < n && j - i <= 4 && has_class(s[j], kHex)) ++j;
        if (j < n && s[j] == '.') {
            // ls32 written as an IPv4 address: it must end the address.
            if (!is_ipv4_address(s.substr(i))) return false;
            pieces += 2;
            break;
        }
        if (j == i || j - i > 4) return false;
        ++pieces;
        if (j == n) break;
        if (s[j] != ':') return false;
        i = j + 1;
        if (i < n && s[i] == ':') {
            if (elided) return false;  // "::" at most once
            elided = true;
            ++i;
        } else if (i == n) {
            return false;  // a single trailing ':'
        }
    }
    // "::" stands for at least one zero piece.
    return elided ? pieces <= 7 : pieces == 8;
}

/// IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
inline bool is_ipv_future(std::string_view s) noexcept {
    if (s.size() < 4 || (s[0] != 'v' && s[0] != 'V')) return false;
    std::size_t i = 1;
    while (i < s.size() && has_class(s[i], kHex)) ++i;
    if (i == 1 || i == s.size() || s[i] != '.' || i + 1 == s.size()) return false;
    for (++i; i < s.size(); ++i) {
        if (!has_class(s[i], kRegName) && s[i] != ':') return false;
    }
    return true;
}

/// The length of the longest prefix of `s` that is a reg-name (unreserved,
/// sub-delims and "%" HEXDIG HEXDIG). This runs on the Host of every
/// request, so runs of plain characters are scanned four bytes at a time.
inline std::size_t reg_name_prefix(std::string_view s) noexcept {
    std::size_t i = class_prefix(s.data(), s.size(), kRegName);
    while (s.size() - i >= 3 && s[i] == '%' && has_class(s[i + 1], kHex) &&
           has_class(s[i + 2], kHex)) {
        i += 3;
        i += class_prefix(s.data() + i, s.size() - i, kRegName);
    }
    return i;
}

/// Whether an authority must carry a port.
enum class Port : bool { Optional, Required };

/// True if `s` is uri-host [ ":" port ] with a non-empty host: what a Host
/// field, the authority of an http(s) URL, and (with Port::Required, which
/// also wants at least one digit) CONNECT's authority-form may hold. The host
/// must not be empty because an "http" or "https" URI with an empty host is
/// invalid (RFC 9110 section 4.2.1); the port may be, as RFC 3986 allows
/// ("example.com:"), except where it is required.
inline bool is_host_and_port(std::string_view s, Port port) noexcept {
    std::size_t host_end;
    if (!s.empty() && s[0] == '[') {
        const std::size_t close = s.find(']');
        if (close == std::string_view::npos) return false;
        const std::string_view literal = s.substr(1, close - 1);
        if (!is_ipv6_address(literal) && !is_ipv_future(literal)) return false;
        host_end = close + 1;
    } else {
        host_end = reg_name_prefix(s);
        if (host_end == 0) return false;
    }
    if (host_end == s.size()) return port == Port::Optional;
    if (s[host_end] != ':') return false;
    const std::size_t digits = s.size() - host_end - 1;
    if (digits == 0) return port == Port::Optional;
    return class_prefix(s.data() + host_end + 1, digits, kDigit) == digits;
}

/// If `target` starts with "http://" or "https://" (the scheme compared
/// case-insensitively, RFC 3986 section 3.1), the offset where the authority
/// begins (7 or 8); otherwise 0.
inline std::size_t http_scheme_length(std::string_view target) noexcept {
    if (target.size() >= 7 && iequals(target.substr(0, 7), "http://")) return 7;
    if (target.size() >= 8 && iequals(target.substr(0, 8), "https://")) return 8;
    return 0;
}

}  // namespace reactor::detail
