// examples/edge_pitfall.cpp -- the edge-triggered pitfall, in plain system
// calls (docs/tutorial/05-backends.md).
//
// A pipe holds 100 bytes; a reader takes 10 per wake-up, as a reactor
// callback that reads a bounded amount does. Level-triggered, the kernel
// reports the pipe again while bytes remain. Edge-triggered (epoll's
// EPOLLET, kqueue's EV_CLEAR), it reports only a *change*: after the first
// wake-up nothing changes, so no event comes and 90 bytes sit there until
// the peer happens to write again. The fix: on each edge, read until EAGAIN.
// reactor is level-triggered and offers no edge mode (docs/architecture.md).
//
//   $ build/examples/edge_pitfall
//
// Linux uses epoll, FreeBSD and macOS kqueue; elsewhere it says so and exits 0.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#if defined(__linux__)
#include <sys/epoll.h>
#define HAVE_EDGE 1
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
#include <sys/event.h>
#define HAVE_EDGE 1
#endif

#ifdef HAVE_EDGE
namespace {

// One poller watching one fd for readability, level- or edge-triggered.
class Watch {
public:
    Watch(int fd, bool edge) {
#if defined(__linux__)
        q_ = ::epoll_create1(0);
        epoll_event ev{};
        ev.events = EPOLLIN | (edge ? EPOLLET : 0u);
        ev.data.fd = fd;
        ::epoll_ctl(q_, EPOLL_CTL_ADD, fd, &ev);
#else
        q_ = ::kqueue();
        struct kevent ev;
        EV_SET(&ev, fd, EVFILT_READ, EV_ADD | (edge ? EV_CLEAR : 0), 0, 0, nullptr);
        ::kevent(q_, &ev, 1, nullptr, 0, nullptr);
#endif
    }
    ~Watch() { ::close(q_); }
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    // Waits up to `ms` milliseconds; true if the fd was reported readable.
    bool wait(int ms) {
#if defined(__linux__)
        epoll_event ev{};
        return ::epoll_wait(q_, &ev, 1, ms) == 1;
#else
        struct kevent ev;
        timespec t{ms / 1000, (ms % 1000) * 1000000L};
        return ::kevent(q_, nullptr, 0, &ev, 1, &t) == 1;
#endif
    }

private:
    int q_;
};

// [run]
// Fills a fresh pipe with 100 bytes, then runs the wake-ups.
void run(bool edge, bool drain) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
    char data[100] = {};
    (void)!::write(fds[1], data, sizeof data);

    Watch watch(fds[0], edge);
    std::printf("%s%s:\n", edge ? "edge-triggered" : "level-triggered", drain ? ", draining" : "");
    int left = sizeof data;
    for (int wakeup = 1; wakeup <= 3 && left > 0; ++wakeup) {
        if (!watch.wait(100)) {
            std::printf("  wait %d: no event within 100 ms, %d bytes still unread -- stuck\n", wakeup, left);
            break;
        }
        char buf[10];
        int got = 0;
        ssize_t n;
        do {  // 10 bytes per read; once only, unless draining to EAGAIN
            n = ::read(fds[0], buf, sizeof buf);
            if (n > 0) got += static_cast<int>(n);
        } while (drain && n > 0);
        left -= got;
        std::printf("  wait %d: readable, read %d bytes, %d left\n", wakeup, got, left);
    }
    ::close(fds[0]);
    ::close(fds[1]);
}
// [/run]

}  // namespace

int main() {
    run(/*edge=*/false, /*drain=*/false);  // reported again while bytes remain
    run(/*edge=*/true, /*drain=*/false);   // the pitfall
    run(/*edge=*/true, /*drain=*/true);    // the fix
    return 0;
}
#else
int main() {
    std::printf("edge_pitfall: this platform has neither epoll nor kqueue\n");
    return 0;
}
#endif
