// tests/fuzz/http_parser_fuzz.cpp -- libFuzzer target for http::RequestParser
// (and, on what it accepts, the response writer). Built and run by
// scripts/fuzz.sh (`make fuzz`); not a doctest suite.
// fuzz-sources: src/http/request_parser.cpp src/http/response.cpp src/http/status.cpp
//
// The input is treated as a byte stream from one client. It is driven through
// the parser the way a server would (feed, drop what was consumed, reset after
// each request, keep the leftover) four times: delivered whole, split in two
// at a position taken from the first byte, split in three at positions taken
// from a hash of the whole input, and one byte at a time. Checked:
//   - feed() never reports more bytes than it was given, and consumes all of
//     them unless the request finished or failed;
//   - a failed parser stays failed and consumes nothing more; so does a done
//     parser until reset();
//   - every view (method, target, header names and values) lies inside the
//     parser's head storage, the body inside its body storage, and the
//     limits hold (header count, head size, body size);
//   - the target is in a form its method allows, so path() starts with '/'
//     except for OPTIONS "*" and CONNECT host:port, and authority() is the
//     target's authority or the Host value, made of host-and-port bytes;
//   - the deliveries produce the same requests and the same verdict;
//   - every accepted header value can be echoed by the response writer
//     without it refusing the value.
#include <reactor/http/request_parser.hpp>
#include "http/response.hpp"

#include "http/chars.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

using namespace reactor::http;

