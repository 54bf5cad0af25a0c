// tests/fuzz/http_writer_fuzz.cpp -- libFuzzer target for http::ResponseWriter
// and ChunkedBody. Built and run by scripts/fuzz.sh (`make fuzz`); not a
// doctest suite.
// fuzz-sources: src/http/response.cpp src/http/status.cpp
//
// The input describes one response; bytes past the end read as zero, so
// every input is a complete description:
//   flags (1 byte): HTTP/1.0, keep-alive off, HEAD, with a DateCache, custom
//     reason phrase, two bits for the ending;
//   status (2 bytes, modulo 1100: also below 100 and above 999);
//   the reason phrase if custom (a length byte modulo 32, then the bytes);
//   the header count (modulo 8), then for each a name (length byte modulo
//     24, bytes) and a value (length byte, bytes);
//   the ending: finish(body) (length byte, bytes), finish_head(n) (8 bytes),
//     or start_chunked() and chunks (count modulo 8; each a length byte and
//     bytes) then ChunkedBody::finish().
// The output string starts with a prefix that must survive untouched.
// Checked, against plain byte-by-byte definitions of RFC 9110:
//   - the constructor throws std::invalid_argument exactly for a status
//     outside 100..999 or a reason with a control character, appending
//     nothing;
//   - header() throws std::invalid_argument and appends nothing for a name
//     that is not a token, a value with CR, LF or another control character
//     but HTAB, or a name the writer owns, and otherwise appends exactly
//     "name: value\r\n";
//   - the output reads back: "HTTP/1.1 NNN reason\r\n", header lines with no
//     CR or LF inside (no response splitting), exactly the headers added in
//     order plus the writer's own, and the first "\r\n\r\n" ends the head;
//   - the framing: Content-Length equals the body given to finish() or the
//     length given to finish_head(), absent for 1xx and 204 (and for 304
//     with finish()); the bytes after the head are the body (none for HEAD
//     or a bodiless status); chunked coding decodes back to the data
//     appended, ending with the last chunk; HTTP/1.0 streams get no coding
//     and Connection: close;
//   - Connection: close exactly when the connection is not kept alive,
//     keep-alive only for a kept HTTP/1.0 connection, Date exactly when a
//     DateCache is given.
#include "http/response.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

using namespace reactor::http;

