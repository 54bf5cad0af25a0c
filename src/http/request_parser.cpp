// src/http/request_parser.cpp -- the incremental HTTP/1.1 request parser.
//
// Two halves. The head (request line and header lines) is collected line by
// line into head_: memchr finds each LF, the line is appended whole and
// checked at once, so a typical request costs a few memchr/memcpy calls and
// one table lookup per byte. The body is a byte-level state machine for the
// chunk framing, with bulk copies for Content-Length bodies and chunk data.
// The rules and the attacks they stop are listed in docs/http.md.
//
// Per-request state is one value (PerRequest cur_), reset by assignment; the
// buffers live beside it and keep their capacity.
#include <reactor/http/request_parser.hpp>

#include "http/chars.hpp"
#include "http/uri.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace reactor::http {

using detail::has_class;
using detail::iequals;
using detail::kFieldValue;
using detail::kHex;
using detail::kToken;
using detail::token_iequals;
using detail::trim_ows;

namespace {

// A chunk-size line (size, extensions, CRLF) longer than this is refused:
// extensions are checked and skipped without being stored, but an endless
// one would otherwise keep the connection busy forever at no cost to the
// peer. (All the extension bytes of one body together are also bounded, by
// Limits::max_header_bytes, so that many short chunks cannot carry an
// unbounded amount of them either.)
constexpr std::size_t kMaxChunkSizeLine = 1024;

// Body buffers above this are released by reset() instead of kept.
constexpr std::size_t kKeptBodyCapacity = 64 * 1024;

// Reserved up front for a Content-Length body at most: the rest grows as
// bytes arrive, so a header announcing 1 MiB costs nothing until it is sent.
constexpr std::size_t kMaxBodyReserve = 64 * 1024;

unsigned hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return static_cast<unsigned>(c - '0');
    return static_cast<unsigned>(detail::ascii_lower(c) - 'a' + 10);
}

// Calls fn(element) for every non-empty element of a comma-separated list
// (RFC 9110 section 5.6.1), with optional whitespace trimmed.
template <class Fn>
void for_each_list_element(std::string_view list, Fn&& fn) {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_ows(list.substr(0, comma));
        if (!element.empty()) fn(element);
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
    for (const Header& h : headers_) {
        if (iequals(h.name, name)) return h.value;
    }
    return std::nullopt;
}

std::optional<std::uint64_t> Request::content_length() const noexcept {
    if (!f_.has_content_length) return std::nullopt;
    return f_.content_length;
}

RequestParser::RequestParser(Limits limits) : limits_(limits) {
    // Offsets into the head are 32-bit (Slot) to keep the per-header record small.
    if (limits_.max_header_bytes >= std::numeric_limits<std::uint32_t>::max()) {
        throw std::invalid_argument("http::Limits::max_header_bytes must be below 4 GiB");
    }
}

std::size_t RequestParser::feed(std::string_view data) {
    if (data.empty() || cur_.state == State::Done || cur_.state == State::Failed) return 0;
    const char* const begin = data.data();
    const char* const end = begin + data.size();
    const char* p = begin;
    cur_.started = true;

    if (cur_.state == State::RequestLine || cur_.state == State::HeaderLines) {
        p = feed_head(p, end);
    }
    if (cur_.state == State::FixedBody && p < end) {
        p = feed_fixed_body(p, end);
    }
    if (cur_.state >= State::ChunkSize && cur_.state < State::Done && p < end) {
        p = feed_chunked(p, end);
    }
    return static_cast<std::size_t>(p - begin);
}

