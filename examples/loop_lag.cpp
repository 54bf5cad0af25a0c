// examples/loop_lag.cpp -- percentiles, measured on the loop itself
// (docs/tutorial/09-measuring-c10k.md, the worked answer to its exercise).
//
// A timer asks to run 1 ms from now, 500 times over; each run records how
// late it is (now minus its deadline); sorting the 500 figures gives the
// percentiles (loadgen keeps a histogram instead, examples/loadgen/histogram.hpp,
// because it records millions). The percentiles say what a
// mean hides: most ticks are a few microseconds late, a few are much later
// (the scheduler gave the CPU to someone else), and p99 and max show them.
//
//   $ build/examples/loop_lag
#include <reactor/reactor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <numeric>
#include <vector>

using namespace std::chrono;

int main() {
    reactor::EventLoop loop;
    std::vector<long long> lateness_us;  // one figure per tick
    // One-shot timers, each armed for 1 ms ahead when the previous one ran.
    std::function<void()> arm = [&] {
        const auto deadline = reactor::EventLoop::Clock::now() + milliseconds(1);
        loop.run_at(deadline, [&, deadline] {
            const auto late = reactor::EventLoop::Clock::now() - deadline;
            lateness_us.push_back(duration_cast<microseconds>(late).count());
            if (lateness_us.size() < 500) {
                arm();
            } else {
                loop.stop();
            }
        });
    };
    arm();
    loop.run();

    std::sort(lateness_us.begin(), lateness_us.end());
    // The p-th percentile: the figure below which p% of the ticks fall.
    auto pct = [&](int p) { return lateness_us[(lateness_us.size() - 1) * static_cast<std::size_t>(p) / 100]; };
    const double mean = static_cast<double>(std::accumulate(lateness_us.begin(), lateness_us.end(), 0LL)) /
                        static_cast<double>(lateness_us.size());
    std::printf("%zu ticks, lateness in microseconds:\n", lateness_us.size());
    std::printf("  min %lld  p50 %lld  p90 %lld  p99 %lld  max %lld  mean %.1f\n", lateness_us.front(), pct(50),
                pct(90), pct(99), lateness_us.back(), mean);
    return 0;
}
