// reactor/http/request_parser.hpp -- an incremental, strict HTTP/1.1 request parser.
//
// The parser is a state machine fed with whatever bytes the socket produced:
// one byte at a time, half a request, or many pipelined requests at once.
// feed() stops right after the end of one complete request and reports how
// many bytes it consumed; the caller keeps the rest for the next request.
// It is pure (no loop, no socket, no clock), so it can be tested and fuzzed
// on its own, and a server drives it like this (docs/http.md, "Driving the
// parser"):
//
//   buffered input ──► feed() ──► consumed n bytes; drop them from the input
//                        │
//          failed() ─────┼──► write_error(error_status()), close
//   headers_complete() ──┼──► if expects_continue(): send "100 Continue" once
//             done() ────┴──► handle request(), write the response,
//                             reset(), feed the leftover bytes
//
// The states (docs/http.md draws them with every transition):
//
//   RequestLine ─► HeaderLines ─┬─► Done                      (no body)
//                               ├─► FixedBody ─► Done          (Content-Length)
//                               └─► ChunkSize ◄─► ChunkData    (chunked)
//                                    (+ChunkExt…)  └─► Trailers ─► Done
//   any state ─► Failed (error_status() is 400, 413, 431, 501 or 505)
//
// What it accepts (docs/http.md, "Strictness", lists every rule and why):
//
//   - Request-target (RFC 9112 section 3.2), checked against the method as
//     soon as the request line ends: origin-form "/p?q" with any method but
//     CONNECT; absolute-form "http://host[:port]/p?q" (or https, the scheme
//     in any case; a non-empty host and no userinfo) with any method but
//     CONNECT, and its authority wins over Host; authority-form
//     "host:port" (port required) with CONNECT, and only it; asterisk-form
//     "*" with OPTIONS only. Anything else is 400. So path() starts with
//     '/', except "*" for OPTIONS * and the whole target for CONNECT.
//   - Host (RFC 9112 section 3.2, RFC 3986 section 3.2.2): required in
//     HTTP/1.1 (absolute-form too), optional in HTTP/1.0, never repeated;
//     its value is uri-host [ ":" port ]: a reg-name (unreserved,
//     sub-delims, %XX; IPv4 addresses are among them), or an IPv6 address or
//     IPvFuture in brackets, then an optional port of digits that may be
//     empty ("host:"). Empty is refused too: RFC 9112 allows an empty Host
//     only when the target URI has no authority, and every target accepted
//     here is an http(s) URI, whose host must not be empty (RFC 9110
//     section 4.2.1). Missing (1.1), repeated, empty or malformed: 400.
//   - Chunk extensions (RFC 9112 section 7.1.1): *( BWS ";" BWS token
//     [ BWS "=" BWS ( token / quoted-string ) ] ), checked byte by byte,
//     then dropped. Bounded: the whole chunk-size line at 1 KiB, and all the
//     extension bytes of one body together at Limits::max_header_bytes
//     (400 beyond either).
//   - Framing: Content-Length or chunked, never both, never ambiguous;
//     strict CRLF; no obs-fold; no whitespace before a field's colon.
//
// Ownership: the parser copies the request line and header lines into its own
// buffer (at most Limits::max_header_bytes) and the body into another (at most
// Limits::max_body), so the caller may discard consumed input at once. Every
// string_view a Request hands out points into those buffers and stays valid
// until reset(), or until the parser is moved or destroyed.
//
// Threads: a parser is a plain value with no shared state; one thread at a
// time may use it (in a server, the connection's loop thread).
//
// Failure: a malformed or oversized request puts the parser in the failed()
// state with an HTTP status and a reason; it never throws while parsing.
// Once failed it consumes nothing more: the server answers the status with
// Connection: close and closes, since the framing of what follows is unknown.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace reactor::http {

/// The protocol version of a request. HTTP/1.2 to 1.9 are read as 1.1
/// (RFC 9110 section 2.5: same major version, highest minor we implement).
enum class Version : std::uint8_t { Http10, Http11 };

/// One header field line: views into the parser's storage (see the file
/// comment for their lifetime). `value` has surrounding whitespace trimmed.
struct Header {
    std::string_view name;
    std::string_view value;
};

