// examples/c10k_budget.cpp -- what 10,000 connections would cost this
// machine in each model, from its own limits (docs/tutorial/01-c10k.md,
// the worked answer to its first exercise).
//
//   $ build/examples/c10k_budget [CONNECTIONS]
//
// It asks the system for the open-file limit (every connection is an fd in
// both models) and the default thread stack size (what each thread in a
// thread-per-connection server reserves), then does the arithmetic. The
// per-connection cost of the event loop is a measured figure from
// docs/tcp.md; the chapter explains where the others come from.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 10000;
    if (n <= 0) {
        std::fprintf(stderr, "usage: c10k_budget [CONNECTIONS]\n");
        return 2;
    }

    rlimit files{};
    ::getrlimit(RLIMIT_NOFILE, &files);
    std::printf("open files: soft limit %llu, hard limit %llu -> %s %ld connections\n",
                static_cast<unsigned long long>(files.rlim_cur), static_cast<unsigned long long>(files.rlim_max),
                files.rlim_max == RLIM_INFINITY || files.rlim_max > static_cast<rlim_t>(n) ? "room for" : "NOT enough for",
                n);

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    std::size_t stack = 0;
    pthread_attr_getstacksize(&attr, &stack);
    pthread_attr_destroy(&attr);
    const long page = ::sysconf(_SC_PAGESIZE);

    const double mib = 1024.0 * 1024.0;
    std::printf("thread per connection: %ld threads x %zu KiB stack = %.0f MiB of address space,\n", n,
                stack / 1024, static_cast<double>(n) * static_cast<double>(stack) / mib);
    std::printf("  and at least %ld KiB of it really used per thread (two pages) = %.0f MiB of memory\n",
                2 * page / 1024, static_cast<double>(n) * 2.0 * static_cast<double>(page) / mib);
    // docs/tcp.md measures 177 bytes of user-space memory per idle TcpConnection.
    std::printf("one event loop: 1 thread, %ld connections x 177 B = %.1f MiB (docs/tcp.md)\n", n,
                static_cast<double>(n) * 177.0 / mib);
    return 0;
}
