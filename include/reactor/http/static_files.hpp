// reactor/http/static_files.hpp -- the pieces of a static file server that
// are worth testing on their own: URL path to file path, opening a file
// beneath a root directory, Content-Type, HTTP dates, conditional and range
// requests.
//
// A file server built from them handles a GET or HEAD in four steps
// (examples/http_files.cpp does exactly this; docs/http-files.md explains
// the choices):
//
//   request.path() ──► map_request_path() ──► status 400/403/404, or a safe
//                                              relative path ("pub/a.html")
//   relative path  ──► open_beneath(root_fd) ─► fd, or an errno that
//                      (on a worker thread)     status_for_open_error() maps
//   fstat(fd)      ──► plan_file_reply()    ──► 200 / 206 / 304 / 416, with
//                                              the byte slice to send
//   the slice      ──► pread() on a worker thread, then the response
//
// Everything here is pure text processing except open_beneath(), which
// makes blocking system calls and so belongs on a worker thread (never on a
// loop). No function keeps state; all may be called from any thread.
//
// Failure: the parsing functions never throw but std::bad_alloc; bad input
// is an ordinary result (an error status, nullopt, RangeKind::Whole), since
// it comes from the network.
#pragma once

#include <reactor/http/request_parser.hpp>

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace reactor::http {

// ---- URL path to file path ---------------------------------------------------

/// Decodes the %XX escapes of a URL path component (RFC 3986 section 2.1;
/// either case of hex digit). '+' stays '+': it means a space only in
/// form-encoded queries, never in a path. Returns nullopt for a '%' not
/// followed by two hex digits, and for %00: a NUL cannot be part of a file
/// name, and a C API would silently cut the name there.
std::optional<std::string> percent_decode(std::string_view text);

/// Encodes a file path for use in a URL (a Location header): every byte
/// but the unreserved characters (RFC 3986 section 2.3) and '/' becomes
/// %XX. The inverse of percent_decode() for paths map_request_path() makes.
std::string percent_encode_path(std::string_view path);

/// The outcome of map_request_path().
struct MappedPath {
    /// 0 when the path maps to a file name; otherwise the HTTP status to
    /// answer with, and `relative` is empty:
    ///  - 400 the path is malformed: it does not start with '/' (the server
    ///    gets "*" or an authority here), holds a bad or NUL escape, or a
    ///    control character once decoded;
    ///  - 403 it tries to leave the root or to smuggle a separator: a ".."
    ///    segment (literal, %2e%2e in any case mix, or half-encoded), a
    ///    backslash, or a '/' that was encoded (%2F) inside a segment.
    int status = 0;
    /// The decoded path below the root: segments joined by '/', never a
    /// leading '/', never an empty, "." or ".." segment, so it cannot name
    /// anything above the root by itself (symbolic links are open_beneath's
    /// business). Empty for the root itself.
    std::string relative;
    /// The request path ended with '/' (or was "/"): the client asked for a
    /// directory.
    bool directory = false;
};

/// Maps the path of a request-target (Request::path(), still percent-encoded)
/// to a file path relative to the served root, refusing what could escape
/// it. Empty segments ("//") and "." segments are dropped, as a file system
/// would; ".." is refused rather than resolved, even when it would stay
/// inside the root, because a client following RFC 3986 section 5.2.4 never
/// sends one, so whoever does is probing. An absolute path such as
/// "/etc/passwd" is simply read below the root ("etc/passwd").
MappedPath map_request_path(std::string_view path);

// ---- opening beneath a root ------------------------------------------------------

/// Opens `relative` (a path from map_request_path(), or any relative path)
/// for reading, beneath the directory `root_fd`, so that nothing outside the
/// root can be reached: no ".." above the root, no absolute or escaping
/// symbolic link, even one planted while the call runs. Symbolic links that
/// stay beneath the root are followed (at most 40 in one call, as Linux).
/// An empty path opens the root itself.
///
/// Only a regular file or a directory is opened. The type of the last
/// component is read first (fstatat without following a link), so a FIFO,
/// device or socket is refused without ever being opened: opening one can
/// block or have side effects (a FIFO's writers wake up, a device acts on
/// open). The file is then opened with O_NOFOLLOW and fstat'ed again; if
/// another file was swapped in between, it is closed and the name looked at
/// again.
///
/// Returns a new fd (O_RDONLY | O_CLOEXEC | O_NONBLOCK; the caller owns and
/// closes it) of a regular file or a directory, so fstat() it; or -1 with
/// `ec` set to the errno: EXDEV when the path leads out of the root, ENXIO
/// for a FIFO, device or socket, ELOOP for too many links, EAGAIN if the
/// name kept changing under us, ENOENT, ENOTDIR, EACCES... as the file
/// system says. O_NONBLOCK and O_NOCTTY bound what a special file swapped
/// in at the last moment could do: no waiting for a FIFO's writer, no
/// controlling terminal (pread of a regular file is not affected). In the
/// component walk (below) intermediate directories are opened with
/// O_RDONLY, so they must be readable, not only searchable.
///
/// Blocking: call it on a worker thread. Thread-safe.
///
/// Platforms: on Linux 5.6 and later this is one openat2() call with
/// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS (the kernel resolves beneath the
/// root atomically) for the directory part, then the type check and open
/// above on the last component; a link there is resolved by another such
/// call on its target (same limit of 40). Elsewhere, or if openat2 is missing or filtered
/// (ENOSYS, EPERM from a seccomp policy), the path is walked one component
/// at a time with openat(O_NOFOLLOW), reading each symbolic link met with
/// readlinkat() and resolving its target beneath the root by the same walk;
/// only POSIX calls are used, so FreeBSD and macOS take this walk. Both
/// report the same errors for the same tree (tests/http_static_files_test.cpp
/// runs both on Linux).
int open_beneath(int root_fd, std::string_view relative, std::error_code& ec);

/// A file opened for serving by open_for_serving(): owns its fd (closed by
/// the destructor), move-only.
class OpenedFile {
public:
    OpenedFile() = default;
    OpenedFile(OpenedFile&& other) noexcept;
    OpenedFile& operator=(OpenedFile&& other) noexcept;
    ~OpenedFile();

    /// 0 when fd() is an open regular file; else the status to answer with:
    /// 301 for a directory asked for without its trailing '/' (redirect to
    /// "/" + percent_encode_path(name) + "/", so that relative links in its
    /// index page resolve), 404 for a missing file, a directory without an
    /// index file, or a file asked for with a trailing '/'; 403 for a path
    /// out of the root or a special file (FIFO, device, socket); 500 for an
    /// unexpected error.
    int status = 0;
    /// The path below the root that was opened (the index file's, for a
    /// directory); for a 301, the directory's. For content_type_for().
    std::string name;
    std::uint64_t size = 0;  ///< bytes, from fstat
    std::time_t mtime = 0;   ///< last modification, seconds since the epoch

    /// The open file, or -1.
    int fd() const noexcept { return fd_; }
    /// Closes the file now (also done by the destructor).
    void close() noexcept;

private:
    friend OpenedFile open_for_serving(int, const MappedPath&, std::string_view);
    int fd_ = -1;
};

/// Opens what a mapped request path names, for a GET or HEAD: the file, or
/// for a directory its `index_name` file (no listings). Uses open_beneath(),
/// so it blocks: call it on a worker thread. `path` must have status 0.
/// Never throws but std::bad_alloc; failures are OpenedFile::status.
OpenedFile open_for_serving(int root_fd, const MappedPath& path,
                            std::string_view index_name = "index.html");

/// The HTTP status for an open_beneath() failure: 404 for names that do not
/// exist (ENOENT, ENOTDIR, ENAMETOOLONG), 403 for what exists but is refused
/// (EXDEV: leads out of the root, ENXIO: a special file, ELOOP, EACCES,
/// EPERM), 500 otherwise.
int status_for_open_error(std::error_code ec) noexcept;

// ---- Content-Type ------------------------------------------------------------------

/// The Content-Type for a file name, by its extension (case-insensitive):
/// html/htm, css, js/mjs, json, txt, md, csv, svg, xml, png, jpg/jpeg, gif,
/// webp, ico, wasm, pdf, mp4, webm, mp3, woff, woff2. Text types carry
/// "; charset=utf-8"; anything else is "application/octet-stream", which a
/// browser downloads rather than renders. Static strings.
std::string_view content_type_for(std::string_view file_name) noexcept;

// ---- HTTP dates ----------------------------------------------------------------------

/// Parses an HTTP-date (RFC 9110 section 5.6.7) to seconds since the epoch:
/// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", which senders must use, and
/// the two obsolete forms recipients must still accept, RFC 850
/// "Sunday, 06-Nov-94 08:49:37 GMT" and asctime "Sun Nov  6 08:49:37 1994".
/// Day and month names are case-sensitive, as the grammar says; the weekday
/// is not checked against the date. A two-digit RFC 850 year is placed in
/// the century that puts it at most 50 years after `now` (the RFC's rule).
/// Returns nullopt for anything else, including impossible dates
/// (Feb 30) and surrounding text.
std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now);
/// As above, with `now` the current time.
std::optional<std::time_t> parse_http_date(std::string_view text);

