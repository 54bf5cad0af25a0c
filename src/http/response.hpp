// src/http/response.hpp -- serialising HTTP/1.1 responses into a byte string.
//
// Pure functions and small value types: they append the bytes of a response
// to a std::string the caller owns (typically a connection's output buffer),
// and never touch a socket or the clock. The common case, a 200 with a small
// body on a keep-alive connection, is one sequence of appends:
//
//   http::ResponseWriter w(out, 200, http::ResponseOptions::for_request(req, &dates));
//   w.header("Content-Type", "text/plain");
//   w.finish("Hello, World!");
//
// writes
//
//   HTTP/1.1 200 OK\r\n
//   Content-Type: text/plain\r\n
//   Content-Length: 13\r\n
//   Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n
//   \r\n
//   Hello, World!
//
// The writer owns the framing and connection headers (Content-Length,
// Transfer-Encoding, Connection, and Date when a DateCache is given); the
// caller adds the rest. Every status line says HTTP/1.1, as RFC 9110 section
// 6.2 asks of a server, also when answering an HTTP/1.0 client.
//
// Threads: no shared state; the usual rules for the std::string apply.
// A DateCache is written by its owner (the server's 1 s timer on the loop
// thread) and read by writers on that same thread.
//
// Internal: the server's sessions and static files write with it (and the
// tests and the fuzz target check it byte by byte); users answer through
// http::Response (include/reactor/http/server.hpp).
#pragma once

#include <reactor/http/request_parser.hpp>
#include <reactor/http/status.hpp>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

namespace reactor::http {

/// The value of the Date header (an IMF-fixdate, RFC 9110 section 5.6.7,
/// e.g. "Sun, 06 Nov 1994 08:49:37 GMT"), formatted once per second rather
/// than once per response. The owner calls update() from a timer; responses
/// copy header_line().
class DateCache {
public:
    /// Formats the current time (std::time(nullptr)).
    DateCache();
    /// Formats `now`.
    explicit DateCache(std::time_t now) noexcept;

    /// Reformats for `now` (seconds since the epoch, UTC); does nothing when
    /// `now` is the second already held. A time outside years 0..9999 (or
    /// one gmtime_r refuses) keeps the previous value. No locale is used.
    void update(std::time_t now) noexcept;

    /// The formatted date, 29 characters.
    std::string_view value() const noexcept { return {line_ + kPrefix, kValueLength}; }
    /// "Date: <value>\r\n", ready to append to a response head.
    std::string_view header_line() const noexcept { return {line_, sizeof line_}; }
    /// The second the value was formatted for.
    std::time_t time() const noexcept { return time_; }

private:
    static constexpr std::size_t kPrefix = 6;  // "Date: "
    static constexpr std::size_t kValueLength = 29;

    void format(std::time_t now) noexcept;

    std::time_t time_ = 0;
    char line_[kPrefix + kValueLength + 2];
};

/// What the writer needs to know about the request it answers.
struct ResponseOptions {
    /// The request's version: an HTTP/1.0 client gets "Connection:
    /// keep-alive" when kept alive, and no chunked coding.
    Version version = Version::Http11;
    /// False when the connection closes after this response (the client
    /// asked, or the server decided): the writer adds "Connection: close".
    bool keep_alive = true;
    /// The request was HEAD: headers as for GET (Content-Length included),
    /// no body bytes.
    bool head = false;
    /// When set, a Date header from this cache; it must outlive the call.
    const DateCache* date = nullptr;

    /// Options answering `request` as it asked (version, keep-alive, HEAD).
    static ResponseOptions for_request(const Request& request,
                                       const DateCache* date = nullptr) noexcept;
};

/// Writes a streamed body after ResponseWriter::start_chunked(): chunked
/// coding for HTTP/1.1, raw bytes ended by closing the connection for
/// HTTP/1.0, nothing at all for HEAD or a bodiless status. A small value;
/// keep it with the response in progress and call it whenever data is ready.
class ChunkedBody {
public:
    /// A stream that writes nothing.
    ChunkedBody() = default;