/// Size limits; memory per connection is bounded by them, not by the peer.
/// Every field may be changed; defaults follow issue 6 and common servers.
struct Limits {
    /// Bytes of request line plus header lines, including every CRLF and the
    /// final empty line (and any empty lines before the request line).
    /// Beyond it: 431. The same bound applies separately to the trailer
    /// section of a chunked body (431), and to the chunk extensions of all
    /// its chunk-size lines together (400). Must be below 4 GiB.
    std::size_t max_header_bytes = 8192;
    /// Header field lines per request (and trailer lines). Beyond it: 431.
    std::size_t max_headers = 100;
    /// Body bytes after de-chunking; checked against Content-Length before
    /// any body byte arrives, and as chunks accumulate. Beyond it: 413.
    std::size_t max_body = 1024 * 1024;
};

/// A parsed request: read-only views into the RequestParser that produced
/// it. Meaningful once the parser reports headers_complete() (the body once
/// it reports done()); empty before.
class Request {
public:
    /// The method token as sent, e.g. "GET" (methods are case-sensitive).
    std::string_view method() const noexcept { return f_.method; }
    /// The request-target as sent, in one of the four forms of RFC 9112
    /// section 3.2 (the parser refuses anything else): origin-form
    /// "/a/b?x=1"; absolute-form "http://host/a?x=1" (http or https);
    /// authority-form "host:443", CONNECT only; asterisk-form "*", OPTIONS only.
    std::string_view target() const noexcept { return f_.target; }
    /// The target's path, without the query; it starts with '/' except in
    /// the two forms that have no path. Origin-form "/a/b?x" gives "/a/b";
    /// absolute-form "http://host/a?x" gives "/a", and "/" when the URL has
    /// no path ("http://host" or "http://host?x"). OPTIONS "*" gives "*";
    /// CONNECT gives its whole target ("host:443").
    std::string_view path() const noexcept { return f_.path; }
    /// What follows the first '?' of the target's path (without the '?');
    /// empty if there is none (always for "*" and CONNECT).
    std::string_view query() const noexcept { return f_.query; }
    /// The host and optional port the request is for (RFC 9112 section
    /// 3.3): the authority of an absolute-form target (it wins over Host,
    /// RFC 9112 section 3.2.2), CONNECT's target, or else the Host field's
    /// value. Empty only for an HTTP/1.0 request without Host (with an
    /// origin- or asterisk-form target). Never contains userinfo.
    std::string_view authority() const noexcept { return f_.authority; }
    Version version() const noexcept { return f_.version; }
    /// Every header field line, in the order received (repeated names kept).
    std::span<const Header> headers() const noexcept { return headers_; }
    /// The value of the first header named `name`, compared
    /// case-insensitively; nullopt if there is none.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    /// The body: contiguous, de-chunked for a chunked request. Empty when the
    /// request has none, and until the parser reports done().
    std::string_view body() const noexcept { return f_.body; }
    /// The Content-Length the client sent, if any.
    std::optional<std::uint64_t> content_length() const noexcept;
    /// True if the body came with Transfer-Encoding: chunked.
    bool chunked() const noexcept { return f_.chunked; }
    /// Whether the client wants the connection kept open after the response:
    /// HTTP/1.1 unless a Connection header lists "close"; HTTP/1.0 only if
    /// one lists "keep-alive" (and none lists "close").
    bool keep_alive() const noexcept { return f_.keep_alive; }
    /// True for an HTTP/1.1 request with "Expect: 100-continue": the client
    /// waits for "HTTP/1.1 100 Continue" (or a final status) before sending
    /// its body. Other expectations are ignored (RFC 9110 allows it).
    bool expects_continue() const noexcept { return f_.expects_continue; }

private:
    friend class RequestParser;

    // Everything but the header table, so that the parser clears it with
    // one assignment; the table keeps its capacity across requests.
    struct Fields {
        std::string_view method;
        std::string_view target;
        std::string_view path;
        std::string_view query;
        std::string_view authority;
        std::string_view body;
        std::uint64_t content_length = 0;
        Version version = Version::Http11;
        bool has_content_length = false;
        bool chunked = false;
        bool keep_alive = false;
        bool expects_continue = false;
    };
    Fields f_;
    std::vector<Header> headers_;
};

