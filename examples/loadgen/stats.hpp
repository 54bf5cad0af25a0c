// examples/loadgen/stats.hpp -- what loadgen counts: totals for the final
// report, one sample per second per thread for the progress line and the
// chart, and the names errors are counted by.
//
// Each worker thread fills its own Totals and Samples; main() merges them
// after (or, for samples, while) the workers run, so nothing here is shared
// between threads.
#pragma once

#include "histogram.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <string>

namespace loadgen {

/// Reply errors, by name. Each makes the exit status 1.
inline constexpr const char* kMismatch = "mismatch";  ///< a reply differs from what was expected
inline constexpr const char* kTimeout = "timeout";    ///< no complete reply within --timeout
inline constexpr const char* kClosed = "closed";      ///< the peer closed or reset the connection

/// The symbolic name of an errno value for connect failures
/// ("ECONNREFUSED"), or "errno N" for one not listed.
inline std::string errno_name(int e) {
    switch (e) {
    case ECONNREFUSED: return "ECONNREFUSED";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EADDRINUSE: return "EADDRINUSE";
    case ECONNRESET: return "ECONNRESET";
    case ECONNABORTED: return "ECONNABORTED";
    case ENETUNREACH: return "ENETUNREACH";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EPIPE: return "EPIPE";
    case EINVAL: return "EINVAL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    default: return "errno " + std::to_string(e);
    }
}

/// Everything one run (or one thread of it) counted.
struct Totals {
    std::uint64_t attempted = 0;    ///< connections whose connect() was called
    std::uint64_t established = 0;  ///< connections that completed the handshake
    std::map<std::string, std::uint64_t> connect_failures;  ///< by errno name
    std::map<std::string, std::uint64_t> errors;  ///< reply errors by name (kMismatch, ...)
    std::uint64_t requests = 0;  ///< requests (messages, lines) sent
    std::uint64_t replies = 0;   ///< replies verified (chat: deliveries verified)
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    Histogram latency;  ///< nanoseconds, one sample per verified reply
    /// Seconds from the start until the last connection was established;
    /// negative until (unless) every connection of this thread is.
    double all_established_s = -1;
    std::uint64_t source_addresses = 1;  ///< local addresses connections came from
    double elapsed_s = 0;
    std::string first_error;  ///< the first error's details, for the report
    bool interrupted = false;  ///< ended early by Ctrl-C: the report so far

    std::uint64_t connect_failed() const {
        std::uint64_t n = 0;
        for (const auto& [name, count] : connect_failures) n += count;
        return n;
    }
    std::uint64_t error_count() const {
        std::uint64_t n = 0;
        for (const auto& [name, count] : errors) n += count;
        return n;
    }
    void add_error(const std::string& name, std::uint64_t n, const std::string& detail) {
        if (n == 0) return;
        errors[name] += n;
        if (first_error.empty()) first_error = name + ": " + detail;
    }

    /// Adds another thread's totals. all_established_s is the later of the
    /// two, or negative if either thread did not establish all.
    void merge(const Totals& o) {
        attempted += o.attempted;
        established += o.established;
        for (const auto& [name, count] : o.connect_failures) connect_failures[name] += count;
        for (const auto& [name, count] : o.errors) errors[name] += count;
        requests += o.requests;
        replies += o.replies;
        bytes_sent += o.bytes_sent;
        bytes_received += o.bytes_received;
        latency.merge(o.latency);
        all_established_s = (all_established_s < 0 || o.all_established_s < 0)
                                ? -1
                                : std::max(all_established_s, o.all_established_s);
        source_addresses = std::max(source_addresses, o.source_addresses);
        elapsed_s = std::max(elapsed_s, o.elapsed_s);
        if (first_error.empty()) first_error = o.first_error;
        interrupted = interrupted || o.interrupted;
    }
};

/// One thread's activity in one second of the run (the last one may be
/// shorter: `span_s`).
struct Sample {
    int second = 0;  ///< 0 for [0 s, 1 s), 1 for [1 s, 2 s), ...
    double span_s = 1;
    std::uint64_t replies = 0;
    std::uint64_t errors = 0;  ///< reply errors and connect failures
    std::uint64_t connections_up = 0;  ///< open at the end of the second
    Histogram latency;

    void merge(const Sample& o) {
        span_s = std::max(span_s, o.span_s);
        replies += o.replies;
        errors += o.errors;
        connections_up += o.connections_up;
        latency.merge(o.latency);
    }
};

/// One second of the whole run, all threads merged: a point of the chart.
struct SeriesPoint {
    double t_s = 0;  ///< end of the second, seconds since the start
    double replies_per_s = 0;
    double errors_per_s = 0;
    double p50_ms = 0;
    double p99_ms = 0;
    std::uint64_t connections_up = 0;
};

inline SeriesPoint to_point(const Sample& s) {
    SeriesPoint p;
    p.t_s = s.second + s.span_s;
    p.replies_per_s = s.span_s > 0 ? static_cast<double>(s.replies) / s.span_s : 0;
    p.errors_per_s = s.span_s > 0 ? static_cast<double>(s.errors) / s.span_s : 0;
    p.p50_ms = static_cast<double>(s.latency.percentile(50)) / 1e6;
    p.p99_ms = static_cast<double>(s.latency.percentile(99)) / 1e6;
    p.connections_up = s.connections_up;
    return p;
}

}  // namespace loadgen
