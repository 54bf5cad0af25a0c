// examples/cpu_block.cpp -- why CPU-heavy work does not belong on the loop.
//
// A loop runs one callback at a time. While a callback computes, nothing
// else happens: timers fire late, sockets are not read, echo stalls. This
// program measures it. A probe timer asks to run every 10 ms and records
// how late each tick is (the time it ran minus the deadline it was given).
// Then 500 ms of real work (hashing a buffer, not sleeping) runs twice:
//
//   1. inside a loop callback: the probe's ticks wait for it to finish;
//   2. through queue_work(loop, ...): the work runs on a pool thread and the
//      loop goes on ticking.
//
//   $ build/examples/cpu_block
//   (prints the probe's worst lag in each case and a conclusion)
//
// docs/worker-pool.md quotes the figures measured on the project machine.
#include <reactor/reactor.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = 10ms;    // the probe's period
constexpr auto kWork = 500ms;   // how long the heavy job computes
constexpr auto kSettle = 200ms; // probe time after the job, to catch late ticks

// FNV-1a over a 4 KiB block, round after round, until `span` has passed.
// The block changes every round, so the compiler cannot fold the work away.
std::uint64_t hash_for(Clock::duration span) {
    std::array<unsigned char, 4096> block{};
    for (std::size_t i = 0; i < block.size(); ++i) block[i] = static_cast<unsigned char>(i * 31);
    std::uint64_t h = 1469598103934665603ull;
    std::uint64_t rounds = 0;
    const auto end = Clock::now() + span;
    while (Clock::now() < end) {
        for (unsigned char b : block) {
            h ^= b;
            h *= 1099511628211ull;
        }
        block[rounds++ % block.size()] = static_cast<unsigned char>(h);
    }
    return h;
}

// A timer that re-arms itself every kTick and keeps the worst lateness.
class LagProbe {
public:
    explicit LagProbe(reactor::EventLoop& loop) : loop_(loop) {}
    void start() { arm(); }
    void stop() { loop_.cancel(timer_); }
    void reset() { worst_ = Clock::duration::zero(); }
    double worst_ms() const { return std::chrono::duration<double, std::milli>(worst_).count(); }

private:
    void arm() {
        // run_after() counts from the loop's cached now(), which is also the
        // deadline the timer gets: measure lateness against exactly that.
        deadline_ = loop_.now() + kTick;
        timer_ = loop_.run_after(kTick, [this] {
            worst_ = std::max(worst_, Clock::now() - deadline_);
            arm();
        });
    }

    reactor::EventLoop& loop_;
    reactor::TimerId timer_;
    Clock::time_point deadline_;
    Clock::duration worst_{};
};

}  // namespace

int main() {
    reactor::EventLoop loop;
    LagProbe probe(loop);
    double lag_on_loop = 0;
    double lag_on_pool = 0;
    std::uint64_t checksum = 0;

    probe.start();
    // 1. After a short warm-up, compute on the loop thread itself.
    loop.run_after(100ms, [&] {
        probe.reset();
        checksum ^= hash_for(kWork);
        loop.run_after(kSettle, [&] {
            lag_on_loop = probe.worst_ms();
            // 2. The same work on the worker pool; the loop only waits.
            probe.reset();
            queue_work(loop, [] { return hash_for(kWork); },
                       [&](std::error_code ec, std::uint64_t h) {
                           if (ec) {
                               std::fprintf(stderr, "cpu_block: %s\n", ec.message().c_str());
                           }
                           checksum ^= h;
                           loop.run_after(kSettle, [&] {
                               lag_on_pool = probe.worst_ms();
                               probe.stop();
                               loop.stop();
                           });
                       });
        });
    });
    loop.run();

    std::printf("cpu_block: a %lld ms timer measures loop lag while %lld ms of hashing runs\n",
                static_cast<long long>(kTick.count()), static_cast<long long>(kWork.count()));
    std::printf("  work on the loop thread (in a callback): max lag %7.1f ms\n", lag_on_loop);
    std::printf("  work on the pool (queue_work):           max lag %7.1f ms\n", lag_on_pool);
    std::printf("  (checksum %016llx)\n", static_cast<unsigned long long>(checksum));
    std::printf("conclusion: computing on the loop stalls every timer and socket for as long as it "
                "runs; queue_work keeps the loop responsive.\n");
    return 0;
}
