// src/http/static_files.cpp -- the text side of serving files: URL paths,
// Content-Type, HTTP dates, conditional and range requests. Pure functions;
// the system calls are in open_beneath.cpp.
#include <reactor/http/static_files.hpp>
#include "http/response.hpp"

#include "http/chars.hpp"

#include <array>
#include <chrono>
#include <limits>

namespace reactor::http {

namespace {

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool is_control(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
}

}  // namespace

// ---- URL path to file path ---------------------------------------------------

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) return std::nullopt;
        const int hi = hex_value(text[i + 1]);
        const int lo = hex_value(text[i + 2]);
        if (hi < 0 || lo < 0) return std::nullopt;
        const int byte = hi * 16 + lo;
        if (byte == 0) return std::nullopt;
        out.push_back(static_cast<char>(byte));
        i += 2;
    }
    return out;
}

std::string percent_encode_path(std::string_view path) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(path.size());
    for (char c : path) {
        const auto u = static_cast<unsigned char>(c);
        const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~' || c == '/';
        if (unreserved) {
            out.push_back(c);
        } else {
            out.push_back('%');
            out.push_back(kHex[u >> 4]);
            out.push_back(kHex[u & 15]);
        }
    }
    return out;
}

MappedPath map_request_path(std::string_view path) {
    MappedPath result;
    const auto fail = [&](int status) {
        result.status = status;
        result.relative.clear();
        return result;
    };
    if (path.empty() || path.front() != '/') return fail(400);
    result.directory = path.back() == '/';

    // Segments are split on the '/' the client sent, then decoded one by
    // one: a '/' that appears only after decoding (%2F) was not a separator
    // to the client, and letting it become one here would let "..%2F.."
    // slip past the ".." check.
    std::size_t begin = 1;
    while (begin <= path.size()) {
        std::size_t end = path.find('/', begin);
        if (end == std::string_view::npos) end = path.size();
        const std::optional<std::string> segment = percent_decode(path.substr(begin, end - begin));
        begin = end + 1;
        if (!segment) return fail(400);
        for (char c : *segment) {
            if (is_control(c)) return fail(400);
            // A backslash is an ordinary byte in a POSIX file name, but a
            // separator on Windows and to some proxies: "..\" must never
            // mean anything here, so no name with one is served.
            if (c == '/' || c == '\\') return fail(403);
        }
        if (segment->empty() || *segment == ".") continue;
        if (*segment == "..") return fail(403);
        if (!result.relative.empty()) result.relative.push_back('/');
        result.relative.append(*segment);
    }
    return result;
}

// ---- Content-Type --------------------------------------------------------------

std::string_view content_type_for(std::string_view file_name) noexcept {
    struct Entry {
        std::string_view extension;
        std::string_view type;
    };
    static constexpr std::array<Entry, 24> kTypes{{
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        // RFC 9239: text/javascript is the one JavaScript type, modules too.
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        // JSON is UTF-8 by definition (RFC 8259); the type has no charset.
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"svg", "image/svg+xml"},
        {"xml", "application/xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        // Browsers compile wasm with streaming only when served as this.
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"mp3", "audio/mpeg"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
    }};
    static constexpr std::string_view kDefault = "application/octet-stream";

    const std::size_t slash = file_name.rfind('/');
    const std::string_view base =
        slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
    const std::size_t dot = base.rfind('.');
    // No dot, or only a leading one (".profile" is a name, not a type).
    if (dot == std::string_view::npos || dot == 0) return kDefault;
    const std::string_view extension = base.substr(dot + 1);
    for (const Entry& e : kTypes) {
        if (detail::iequals(extension, e.extension)) return e.type;
    }
    return kDefault;
}

// ---- HTTP dates ------------------------------------------------------------------

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDayNames = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonthNames = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Reads an HTTP-date left to right; every method consumes on success only
// what it matched, and the caller gives up at the first failure.
class DateReader {
public:
    explicit DateReader(std::string_view text) : text_(text) {}