// The head arrives in lines. A line wholly inside `data` is checked where it
// lies, and everything kept is copied into head_ with one append at the end
// (so a request that arrives in one read costs one copy, not one per line).
// A line split across feed() calls is completed in head_ and checked there.
const char* RequestParser::feed_head(const char* p, const char* end) {
    if (head_.size() > cur_.line_start) {
        const auto* lf = static_cast<const char*>(std::memchr(p, '\n', end - p));
        const char* stop = lf ? lf + 1 : end;
        const auto n = static_cast<std::size_t>(stop - p);
        // Checked before copying, also for a line still incomplete, so a
        // peer that never sends LF is refused as soon as it passes the limit.
        if (cur_.head_bytes + n > limits_.max_header_bytes) {
            fail(431, "request line and headers exceed the size limit");
            return stop;
        }
        head_.append(p, n);
        cur_.head_bytes += n;
        p = stop;
        if (!lf) return p;
        const auto size = static_cast<std::uint32_t>(head_.size());
        switch (on_head_line(head_.data() + cur_.line_start, cur_.line_start, size - cur_.line_start)) {
        case LineResult::Next:
            cur_.line_start = size;
            break;
        case LineResult::SkippedEmpty:
            head_.resize(cur_.line_start);
            break;
        case LineResult::HeadEnd:
            on_head_complete();
            return p;
        case LineResult::Failed:
            return p;
        }
    }

    // From here on head_ ends at a line boundary: head_[cur_.line_start] is where
    // `kept` will be copied to. A line must end before `limit` to fit in
    // max_header_bytes, so one bound checks every line of this call: an LF
    // found before it ends a line that fits; none found before it, when the
    // input goes on past it, means the head is too large.
    const char* kept = p;
    const std::uint32_t base = cur_.line_start;
    const std::size_t room = limits_.max_header_bytes - cur_.head_bytes;
    const char* const limit = static_cast<std::size_t>(end - p) > room ? p + room : end;
    const char* const start = p;
    while (p < limit) {
        const auto* lf = static_cast<const char*>(std::memchr(p, '\n', limit - p));
        if (!lf) break;
        const char* stop = lf + 1;
        const auto offset = base + static_cast<std::uint32_t>(p - kept);
        switch (on_head_line(p, offset, static_cast<std::uint32_t>(stop - p))) {
        case LineResult::Next:
            p = stop;
            break;
        case LineResult::SkippedEmpty:
            // Only empty lines come before the request line, and nothing
            // was kept before them: they are simply not copied.
            p = stop;
            kept = p;
            break;
        case LineResult::HeadEnd:
            cur_.head_bytes += static_cast<std::size_t>(stop - start);
            head_.append(kept, static_cast<std::size_t>(stop - kept));
            on_head_complete();
            return stop;
        case LineResult::Failed:
            return stop;
        }
    }
    if (limit != end) {
        fail(431, "request line and headers exceed the size limit");
        return limit + 1;
    }
    // The rest of the input is the start of a line still incomplete.
    cur_.head_bytes += static_cast<std::size_t>(end - start);
    cur_.line_start = base + static_cast<std::uint32_t>(p - kept);
    head_.append(kept, static_cast<std::size_t>(end - kept));
    return end;
}

// Checks one complete head line of `length` bytes at `s` (LF included).
inline RequestParser::LineResult RequestParser::on_head_line(const char* s, std::uint32_t offset,
                                                      std::uint32_t length) {
    // Strict CRLF everywhere in the head. RFC 9112 section 2.2 lets a
    // recipient accept a bare LF in header lines, but a proxy in front of us
    // that does not would see a different set of headers: refusing it keeps
    // both sides agreeing where the head ends.
    if (length < 2 || s[length - 2] != '\r') {
        fail(400, cur_.state == State::RequestLine ? "bare LF in the request line"
                                               : "bare LF in a header line");
        return LineResult::Failed;
    }
    const std::uint32_t content = length - 2;
    if (cur_.state == State::HeaderLines) {
        if (content == 0) return LineResult::HeadEnd;
        return parse_header_line(s, offset, content) ? LineResult::Next : LineResult::Failed;
    }
    if (content == 0) {
        // RFC 9112 section 2.2: ignore empty lines before the request
        // line (some clients add CRLF after a POST body). They still
        // count against max_header_bytes, so they cannot go on forever.
        return LineResult::SkippedEmpty;
    }
    if (!parse_request_line(s, offset, content)) return LineResult::Failed;
    cur_.state = State::HeaderLines;
    return LineResult::Next;
}

