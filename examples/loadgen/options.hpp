// examples/loadgen/options.hpp -- loadgen's command line: what each option
// means, its default, and the one-line error for a bad value.
//
// Header-only so that tests/loadgen_test.cpp can check every option without
// linking the program. parse_options() never prints and never exits: main()
// decides (exit 2 on an error, 0 after --help).
#pragma once

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace loadgen {

/// The exit status after Ctrl-C (128 + SIGINT, as a shell reports it).
inline constexpr int kExitInterrupted = 130;

enum class Mode { Echo, Http, Chat };

inline const char* mode_name(Mode m) {
    switch (m) {
    case Mode::Echo: return "echo";
    case Mode::Http: return "http";
    case Mode::Chat: return "chat";
    }
    return "?";
}

/// Connections per mode when --connections is not given. Chat is N^2 (every
/// line goes to every other client), so it defaults to far fewer.
inline constexpr int kDefaultConnections = 100;
inline constexpr int kDefaultChatConnections = 50;
/// Upper bounds that keep one run's memory and time bounded.
inline constexpr int kMaxConnections = 1'000'000;
inline constexpr int kMaxChatConnections = 1000;
inline constexpr int kMaxThreads = 64;
inline constexpr int kMaxPipeline = 1024;
inline constexpr std::size_t kMaxSize = 16u << 20;

struct Options {
    Mode mode = Mode::Echo;
    std::string host = "127.0.0.1";
    int port = 0;                 ///< required, 1..65535
    int connections = kDefaultConnections;
    double connect_rate = 10000;  ///< connection attempts per second, all threads together
    std::size_t size = 64;        ///< echo: message bytes; chat: line bytes (at least the token)
    double interval_ms = 0;       ///< 0: next request as soon as the previous reply is complete
    double duration_s = 10;       ///< whole run, connecting included
    int pipeline = 1;             ///< requests in flight per connection when --interval is 0
    int threads = 1;
    std::uint64_t seed = 1;
    double timeout_s = 5;         ///< a reply (or connect) slower than this is an error
    bool json = false;
    std::string svg;              ///< empty: no chart
};

/// What parse_options() found: options, a request for help, or an error.
struct ParseResult {
    Options options;
    bool help = false;
    std::string error;  ///< one line, no trailing newline; empty when fine
    bool ok() const { return error.empty(); }
};

inline const char* usage_text() {
    return
R"(usage: loadgen MODE --port N [options]

Opens many TCP connections to a server, sends requests, verifies every reply
and reports latency percentiles, throughput and errors.

modes:
  echo   each connection sends --size-byte lines and checks the echo byte for byte
  http   keep-alive "GET / HTTP/1.1"; checks status 200 and the body length
  chat   a line chat server relaying each line to every other client: checks
         that each line reaches every other connection, intact and in order

options:
  --host H            server address (default 127.0.0.1)
  --port N            server port (required)
  --connections N     connections to open (default 100; chat: 50, at most 1000)
  --connect-rate N/s  connection attempts per second (default 10000)
  --size BYTES        echo: message size, '\n' included (default 64);
                      chat: line size (at least the "msg CONN SEQ" token)
  --interval MS       each connection sends one request every MS ms;
                      0 = the next as soon as the reply is complete (default 0)
  --duration S        length of the whole run in seconds (default 10)
  --pipeline N        requests in flight per connection with --interval 0
                      (echo, http; default 1)
  --threads N         event loops on N threads, connections split among them
                      (default 1; chat runs on one)
  --seed N            seed of the pseudo-random payloads (default 1)
  --timeout S         a reply or connect slower than S seconds is an error (default 5)
  --json              print one JSON line on stdout; the human report goes to stderr
  --svg FILE          write a chart of throughput, p99 latency and connections
  --help              this text

Progress goes to stderr once a second. Ctrl-C stops the run and prints the
report so far. Exit status: 0 when every connection was established and every
reply verified, 1 otherwise, 2 for a bad command line, 130 after Ctrl-C.
)";
}

namespace detail {

inline bool parse_int(std::string_view text, long long lo, long long hi, long long& out) {
    long long v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi) return false;
    out = v;
    return true;
}

inline bool parse_double(std::string_view text, double lo, double hi, double& out) {
    // strtod, not std::from_chars: libc++ has from_chars for double only
    // from LLVM 20, and FreeBSD 14 and macOS 14 ship older ones. The program
    // never sets a locale, so the decimal point is '.'. strtod skips leading
    // blanks and takes hex and "inf"; those are refused here.
    if (text.empty() || text.size() > 64 || std::isspace(static_cast<unsigned char>(text.front())) ||
        text.find_first_of("xXnN") != std::string_view::npos) {
        return false;
    }
    const std::string copy(text);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(copy.c_str(), &end);
    if (errno != 0 || end != copy.c_str() + copy.size() || !std::isfinite(v) || v < lo || v > hi) {
        return false;
    }
    out = v;
    return true;
}

}  // namespace detail

