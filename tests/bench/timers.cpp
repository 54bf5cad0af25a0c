// tests/bench/timers.cpp -- the timer benchmark: build/bench/timers [N].
//
// The workload of ../shared/bench/peers/uv_timers.c (the libuv peer), step
// for step, so that scripts/bench-timers.sh can compare the two in one run:
//   schedule  N one-shot timers (default 1,000,000) with delays in [0, 1000)
//             ms from the same xorshift64 sequence, same seed;
//   cancel    every second timer (indices 0, 2, 4, ...);
//   fire      run the loop until the remaining timers have fired.
// Each phase is measured in process CPU time (CLOCK_PROCESS_CPUTIME_ID), so
// the second the loop spends waiting for deadlines costs nothing, and is
// divided by the operations of that phase: schedule by N, cancel by the
// number cancelled, fire by the number fired. The last line is
//   RESULT schedule_ns=X cancel_ns=Y fire_ns=Z fired=K
// as the peer prints it. This is a benchmark that prints figures, not a test;
// it exits 1 only if the wrong number of timers fired.
#include <reactor/reactor.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <ctime>
#include <vector>

namespace {

double cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 1000000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: timers [N > 0]\n");
        return 2;
    }
    reactor::EventLoop loop;
    // Like the peer's array of uv_timer_t, the id array is allocated before
    // the clock starts; the loop's own storage grows inside the phase.
    std::vector<reactor::TimerId> ids(static_cast<std::size_t>(n));
    std::uint64_t fired = 0;
    std::uint64_t x = 88172645463325252ull;  // xorshift64: the peer's seed and sequence

    const double t0 = cpu_ns();
    for (long i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids[static_cast<std::size_t>(i)] =
            loop.run_after(std::chrono::milliseconds(x % 1000), [&fired] { ++fired; });
    }
    const double t1 = cpu_ns();
    for (long i = 0; i < n; i += 2) loop.cancel(ids[static_cast<std::size_t>(i)]);
    const double t2 = cpu_ns();
    // uv_run(UV_RUN_DEFAULT) returns when no timer is left; so does this.
    while (loop.timer_count() > 0) loop.run_once();
    const double t3 = cpu_ns();

    const long cancelled = (n + 1) / 2;
    const long left = n - cancelled;
    const double schedule_ns = (t1 - t0) / static_cast<double>(n);
    const double cancel_ns = (t2 - t1) / static_cast<double>(cancelled);
    const double fire_ns = (t3 - t2) / static_cast<double>(left ? left : 1);
    std::printf("timers n=%ld backend=%s schedule %.1f ns/op, cancel %.1f ns/op, "
                "fire %.1f ns/op (CPU time; loop ran %.0f ms of CPU), fired=%lu\n",
                n, std::string(loop.backend()).c_str(), schedule_ns, cancel_ns, fire_ns,
                (t3 - t2) / 1e6, static_cast<unsigned long>(fired));
    std::printf("RESULT schedule_ns=%.1f cancel_ns=%.1f fire_ns=%.1f fired=%lu\n", schedule_ns,
                cancel_ns, fire_ns, static_cast<unsigned long>(fired));
    return fired == static_cast<std::uint64_t>(left) ? 0 : 1;
}