// request-line = method SP request-target SP HTTP-version (RFC 9112 section 3),
// with exactly one SP between the parts.
bool RequestParser::parse_request_line(const char* s, std::uint32_t offset,
                                       std::uint32_t length) {
    // Most requests are GETs: one comparison instead of a scan.
    const auto i = length > 4 && detail::load_u32(s) == detail::load_u32("GET ")
                       ? 3U
                       : static_cast<std::uint32_t>(detail::token_prefix(s, length));
    if (i == 0 || i == length || s[i] != ' ') {
        return fail(400, "invalid character in the method");
    }
    cur_.method = {offset, i};

    const std::uint32_t t = i + 1;
    const auto j = t + static_cast<std::uint32_t>(detail::target_prefix(s + t, length - t));
    if (j == t) return fail(400, "empty request target");
    if (j == length || s[j] != ' ') {
        return fail(400, "invalid character in the request target");
    }
    cur_.target = {offset + t, j - t};
    // An origin-form target ("/...") is the rule; the other forms, and
    // CONNECT (seven letters, like OPTIONS), take the slow path.
    if ((s[t] != '/' || i == 7) && !check_target_form({s + t, j - t}, {s, i})) return false;

    // The version is nearly always exactly "HTTP/1.1": one comparison.
    const char* v = s + j + 1;
    const std::uint32_t v_size = length - j - 1;
    if (v_size == 8 && detail::load_u64(v) == detail::load_u64("HTTP/1.1")) {
        request_.f_.version = Version::Http11;
        return true;
    }
    if (v_size != 8 || std::memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9') {
        return fail(400, "malformed HTTP version");
    }
    if (v[5] != '1') return fail(505, "unsupported HTTP major version");
    request_.f_.version = v[7] == '0' ? Version::Http10 : Version::Http11;
    return true;
}

// The four forms of request-target (RFC 9112 section 3.2), each only where
// it belongs: authority-form with CONNECT and nothing else with CONNECT,
// asterisk-form with OPTIONS, absolute-form for http and https only (we are
// an origin server, not a proxy for other schemes), origin-form otherwise.
// cur_.target is already set.
bool RequestParser::check_target_form(std::string_view target, std::string_view method) {
    using detail::Port;
    if (method == "CONNECT") {
        // RFC 9110 section 9.3.6: CONNECT names only host and port, and
        // the port is required (there is no default).
        if (!detail::is_host_and_port(target, Port::Required)) {
            return fail(400, "CONNECT target is not host:port");
        }
        cur_.target_authority = cur_.target;
        cur_.target_has_authority = true;
        return true;
    }
    if (target[0] == '/') return true;
    if (target == "*") {
        return method == "OPTIONS" ? true : fail(400, "'*' target with a method other than OPTIONS");
    }
    const std::size_t scheme = detail::http_scheme_length(target);
    if (scheme == 0) return fail(400, "request target is neither a path nor an http(s) URL");
    // authority = host [":" port], up to the path or the query. An empty
    // host ("http:///a") or userinfo ("http://u@h/") is refused (RFC 9110
    // sections 4.2.1 and 4.2.4).
    std::size_t end = target.find_first_of("/?", scheme);
    if (end == std::string_view::npos) end = target.size();
    if (!detail::is_host_and_port(target.substr(scheme, end - scheme), Port::Optional)) {
        return fail(400, "invalid authority in the request target");
    }
    cur_.target_authority = {cur_.target.offset + static_cast<std::uint32_t>(scheme),
                             static_cast<std::uint32_t>(end - scheme)};
    cur_.target_has_authority = true;
    cur_.path_start = static_cast<std::uint32_t>(end);
    return true;
}

