// src/http/response.cpp -- the response writer and the Date cache.
#include <reactor/http/response.hpp>

#include "http/chars.hpp"

#include <cassert>
#include <charconv>
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

bool is_owned_by_writer(std::string_view name, bool has_date) noexcept {
    return detail::iequals(name, "content-length") || detail::iequals(name, "transfer-encoding") ||
           detail::iequals(name, "connection") || (has_date && detail::iequals(name, "date"));
}

bool is_field_value(std::string_view s) noexcept {
    return detail::is_field_value(s.data(), s.size());
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
    : ResponseWriter(out, status, reason_phrase(status), options) {}

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
    out_.append("HTTP/1.1 ");
    append_number(out_, static_cast<std::uint64_t>(status), 10);
    out_.push_back(' ');
    out_.append(reason);
    out_.append("\r\n");
}

ResponseWriter& ResponseWriter::header(std::string_view name, std::string_view value) {
    assert(!ended_ && "header() after the head was ended");
    if (!detail::all_of_class(name, detail::kToken)) {
        throw std::invalid_argument("http::ResponseWriter: header name is not a token");
    }
    if (!is_field_value(value)) {
        throw std::invalid_argument("http::ResponseWriter: control character in header value");
    }
    if (is_owned_by_writer(name, date_ != nullptr)) {
        throw std::invalid_argument("http::ResponseWriter: header is written by the writer");
    }
    out_.append(name);
    out_.append(": ");
    out_.append(value);
    out_.append("\r\n");
    return *this;
}

void ResponseWriter::finish(std::string_view body) {
    if (status_has_no_body(status_)) {
        end_head();
        return;
    }
    out_.append("Content-Length: ");
    append_number(out_, body.size(), 10);
    out_.append("\r\n");
    end_head();
    if (!head_) out_.append(body);
}

void ResponseWriter::finish_head(std::uint64_t content_length) {
    // RFC 9110 section 8.6: never a Content-Length in a 1xx or 204; in a 304
    // it is the length of the representation, which the caller knows.
    if (!(status_ < 200 || status_ == 204)) {
        out_.append("Content-Length: ");
        append_number(out_, content_length, 10);
        out_.append("\r\n");
    }
    end_head();
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

void ResponseWriter::end_head() {
    assert(!ended_ && "the head was already ended");
    ended_ = true;
    if (!keep_alive_) {
        out_.append("Connection: close\r\n");
    } else if (version_ == Version::Http10) {
        // An HTTP/1.0 client closes unless told the connection persists.
        out_.append("Connection: keep-alive\r\n");
    }
    if (date_) out_.append(date_->header_line());
    out_.append("\r\n");
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
