// examples/loadgen/worker.hpp -- one event loop driving a share of the
// connections: connects them at the requested pace, sends requests on
// schedule, verifies every reply, and counts what happened.
//
// Each Worker runs on its own thread, with its own reactor::EventLoop built
// on that thread; it shares nothing with the other workers. Connection i of
// the run belongs to worker i % threads. What the worker learns reaches
// main() through two callbacks, called on the worker's thread: on_sample
// once a second, and on_done once at the end with the worker's totals.
// main() posts both into its own loop (EventLoop::post is the thread-safe
// way in), so the callbacks need no lock. The work itself is done by a Run
// (run.hpp).
#pragma once

#include "options.hpp"
#include "stats.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace reactor {
class EventLoop;
}

namespace loadgen {

class Run;

/// The server's address, resolved once by main().
struct Target {
    sockaddr_storage addr{};
    socklen_t len = 0;
    /// True for an IPv4 address in 127.0.0.0/8: then connections may come
    /// from several loopback source addresses (source_address.hpp).
    bool loopback_v4 = false;
    /// Source addresses planned up front (1 unless loopback_v4 and there are
    /// more connections than one address carries well).
    unsigned sources = 1;
};

struct WorkerSetup {
    const Options* options = nullptr;  ///< outlives the worker
    Target target;
    int index = 0;  ///< this worker's number, 0 .. threads - 1
    std::chrono::steady_clock::time_point start;  ///< the run's time zero, shared by all workers
    std::function<void(Sample)> on_sample;
    std::function<void(Totals)> on_done;
};

class Worker {
public:
    explicit Worker(WorkerSetup setup);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Runs the worker's share of the load test to the end, on the calling
    /// thread, then calls on_done. Never throws: a failure to set up (no
    /// poller, say) is reported in the totals as the error "fatal".
    void run();

    /// Ends the run early (Ctrl-C): the worker stops at once and calls
    /// on_done with what it has counted so far; replies and connects still
    /// in progress are not counted as errors. Safe from any thread, before,
    /// during or after run().
    void interrupt();

private:
    std::unique_ptr<Run> run_;
    std::mutex mutex_;  // guards the two below
    reactor::EventLoop* loop_ = nullptr;  // while run() has one
    bool interrupted_ = false;
};

}  // namespace loadgen