namespace {

bool inside(std::string_view part, std::string_view whole) {
    if (part.empty()) return true;
    return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool host_byte(char c) {
    return reactor::detail::has_class(c, reactor::detail::kRegName) || c == ':' || c == '[' ||
           c == ']' || c == '%';
}

// The request-target rules of RFC 9112 section 3.2 as the parser applies them.
void check_target(const Request& r, std::string_view head) {
    const std::string_view target = r.target();
    const std::string_view path = r.path();
    const std::string_view authority = r.authority();
    FUZZ_CHECK(inside(authority, head));
    for (char c : authority) FUZZ_CHECK(host_byte(c));
    FUZZ_CHECK(authority.find('@') == std::string_view::npos);
    if (r.version() == Version::Http11) FUZZ_CHECK(!authority.empty());
    FUZZ_CHECK(path.find('?') == std::string_view::npos);
    if (r.method() == "CONNECT") {
        FUZZ_CHECK(path == target);
        FUZZ_CHECK(authority == target);
        FUZZ_CHECK(r.query().empty());
    } else if (target == "*") {
        FUZZ_CHECK(r.method() == "OPTIONS");
        FUZZ_CHECK(path == "*");
    } else {
        FUZZ_CHECK(!path.empty() && path[0] == '/');
        if (target[0] != '/') {
            // absolute-form: http:// or https://, the authority right after it.
            FUZZ_CHECK(target.size() >= 8);  // "http://h"
            const std::size_t scheme = target[4] == ':' ? 7 : 8;
            FUZZ_CHECK(reactor::detail::iequals(target.substr(0, scheme),
                                                scheme == 7 ? "http://" : "https://"));
            FUZZ_CHECK(authority.data() == target.data() + scheme);
            FUZZ_CHECK(!authority.empty());
        } else {
            FUZZ_CHECK(path.data() == target.data());
        }
    }
}

void check_request(const RequestParser& p) {
    const Request& r = p.request();
    const Limits& limits = p.limits();
    const std::string_view head = p.head_storage();
    FUZZ_CHECK(head.size() <= limits.max_header_bytes);
    FUZZ_CHECK(!r.method().empty());
    FUZZ_CHECK(!r.target().empty());
    FUZZ_CHECK(inside(r.method(), head));
    FUZZ_CHECK(inside(r.target(), head));
    FUZZ_CHECK(inside(r.query(), head));
    FUZZ_CHECK(r.path() == "/" || inside(r.path(), head));
    check_target(r, head);
    FUZZ_CHECK(r.headers().size() <= limits.max_headers);
    for (const Header& h : r.headers()) {
        FUZZ_CHECK(!h.name.empty());
        FUZZ_CHECK(inside(h.name, head));
        FUZZ_CHECK(inside(h.value, head));
        // Against the plain byte-by-byte definition, not the parser's fast scan.
        for (char c : h.name) FUZZ_CHECK(reactor::detail::has_class(c, reactor::detail::kToken));
        for (char c : h.value) {
            FUZZ_CHECK(reactor::detail::has_class(c, reactor::detail::kFieldValue));
        }
    }
    FUZZ_CHECK(!(r.chunked() && r.content_length()));
    if (p.done()) {
        FUZZ_CHECK(r.body().size() <= limits.max_body);
        FUZZ_CHECK(inside(r.body(), p.body_storage()));
        if (r.content_length()) FUZZ_CHECK(r.body().size() == *r.content_length());
    } else {
        FUZZ_CHECK(r.body().empty());
    }
}

// A compact, comparable record of one request.
void describe(const Request& r, std::string& log) {
    log += "REQ ";
    log += r.method();
    log += ' ';
    log += r.target();
    log += " path=";
    log += r.path();
    log += " query=";
    log += r.query();
    log += " authority=";
    log += r.authority();
    log += r.version() == Version::Http10 ? " 1.0" : " 1.1";
    log += r.keep_alive() ? " ka" : " close";
    log += r.expects_continue() ? " 100" : "";
    for (const Header& h : r.headers()) {
        log += '|';
        log += h.name;
        log += ':';
        log += h.value;
    }
    log += "|body=";
    log += r.body();
    log += '\n';
}

// The response writer must accept every value the parser accepted.
void echo_response(const Request& r) {
    DateCache date(784111777);
    std::string out;
    ResponseWriter w(out, 200, ResponseOptions::for_request(r, &date));
    for (const Header& h : r.headers()) w.header("X-Echo", h.value);
    w.finish(r.body());
    FUZZ_CHECK(out.compare(0, 9, "HTTP/1.1 ") == 0);
}

// Delivers `input` in pieces of the given sizes (the last piece takes the
// rest), as a server would, and returns the log of what the parser made of it.
std::string drive(std::string_view input, const std::vector<std::size_t>& pieces,
                  const Limits& limits) {
    RequestParser p(limits);
    std::string pending;
    std::string log;
    std::size_t pos = 0;
    std::size_t piece = 0;
    for (;;) {
        // Feed what is pending until the parser needs more input.
        for (;;) {
            const bool was_complete = p.headers_complete();
            const std::size_t n = p.feed(pending);
            FUZZ_CHECK(n <= pending.size());
            pending.erase(0, n);
            if (was_complete) FUZZ_CHECK(p.headers_complete());
            if (p.failed()) {
                FUZZ_CHECK(p.error_status() == 400 || p.error_status() == 413 ||
                           p.error_status() == 431 || p.error_status() == 501 ||
                           p.error_status() == 505);
                FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
                FUZZ_CHECK(p.failed());
                log += "FAIL " + std::to_string(p.error_status()) + '\n';
                return log;
            }
            if (p.headers_complete()) check_request(p);
            if (!p.done()) {
                FUZZ_CHECK(pending.empty());
                break;
            }
            describe(p.request(), log);
            echo_response(p.request());
            FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
            FUZZ_CHECK(p.done());
            p.reset();
            if (pending.empty()) break;
        }
        if (pos == input.size()) break;
        std::size_t n = input.size() - pos;
        if (piece < pieces.size() && pieces[piece] < n) n = pieces[piece];
        ++piece;
        pending.append(input.substr(pos, n));
        pos += n;
    }
    log += p.headers_complete() ? "END in body\n" : (p.started() ? "END in head\n" : "END\n");
    return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // Small limits half the time, so short inputs reach every limit.
    Limits limits;
    if (size > 0 && (data[0] & 0x80)) {
        limits.max_header_bytes = 256;
        limits.max_headers = 6;
        limits.max_body = 64;
    }

    const std::string whole = drive(input, {}, limits);

    const std::size_t at = size == 0 ? 0 : data[0] % (size + 1);
    FUZZ_CHECK(drive(input, {at}, limits) == whole);

    // Two more cut points, independent of the first byte (FNV-1a of the input).
    std::uint64_t hash = 14695981039346656037ULL;
    for (std::size_t i = 0; i < size; ++i) hash = (hash ^ data[i]) * 1099511628211ULL;
    const std::size_t first = static_cast<std::size_t>(hash % (size + 1));
    const std::size_t second = static_cast<std::size_t>((hash >> 32) % (size - first + 1));
    FUZZ_CHECK(drive(input, {first, second}, limits) == whole);

    if (size <= 1024) {
        const std::vector<std::size_t> bytes(size, 1);
        FUZZ_CHECK(drive(input, bytes, limits) == whole);
    }
    return 0;
}