/// Parses one request at a time from a byte stream (see the file comment).
class RequestParser {
public:
    /// Creates an idle parser. Allocates nothing until bytes arrive. Throws
    /// std::invalid_argument if limits.max_header_bytes is 4 GiB or more.
    explicit RequestParser(Limits limits = {});

    /// Consumes bytes of the current request and returns how many it took:
    /// all of `data` while the request is incomplete, fewer once it is done
    /// (the rest belongs to the next request; feed it after reset()), and 0
    /// when called after done() or failed(). On a protocol violation or an
    /// exceeded limit the parser becomes failed(); the returned count then
    /// includes the offending byte and means nothing more. Never throws
    /// except std::bad_alloc.
    std::size_t feed(std::string_view data);
    std::size_t feed(const char* data, std::size_t size) { return feed({data, size}); }

    /// True once at least one byte of the current request was consumed
    /// (an empty line before the request line counts). A server uses it to
    /// tell a keep-alive idle connection (false) from a slow request (true).
    bool started() const noexcept { return cur_.started; }
    /// True once the request line and headers are parsed and valid: method,
    /// target, headers, keep_alive() and expects_continue() are readable
    /// while the body may still be arriving. Stays true until reset().
    bool headers_complete() const noexcept { return cur_.headers_complete; }
    /// True once the whole request, body included, has been parsed.
    bool done() const noexcept { return cur_.state == State::Done; }
    /// True after a protocol violation or an exceeded limit; final until
    /// reset(), but the connection should be closed instead.
    bool failed() const noexcept { return cur_.state == State::Failed; }
    /// The HTTP status to answer a failed request with (400 malformed, 413
    /// body too large, 431 head too large, 501 unsupported transfer coding,
    /// 505 unsupported version); 0 when not failed.
    int error_status() const noexcept { return cur_.error_status; }
    /// A short static English description of the failure ("" if none), for
    /// logs; not meant to be sent to the client.
    const char* error_reason() const noexcept { return cur_.error_reason; }

    /// The request parsed so far (see Request for what is readable when).
    const Request& request() const noexcept { return request_; }
    const Limits& limits() const noexcept { return limits_; }

    /// Forgets the current request (invalidating every view into it) and
    /// waits for the next one. Buffers keep their capacity, so a warmed-up
    /// parser allocates nothing per request; a body buffer that grew beyond
    /// 64 KiB is released, so one large upload does not pin memory.
    void reset() noexcept;

    /// The parser's own copy of the request head; every view a Request
    /// hands out (but the body) lies inside it. For tests and fuzzing.
    std::string_view head_storage() const noexcept { return head_; }
    /// The parser's body buffer; body() lies inside it.
    std::string_view body_storage() const noexcept { return body_; }

private:
    enum class State : std::uint8_t {
        RequestLine,   // collecting the request line (empty lines before it skipped)
        HeaderLines,   // collecting header lines until the empty line
        FixedBody,     // copying Content-Length bytes
        // The chunk-size line: chunk-size [ chunk-ext ] CRLF.
        ChunkSize,         // first hex digit
        ChunkSizeMore,     // further hex digits, or what ends them
        ChunkExtBws,       // BWS before ';' (after the size or after a value)
        ChunkExtNameBws,   // BWS after ';', before the extension name
        ChunkExtName,      // in an extension name (a token)
        ChunkExtEqBws,     // BWS after a name, before '=' or ';'
        ChunkExtValueBws,  // BWS after '=', before the value
        ChunkExtToken,     // in a token value
        ChunkExtQuoted,    // in a quoted-string value
        ChunkExtEscape,    // after '\' in a quoted-string (quoted-pair)
        ChunkExtQuoteEnd,  // after the closing '"'
        ChunkSizeLf,       // CR seen at the end of a chunk-size line
        // The chunk's data and the CRLF after it.
        ChunkData,     // copying chunk-data
        ChunkDataCr,   // CRLF after chunk-data: CR
        ChunkDataLf,   // CRLF after chunk-data: LF
        // The trailer section after the last chunk.
        TrailerStart,  // start of a trailer line, or of the final empty line
        TrailerName,   // in a trailer field name
        TrailerValue,  // in a trailer field value
        TrailerLf,     // CR seen at the end of a trailer line
        TrailerEndLf,  // CR of the final empty line seen
        Done,
        Failed,
    };

