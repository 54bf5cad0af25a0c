// tests/bench/http_parse.cpp -- micro-benchmark of the HTTP request parser and
// response writer: nanoseconds per request for a minimal wrk GET, a typical
// browser GET, 16 pipelined wrk GETs in one buffer, and the hello-world
// response. Built by `make bench` as build/bench/http_parse; pin it when the
// machine is shared (taskset -c 0 build/bench/http_parse). A benchmark, not
// a test: it prints figures and checks only that each parse succeeded. Each
// figure is the best of 5 rounds, since on a shared machine the slower rounds
// measure the neighbours.
//
// Usage: build/bench/http_parse [iterations]   (default 1000000)
#include <reactor/http/request_parser.hpp>
#include "http/response.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace http = reactor::http;

namespace {

// What wrk sends by default.
const std::string_view kWrkGet = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

// A desktop browser's navigation request (~500 bytes, 11 headers).
const std::string_view kBrowserGet =
    "GET /docs/index.html?lang=en&page=2 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://www.example.com/docs/\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; lang=en\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "\r\n";

using Clock = std::chrono::steady_clock;

double ns_per(Clock::duration d, long n) {
    return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
}

// Parses `input` (which holds `per_buffer` requests) `iterations` times with
// one warmed-up parser, as a server does: feed, reset, feed the leftover.
double bench_parse(std::string_view input, int per_buffer, long iterations) {
    http::RequestParser p;
    std::size_t checksum = 0;
    const auto start = Clock::now();
    for (long i = 0; i < iterations; ++i) {
        std::string_view rest = input;
        for (int k = 0; k < per_buffer; ++k) {
            rest.remove_prefix(p.feed(rest));
            if (!p.done()) {
                std::fprintf(stderr, "http_parse: request did not parse: %s\n", p.error_reason());
                std::exit(1);
            }
            checksum += p.request().headers().size();
            p.reset();
        }
    }
    const auto elapsed = Clock::now() - start;
    if (checksum == 0) std::puts("");  // keeps the loop from being optimised away
    return ns_per(elapsed, iterations * per_buffer);
}

// Writes the hello-world response into a reused buffer.
double bench_response(long iterations) {
    const http::DateCache date;
    http::ResponseOptions options;
    options.date = &date;
    std::string out;
    std::size_t total = 0;
    const auto start = Clock::now();
    for (long i = 0; i < iterations; ++i) {
        out.clear();
        http::ResponseWriter w(out, 200, options);
        w.header("Content-Type", "text/plain");
        w.finish("Hello, World!");
        total += out.size();
    }
    const auto elapsed = Clock::now() - start;
    if (total == 0) std::puts("");
    return ns_per(elapsed, iterations);
}

// The fastest of `rounds` runs of fn().
template <class Fn>
double best_of(int rounds, Fn&& fn) {
    double best = fn();
    for (int i = 1; i < rounds; ++i) {
        const double t = fn();
        if (t < best) best = t;
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: %s [iterations > 0]\n", argv[0]);
        return 2;
    }
    std::string pipelined;
    for (int i = 0; i < 16; ++i) pipelined += kWrkGet;

    bench_parse(kBrowserGet, 1, n / 10 + 1);  // warm-up: caches, buffers, branch predictors
    const long pn = n / 16 + 1;
    std::printf("parse wrk GET      (%3zu bytes): %7.1f ns/request\n", kWrkGet.size(),
                best_of(5, [&] { return bench_parse(kWrkGet, 1, n); }));
    std::printf("parse browser GET  (%3zu bytes): %7.1f ns/request\n", kBrowserGet.size(),
                best_of(5, [&] { return bench_parse(kBrowserGet, 1, n); }));
    std::printf("parse 16 pipelined wrk GETs    : %7.1f ns/request\n",
                best_of(5, [&] { return bench_parse(pipelined, 16, pn); }));
    std::printf("write hello-world response     : %7.1f ns/response\n",
                best_of(5, [&] { return bench_response(n); }));
    return 0;
}
