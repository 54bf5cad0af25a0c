// examples/timers.cpp -- one-shot, repeating and cancelled timers, and an
// idle timeout that activity pushes back (docs/tutorial/06-timers.md).
//
// Timers run in deadline order, whatever order they were added in, never
// before their deadline; a repeating timer keeps its cadence; a cancelled
// one never runs. Each line shows the delay asked for; the program checks
// that no timer ran early and says so at the end.
//
//   $ build/examples/timers
#include <reactor/reactor.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

int main() {
    reactor::EventLoop loop;
    const auto start = loop.now();
    bool early = false;
    // Prints a line and notes whether the loop ran it before `asked`.
    auto log = [&](const char* what, Ms asked) {
        const auto at = std::chrono::duration_cast<Ms>(reactor::EventLoop::Clock::now() - start);
        if (at < asked) early = true;
        std::printf("%-34s (asked for %3lld ms)\n", what, static_cast<long long>(asked.count()));
    };

    // Added in this order, run in deadline order: B, tick, A, tick, tick.
    loop.run_after(30ms, [&] { log("A: one-shot", 30ms); });
    loop.run_after(10ms, [&] { log("B: one-shot, added second", 10ms); });
    const reactor::TimerId never = loop.run_after(25ms, [&] { log("C: cancelled, never printed", 25ms); });
    loop.cancel(never);

    int ticks = 0;
    reactor::TimerId ticker;
    ticker = loop.run_every(20ms, [&] {
        ++ticks;
        log(ticks == 1 ? "tick 1" : ticks == 2 ? "tick 2" : "tick 3, cancelling the ticker", Ms(20 * ticks));
        if (ticks == 3) loop.cancel(ticker);  // a timer may cancel itself
    });

    // [idle]
    // An idle timeout: a one-shot timer that every bit of "activity" cancels
    // and starts again. Activity at 0, 40 and 80 ms; idle 100 ms after the last.
    reactor::TimerId idle;
    auto activity = [&](Ms at) {
        loop.cancel(idle);
        idle = loop.run_after(100ms, [&, at] {
            log("idle: 100 ms without activity", at + 100ms);
            loop.stop();
        });
    };
    activity(0ms);
    loop.run_after(40ms, [&] { activity(40ms); });
    loop.run_after(80ms, [&] { activity(80ms); });
    // [/idle]

    loop.run();
    std::printf("%s\n", early ? "a timer ran EARLY" : "no timer ran early");
    return early ? 1 : 0;
}