    // Offsets into head_: views are made from them only once the head is
    // complete, because head_ may reallocate while it grows.
    struct Slot {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
    };
    struct HeaderSlot {
        Slot name;
        Slot value;
    };

    // Everything the parser knows about the current request except its
    // buffers: one value, so that reset() is one assignment (`cur_ = {}`)
    // and no field can be forgotten. The buffers (head_, body_, slots_ and
    // the Request's header table) live outside it, because assigning them
    // afresh would free their capacity on every request.
    struct PerRequest {
        State state = State::RequestLine;
        bool started = false;
        bool headers_complete = false;

        // The head.
        std::size_t head_bytes = 0;    // head bytes consumed (skipped empty lines included)
        std::uint32_t line_start = 0;  // offset in head_ of the line being collected
        Slot method, target;
        // Where the path starts in the target: 0 for origin-, asterisk- and
        // authority-form, past the authority for absolute-form.
        std::uint32_t path_start = 0;
        // The authority the target names (absolute-form, CONNECT), and the
        // Host field's value: Request::authority() is the first if present.
        Slot target_authority, host;
        bool target_has_authority = false;
        bool has_host = false;

        // Framing facts gathered from the header lines.
        std::uint64_t content_length = 0;
        bool has_content_length = false;
        bool has_transfer_encoding = false;
        bool te_chunked_seen = false;
        bool te_final_chunked = false;
        bool te_unsupported = false;
        bool connection_close = false;
        bool connection_keep_alive = false;
        bool expect_continue = false;

        // Body progress.
        std::uint64_t remaining = 0;         // bytes left in the fixed body or chunk
        std::size_t chunk_line = 0;          // bytes of the current chunk-size line
        std::size_t chunk_ext_bytes = 0;     // chunk-extension bytes of the whole body
        std::size_t trailer_bytes = 0;       // bytes of the trailer section so far
        std::size_t trailer_count = 0;       // trailer field lines so far

        int error_status = 0;
        const char* error_reason = "";
    };

    // What one complete head line did to the parser.
    enum class LineResult : std::uint8_t { Next, SkippedEmpty, HeadEnd, Failed };

    const char* feed_head(const char* p, const char* end);
    // The line is at `s` (in the input or in head_) and will be, or is, at
    // `offset` in head_; `length` includes its CRLF.
    LineResult on_head_line(const char* s, std::uint32_t offset, std::uint32_t length);
    bool parse_request_line(const char* s, std::uint32_t offset, std::uint32_t length);
    bool check_target_form(std::string_view target, std::string_view method);
    bool parse_header_line(const char* s, std::uint32_t offset, std::uint32_t length);
    bool fail_header_name(const char* s, std::uint32_t i, std::uint32_t length);
    bool note_special_header(std::string_view name, std::string_view value);
    bool note_host(std::string_view value);
    bool parse_transfer_encoding(std::string_view value);
    void parse_connection(std::string_view value) noexcept;
    void on_head_complete();
    bool check_head();
    void fill_request();

    // The body. feed_chunked() hands each state group to its own function;
    // each consumes bytes while the parser stays in its group.
    const char* feed_fixed_body(const char* p, const char* end);
    const char* feed_chunked(const char* p, const char* end);
    const char* feed_chunk_size_line(const char* p, const char* end);
    bool on_chunk_ext_byte(char c);
    bool on_chunk_size_line_end();
    const char* feed_chunk_data(const char* p, const char* end);
    const char* feed_chunk_data_crlf(const char* p, const char* end);
    const char* feed_trailers(const char* p, const char* end);
    bool on_trailer_byte(char c);

    void finish() noexcept;
    bool fail(int status, const char* reason) noexcept;
    std::string_view view(Slot s) const noexcept { return {head_.data() + s.offset, s.length}; }

    Limits limits_;
    PerRequest cur_;
    std::string head_;               // request line and header lines, CRLFs included
    std::string body_;               // de-chunked body
    std::vector<HeaderSlot> slots_;  // capacity kept across requests
    Request request_;
};

}  // namespace reactor::http