// field-line = field-name ":" OWS field-value OWS (RFC 9112 section 5).
bool RequestParser::parse_header_line(const char* s, std::uint32_t offset,
                                      std::uint32_t length) {
    const auto i = static_cast<std::uint32_t>(detail::token_prefix(s, length));
    if (i == 0 || i == length || s[i] != ':') return fail_header_name(s, i, length);
    // The value without the optional whitespace around it; SP and HTAB are
    // field-value characters, so skipping them first changes no verdict.
    std::uint32_t vb = i + 1;
    while (vb < length && (s[vb] == ' ' || s[vb] == '\t')) ++vb;
    if (!detail::is_field_value(s + vb, length - vb)) {
        return fail(400, "control character in a header value");
    }
    if (slots_.size() >= limits_.max_headers) return fail(431, "too many header fields");
    std::uint32_t ve = length;
    while (ve > vb && (s[ve - 1] == ' ' || s[ve - 1] == '\t')) --ve;
    slots_.push_back({{offset, i}, {offset + vb, ve - vb}});
    // Only the names note_special_header() knows have these lengths.
    constexpr std::uint32_t kSpecialLengths = 1U << 4 | 1U << 6 | 1U << 10 | 1U << 14 | 1U << 17;
    if (i < 32 && ((kSpecialLengths >> i) & 1U) != 0) {
        return note_special_header({s, i}, {s + vb, ve - vb});
    }
    return true;
}

// Why a header line whose name did not end at a colon is refused; the name's
// token prefix is `i` bytes long. Checked in this order so that each line
// gets the most telling reason.
bool RequestParser::fail_header_name(const char* s, std::uint32_t i, std::uint32_t length) {
    // A line starting with whitespace continues the previous one (obs-fold).
    // RFC 9112 section 5.2 lets a server reject it; unfolding is where
    // parsers disagree, so we refuse.
    if (s[0] == ' ' || s[0] == '\t') return fail(400, "obsolete line folding");
    if (i == length) return fail(400, "header line without a colon");
    if (s[i] != ':') {
        // "Name : value" is refused (RFC 9112 section 5.1, MUST): a proxy
        // that trims the space would see a header we did not.
        return fail(400, (s[i] == ' ' || s[i] == '\t') ? "whitespace before the colon"
                                                       : "invalid character in a header name");
    }
    return fail(400, "empty header name");
}

// Records what the framing and connection headers say. Switching on the
// length first keeps the cost for ordinary headers to one comparison.
bool RequestParser::note_special_header(std::string_view name, std::string_view value) {
    switch (name.size()) {
    case 4:
        if (token_iequals(name, "host")) return note_host(value);
        return true;
    case 6:
        if (token_iequals(name, "expect") && iequals(value, "100-continue")) {
            cur_.expect_continue = true;
        }
        return true;
    case 10:
        if (token_iequals(name, "connection")) parse_connection(value);
        return true;
    case 14: {
        if (!token_iequals(name, "content-length")) return true;
        // 1*DIGIT only: no sign, no list ("5, 5"), no whitespace inside.
        if (value.empty()) return fail(400, "empty Content-Length");
        std::uint64_t n = 0;
        for (char c : value) {
            if (c < '0' || c > '9') return fail(400, "invalid Content-Length");
            const auto d = static_cast<std::uint64_t>(c - '0');
            if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
                return fail(400, "Content-Length overflows");
            }
            n = n * 10 + d;
        }
        // Repeated identical Content-Length lines are accepted (RFC 9110
        // section 8.6 allows it); differing ones are a smuggling attempt.
        if (cur_.has_content_length && n != cur_.content_length) {
            return fail(400, "conflicting Content-Length values");
        }
        cur_.has_content_length = true;
        cur_.content_length = n;
        return true;
    }
    case 17:
        if (token_iequals(name, "transfer-encoding")) return parse_transfer_encoding(value);
        return true;
    default:
        return true;
    }
}

