// examples/loop_lag.cpp -- percentiles, measured on the loop itself
// (docs/tutorial/09-measuring-c10k.md, the worked answer to its exercise).
//
// A timer asks to run 1 ms from now, 500 times over; each run records how
// late it is (now minus its deadline) in a reactor::Histogram, the same
// structure loadgen uses for its latency report. The percentiles say what a
// mean hides: most ticks are a few microseconds late, a few are much later
// (the scheduler gave the CPU to someone else), and p99 and max show them.
//
//   $ build/examples/loop_lag
#include <reactor/reactor.hpp>

#include <chrono>
#include <cstdio>
#include <functional>

using namespace std::chrono;

int main() {
    reactor::EventLoop loop;
    reactor::Histogram lateness_us;
    // One-shot timers, each armed for 1 ms ahead when the previous one ran.
    std::function<void()> arm = [&] {
        const auto deadline = reactor::EventLoop::Clock::now() + milliseconds(1);
        loop.run_at(deadline, [&, deadline] {
            const auto late = reactor::EventLoop::Clock::now() - deadline;
            lateness_us.record(static_cast<std::uint64_t>(duration_cast<microseconds>(late).count()));
            if (lateness_us.count() < 500) {
                arm();
            } else {
                loop.stop();
            }
        });
    };
    arm();
    loop.run();

    std::printf("%llu ticks, lateness in microseconds:\n", static_cast<unsigned long long>(lateness_us.count()));
    std::printf("  min %llu  p50 %llu  p90 %llu  p99 %llu  max %llu  mean %.1f\n",
                static_cast<unsigned long long>(lateness_us.min()),
                static_cast<unsigned long long>(lateness_us.percentile(50)),
                static_cast<unsigned long long>(lateness_us.percentile(90)),
                static_cast<unsigned long long>(lateness_us.percentile(99)),
                static_cast<unsigned long long>(lateness_us.max()), lateness_us.mean());
    return 0;
}