/// Parses the arguments after the program name. Options take their value
/// as the next argument or after '=' (--port=8080). The first error stops
/// parsing and is returned as one line naming the option and the value.
inline ParseResult parse_options(const std::vector<std::string_view>& args) {
    ParseResult r;
    Options& o = r.options;
    bool have_mode = false, have_port = false, have_connections = false;
    auto fail = [&](std::string msg) {
        r.error = std::move(msg);
        return r;
    };

    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "--help" || arg == "-h") {
            r.help = true;
            return r;
        }
        if (arg.substr(0, 2) != "--") {
            if (have_mode) return fail("unexpected argument '" + std::string(arg) + "'");
            if (arg == "echo") o.mode = Mode::Echo;
            else if (arg == "http") o.mode = Mode::Http;
            else if (arg == "chat") o.mode = Mode::Chat;
            else return fail("unknown mode '" + std::string(arg) + "' (expected echo, http or chat)");
            have_mode = true;
            continue;
        }
        std::string_view name = arg;
        std::string_view value;
        bool has_value = false;
        if (const auto eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
            has_value = true;
        }
        if (name == "--json") {
            if (has_value) return fail("--json takes no value");
            o.json = true;
            continue;
        }
        static const std::string_view kValued[] = {
            "--host", "--port", "--connections", "--connect-rate", "--size", "--interval",
            "--duration", "--pipeline", "--threads", "--seed", "--timeout", "--svg"};
        bool known = false;
        for (auto k : kValued) known = known || k == name;
        if (!known) return fail("unknown option '" + std::string(name) + "' (see --help)");
        if (!has_value) {
            if (i + 1 >= args.size()) return fail("option " + std::string(name) + " needs a value");
            value = args[++i];
        }
        const std::string shown = std::string(name) + ": '" + std::string(value) + "'";
        long long n = 0;
        double d = 0;
        if (name == "--host") {
            if (value.empty()) return fail("--host: empty address");
            o.host = std::string(value);
        } else if (name == "--port") {
            if (!detail::parse_int(value, 1, 65535, n)) return fail(shown + " is not a port (1-65535)");
            o.port = static_cast<int>(n);
            have_port = true;
        } else if (name == "--connections") {
            if (!detail::parse_int(value, 1, kMaxConnections, n)) {
                return fail(shown + " is not a count (1-" + std::to_string(kMaxConnections) + ")");
            }
            o.connections = static_cast<int>(n);
            have_connections = true;
        } else if (name == "--connect-rate") {
            std::string_view v = value;
            if (v.size() > 2 && v.substr(v.size() - 2) == "/s") v.remove_suffix(2);
            if (!detail::parse_double(v, 1e-3, 1e9, d)) return fail(shown + " is not a positive rate");
            o.connect_rate = d;
        } else if (name == "--size") {
            if (!detail::parse_int(value, 1, static_cast<long long>(kMaxSize), n)) {
                return fail(shown + " is not a size (1-" + std::to_string(kMaxSize) + " bytes)");
            }
            o.size = static_cast<std::size_t>(n);
        } else if (name == "--interval") {
            if (!detail::parse_double(value, 0, 3.6e6, d)) {
                return fail(shown + " is not an interval in ms (0 or more)");
            }
            o.interval_ms = d;
        } else if (name == "--duration") {
            if (!detail::parse_double(value, 1e-3, 864000, d)) {
                return fail(shown + " is not a duration in seconds (more than 0)");
            }
            o.duration_s = d;
        } else if (name == "--pipeline") {
            if (!detail::parse_int(value, 1, kMaxPipeline, n)) {
                return fail(shown + " is not a depth (1-" + std::to_string(kMaxPipeline) + ")");
            }
            o.pipeline = static_cast<int>(n);
        } else if (name == "--threads") {
            if (!detail::parse_int(value, 1, kMaxThreads, n)) {
                return fail(shown + " is not a thread count (1-" + std::to_string(kMaxThreads) + ")");
            }
            o.threads = static_cast<int>(n);
        } else if (name == "--seed") {
            std::uint64_t s = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
            if (ec != std::errc{} || end != value.data() + value.size()) {
                return fail(shown + " is not a seed (a non-negative integer)");
            }
            o.seed = s;
        } else if (name == "--timeout") {
            if (!detail::parse_double(value, 1e-3, 3600, d)) {
                return fail(shown + " is not a timeout in seconds (more than 0)");
            }
            o.timeout_s = d;
        } else if (name == "--svg") {
            if (value.empty()) return fail("--svg: empty file name");
            o.svg = std::string(value);
        }
    }

    if (!have_mode) return fail("missing MODE (echo, http or chat; see --help)");
    if (!have_port) return fail("missing --port (see --help)");
    if (o.mode == Mode::Chat) {
        if (!have_connections) o.connections = kDefaultChatConnections;
        if (o.connections < 2) return fail("--connections: chat needs at least 2 connections");
        if (o.connections > kMaxChatConnections) {
            return fail("--connections: chat is N^2 and allows at most " +
                        std::to_string(kMaxChatConnections));
        }
        if (o.threads != 1) return fail("--threads: chat mode runs on one thread");
        if (o.pipeline != 1) return fail("--pipeline: chat mode sends one line at a time");
    }
    if (o.threads > o.connections) o.threads = o.connections;
    return r;
}

}  // namespace loadgen