// Host = uri-host [ ":" port ] (RFC 9112 section 3.2, RFC 3986): one field at
// most, whose value must parse; a request with two, or with an invalid one,
// is refused whatever its version (MUST). An empty value is refused too:
// RFC 9112 allows it only for a target URI without an authority, and every
// target we accept is an http(s) URI, whose host must not be empty (RFC
// 9110 section 4.2.1; RFC 9112 section 3.3 lets a server reject it).
bool RequestParser::note_host(std::string_view value) {
    if (cur_.has_host) return fail(400, "more than one Host header");
    if (value.empty()) return fail(400, "empty Host header");
    if (!detail::is_host_and_port(value, detail::Port::Optional)) {
        return fail(400, "invalid Host header");
    }
    cur_.has_host = true;
    cur_.host = slots_.back().value;  // parse_header_line() just stored it
    return true;
}

// Transfer-Encoding lists codings in the order applied, possibly over several
// lines. Only a final "chunked" tells where a request body ends (RFC 9112
// section 6.3); the verdict is given once the head is complete.
bool RequestParser::parse_transfer_encoding(std::string_view value) {
    cur_.has_transfer_encoding = true;
    bool any = false;
    bool twice = false;
    for_each_list_element(value, [&](std::string_view coding) {
        any = true;
        if (iequals(coding, "chunked")) {
            if (cur_.te_chunked_seen) twice = true;
            cur_.te_chunked_seen = true;
            cur_.te_final_chunked = true;
        } else {
            cur_.te_final_chunked = false;
            cur_.te_unsupported = true;
        }
    });
    if (!any) return fail(400, "empty Transfer-Encoding");
    if (twice) return fail(400, "chunked applied more than once");
    return true;
}

void RequestParser::parse_connection(std::string_view value) noexcept {
    for_each_list_element(value, [&](std::string_view option) {
        if (iequals(option, "close")) cur_.connection_close = true;
        if (iequals(option, "keep-alive")) cur_.connection_keep_alive = true;
    });
}

void RequestParser::on_head_complete() {
    if (!check_head()) return;
    fill_request();
    cur_.headers_complete = true;
    if (cur_.has_transfer_encoding) {
        cur_.state = State::ChunkSize;
    } else if (cur_.content_length > 0) {
        cur_.state = State::FixedBody;
        cur_.remaining = cur_.content_length;
        body_.reserve(static_cast<std::size_t>(
            std::min<std::uint64_t>(cur_.content_length, kMaxBodyReserve)));
    } else {
        finish();
    }
}

// The checks that need the whole head: Host present, and one unambiguous
// body framing within the body limit.
bool RequestParser::check_head() {
    const bool http11 = request_.f_.version == Version::Http11;
    // RFC 9112 section 3.2: an HTTP/1.1 request carries Host (MUST), also
    // with an absolute-form target, whose authority then wins (3.2.2).
    if (http11 && !cur_.has_host) return fail(400, "HTTP/1.1 request without a Host header");
    if (cur_.has_transfer_encoding) {
        // Both framings at once is the classic request-smuggling vector
        // (CL.TE / TE.CL): refuse instead of choosing one.
        if (cur_.has_content_length) return fail(400, "both Content-Length and Transfer-Encoding");
        // RFC 9112 section 6.1: an HTTP/1.0 message with Transfer-Encoding has
        // faulty framing (1.0 has no chunked coding).
        if (!http11) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (!cur_.te_final_chunked) return fail(400, "chunked is not the final transfer coding");
        if (cur_.te_unsupported) return fail(501, "unsupported transfer coding");
    } else if (cur_.has_content_length && cur_.content_length > limits_.max_body) {
        return fail(413, "Content-Length exceeds the body limit");
    }
    return true;
}

