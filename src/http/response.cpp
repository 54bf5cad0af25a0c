// src/http/response.cpp -- the response writer and the Date cache.
#include "http/response.hpp"

#include "http/chars.hpp"
#include "http/status_list.hpp"

#include <cassert>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace reactor::http {

namespace {

// Appends `n` in decimal (base 10) or hexadecimal (base 16), without a
// temporary string.
void append_number(std::string& out, std::uint64_t n, int base) {
    char digits[24];
    const auto r = std::to_chars(digits, digits + sizeof digits, n, base);
    out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

// Writes a number of `width` decimal digits, zero-padded, at `p`.
char* put_digits(char* p, int value, int width) noexcept {
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return p + width;
}

// `name` is already known to be a token. Told apart by length first: this
// runs for every header of every response.
bool is_owned_by_writer(std::string_view name, bool has_date) noexcept {
    using detail::token_iequals;
    switch (name.size()) {
    case 4: return has_date && token_iequals(name, "date");
    case 10: return token_iequals(name, "connection");
    case 14: return token_iequals(name, "content-length");
    case 17: return token_iequals(name, "transfer-encoding");
    default: return false;
    }
}

bool is_field_value(std::string_view s) noexcept {
    return detail::is_field_value(s.data(), s.size());
}

// The whole status line with the standard reason phrase, prebuilt for every
// status in the list, e.g. "HTTP/1.1 200 OK\r\n"; empty for other codes.
std::string_view prebuilt_status_line(int status) noexcept {
    switch (status) {
#define REACTOR_HTTP_STATUS_LINE_CASE(code, text) \
    case code: return "HTTP/1.1 " #code " " text "\r\n";
        REACTOR_HTTP_STATUS_LIST(REACTOR_HTTP_STATUS_LINE_CASE)
#undef REACTOR_HTTP_STATUS_LINE_CASE
    default: return {};
    }
}

// Copies `s` to `p` and returns the end of the copy.
char* put(char* p, std::string_view s) noexcept {
    std::memcpy(p, s.data(), s.size());
    return p + s.size();
}

}  // namespace

// ---- DateCache --------------------------------------------------------------

DateCache::DateCache() : DateCache(std::time(nullptr)) {}

DateCache::DateCache(std::time_t now) noexcept {
    // A fixed, valid value first, so the cache never holds garbage even if
    // `now` is refused; format() then overwrites only the date part.
    static constexpr char kEpoch[] = "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
    static_assert(sizeof kEpoch - 1 == sizeof line_);
    for (std::size_t i = 0; i < sizeof line_; ++i) line_[i] = kEpoch[i];
    format(now);
}

void DateCache::update(std::time_t now) noexcept {
    if (now != time_) format(now);
}

void DateCache::format(std::time_t now) noexcept {
    std::tm tm{};
    if (gmtime_r(&now, &tm) == nullptr) return;
    const int year = tm.tm_year + 1900;
    if (year < 0 || year > 9999) return;
    // Formatted by hand: strftime depends on the locale, and the names in
    // an IMF-fixdate are fixed English abbreviations.
    static constexpr char kDays[] = "SunMonTueWedThuFriSat";
    static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char* p = line_ + kPrefix;
    for (int i = 0; i < 3; ++i) *p++ = kDays[tm.tm_wday * 3 + i];
    *p++ = ',';
    *p++ = ' ';
    p = put_digits(p, tm.tm_mday, 2);
    *p++ = ' ';
    for (int i = 0; i < 3; ++i) *p++ = kMonths[tm.tm_mon * 3 + i];
    *p++ = ' ';
    p = put_digits(p, year, 4);
    *p++ = ' ';
    p = put_digits(p, tm.tm_hour, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_min, 2);
    *p++ = ':';
    p = put_digits(p, tm.tm_sec, 2);
    assert(p + 4 == line_ + kPrefix + kValueLength);
    time_ = now;
}

// ---- ResponseOptions ----------------------------------------------------------

ResponseOptions ResponseOptions::for_request(const Request& request,
                                             const DateCache* date) noexcept {
    ResponseOptions o;
    o.version = request.version();
    o.keep_alive = request.keep_alive();
    o.head = request.method() == "HEAD";
    o.date = date;
    return o;
}

// ---- ChunkedBody --------------------------------------------------------------

void ChunkedBody::append(std::string& out, std::string_view data) const {
    if (data.empty()) return;
    switch (mode_) {
    case Mode::Discard:
        return;
    case Mode::CloseDelimited:
        out.append(data);
        return;
    case Mode::Chunked:
        append_number(out, data.size(), 16);
        out.append("\r\n");
        out.append(data);
        out.append("\r\n");
        return;
    }
}

void ChunkedBody::finish(std::string& out) const {
    if (mode_ == Mode::Chunked) out.append("0\r\n\r\n");
}

// ---- ResponseWriter -------------------------------------------------------------

ResponseWriter::ResponseWriter(std::string& out, int status, const ResponseOptions& options)
    : out_(out),
      date_(options.date),
      status_(status),
      version_(options.version),
      keep_alive_(options.keep_alive),
      head_(options.head) {
    // The usual case: a known status, its whole line appended at once. The
    // built-in reason phrases need no check.
    const std::string_view line = prebuilt_status_line(status);
    if (!line.empty()) {
        out_.append(line);
        return;
    }
    if (status < 100 || status > 999) {
        throw std::invalid_argument("http::ResponseWriter: status outside 100..999");
    }
    write_status_line(reason_phrase(status));
}

ResponseWriter::ResponseWriter(std::string& out, int status, std::string_view reason,
                               const ResponseOptions& options)
    : out_(out),
      date_(options.date),
      status_(status),
      version_(options.version),
      keep_alive_(options.keep_alive),
      head_(options.head) {
    if (status < 100 || status > 999) {
        throw std::invalid_argument("http::ResponseWriter: status outside 100..999");
    }
    if (!is_field_value(reason)) {
        throw std::invalid_argument("http::ResponseWriter: control character in reason phrase");
    }
    write_status_line(reason);
}

void ResponseWriter::write_status_line(std::string_view reason) {
    // "HTTP/1.1 NNN " then the reason and CRLF; the status has three digits.
    char prefix[13] = {'H', 'T', 'T', 'P', '/', '1', '.', '1', ' '};
    prefix[9] = static_cast<char>('0' + status_ / 100);
    prefix[10] = static_cast<char>('0' + status_ / 10 % 10);
    prefix[11] = static_cast<char>('0' + status_ % 10);
    prefix[12] = ' ';
    out_.reserve(out_.size() + sizeof prefix + reason.size() + 2);
    out_.append(prefix, sizeof prefix);
    out_.append(reason);
    out_.append("\r\n", 2);
}

ResponseWriter& ResponseWriter::header(std::string_view name, std::string_view value) {
    assert(!ended_ && "header() after the head was ended");
    if (name.empty() || detail::token_prefix(name.data(), name.size()) != name.size()) {
        throw std::invalid_argument("http::ResponseWriter: header name is not a token");
    }
    if (!is_field_value(value)) {
        throw std::invalid_argument("http::ResponseWriter: control character in header value");
    }
    if (is_owned_by_writer(name, date_ != nullptr)) {
        throw std::invalid_argument("http::ResponseWriter: header is written by the writer");
    }
    // One append instead of four when the line is short (the usual case).
    const std::size_t length = name.size() + value.size() + 4;
    char line[256];
    if (length > sizeof line) {
        out_.reserve(out_.size() + length);
        out_.append(name).append(": ", 2).append(value).append("\r\n", 2);
        return *this;
    }
    char* p = put(line, name);
    *p++ = ':';
    *p++ = ' ';
    p = put(p, value);
    *p++ = '\r';
    *p++ = '\n';
    out_.append(line, length);
    return *this;
}

void ResponseWriter::finish(std::string_view body) {
    if (status_has_no_body(status_)) {
        end_head();
        return;
    }
    end_head_with_length(body.size(), head_ ? std::string_view() : body);
}

void ResponseWriter::finish_head(std::uint64_t content_length) {
    // RFC 9110 section 8.6: never a Content-Length in a 1xx or 204; in a 304
    // it is the length of the representation, which the caller knows.
    if (status_ < 200 || status_ == 204) {
        end_head();
        return;
    }
    end_head_with_length(content_length, {});
}

ChunkedBody ResponseWriter::start_chunked() {
    if (status_has_no_body(status_)) {
        end_head();
        return {ChunkedBody::Mode::Discard, keep_alive_};
    }
    if (version_ == Version::Http10) {
        // HTTP/1.0 has no chunked coding: the body ends when the connection
        // closes (RFC 9112 section 6.3, rule 8).
        keep_alive_ = false;
        end_head();
        return {head_ ? ChunkedBody::Mode::Discard : ChunkedBody::Mode::CloseDelimited, false};
    }
    out_.append("Transfer-Encoding: chunked\r\n");
    end_head();
    return {head_ ? ChunkedBody::Mode::Discard : ChunkedBody::Mode::Chunked, keep_alive_};
}

// The end of every head: Connection when needed, Date, the empty line.
char* ResponseWriter::put_head_end(char* p) noexcept {
    assert(!ended_ && "the head was already ended");
    ended_ = true;
    if (!keep_alive_) {
        p = put(p, "Connection: close\r\n");
    } else if (version_ == Version::Http10) {
        // An HTTP/1.0 client closes unless told the connection persists.
        p = put(p, "Connection: keep-alive\r\n");
    }
    if (date_) p = put(p, date_->header_line());
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

void ResponseWriter::end_head() {
    char tail[kMaxHeadEnd];
    const char* end = put_head_end(tail);
    out_.append(tail, static_cast<std::size_t>(end - tail));
}

// Content-Length, the end of the head and the body in one reserve and two
// appends, formatted on the stack without a temporary string.
void ResponseWriter::end_head_with_length(std::uint64_t content_length, std::string_view body) {
    char tail[kMaxHeadEnd + 40];
    char* p = put(tail, "Content-Length: ");
    p = std::to_chars(p, p + 20, content_length).ptr;
    *p++ = '\r';
    *p++ = '\n';
    p = put_head_end(p);
    const auto n = static_cast<std::size_t>(p - tail);
    out_.reserve(out_.size() + n + body.size());
    out_.append(tail, n);
    out_.append(body);
}

// ---- helpers --------------------------------------------------------------------

void write_continue(std::string& out) {
    out.append("HTTP/1.1 100 Continue\r\n\r\n");
}

void write_error(std::string& out, int status, const DateCache* date) {
    ResponseOptions options;
    options.keep_alive = false;
    options.date = date;
    ResponseWriter w(out, status, options);
    if (status_has_no_body(status)) {
        w.finish({});
        return;
    }
    w.header("Content-Type", "text/plain; charset=utf-8");
    std::string_view text = reason_phrase(status);
    if (text.empty()) text = "Error";
    w.finish_head(text.size() + 1);
    out.append(text);
    out.push_back('\n');
}

}  // namespace reactor::http
