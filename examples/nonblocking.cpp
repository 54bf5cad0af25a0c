// examples/nonblocking.cpp -- what O_NONBLOCK and readiness look like, on a
// pipe, with no library at all (docs/tutorial/02-nonblocking.md).
//
//   1. read() on an empty non-blocking pipe returns -1 with EAGAIN at once;
//   2. poll() says whether a read or a write would block, without doing it;
//   3. write() into the pipe until the kernel says EAGAIN: how many bytes
//      does a pipe hold? (the chapter's first exercise; the answer is
//      printed, it differs between kernels);
//   4. once a reader makes room, poll() reports the write end writable again.
//
//   $ build/examples/nonblocking
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Asks the kernel, without waiting (timeout 0), whether `fd` is ready for `what`.
bool ready(int fd, short what) {
    pollfd p{fd, what, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & what) != 0;
}

}  // namespace

int main() {
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    const int reader = fds[0];
    const int writer = fds[1];
    set_nonblocking(reader);
    set_nonblocking(writer);

    // 1. Nothing to read: no sleep, an error code instead.
    char buf[4096];
    const ssize_t n = ::read(reader, buf, sizeof buf);
    std::printf("read on an empty pipe: %zd, errno %s\n", n, errno == EAGAIN ? "EAGAIN" : std::strerror(errno));

    // 2. Readiness: ask first, then act.
    std::printf("readable? %s  writable? %s\n", ready(reader, POLLIN) ? "yes" : "no",
                ready(writer, POLLOUT) ? "yes" : "no");
    (void)!::write(writer, "hello", 5);
    std::printf("after writing 5 bytes, readable? %s\n", ready(reader, POLLIN) ? "yes" : "no");
    (void)!::read(reader, buf, sizeof buf);

    // 3. Fill the pipe: every write either takes bytes or says EAGAIN.
    std::memset(buf, 'x', sizeof buf);
    std::size_t held = 0;
    for (;;) {
        const ssize_t w = ::write(writer, buf, sizeof buf);
        if (w < 0) break;  // EAGAIN: the pipe is full
        held += static_cast<std::size_t>(w);
    }
    std::printf("the pipe took %zu bytes, then write said %s\n", held, errno == EAGAIN ? "EAGAIN" : std::strerror(errno));
    std::printf("full pipe: writable? %s\n", ready(writer, POLLOUT) ? "yes" : "no");

    // 4. A reader makes room; the write end becomes writable again.
    std::size_t drained = 0;
    while (!ready(writer, POLLOUT)) {
        const ssize_t r = ::read(reader, buf, sizeof buf);
        if (r <= 0) break;
        drained += static_cast<std::size_t>(r);
    }
    std::printf("after reading %zu bytes: writable? %s\n", drained, ready(writer, POLLOUT) ? "yes" : "no");

    ::close(reader);
    ::close(writer);
    return 0;
}