// Makes the Request's views, now that head_ will not move any more.
void RequestParser::fill_request() {
    Request::Fields& f = request_.f_;
    f.method = view(cur_.method);
    f.target = view(cur_.target);
    // Path and query come from the target past its authority, if any.
    // Short ones (the usual "/" or "/index.html") are searched inline;
    // memchr pays off only on longer ones.
    const std::string_view rest(f.target.data() + cur_.path_start,
                                f.target.size() - cur_.path_start);
    std::size_t q = 0;
    if (rest.size() <= 16) {
        while (q < rest.size() && rest[q] != '?') ++q;
        if (q == rest.size()) q = std::string_view::npos;
    } else {
        q = rest.find('?');
    }
    f.path = rest.substr(0, q);
    // Only an absolute-form URL can have an empty path ("http://h?x").
    if (f.path.empty()) f.path = "/";
    f.query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
    if (cur_.target_has_authority) {
        f.authority = view(cur_.target_authority);
    } else if (cur_.has_host) {
        f.authority = view(cur_.host);
    }
    request_.headers_.clear();
    for (const HeaderSlot& h : slots_) request_.headers_.push_back({view(h.name), view(h.value)});
    const bool http11 = f.version == Version::Http11;
    f.has_content_length = cur_.has_content_length;
    f.content_length = cur_.content_length;
    f.chunked = cur_.has_transfer_encoding;
    f.keep_alive = http11 ? !cur_.connection_close
                          : (cur_.connection_keep_alive && !cur_.connection_close);
    // RFC 9110 section 10.1.1: ignore 100-continue from an HTTP/1.0 client.
    f.expects_continue = http11 && cur_.expect_continue;
}

const char* RequestParser::feed_fixed_body(const char* p, const char* end) {
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>(cur_.remaining, static_cast<std::uint64_t>(end - p)));
    body_.append(p, n);
    cur_.remaining -= n;
    if (cur_.remaining == 0) finish();
    return p + n;
}

// The chunked body (RFC 9112 section 7.1):
//   chunked-body = *chunk last-chunk trailer-section CRLF
//   chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//   last-chunk   = 1*("0") [ chunk-ext ] CRLF
// Each group of states has its own function, which returns when the parser
// leaves the group (or fails, or the input ends).
const char* RequestParser::feed_chunked(const char* p, const char* end) {
    while (p < end) {
        const State s = cur_.state;
        if (s >= State::ChunkSize && s <= State::ChunkSizeLf) {
            p = feed_chunk_size_line(p, end);
        } else if (s == State::ChunkData) {
            p = feed_chunk_data(p, end);
        } else if (s == State::ChunkDataCr || s == State::ChunkDataLf) {
            p = feed_chunk_data_crlf(p, end);
        } else if (s >= State::TrailerStart && s <= State::TrailerEndLf) {
            p = feed_trailers(p, end);
        } else {
            break;  // Done or Failed
        }
    }
    return p;
}

// chunk-size [ chunk-ext ] CRLF, byte by byte: a bad byte is refused as soon
// as it arrives, and nothing is buffered.
const char* RequestParser::feed_chunk_size_line(const char* p, const char* end) {
    while (p < end) {
        const char c = *p++;
        if (++cur_.chunk_line > kMaxChunkSizeLine) {
            fail(400, "chunk-size line too long");
            return p;
        }
        switch (cur_.state) {
        case State::ChunkSize:
            if (!has_class(c, kHex)) {
                fail(400, "invalid chunk size");
                return p;
            }
            cur_.remaining = hex_value(c);
            cur_.state = State::ChunkSizeMore;
            break;
        case State::ChunkSizeMore:
            if (has_class(c, kHex)) {
                if (cur_.remaining > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
                    fail(400, "chunk size overflows");
                    return p;
                }
                cur_.remaining = (cur_.remaining << 4) | hex_value(c);
            } else if (c == '\r') {
                cur_.state = State::ChunkSizeLf;
            } else if (c == ';' || c == ' ' || c == '\t') {
                cur_.state = State::ChunkExtBws;
                if (!on_chunk_ext_byte(c)) return p;
            } else {
                fail(400, "invalid chunk size");
                return p;
            }
            break;
        case State::ChunkSizeLf:
            if (c != '\n') {
                fail(400, "bare CR in a chunk-size line");
                return p;
            }
            on_chunk_size_line_end();
            return p;
        default:
            if (!on_chunk_ext_byte(c)) return p;
            break;
        }
    }
    return p;
}

