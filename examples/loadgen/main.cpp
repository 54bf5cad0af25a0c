// examples/loadgen/main.cpp -- loadgen: opens many connections to a server,
// verifies every reply, and reports latency, throughput and errors.
//
//   build/examples/loadgen echo --port 7000 --connections 1000 --interval 100
//   build/examples/loadgen --help
//
// main() parses the command line, resolves the server's address, raises
// the open-file limit, starts one Worker per --threads on its own thread,
// and runs its own reactor::EventLoop to collect what the workers post
// once a second: it merges the seconds into one series, prints the status
// line, and at the end prints the report, the JSON line and the chart.
// docs/load-testing.md explains how to read them.
#include "options.hpp"
#include "report.hpp"
#include "source_address.hpp"
#include "stats.hpp"
#include "svg.hpp"
#include "worker.hpp"

#include <reactor/event_loop.hpp>

#include <netdb.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace loadgen;

// Resolves --host (a numeric address or a name) once, before any loop
// runs: getaddrinfo() blocks, which is fine here and nowhere else.
bool resolve(const Options& o, Target& target, std::string& error) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(o.port);
    if (const int rc = ::getaddrinfo(o.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        error = "--host: cannot resolve '" + o.host + "': " + ::gai_strerror(rc);
        return false;
    }
    std::memcpy(&target.addr, found->ai_addr, found->ai_addrlen);
    target.len = found->ai_addrlen;
    if (found->ai_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
        target.loopback_v4 = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (target.loopback_v4) target.sources = planned_sources(o.connections, connections_per_source());
    ::freeaddrinfo(found);
    return true;
}

// Each connection is one fd; the loops, their wake-up fds and stdio need a
// few more. Raises the soft limit to what is needed (up to the hard limit)
// and says plainly what to change when even the hard limit is too low.
bool ensure_fd_limit(const Options& o, std::string& error) {
    const rlim_t needed = static_cast<rlim_t>(o.connections) + 16 + 4 * static_cast<rlim_t>(o.threads);
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return true;  // cannot tell: let connects report
    if (rl.rlim_cur >= needed) return true;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < needed) {
        error = std::to_string(o.connections) + " connections need " + std::to_string(needed) +
                " open files, but the hard limit is " + std::to_string(rl.rlim_max) +
                ": raise it (ulimit -Hn as root, 'nofile' in /etc/security/limits.conf, or "
                "LimitNOFILE= for a systemd unit), or use fewer --connections";
        return false;
    }
    rl.rlim_cur = needed;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        error = std::string("cannot raise the open-file limit: ") + std::strerror(errno);
        return false;
    }
    return true;
}

// The status line: redrawn in place on a terminal, one plain line per
// second otherwise (a log file or a pipe should not fill with '\r').
class Progress {
public:
    explicit Progress(bool terminal) : terminal_(terminal) {}
    void show(const std::string& line) {
        if (terminal_) {
            std::fprintf(stderr, "\r\033[2K%s", line.c_str());
            drawn_ = true;
        } else {
            std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
    }
    void end() {
        if (drawn_) std::fputs("\n", stderr);
        drawn_ = false;
    }

private:
    bool terminal_;
    bool drawn_ = false;
};

// Gathers the workers' samples (on main's loop thread only) into one point
// per second, printing the status line as each second completes, and their
// totals at the end.
class Collector {
public:
    Collector(const Options& o, Progress& progress)
        : options_(o), progress_(progress), reported_(static_cast<std::size_t>(o.threads), -1),
          done_(static_cast<std::size_t>(o.threads), false) {}

    void add(int worker, Sample s) {
        reported_[static_cast<std::size_t>(worker)] = s.second;
        errors_so_far_ += s.errors;
        const int second = s.second;
        auto [it, fresh] = pending_.try_emplace(second, std::move(s));
        if (!fresh) it->second.merge(s);
        flush();
    }

    void done(int worker, const Totals& t) {
        done_[static_cast<std::size_t>(worker)] = true;
        if (!totals_) {
            totals_ = t;
        } else {
            totals_->merge(t);
        }
        flush();
    }

    bool all_done() const {
        for (bool d : done_) {
            if (!d) return false;
        }
        return true;
    }

    const std::vector<SeriesPoint>& series() const { return series_; }
    const Totals& totals() const { return *totals_; }

private:
    // A second is complete once every worker has reported it (or ended).
    void flush() {
        while (!pending_.empty()) {
            const int second = pending_.begin()->first;
            for (std::size_t w = 0; w < done_.size(); ++w) {
                if (!done_[w] && reported_[w] < second) return;
            }
            const SeriesPoint p = to_point(pending_.begin()->second);
            pending_.erase(pending_.begin());
            series_.push_back(p);
            progress_.show(format_status(p, options_.connections, errors_so_far_));
        }
    }

