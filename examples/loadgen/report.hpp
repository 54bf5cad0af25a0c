// examples/loadgen/report.hpp -- the words and numbers loadgen prints: the
// live status line, the final human report, the JSON line, and the verdict.
#pragma once

#include "options.hpp"
#include "stats.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace loadgen {

namespace detail {

inline std::string fmt(const char* format, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

/// A latency in nanoseconds as milliseconds with about three significant
/// digits: "0.071 ms", "12.4 ms", "1530 ms".
inline std::string ms(double ns) {
    const double v = ns / 1e6;
    if (v < 10) return fmt("%.3f ms", v);
    if (v < 100) return fmt("%.1f ms", v);
    return fmt("%.0f ms", v);
}

inline std::string bytes(std::uint64_t n) {
    if (n < 10'000) return std::to_string(n) + " B";
    if (n < 10'000'000) return fmt("%.1f kB", static_cast<double>(n) / 1e3);
    if (n < 10'000'000'000ull) return fmt("%.1f MB", static_cast<double>(n) / 1e6);
    return fmt("%.1f GB", static_cast<double>(n) / 1e9);
}

inline std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

inline std::string json_number(double v) { return fmt("%.6g", v); }

inline std::string plural(std::uint64_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace detail

/// True when the run reached its goal: every connection established, no
/// error of any kind, at least one reply verified, and not interrupted.
inline bool run_ok(const Options& o, const Totals& t) {
    return !t.interrupted && t.established == static_cast<std::uint64_t>(o.connections) &&
           t.connect_failed() == 0 &&
           t.error_count() == 0 && t.replies > 0;
}

/// One line describing the workload, e.g. "echo 127.0.0.1:7000: 100
/// connections, 64-byte messages every 1000 ms, 10 s, 1 thread".
inline std::string describe_run(const Options& o) {
    std::string s = std::string(mode_name(o.mode)) + " " + o.host + ":" + std::to_string(o.port) +
                    ": " + detail::plural(static_cast<std::uint64_t>(o.connections), "connection");
    if (o.mode == Mode::Echo) s += ", " + std::to_string(o.size) + "-byte messages";
    if (o.mode == Mode::Http) s += ", GET /";
    if (o.mode == Mode::Chat) s += ", " + std::to_string(o.size) + "-byte lines";
    if (o.interval_ms > 0) {
        s += " every " + detail::fmt("%g", o.interval_ms) + " ms";
    } else {
        s += " back to back";
        if (o.pipeline > 1) s += ", " + std::to_string(o.pipeline) + " in flight";
    }
    s += ", " + detail::fmt("%g", o.duration_s) + " s, " +
         detail::plural(static_cast<std::uint64_t>(o.threads), "thread");
    return s;
}

/// The live progress line for one second (no newline).
inline std::string format_status(const SeriesPoint& p, int connections,
                                 std::uint64_t errors_so_far) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "[%5.1f s] connections %llu/%d  replies/s %.0f  p99 %s  errors %llu", p.t_s,
                  static_cast<unsigned long long>(p.connections_up), connections, p.replies_per_s,
                  detail::ms(p.p99_ms * 1e6).c_str(),
                  static_cast<unsigned long long>(errors_so_far));
    return buf;
}

/// The human report printed at the end (several lines, newline-terminated).
inline std::string format_report(const Options& o, const Totals& t) {
    using detail::fmt;
    std::string r = "loadgen " + describe_run(o) + "\n";
    r += "connections  " + std::to_string(t.attempted) + " attempted, " +
         std::to_string(t.established) + " established";
    if (t.all_established_s >= 0) r += " (all in " + fmt("%.2f", t.all_established_s) + " s)";
    r += ", " + std::to_string(t.connect_failed()) + " failed";
    const char* sep = " (";
    for (const auto& [name, count] : t.connect_failures) {
        r += sep + name + " " + std::to_string(count);
        sep = ", ";
    }
    if (!t.connect_failures.empty()) r += ")";
    if (t.source_addresses > 1) {
        r += ", from " + std::to_string(t.source_addresses) + " source addresses";
    }
    r += "\n";
    const double rate = t.elapsed_s > 0 ? static_cast<double>(t.replies) / t.elapsed_s : 0;
    r += "requests     " + std::to_string(t.requests) + " sent, " + std::to_string(t.replies) +
         (o.mode == Mode::Chat ? " deliveries" : " replies") + " verified, " +
         fmt("%.0f", rate) + "/s over " + fmt("%.1f", t.elapsed_s) + " s\n";
    const auto& h = t.latency;
    if (h.count() > 0) {
        r += "latency      p50 " + detail::ms(static_cast<double>(h.percentile(50))) + "  p90 " +
             detail::ms(static_cast<double>(h.percentile(90))) + "  p99 " +
             detail::ms(static_cast<double>(h.percentile(99))) + "  p99.9 " +
             detail::ms(static_cast<double>(h.percentile(99.9))) + "  max " +
             detail::ms(static_cast<double>(h.max())) + "  (mean " + detail::ms(h.mean()) + ")\n";
    } else {
        r += "latency      no reply verified\n";
    }
    r += "bytes        " + detail::bytes(t.bytes_sent) + " sent, " +
         detail::bytes(t.bytes_received) + " received\n";
    r += "errors       ";
    if (t.error_count() == 0) {
        r += "none\n";
    } else {
        bool first = true;
        for (const auto& [name, count] : t.errors) {
            r += (first ? "" : ", ") + name + " " + std::to_string(count);
            first = false;
        }
        r += "\n";
    }
    if (!t.first_error.empty()) r += "first error  " + t.first_error + "\n";
    if (t.interrupted) {
        return r + "result       INTERRUPTED after " + fmt("%.1f", t.elapsed_s) +
               " s (Ctrl-C): the report of the run so far\n";
    }
    r += std::string("result       ") + (run_ok(o, t) ? "OK" : "FAILED");
    if (!run_ok(o, t)) {
        if (t.established < static_cast<std::uint64_t>(o.connections)) {
            r += " (" + std::to_string(t.established) + " of " + std::to_string(o.connections) +
                 " connections established)";
        } else if (t.replies == 0 && t.error_count() == 0) {
            r += " (no reply verified)";
        }
    }
    return r + "\n";
}

/// The same facts as one JSON object on one line (no newline). Latencies
/// in microseconds. Keys are stable; scripts may rely on them.
inline std::string format_json(const Options& o, const Totals& t) {
    using detail::json_number;
    using detail::json_string;
    const auto& h = t.latency;
    const auto us = [](double ns) { return json_number(ns / 1e3); };
    std::string j = "{";
    j += "\"mode\":" + json_string(mode_name(o.mode));
    j += ",\"host\":" + json_string(o.host);
    j += ",\"port\":" + std::to_string(o.port);
    j += ",\"connections\":" + std::to_string(o.connections);
    j += ",\"threads\":" + std::to_string(o.threads);
    j += ",\"size\":" + std::to_string(o.size);
    j += ",\"interval_ms\":" + json_number(o.interval_ms);
    j += ",\"pipeline\":" + std::to_string(o.pipeline);
    j += ",\"duration_s\":" + json_number(o.duration_s);
    j += ",\"elapsed_s\":" + json_number(t.elapsed_s);
    j += ",\"attempted\":" + std::to_string(t.attempted);
    j += ",\"established\":" + std::to_string(t.established);
    j += ",\"connect_failed\":" + std::to_string(t.connect_failed());
    j += ",\"all_established_s\":" + json_number(t.all_established_s);
    j += ",\"source_addresses\":" + std::to_string(t.source_addresses);
    j += ",\"connect_failures\":{";
    bool first = true;
    for (const auto& [name, count] : t.connect_failures) {
        j += (first ? "" : ",") + json_string(name) + ":" + std::to_string(count);
        first = false;
    }
    j += "}";
    j += ",\"requests\":" + std::to_string(t.requests);
    j += ",\"replies\":" + std::to_string(t.replies);
    j += ",\"replies_per_s\":" +
         json_number(t.elapsed_s > 0 ? static_cast<double>(t.replies) / t.elapsed_s : 0);
    j += ",\"errors_total\":" + std::to_string(t.error_count());
    j += ",\"errors\":{";
    const char* names[] = {kMismatch, kTimeout, kClosed};
    for (int i = 0; i < 3; ++i) {
        const auto it = t.errors.find(names[i]);
        j += std::string(i ? "," : "") + "\"" + names[i] +
             "\":" + std::to_string(it == t.errors.end() ? 0 : it->second);
    }
    j += "}";
    j += ",\"latency_us\":{\"count\":" + std::to_string(h.count()) +
         ",\"min\":" + us(static_cast<double>(h.min())) +
         ",\"mean\":" + us(h.mean()) +
         ",\"p50\":" + us(static_cast<double>(h.percentile(50))) +
         ",\"p90\":" + us(static_cast<double>(h.percentile(90))) +
         ",\"p99\":" + us(static_cast<double>(h.percentile(99))) +
         ",\"p99_9\":" + us(static_cast<double>(h.percentile(99.9))) +
         ",\"max\":" + us(static_cast<double>(h.max())) + "}";
    j += ",\"bytes_sent\":" + std::to_string(t.bytes_sent);
    j += ",\"bytes_received\":" + std::to_string(t.bytes_received);
    j += ",\"first_error\":" + json_string(t.first_error);
    j += std::string(",\"interrupted\":") + (t.interrupted ? "true" : "false");
    j += std::string(",\"ok\":") + (run_ok(o, t) ? "true" : "false");
    return j + "}";
}

}  // namespace loadgen