/// Formats `t` as an IMF-fixdate, for Last-Modified (the same formatting as
/// the Date header's DateCache). A time outside years 0..9999 formats as
/// the epoch, as DateCache does.
std::string format_http_date(std::time_t t);

// ---- conditional and range requests --------------------------------------------------

/// What a Range header asks of a file of a given size.
enum class RangeKind {
    /// Send the whole file (200): there is no Range header, or it is
    /// malformed, names another unit than bytes, or asks for several ranges
    /// (RFC 9110 section 14.2 lets a server ignore Range; ignoring multiple
    /// ranges spares us multipart/byteranges and the many-overlapping-ranges
    /// denial of service).
    Whole,
    /// Send bytes [first, last] (206).
    Partial,
    /// No byte of the range exists: 416 with "Content-Range: bytes */size".
    Unsatisfiable,
};

struct ByteRange {
    RangeKind kind = RangeKind::Whole;
    std::uint64_t first = 0;  ///< first byte, for Partial
    std::uint64_t last = 0;   ///< last byte, inclusive, for Partial
};

/// Parses a Range header value against a representation of `size` bytes
/// (RFC 9110 section 14.1.2): "bytes=a-b" (b clamped to size-1), "bytes=a-",
/// "bytes=-n" (the last n bytes; all of them when n >= size). The unit is
/// case-insensitive; whitespace is allowed only where the grammar allows it
/// (around list commas, and at the ends). a > b is malformed (Whole). An a at or
/// past the end, or a suffix of 0 bytes, is Unsatisfiable. For an empty
/// file a suffix range is treated as Whole: it is satisfiable by the
/// RFC's definition, but 206 cannot describe a slice of nothing.
/// Numbers too large for 64 bits saturate.
ByteRange parse_range(std::string_view value, std::uint64_t size);