namespace {

class Input {
public:
    Input(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }
    std::string bytes(std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(byte()));
        return s;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// tchar, RFC 9110 section 5.6.2.
bool is_tchar(unsigned char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

// No control character but HTAB (field-vchar, SP, HTAB, obs-text).
bool is_clean_value(std::string_view s) {
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool no_body_status(int status) { return (status >= 100 && status < 200) || status == 204 || status == 304; }

// Decodes a chunked body that must be exactly the chunks and the last chunk.
std::string dechunk(std::string_view body) {
    std::string data;
    for (;;) {
        const auto eol = body.find("\r\n");
        FUZZ_CHECK(eol != std::string_view::npos && eol > 0);
        std::uint64_t n = 0;
        for (char c : body.substr(0, eol)) {
            const bool digit = c >= '0' && c <= '9';
            const bool hex = c >= 'a' && c <= 'f';
            FUZZ_CHECK(digit || hex);
            n = n * 16 + static_cast<std::uint64_t>(digit ? c - '0' : c - 'a' + 10);
        }
        FUZZ_CHECK(eol == 1 || body[0] != '0');  // no leading zeros
        body.remove_prefix(eol + 2);
        if (n == 0) {
            FUZZ_CHECK(body == "\r\n");
            return data;
        }
        FUZZ_CHECK(body.size() >= n + 2);
        data.append(body.substr(0, n));
        FUZZ_CHECK(body.substr(n, 2) == "\r\n");
        body.remove_prefix(n + 2);
    }
}

struct Added {
    std::string name;
    std::string value;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Input in(data, size);
    const std::uint8_t flags = in.byte();
    ResponseOptions options;
    options.version = (flags & 1) ? Version::Http10 : Version::Http11;
    options.keep_alive = !(flags & 2);
    options.head = (flags & 4) != 0;
    const DateCache dates(784111777);
    if (flags & 8) options.date = &dates;
    const bool custom_reason = (flags & 16) != 0;
    const int ending = (flags >> 5) % 3;

    const int status = (in.byte() << 8 | in.byte()) % 1100;
    std::string reason;
    if (custom_reason) reason = in.bytes(in.byte() % 32);

    // Bytes already in the output (a previous response) stay as they are.
    const std::string prefix = "HTTP/1.1 204 No Content\r\n\r\n";
    std::string out = prefix;

    const bool status_ok = status >= 100 && status <= 999;
    const bool reason_ok = !custom_reason || is_clean_value(reason);
    bool threw = false;
    ResponseWriter* wp = nullptr;
    alignas(ResponseWriter) unsigned char storage[sizeof(ResponseWriter)];
    try {
        wp = custom_reason ? new (storage) ResponseWriter(out, status, reason, options)
                           : new (storage) ResponseWriter(out, status, options);
    } catch (const std::invalid_argument&) {
        threw = true;
    }
    FUZZ_CHECK(threw == !(status_ok && reason_ok));
    if (threw) {
        FUZZ_CHECK(out == prefix);
        return 0;
    }
    ResponseWriter& w = *wp;
    FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
    const std::size_t status_line_start = prefix.size();

    std::vector<Added> added;
    const int header_count = in.byte() % 8;
    for (int i = 0; i < header_count; ++i) {
        const std::string name = in.bytes(in.byte() % 24);
        const std::string value = in.bytes(in.byte());
        const std::string lname = lower(name);
        const bool owned = lname == "content-length" || lname == "transfer-encoding" ||
                           lname == "connection" || (options.date && lname == "date");
        const bool expect_ok = is_token(name) && is_clean_value(value) && !owned;
        const std::string before = out;
        bool refused = false;
        try {
            w.header(name, value);
        } catch (const std::invalid_argument&) {
            refused = true;
        }
        FUZZ_CHECK(refused == !expect_ok);
        if (refused) {
            FUZZ_CHECK(out == before);
        } else {
            FUZZ_CHECK(out.size() == before.size() + name.size() + value.size() + 4);
            FUZZ_CHECK(out.compare(0, before.size(), before) == 0);
            FUZZ_CHECK(out.compare(before.size(), std::string::npos, name + ": " + value + "\r\n") == 0);
            added.push_back({name, value});
        }
    }

    std::string body_in;              // what finish() or the stream was given
    std::uint64_t declared = 0;       // finish_head()'s length
    switch (ending) {
    case 0:
        body_in = in.bytes(in.byte());
        w.finish(body_in);
        break;
    case 1:
        for (int i = 0; i < 8; ++i) declared = declared << 8 | in.byte();
        if (in.byte() & 1) declared %= 100000;
        w.finish_head(declared);
        break;
    default: {
        const ChunkedBody stream = w.start_chunked();
        FUZZ_CHECK(stream.keep_alive() == w.keep_alive());
        const int chunks = in.byte() % 8;
        for (int i = 0; i < chunks; ++i) {
            const std::string chunk = in.bytes(in.byte() % 64);
            stream.append(out, chunk);
            body_in += chunk;
        }
        stream.finish(out);
        break;
    }
    }
    const bool keep_alive = w.keep_alive();
    w.~ResponseWriter();

    // ---- read the response back ----
    FUZZ_CHECK(out.compare(0, prefix.size(), prefix) == 0);
    const std::string_view response = std::string_view(out).substr(status_line_start);
    const std::size_t head_end = response.find("\r\n\r\n");
    FUZZ_CHECK(head_end != std::string_view::npos);
    const std::string_view head = response.substr(0, head_end + 2);  // lines with their CRLF
    const std::string_view body = response.substr(head_end + 4);

    // Status line.
    const std::size_t status_eol = head.find("\r\n");
    const std::string_view status_line = head.substr(0, status_eol);
    FUZZ_CHECK(status_line.size() >= 13);
    FUZZ_CHECK(status_line.substr(0, 9) == "HTTP/1.1 ");
    FUZZ_CHECK(status_line[12] == ' ');
    FUZZ_CHECK(status_line.substr(9, 3) == std::to_string(status));
    const std::string_view reason_out = status_line.substr(13);
    FUZZ_CHECK(reason_out.find_first_of("\r\n") == std::string_view::npos);
    FUZZ_CHECK(is_clean_value(reason_out));
    if (custom_reason) FUZZ_CHECK(reason_out == reason);

    // Header lines.
    std::vector<Added> lines;
    std::string_view rest = head.substr(status_eol + 2);
    while (!rest.empty()) {
        const std::size_t eol = rest.find("\r\n");
        FUZZ_CHECK(eol != std::string_view::npos);
        const std::string_view line = rest.substr(0, eol);
        FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
        const std::size_t colon = line.find(':');
        FUZZ_CHECK(colon != std::string_view::npos);
        FUZZ_CHECK(is_token(line.substr(0, colon)));
        FUZZ_CHECK(line.substr(colon + 1, 1) == " ");
        lines.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 2))});
        rest.remove_prefix(eol + 2);
    }
    FUZZ_CHECK(lines.size() >= added.size());
    for (std::size_t i = 0; i < added.size(); ++i) {
        FUZZ_CHECK(lines[i].name == added[i].name);
        FUZZ_CHECK(lines[i].value == added[i].value);
    }