// One byte of the chunk extensions (RFC 9112 section 7.1.1):
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token
//   chunk-ext-val  = token / quoted-string
// They are checked, then dropped (nothing in this library uses them). Being
// exact matters: parsers that disagree on where a chunk-size line ends can be
// made to disagree on where the body ends. The line ends (CR) only after a
// name or a value, never after BWS.
bool RequestParser::on_chunk_ext_byte(char c) {
    if (c != '\r' && ++cur_.chunk_ext_bytes > limits_.max_header_bytes) {
        return fail(400, "chunk extensions exceed the size limit");
    }
    const bool ws = c == ' ' || c == '\t';
    const bool tchar = has_class(c, kToken);
    State next = State::Failed;
    switch (cur_.state) {
    case State::ChunkExtBws:  // BWS ";"
        next = c == ';' ? State::ChunkExtNameBws : ws ? State::ChunkExtBws : State::Failed;
        break;
    case State::ChunkExtNameBws:  // ";" BWS name
        next = tchar ? State::ChunkExtName : ws ? State::ChunkExtNameBws : State::Failed;
        break;
    case State::ChunkExtName:
        if (tchar) return true;
        next = c == '=' ? State::ChunkExtValueBws : ws ? State::ChunkExtEqBws : State::Failed;
        if (c == ';') next = State::ChunkExtNameBws;
        if (c == '\r') next = State::ChunkSizeLf;
        break;
    case State::ChunkExtEqBws:  // name BWS ( "=" / ";" )
        next = c == '=' ? State::ChunkExtValueBws : ws ? State::ChunkExtEqBws : State::Failed;
        if (c == ';') next = State::ChunkExtNameBws;
        break;
    case State::ChunkExtValueBws:  // "=" BWS value
        next = tchar ? State::ChunkExtToken : ws ? State::ChunkExtValueBws : State::Failed;
        if (c == '"') next = State::ChunkExtQuoted;
        break;
    case State::ChunkExtQuoted:
        // qdtext: HTAB, SP, VCHAR but '"' and '\', obs-text.
        if (c == '"') {
            next = State::ChunkExtQuoteEnd;
        } else if (c == '\\') {
            next = State::ChunkExtEscape;
        } else {
            next = has_class(c, kFieldValue) ? State::ChunkExtQuoted : State::Failed;
        }
        break;
    case State::ChunkExtEscape:  // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
        next = has_class(c, kFieldValue) ? State::ChunkExtQuoted : State::Failed;
        break;
    case State::ChunkExtToken:
        if (tchar) return true;
        [[fallthrough]];
    case State::ChunkExtQuoteEnd:  // after a value: BWS ";", or the end of the line
        next = c == ';' ? State::ChunkExtNameBws : ws ? State::ChunkExtBws : State::Failed;
        if (c == '\r') next = State::ChunkSizeLf;
        break;
    default:
        break;
    }
    if (next == State::Failed) return fail(400, "malformed chunk extension");
    cur_.state = next;
    return true;
}

// The LF of a chunk-size line: the chunk's data follows, or, after the last
// chunk (size 0), the trailer section.
bool RequestParser::on_chunk_size_line_end() {
    cur_.chunk_line = 0;
    if (cur_.remaining == 0) {
        cur_.state = State::TrailerStart;
    } else if (cur_.remaining > limits_.max_body - body_.size()) {
        return fail(413, "chunked body exceeds the body limit");
    } else {
        cur_.state = State::ChunkData;
    }
    return true;
}

const char* RequestParser::feed_chunk_data(const char* p, const char* end) {
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>(cur_.remaining, static_cast<std::uint64_t>(end - p)));
    body_.append(p, n);
    cur_.remaining -= n;
    if (cur_.remaining == 0) cur_.state = State::ChunkDataCr;
    return p + n;
}

