// tests/fuzz/http_split_fuzz.cpp -- libFuzzer target for the split invariance
// of http::RequestParser: however a byte stream is cut into pieces, feeding
// the pieces one after the other must give the same requests and the same
// verdict as feeding the stream whole. Built and run by scripts/fuzz.sh
// (`make fuzz`); not a doctest suite.
// fuzz-sources: src/http/request_parser.cpp
// fuzz-dict: tests/fuzz/http_parser.dict
//
// http_parser_fuzz checks a few fixed cuts of every input (two, three, one
// byte at a time); here the fuzzer chooses the cuts, so it can aim a cut at
// any byte of any state (inside "\r\n", between a chunk size and its
// extension, one byte before the head limit...). The input is
//   byte 0: bit 7 small limits (so short inputs reach every limit), bit 6 a
//           second parser reused across the whole run is driven too (its
//           buffers keep their capacity from earlier inputs), bits 0-4 the
//           number K of piece sizes that follow;
//   bytes 1..K: the piece sizes, 0 to 255 bytes each (0: an empty feed,
//           which must change nothing); once they run out, the rest of the
//           stream arrives as one piece;
//   the rest: the stream of one client connection.
// The stream is driven as a server drives it (feed, drop what was consumed,
// reset after each request, feed the leftover) with no copying of pending
// bytes: each feed() gets a view of the input, the way a server feeds its
// input buffer. Checked, for the cut delivery against the whole one:
//   - the same requests, in order: method, target, path, query, authority,
//     version, keep-alive, 100-continue, framing, every header in order, the
//     body byte for byte;
//   - each request ends at the same offset of the stream (feed() stops
//     exactly after a request's last byte, whatever it was given);
//   - the same verdict: failed with the same status and reason, or the
//     stream ran out in the same state (idle, in a head, in a body);
// and for every delivery: feed() never reports more than it was given,
// takes all of it while the request is incomplete, and an empty feed
// consumes nothing and changes no state.
#include <reactor/http/request_parser.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

using namespace reactor::http;

namespace {

void describe(const Request& r, std::size_t end_offset, std::string& log) {
    log += "REQ@" + std::to_string(end_offset) + ' ';
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
    log += r.chunked() ? " chunked" : "";
    if (r.content_length()) log += " cl=" + std::to_string(*r.content_length());
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

// The parser's observable state, to check that an empty feed changes none of it.
struct Snapshot {
    bool started, headers_complete, done, failed;
    bool operator==(const Snapshot&) const = default;
};
Snapshot snapshot(const RequestParser& p) {
    return {p.started(), p.headers_complete(), p.done(), p.failed()};
}

// Feeds `stream` to `p` in pieces of the given sizes (then the rest whole)
// and returns the log of requests and the verdict.
std::string drive(RequestParser& p, std::string_view stream, const std::vector<std::size_t>& sizes) {
    std::string log;
    std::size_t pos = 0;      // bytes of the stream the parser has consumed
    std::size_t arrived = 0;  // bytes of the stream delivered so far
    std::size_t piece = 0;
    while (arrived < stream.size()) {
        std::size_t n = stream.size() - arrived;
        if (piece < sizes.size()) {
            if (sizes[piece] < n) n = sizes[piece];
            ++piece;
        }
        arrived += n;
        if (n == 0) {
            // A read that brought nothing new: feeding it changes nothing.
            const Snapshot before = snapshot(p);
            FUZZ_CHECK(p.feed(stream.substr(pos, 0)) == 0);
            FUZZ_CHECK(snapshot(p) == before);
            continue;
        }
        // Feed what has arrived and is not consumed, until the parser needs more.
        while (pos < arrived) {
            const std::string_view pending = stream.substr(pos, arrived - pos);
            const std::size_t used = p.feed(pending);
            FUZZ_CHECK(used <= pending.size());
            if (p.failed()) {
                log += "FAIL " + std::to_string(p.error_status()) + ' ' + p.error_reason() + '\n';
                FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
                FUZZ_CHECK(p.failed());
                p.reset();
                return log;
            }
            pos += used;
            if (!p.done()) {
                FUZZ_CHECK(used == pending.size());
                break;
            }
            describe(p.request(), pos, log);
            FUZZ_CHECK(p.feed("GET / HTTP/1.1\r\n") == 0);
            p.reset();
            FUZZ_CHECK(!p.started() && !p.headers_complete());
        }
    }
    log += p.headers_complete() ? "END in body\n" : (p.started() ? "END in head\n" : "END\n");
    p.reset();
    return log;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t flags = data[0];
    const std::size_t k = flags & 0x1f;
    if (size < 1 + k) return 0;
    std::vector<std::size_t> sizes(data + 1, data + 1 + k);
    const std::string_view stream(reinterpret_cast<const char*>(data + 1 + k), size - 1 - k);

    Limits limits;
    if (flags & 0x80) {
        limits.max_header_bytes = 256;
        limits.max_headers = 6;
        limits.max_body = 64;
    }

    RequestParser whole_parser(limits);
    const std::string whole = drive(whole_parser, stream, {});
    RequestParser cut_parser(limits);
    const std::string cut = drive(cut_parser, stream, sizes);
    if (cut != whole) {
        std::fprintf(stderr, "whole delivery:\n%s\ncut delivery:\n%s\n", whole.c_str(), cut.c_str());
    }
    FUZZ_CHECK(cut == whole);

    if (flags & 0x40) {
        // A parser that has seen earlier inputs (buffers warmed up, a large
        // body buffer released by reset()) must behave like a fresh one.
        static RequestParser reused_small([] {
            Limits l;
            l.max_header_bytes = 256;
            l.max_headers = 6;
            l.max_body = 64;
            return l;
        }());
        static RequestParser reused_default;
        RequestParser& reused = (flags & 0x80) ? reused_small : reused_default;
        FUZZ_CHECK(drive(reused, stream, sizes) == whole);
    }
    return 0;
}