    /// Appends `data` as one chunk ("<hex size>\r\n<data>\r\n"). Empty data
    /// writes nothing, since an empty chunk would end the body.
    void append(std::string& out, std::string_view data) const;
    /// Ends the body: the last chunk "0\r\n\r\n" (nothing in the other modes;
    /// an HTTP/1.0 body ends when the server closes the connection).
    void finish(std::string& out) const;
    /// False when the connection must close after the body (HTTP/1.0, or
    /// ResponseOptions::keep_alive was false).
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    friend class ResponseWriter;
    enum class Mode : std::uint8_t { Discard, Chunked, CloseDelimited };
    ChunkedBody(Mode mode, bool keep_alive) noexcept : mode_(mode), keep_alive_(keep_alive) {}

    Mode mode_ = Mode::Discard;
    bool keep_alive_ = true;
};

/// Appends one response head, then its body, to a caller-owned string.
/// Construction writes the status line; header() adds fields; exactly one
/// of finish(), finish_head() or start_chunked() ends the head. The writer
/// holds a reference to `out`, which must outlive it.
class ResponseWriter {
public:
    /// Writes the status line with the standard reason phrase. Throws
    /// std::invalid_argument for a status outside 100..999.
    ResponseWriter(std::string& out, int status, const ResponseOptions& options);
    /// As above with a custom reason phrase; throws std::invalid_argument if
    /// it contains CR, LF or another control character but HTAB.
    ResponseWriter(std::string& out, int status, std::string_view reason,
                   const ResponseOptions& options);

    /// Adds a header field. Throws std::invalid_argument (appending nothing)
    /// if the name is not a token, the value contains CR, LF or another
    /// control character but HTAB (response splitting), or the name is one
    /// the writer owns: Content-Length, Transfer-Encoding, Connection, and
    /// Date when the options carry a DateCache.
    ResponseWriter& header(std::string_view name, std::string_view value);

    /// Ends the head with Content-Length: body.size() and appends the body
    /// (not for HEAD). For 1xx, 204 and 304 neither is written.
    void finish(std::string_view body);
    /// Ends the head with Content-Length: content_length; the caller sends
    /// that many body bytes itself (e.g. with sendfile), not for HEAD. For a
    /// 304 this is the length a 200 would have had; 1xx and 204 omit it.
    void finish_head(std::uint64_t content_length);
    /// Ends the head for a body of unknown length and returns the stream to
    /// write it with: Transfer-Encoding: chunked for HTTP/1.1; for HTTP/1.0
    /// no coding and Connection: close (the body ends when the connection
    /// does).
    ChunkedBody start_chunked();

    /// Whether the connection stays open after this response. Read it after
    /// ending the head: start_chunked() turns it off for HTTP/1.0.
    bool keep_alive() const noexcept { return keep_alive_; }

private:
    // The most end_head() writes: "Connection: keep-alive\r\n", the Date
    // line and the empty line.
    static constexpr std::size_t kMaxHeadEnd = 24 + 37 + 2;

    void write_status_line(std::string_view reason);
    char* put_head_end(char* p) noexcept;
    void end_head();
    void end_head_with_length(std::uint64_t content_length, std::string_view body);

    std::string& out_;
    const DateCache* date_;
    int status_;
    Version version_;
    bool keep_alive_;
    bool head_;
    bool ended_ = false;
};

/// "HTTP/1.1 100 Continue\r\n\r\n", the interim response a server sends when
/// a request expects_continue() and it is willing to read the body.
void write_continue(std::string& out);

/// Appends a complete error response for a parser failure (400, 413, 431,
/// 501, 505) or any other status: a short text/plain body naming the status,
/// and Connection: close, since after a framing error the rest of the input
/// cannot be trusted. Throws std::invalid_argument for a status outside
/// 100..999.
void write_error(std::string& out, int status, const DateCache* date = nullptr);

}  // namespace reactor::http