// Exactly CRLF after chunk-data: anything else means the declared size and
// the data disagree.
const char* RequestParser::feed_chunk_data_crlf(const char* p, const char* end) {
    while (p < end) {
        const char c = *p++;
        if (c != (cur_.state == State::ChunkDataCr ? '\r' : '\n')) {
            fail(400, "missing CRLF after chunk data");
            return p;
        }
        if (cur_.state == State::ChunkDataLf) {
            cur_.state = State::ChunkSize;
            return p;
        }
        cur_.state = State::ChunkDataLf;
    }
    return p;
}

// trailer-section = *( field-line CRLF ), then the final CRLF; bounded like
// the head (max_header_bytes, max_headers) but counted on its own.
const char* RequestParser::feed_trailers(const char* p, const char* end) {
    while (p < end) {
        const char c = *p++;
        if (++cur_.trailer_bytes > limits_.max_header_bytes) {
            fail(431, "trailer section exceeds the size limit");
            return p;
        }
        if (!on_trailer_byte(c) || cur_.state == State::Done) return p;
    }
    return p;
}

// Trailer fields are checked like header fields, then dropped: nothing in
// this library needs them, and storing them would invalidate the header
// views (head_ could reallocate).
bool RequestParser::on_trailer_byte(char c) {
    switch (cur_.state) {
    case State::TrailerStart:
        if (c == '\r') {
            cur_.state = State::TrailerEndLf;
        } else if (has_class(c, kToken)) {
            if (++cur_.trailer_count > limits_.max_headers) {
                return fail(431, "too many trailer fields");
            }
            cur_.state = State::TrailerName;
        } else if (c == ' ' || c == '\t') {
            return fail(400, "obsolete line folding");
        } else {
            return fail(400, "invalid trailer line");
        }
        return true;
    case State::TrailerName:
        if (c == ':') {
            cur_.state = State::TrailerValue;
        } else if (c == ' ' || c == '\t') {
            return fail(400, "whitespace before the colon");
        } else if (!has_class(c, kToken)) {
            return fail(400, "invalid character in a trailer name");
        }
        return true;
    case State::TrailerValue:
        if (c == '\r') {
            cur_.state = State::TrailerLf;
        } else if (!has_class(c, kFieldValue)) {
            return fail(400, "control character in a trailer value");
        }
        return true;
    case State::TrailerLf:
        if (c != '\n') return fail(400, "bare CR in a trailer line");
        cur_.state = State::TrailerStart;
        return true;
    case State::TrailerEndLf:
        if (c != '\n') return fail(400, "bare CR after the trailer section");
        finish();
        return true;
    default:
        return fail(400, "internal: not a trailer state");
    }
}

void RequestParser::finish() noexcept {
    request_.f_.body = body_;
    cur_.state = State::Done;
}

bool RequestParser::fail(int status, const char* reason) noexcept {
    cur_.state = State::Failed;
    cur_.error_status = status;
    cur_.error_reason = reason;
    return false;
}

void RequestParser::reset() noexcept {
    // Both are fresh default values, written so that GCC 12 at -O2 stores
    // them in place: for `cur_ = {}` it zeroes a temporary with `rep stos`
    // and copies it, which cost about 20 ns per request (a third of a small
    // GET) in build/bench/http_parse. Fields holds string_views, whose
    // constructor defeats even `= Fields()`, so it is re-created in place
    // (default-initialised: every member has an initialiser).
    cur_ = PerRequest();
    ::new (&request_.f_) Request::Fields;
    // The buffers are cleared, not replaced, so that they keep their capacity.
    request_.headers_.clear();
    slots_.clear();
    head_.clear();
    if (body_.capacity() > kKeptBodyCapacity) {
        std::string().swap(body_);
    } else {
        body_.clear();
    }
}

}  // namespace reactor::http