/// The request headers a file reply depends on, copied out of the Request
/// (whose views die with the handler call) so the decision can be taken
/// after the file was opened on a worker thread.
struct FileRequest {
    bool head = false;  ///< HEAD (no body, and Range is ignored) rather than GET
    std::optional<std::string> if_modified_since;
    std::optional<std::string> if_none_match;
    std::optional<std::string> if_range;
    std::optional<std::string> range;

    /// Copies the fields above from `request` (the first of each header).
    static FileRequest from(const Request& request);
};

/// The answer plan_file_reply() chose.
struct FileReply {
    int status = 200;           ///< 200, 206, 304 or 416
    std::uint64_t offset = 0;   ///< first byte of the file to send
    std::uint64_t length = 0;   ///< bytes to send from offset (0 for 304, 416)
    std::string content_range;  ///< Content-Range value for 206 and 416, else ""
};

/// Decides the answer to a GET or HEAD of a regular file of `size` bytes
/// last modified at `mtime`, in the order of RFC 9110 section 13.2.2:
///  1. If-None-Match: this server sends no ETag, so no tag can match; only
///     "*" matches (the file exists) and yields 304. When If-None-Match is
///     present, If-Modified-Since is ignored (section 13.1.3).
///  2. If-Modified-Since: a valid HTTP-date not older than `mtime` yields
///     304; an invalid one is ignored, and so is one later than `now`
///     (section 13.1.3: a date in the future cannot describe the client's
///     copy, and would pin 304 on a file that changes before that date).
///  3. Range, for GET only (section 14.2): ignored when If-Range is present
///     and is not an HTTP-date equal to `mtime` (an entity tag never
///     matches, having none); else parse_range() decides 206 or 416.
/// Otherwise 200 with the whole file. For HEAD the reply describes what GET
/// would send; the caller sends no body. `now` is the server's current time
/// (seconds since the epoch), for the future-date rule and for two-digit
/// years in the dates.
FileReply plan_file_reply(const FileRequest& request, std::uint64_t size, std::time_t mtime,
                          std::time_t now);
/// As above, with `now` the current time (std::time).
FileReply plan_file_reply(const FileRequest& request, std::uint64_t size, std::time_t mtime);

}  // namespace reactor::http