    bool literal(std::string_view s) {
        if (text_.substr(pos_, s.size()) != s) return false;
        pos_ += s.size();
        return true;
    }
    bool digits(int count, int& value) {
        if (text_.size() - pos_ < static_cast<std::size_t>(count)) return false;
        value = 0;
        for (int i = 0; i < count; ++i) {
            const char c = text_[pos_ + i];
            if (c < '0' || c > '9') return false;
            value = value * 10 + (c - '0');
        }
        pos_ += count;
        return true;
    }
    // One of `names`, stores its index.
    template <std::size_t N>
    bool name(const std::array<std::string_view, N>& names, int& index) {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) {
                index = static_cast<int>(i);
                return true;
            }
        }
        return false;
    }
    // "HH:MM:SS"
    bool time_of_day(int& h, int& m, int& s) {
        return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, s);
    }
    bool at_end() const { return pos_ == text_.size(); }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

struct DateFields {
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
};

std::optional<std::time_t> to_time(const DateFields& f) {
    using namespace std::chrono;
    const year_month_day date{year{f.year}, month{static_cast<unsigned>(f.month + 1)},
                              day{static_cast<unsigned>(f.day)}};
    // ok() rejects Feb 30 and friends. A second of 60 is allowed: the
    // grammar's "2DIGIT" leaves room for a leap second, which counts as the
    // first second of the next minute.
    if (!date.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
    const auto days = sys_days{date}.time_since_epoch().count();
    return static_cast<std::time_t>(days) * 86400 + f.hour * 3600 + f.minute * 60 + f.second;
}

int year_of(std::time_t t) {
    using namespace std::chrono;
    const auto days = floor<std::chrono::days>(sys_seconds{seconds{t}});
    return static_cast<int>(year_month_day{days}.year());
}

}  // namespace

std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) {
    DateFields f;
    int weekday = 0;
    {
        // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        DateReader r(text);
        if (r.name(kDayNames, weekday) && r.literal(", ") && r.digits(2, f.day) &&
            r.literal(" ") && r.name(kMonthNames, f.month) && r.literal(" ") &&
            r.digits(4, f.year) && r.literal(" ") && r.time_of_day(f.hour, f.minute, f.second) &&
            r.literal(" GMT") && r.at_end()) {
            return to_time(f);
        }
    }
    {
        // asctime: "Sun Nov  6 08:49:37 1994" (the day is padded with a space)
        DateReader r(text);
        if (r.name(kDayNames, weekday) && r.literal(" ") && r.name(kMonthNames, f.month) &&
            r.literal(" ") && (r.digits(2, f.day) || (r.literal(" ") && r.digits(1, f.day))) &&
            r.literal(" ") && r.time_of_day(f.hour, f.minute, f.second) && r.literal(" ") &&
            r.digits(4, f.year) && r.at_end()) {
            return to_time(f);
        }
    }
    {
        // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
        DateReader r(text);
        int yy = 0;
        if (r.name(kLongDayNames, weekday) && r.literal(", ") && r.digits(2, f.day) &&
            r.literal("-") && r.name(kMonthNames, f.month) && r.literal("-") && r.digits(2, yy) &&
            r.literal(" ") && r.time_of_day(f.hour, f.minute, f.second) && r.literal(" GMT") &&
            r.at_end()) {
            // RFC 9110 section 5.6.7: a two-digit year that would be more
            // than 50 years in the future is the most recent past year with
            // those digits.
            const int this_year = year_of(now);
            f.year = this_year / 100 * 100 + yy;
            if (f.year > this_year + 50) f.year -= 100;
            return to_time(f);
        }
    }
    return std::nullopt;
}

std::optional<std::time_t> parse_http_date(std::string_view text) {
    return parse_http_date(text, std::time(nullptr));
}

std::string format_http_date(std::time_t t) {
    return std::string(DateCache(t).value());
}

// ---- ranges ----------------------------------------------------------------------

namespace {

// Reads 1 or more decimal digits at the front of `s`, saturating at the
// largest uint64_t; false if `s` does not start with a digit.
bool read_number(std::string_view& s, std::uint64_t& value) {
    constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
    std::size_t i = 0;
    value = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        const auto digit = static_cast<std::uint64_t>(s[i] - '0');
        value = value > (kMax - digit) / 10 ? kMax : value * 10 + digit;
        ++i;
    }
    s.remove_prefix(i);
    return i > 0;
}

}  // namespace

