// examples/writable_spin.cpp -- why a level-triggered server asks for
// Writable only while output waits (docs/tutorial/04-echo-on-the-loop.md,
// the worked answer to its first exercise).
//
// A connected socket with room in its send buffer is writable, nearly
// always. Watch it for Writable with nothing to write, and the loop calls
// you on every iteration: the thread spins at 100% CPU doing nothing. Watch
// it for Readable only, and the same 100 ms costs no call at all.
//
//   $ build/examples/writable_spin
#include <reactor/reactor.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

// Runs the loop for 100 ms with a watcher on `fd` for `interest`; returns
// how many times the watcher was called.
long calls_in_100ms(reactor::EventLoop& loop, int fd, reactor::Events interest) {
    long calls = 0;
    const reactor::WatcherId id = loop.watch(fd, interest, [&](reactor::Events) { ++calls; });
    loop.run_after(100ms, [&] { loop.stop(); });
    loop.run();
    loop.unwatch(id);
    return calls;
}

int main() {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) return 1;
    reactor::EventLoop loop;

    const long spinning = calls_in_100ms(loop, pair[0], reactor::Readable | reactor::Writable);
    std::printf("Readable|Writable, nothing to write: %ld calls in 100 ms\n", spinning);
    const long quiet = calls_in_100ms(loop, pair[0], reactor::Readable);
    std::printf("Readable only:                       %ld calls in 100 ms\n", quiet);

    ::close(pair[0]);
    ::close(pair[1]);
    return spinning > 10 && quiet == 0 ? 0 : 1;  // thousands, even on a loaded machine
}
