// examples/hello_loop.cpp -- the smallest complete reactor program.
//
// One loop, one timer, one fd watcher. The "fd" is the read end of a pipe
// that a timer writes to, so the program needs nothing from outside:
//
//   tick -> write "ping" into the pipe -> the watcher sees Readable,
//   reads it, prints it; after the third ping the loop stops and main returns.
//
// Build: make   Run: build/examples/hello_loop
#include <reactor/reactor.hpp>

#include <chrono>
#include <cstdio>
#include <unistd.h>

int main() {
    using namespace std::chrono_literals;
    reactor::EventLoop loop;  // the backend: REACTOR_BACKEND, or the best one here
    std::printf("backend: %s\n", std::string(loop.backend()).c_str());

    int fds[2];
    if (::pipe(fds) != 0) return 1;

    // Callback registration: "call me when fds[0] is readable".
    int pings = 0;
    reactor::WatcherId reader = loop.watch(fds[0], reactor::Readable, [&](reactor::Events) {
        char buf[64];
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        std::printf("read %zd bytes: %.*s\n", n, static_cast<int>(n > 0 ? n : 0), buf);
        if (++pings == 3) loop.stop();  // run() returns after this iteration
    });

    // A repeating timer: every 100 ms, write into the pipe.
    int ticks = 0;
    loop.run_every(100ms, [&] {
        std::printf("tick %d\n", ++ticks);
        (void)!::write(fds[1], "ping", 4);
    });

    loop.run();

    loop.unwatch(reader);  // unwatch before close: the fd is ours, not the loop's
    ::close(fds[0]);
    ::close(fds[1]);
    std::printf("done after %d pings\n", pings);
    return 0;
}