    // The writer's own headers, each at most once.
    const std::string* content_length = nullptr;
    const std::string* transfer_encoding = nullptr;
    const std::string* connection = nullptr;
    const std::string* date = nullptr;
    for (std::size_t i = added.size(); i < lines.size(); ++i) {
        const std::string& name = lines[i].name;
        const std::string* value = &lines[i].value;
        const std::string** slot = name == "Content-Length"      ? &content_length
                                   : name == "Transfer-Encoding" ? &transfer_encoding
                                   : name == "Connection"        ? &connection
                                   : name == "Date"              ? &date
                                                                 : nullptr;
        FUZZ_CHECK(slot != nullptr);
        FUZZ_CHECK(*slot == nullptr);
        *slot = value;
    }
    if (options.date) {
        FUZZ_CHECK(date != nullptr && *date == dates.value());
    } else {
        FUZZ_CHECK(date == nullptr);
    }
    if (!keep_alive) {
        FUZZ_CHECK(connection != nullptr && *connection == "close");
    } else if (options.version == Version::Http10) {
        FUZZ_CHECK(connection != nullptr && *connection == "keep-alive");
    } else {
        FUZZ_CHECK(connection == nullptr);
    }

    switch (ending) {
    case 0:
        FUZZ_CHECK(keep_alive == options.keep_alive);
        FUZZ_CHECK(transfer_encoding == nullptr);
        if (no_body_status(status)) {
            FUZZ_CHECK(content_length == nullptr);
            FUZZ_CHECK(body.empty());
        } else {
            FUZZ_CHECK(content_length != nullptr && *content_length == std::to_string(body_in.size()));
            FUZZ_CHECK(body == (options.head ? std::string() : body_in));
        }
        break;
    case 1:
        FUZZ_CHECK(keep_alive == options.keep_alive);
        FUZZ_CHECK(transfer_encoding == nullptr);
        FUZZ_CHECK(body.empty());
        if (status < 200 || status == 204) {
            FUZZ_CHECK(content_length == nullptr);
        } else {
            FUZZ_CHECK(content_length != nullptr && *content_length == std::to_string(declared));
        }
        break;
    default:
        FUZZ_CHECK(content_length == nullptr);
        if (no_body_status(status)) {
            FUZZ_CHECK(keep_alive == options.keep_alive);
            FUZZ_CHECK(transfer_encoding == nullptr);
            FUZZ_CHECK(body.empty());
        } else if (options.version == Version::Http10) {
            FUZZ_CHECK(!keep_alive);
            FUZZ_CHECK(transfer_encoding == nullptr);
            FUZZ_CHECK(body == (options.head ? std::string() : body_in));
        } else {
            FUZZ_CHECK(keep_alive == options.keep_alive);
            FUZZ_CHECK(transfer_encoding != nullptr && *transfer_encoding == "chunked");
            if (options.head) {
                FUZZ_CHECK(body.empty());
            } else {
                FUZZ_CHECK(dechunk(body) == body_in);
            }
        }
        break;
    }
    return 0;
}
