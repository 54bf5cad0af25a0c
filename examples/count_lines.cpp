// examples/count_lines.cpp -- blocking work through queue_work, and proof
// that the loop kept running meanwhile (docs/tutorial/08-blocking-work.md,
// the worked answer to its first exercise).
//
// The file is opened and read on a pool thread, where blocking is allowed;
// its line count comes back to the loop thread as an error-first callback.
// A timer ticking every millisecond on the loop shows the loop was free.
//
//   $ build/examples/count_lines FILE
//   counting FILE on the pool...
//   FILE: N lines (the loop ticked T times meanwhile)
#include <reactor/reactor.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <system_error>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: count_lines FILE\n");
        return 2;
    }
    const std::string path = argv[1];
    reactor::EventLoop loop;
    int ticks = 0;
    loop.run_every(std::chrono::milliseconds(1), [&] { ++ticks; });

    int status = 0;
    // [queue_work]
    reactor::queue_work(loop,
        [path] {  // on a pool thread: may block
            std::ifstream in(path);
            if (!in) throw std::system_error(errno, std::generic_category(), path);
            long lines = 0;
            for (std::string line; std::getline(in, line);) ++lines;
            return lines;
        },
        [&](std::error_code ec, long lines) {  // back on the loop thread
            if (ec) {
                std::fprintf(stderr, "count_lines: %s: %s\n", path.c_str(), ec.message().c_str());
                status = 1;
            } else {
                std::printf("%s: %ld lines (the loop ticked %d times meanwhile)\n", path.c_str(), lines, ticks);
            }
            loop.stop();
        });
    // [/queue_work]
    std::printf("counting %s on the pool...\n", path.c_str());
    std::fflush(stdout);
    loop.run();
    return status;
}