    const Options& options_;
    Progress& progress_;
    std::vector<int> reported_;
    std::vector<bool> done_;
    std::map<int, Sample> pending_;
    std::vector<SeriesPoint> series_;
    std::uint64_t errors_so_far_ = 0;
    std::optional<Totals> totals_;
};

int run(const Options& o) {
    Target target;
    std::string error;
    if (!resolve(o, target, error)) {
        std::fprintf(stderr, "loadgen: %s\n", error.c_str());
        return 2;
    }
    if (!ensure_fd_limit(o, error)) {
        std::fprintf(stderr, "loadgen: %s\n", error.c_str());
        return 1;
    }
    if (!o.svg.empty()) {
        // Fail now rather than after a long run.
        std::ofstream probe(o.svg);
        if (!probe) {
            std::fprintf(stderr, "loadgen: --svg: cannot write '%s': %s\n", o.svg.c_str(),
                         std::strerror(errno));
            return 2;
        }
    }

    reactor::EventLoop main_loop;
    Progress progress(::isatty(STDERR_FILENO) == 1);
    Collector collector(o, progress);
    const auto start = std::chrono::steady_clock::now();

    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < o.threads; ++i) {
        WorkerSetup setup;
        setup.options = &o;
        setup.target = target;
        setup.index = i;
        setup.start = start;
        // Called on worker threads: hand everything to main's loop.
        setup.on_sample = [&main_loop, &collector, i](Sample s) {
            main_loop.post([&collector, i, s = std::move(s)]() mutable {
                collector.add(i, std::move(s));
            });
        };
        setup.on_done = [&main_loop, &collector, i](Totals t) {
            main_loop.post([&main_loop, &collector, i, t = std::move(t)] {
                collector.done(i, t);
                if (collector.all_done()) main_loop.stop();
            });
        };
        workers.push_back(std::make_unique<Worker>(std::move(setup)));
    }
    // Ctrl-C: every worker stops at once and the report shows the run so
    // far. The handler goes with the first signal, so a second Ctrl-C ends
    // the program the default way, report or not.
    reactor::SignalId on_int;
    on_int = main_loop.on_signal(SIGINT, [&](int) {
        main_loop.remove_signal(on_int);
        for (auto& w : workers) w->interrupt();
    });
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w] { w->run(); });
    main_loop.run();
    for (auto& t : threads) t.join();
    progress.end();

    const Totals& totals = collector.totals();
    const std::string report = format_report(o, totals);
    if (o.json) {
        std::fputs(report.c_str(), stderr);
        std::printf("%s\n", format_json(o, totals).c_str());
    } else {
        std::fputs(report.c_str(), stdout);
    }
    if (!o.svg.empty()) {
        const auto& h = totals.latency;
        char summary[256];
        std::snprintf(summary, sizeof summary,
                      "%llu replies verified, p50 %s, p99 %s, max %s; %llu errors; %s",
                      static_cast<unsigned long long>(totals.replies),
                      detail::ms(static_cast<double>(h.percentile(50))).c_str(),
                      detail::ms(static_cast<double>(h.percentile(99))).c_str(),
                      detail::ms(static_cast<double>(h.max())).c_str(),
                      static_cast<unsigned long long>(totals.error_count() +
                                                      totals.connect_failed()),
                      run_ok(o, totals) ? "OK" : "FAILED");
        ChartText text;
        text.title = std::string("loadgen ") + mode_name(o.mode) + " " + o.host + ":" +
                     std::to_string(o.port);
        const std::string run = describe_run(o);
        text.subtitles = {run.substr(run.find(": ") + 2), summary};
        text.established_s = totals.all_established_s;
        text.established = totals.established;
        text.established_label = "all " + std::to_string(totals.established) + " established at " +
                                 detail::fmt("%.2f", totals.all_established_s) + " s";
        std::ofstream out(o.svg);
        out << render_svg(collector.series(), text);
        if (!out) {
            std::fprintf(stderr, "loadgen: --svg: writing '%s' failed\n", o.svg.c_str());
            return 1;
        }
    }
    std::fflush(stdout);
    if (totals.interrupted) return kExitInterrupted;
    return run_ok(o, totals) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    const ParseResult parsed = parse_options(args);
    if (parsed.help) {
        std::fputs(usage_text(), stdout);
        return 0;
    }
    if (!parsed.ok()) {
        std::fprintf(stderr, "loadgen: %s\n", parsed.error.c_str());
        return 2;
    }
    try {
        return run(parsed.options);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loadgen: %s\n", e.what());
        return 1;
    }
}