ByteRange parse_range(std::string_view value, std::uint64_t size) {
    const ByteRange whole{};
    value = detail::trim_ows(value);
    const std::size_t equals = value.find('=');
    if (equals == std::string_view::npos || !detail::iequals(value.substr(0, equals), "bytes")) {
        return whole;
    }

    // range-set = 1#range-spec: a comma list, whose empty elements a
    // recipient must accept (RFC 9110 section 5.6.1.2). Exactly one
    // non-empty element is honoured.
    std::string_view spec;
    int count = 0;
    std::string_view rest = value.substr(equals + 1);
    while (true) {
        const std::size_t comma = rest.find(',');
        const std::string_view element = detail::trim_ows(rest.substr(0, comma));
        if (!element.empty()) {
            spec = element;
            ++count;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (count != 1) return whole;

    ByteRange r;
    if (spec.front() == '-') {
        // suffix-range: the last n bytes.
        spec.remove_prefix(1);
        std::uint64_t n = 0;
        if (!read_number(spec, n) || !spec.empty()) return whole;
        if (n == 0) return {RangeKind::Unsatisfiable};
        if (size == 0) return whole;
        r.first = n >= size ? 0 : size - n;
        r.last = size - 1;
    } else {
        // int-range: first-last, or first- to the end.
        std::uint64_t first = 0, last = std::numeric_limits<std::uint64_t>::max();
        if (!read_number(spec, first) || spec.empty() || spec.front() != '-') return whole;
        spec.remove_prefix(1);
        if (!spec.empty() && (!read_number(spec, last) || !spec.empty())) return whole;
        if (last < first) return whole;
        if (first >= size) return {RangeKind::Unsatisfiable};
        r.first = first;
        r.last = last >= size ? size - 1 : last;
    }
    r.kind = RangeKind::Partial;
    return r;
}

// ---- conditional requests ----------------------------------------------------------

FileRequest FileRequest::from(const Request& request) {
    FileRequest r;
    r.head = request.method() == "HEAD";
    const auto copy = [&](std::string_view name, std::optional<std::string>& to) {
        if (auto v = request.header(name)) to.emplace(*v);
    };
    copy("If-Modified-Since", r.if_modified_since);
    copy("If-None-Match", r.if_none_match);
    copy("If-Range", r.if_range);
    copy("Range", r.range);
    return r;
}

FileReply plan_file_reply(const FileRequest& request, std::uint64_t size, std::time_t mtime) {
    return plan_file_reply(request, size, mtime, std::time(nullptr));
}

FileReply plan_file_reply(const FileRequest& request, std::uint64_t size, std::time_t mtime,
                          std::time_t now) {
    FileReply reply;
    const auto not_modified = [&] {
        reply.status = 304;
        return reply;
    };
    if (request.if_none_match) {
        if (detail::trim_ows(*request.if_none_match) == "*") return not_modified();
    } else if (request.if_modified_since) {
        // RFC 9110 section 13.1.3: ignored unless a valid HTTP-date no later
        // than our clock. A date in the future says nothing about the
        // client's copy (a wrong clock, or a probe), and honouring it would
        // keep answering 304 after the file changed, until that date.
        const auto since = parse_http_date(*request.if_modified_since, now);
        if (since && *since <= now && mtime <= *since) return not_modified();
    }

    reply.length = size;
    if (request.head || !request.range) return reply;
    if (request.if_range) {
        const auto date = parse_http_date(*request.if_range, now);
        if (!date || *date != mtime) return reply;
    }
    const ByteRange range = parse_range(*request.range, size);
    switch (range.kind) {
    case RangeKind::Whole:
        break;
    case RangeKind::Partial:
        reply.status = 206;
        reply.offset = range.first;
        reply.length = range.last - range.first + 1;
        reply.content_range = "bytes " + std::to_string(range.first) + "-" +
                              std::to_string(range.last) + "/" + std::to_string(size);
        break;
    case RangeKind::Unsatisfiable:
        reply.status = 416;
        reply.length = 0;
        reply.content_range = "bytes */" + std::to_string(size);
        break;
    }
    return reply;
}

}  // namespace reactor::http
