// tests/kqueue_emu/kqueue_emu.cpp -- TEST-ONLY emulation of kqueue()/kevent() over epoll.
//
// Not part of the library: it is linked into the test binaries only, so the
// kqueue backend can run the whole suite on Linux (see sys/event.h beside
// this file for what is and is not emulated).
//
// Model. An emulated kqueue is an epoll fd plus a table, per watched fd, of
// its two filters (present? enabled? EV_CLEAR? udata). The fd is in the
// epoll set with the union of its enabled filters (EPOLLIN|EPOLLRDHUP for
// EVFILT_READ, EPOLLOUT for EVFILT_WRITE) and leaves the set when no filter
// is enabled, so that EPOLLHUP, which epoll reports whatever was asked, does
// not wake a kqueue whose filters are all disabled. A wait turns each epoll
// event back into one kevent per enabled filter that it makes ready.
//
// How BSD's answers are derived from Linux's (FreeBSD sys/kern/uipc_socket.c,
// filt_soread / filt_sowrite, and sys/kern/sys_pipe.c are the reference):
//   EVFILT_READ   ready on EPOLLIN, EPOLLRDHUP, EPOLLHUP or EPOLLERR.
//                 EV_EOF when reading is over: EPOLLRDHUP (a socket's peer
//                 shut down writing) or EPOLLHUP (a pipe's writer is gone).
//                 data = FIONREAD (1 where FIONREAD does not apply, e.g. a
//                 listening socket; BSD reports its backlog there).
//   EVFILT_WRITE  ready on EPOLLOUT, EPOLLHUP or EPOLLERR.
//                 EV_EOF when writing is over: EPOLLHUP (both directions
//                 shut), EPOLLERR on a pipe (its reader is gone), or our own
//                 side shut down writing (BSD's SBS_CANTSENDMORE): read from
//                 TCP_INFO for TCP, probed with a zero-byte send for AF_UNIX
//                 streams (EPIPE, no data, no signal).
//                 data = free space in the send buffer or pipe.
//   fflags        with EV_EOF on a socket with a pending error (EPOLLERR):
//                 KQUEUE_EMU_PENDING_ERROR. BSD puts so_error there, but
//                 Linux's SO_ERROR clears the error it reads (socket(7)), and
//                 the program must still find it with getsockopt or read().
//
// Two kernels (REACTOR_KQUEUE_FLAVOR=freebsd, the default, or macos; read
// when a queue is created). Where they differ, each does what its source
// says (checked against FreeBSD's sys/kern/kern_event.c and sys_pipe.c and
// xnu-11417's bsd/kern/kern_event.c, sys_pipe.c and bsd/vfs/vfs_vnops.c):
//   answer to a change     FreeBSD kqueue_kevent: flags = EV_ERROR exactly;
//                          xnu kevent_register path: the change's own flags
//                          | EV_ERROR.
//   change to a closed fd  FreeBSD kqueue_register looks the fd up first:
//                          EBADF. xnu looks for the knote first: ENOENT
//                          unless EV_ADD (then EBADF).
//   EVFILT_WRITE added to  FreeBSD pipe_kqfilter: EPIPE, nothing registered.
//   a pipe whose reader    xnu pipe_kqfilter attaches it ("attach should
//   is gone                only fail for programming mistakes") and it
//                          fires at once with EV_EOF.
// And where they agree but epoll does not: a regular file's EVFILT_READ is
// ready only while unread bytes remain (data = size - offset; FreeBSD
// filt_vfsread, xnu filt_vnode_common), its EVFILT_WRITE always.
//
// A kqueue is not inherited by fork(2) (kqueue(2)): in a child the emulated
// queues are closed (pthread_atfork), so their numbers are free for reuse
// there, as on BSD, and a program that closes a parent's kqueue number in a
// child closes whatever now has it.
//
// Closing an fd drops its filters on BSD; epoll forgets an fd only when its
// last duplicate closes. Each registration therefore remembers its file
// (st_dev, st_ino) and a generation stored in the epoll data, and a change
// or an event for an fd that is closed, or now names another file, finds the
// registration gone, as on BSD.
#include <sys/event.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

enum class Flavor { FreeBSD, MacOS };

// REACTOR_KQUEUE_FLAVOR, read at each kqueue(); false if it names no flavour.
bool flavor_from_env(Flavor& out) {
    const char* env = std::getenv("REACTOR_KQUEUE_FLAVOR");
    if (env == nullptr || *env == '\0' || std::strcmp(env, "freebsd") == 0) {
        out = Flavor::FreeBSD;
    } else if (std::strcmp(env, "macos") == 0) {
        out = Flavor::MacOS;
    } else {
        return false;
    }
    return true;
}

enum class Kind { Other, Regular, Pipe, TcpStream, UnixStream, OtherSocket };

bool is_socket(Kind k) {
    return k == Kind::TcpStream || k == Kind::UnixStream || k == Kind::OtherSocket;
}

struct Filter {
    bool present = false;
    bool enabled = false;
    bool clear = false;  // EV_CLEAR: report changes only
    void* udata = nullptr;
};

// One watched fd. Invariant: an entry has at least one present filter, and
// epoll_events is what the epoll set holds for it (0: not in the set).
struct Watched {
    dev_t dev = 0;
    ino_t ino = 0;
    Kind kind = Kind::Other;
    std::uint32_t generation = 0;
    std::uint32_t epoll_events = 0;
    Filter read;
    Filter write;
};

struct Queue {
    explicit Queue(Flavor f) : flavor(f) {}
    const Flavor flavor;
    std::mutex mu;  // guards everything below; never held while waiting
    std::unordered_map<int, Watched> fds;
    std::uint32_t next_generation = 0;
    int regular_files = 0;  // entries of Kind::Regular, checked on every wait
    // EV_CLEAR events that found no room in the caller's list, with the
    // generation of their registration: epoll will not report that edge
    // again, so they are returned first by the next wait. (A level-triggered
    // filter needs no such care: epoll reports it again.)
    std::vector<std::pair<std::uint32_t, struct kevent>> overflow;
};

std::mutex g_queues_mu;
std::unordered_map<int, std::shared_ptr<Queue>> g_queues;  // by epoll fd

std::shared_ptr<Queue> find_queue(int kq) {
    std::lock_guard<std::mutex> lock(g_queues_mu);
    auto it = g_queues.find(kq);
    return it == g_queues.end() ? nullptr : it->second;
}

Kind kind_of(int fd, const struct stat& st) {
    if (S_ISREG(st.st_mode)) return Kind::Regular;
    if (S_ISFIFO(st.st_mode)) return Kind::Pipe;
    if (!S_ISSOCK(st.st_mode)) return Kind::Other;
    int domain = 0;
    int type = 0;
    socklen_t len = sizeof domain;
    if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) return Kind::OtherSocket;
    len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return Kind::OtherSocket;
    if (type != SOCK_STREAM) return Kind::OtherSocket;
    if (domain == AF_INET || domain == AF_INET6) return Kind::TcpStream;
    if (domain == AF_UNIX) return Kind::UnixStream;
    return Kind::OtherSocket;
}

void erase(Queue& q, std::unordered_map<int, Watched>::iterator it) {
    if (it->second.kind == Kind::Regular) --q.regular_files;
    q.fds.erase(it);
}

// Forgets the registration of `fd` if that fd was closed, or closed and
// reused for another file, since it was registered. Fills `st` and returns
// true if `fd` is open now.
bool forget_if_stale(Queue& q, int epfd, int fd, struct stat& st) {
    const bool open = ::fstat(fd, &st) == 0;
    auto it = q.fds.find(fd);
    if (it == q.fds.end()) return open;
    const Watched& w = it->second;
    bool stale = !open || w.dev != st.st_dev || w.ino != st.st_ino;
    if (!stale && w.epoll_events != 0) {
        // Files on anonymous inodes (eventfd, epoll, ...) share one inode
        // number, so ask epoll as well: it has forgotten a closed fd.
        epoll_event ev{};
        ev.events = w.epoll_events;
        ev.data.u64 = (std::uint64_t{w.generation} << 32) | static_cast<std::uint32_t>(fd);
        stale = ::epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT;
    }
    if (stale) erase(q, it);
    return open;
}

// Brings the epoll set in line with the enabled filters of `w`. Returns 0
// or the errno of epoll_ctl.
int sync_epoll(int epfd, int fd, Watched& w) {
    if (w.kind == Kind::Regular) return 0;  // epoll refuses regular files; always ready
    std::uint32_t want = 0;
    if (w.read.present && w.read.enabled) want |= EPOLLIN | EPOLLRDHUP;
    if (w.write.present && w.write.enabled) want |= EPOLLOUT;
    if (want != 0 && ((w.read.present && w.read.clear) || (w.write.present && w.write.clear))) {
        want |= EPOLLET;
    }
    if (want == w.epoll_events) return 0;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = (std::uint64_t{w.generation} << 32) | static_cast<std::uint32_t>(fd);
    const int op = want == 0              ? EPOLL_CTL_DEL
                   : w.epoll_events == 0 ? EPOLL_CTL_ADD
                                         : EPOLL_CTL_MOD;
    if (::epoll_ctl(epfd, op, fd, &ev) != 0 && op != EPOLL_CTL_DEL) return errno;
    w.epoll_events = want;
    return 0;
}

// Is `fd` the write end of a pipe whose every reader has closed? Linux
// flags it POLLERR (pipe(7)).
bool pipe_reader_gone(int fd) {
    pollfd p{fd, POLLOUT, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
}

// Applies one change; returns 0 or the errno BSD would report for it.
int apply(Queue& q, int epfd, const struct kevent& kev) {
    if (kev.filter != EVFILT_READ && kev.filter != EVFILT_WRITE) return EINVAL;
    if ((kev.flags & (EV_ONESHOT | EV_DISPATCH)) != 0) return EINVAL;
    if (kev.ident > static_cast<uintptr_t>(INT_MAX)) return EBADF;
    const int fd = static_cast<int>(kev.ident);
    struct stat st {};
    if (!forget_if_stale(q, epfd, fd, st)) {
        // Closing dropped the fd's knotes. xnu looks for the knote before
        // the fd and answers ENOENT unless the change adds one; FreeBSD
        // looks the fd up first.
        if (q.flavor == Flavor::MacOS && (kev.flags & EV_ADD) == 0) return ENOENT;
        return EBADF;
    }

    auto it = q.fds.find(fd);
    if (it == q.fds.end()) {
        if ((kev.flags & EV_ADD) == 0 || (kev.flags & EV_DELETE) != 0) return ENOENT;
        Watched fresh;
        fresh.dev = st.st_dev;
        fresh.ino = st.st_ino;
        fresh.kind = kind_of(fd, st);
        fresh.generation = ++q.next_generation;
        if (fresh.kind == Kind::Regular) ++q.regular_files;
        it = q.fds.emplace(fd, fresh).first;
    }
    Watched& w = it->second;
    const Watched before = w;
    Filter& f = kev.filter == EVFILT_READ ? w.read : w.write;
    const Filter& other = kev.filter == EVFILT_READ ? w.write : w.read;

    int err = 0;
    if ((kev.flags & EV_DELETE) != 0) {
        if (!f.present) err = ENOENT;
        f = Filter{};
    } else {
        if (!f.present) {
            if ((kev.flags & EV_ADD) == 0) {
                err = ENOENT;
            } else if (kev.filter == EVFILT_WRITE && w.kind == Kind::Pipe &&
                       q.flavor == Flavor::FreeBSD && pipe_reader_gone(fd)) {
                err = EPIPE;  // FreeBSD pipe_kqfilter: nothing is registered
            } else {
                f.present = true;
                f.enabled = true;  // a new filter starts enabled unless EV_DISABLE says otherwise
            }
        }
        if (err == 0) {
            // EV_ADD on an existing filter updates it but, as on BSD, leaves
            // a disabled filter disabled unless EV_ENABLE comes with it.
            if ((kev.flags & EV_ADD) != 0) f.clear = (kev.flags & EV_CLEAR) != 0;
            if ((kev.flags & EV_ENABLE) != 0) f.enabled = true;
            if ((kev.flags & EV_DISABLE) != 0) f.enabled = false;
            f.udata = kev.udata;  // FreeBSD takes udata from every change
            if (other.present && other.clear != f.clear) err = EINVAL;  // EPOLLET is per fd
        }
    }
    if (err == 0) err = sync_epoll(epfd, fd, w);
    if (err != 0) {
        w = before;
    }
    if (!w.read.present && !w.write.present) erase(q, it);
    return err;
}

std::int64_t readable_bytes(int fd, Kind kind) {
    if (kind == Kind::Regular) {
        struct stat st {};
        const off_t pos = ::lseek(fd, 0, SEEK_CUR);
        if (::fstat(fd, &st) != 0 || pos < 0) return 0;
        return std::max<std::int64_t>(0, st.st_size - pos);
    }
    int n = 0;
    if (::ioctl(fd, FIONREAD, &n) == 0) return n;
    return 1;  // a listening socket (BSD: its backlog) or an fd without FIONREAD
}

std::int64_t writable_space(int fd, Kind kind) {
    int queued = 0;
    if (is_socket(kind)) {
        int sndbuf = 0;
        socklen_t len = sizeof sndbuf;
        if (::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) == 0 &&
            ::ioctl(fd, TIOCOUTQ, &queued) == 0) {
            return std::max(1, sndbuf - queued);
        }
    } else if (kind == Kind::Pipe) {
        const int size = ::fcntl(fd, F_GETPIPE_SZ);
        if (size > 0 && ::ioctl(fd, FIONREAD, &queued) == 0) return std::max(1, size - queued);
    }
    return 1;
}

// Has our own side shut down writing (BSD's SBS_CANTSENDMORE)? Linux's epoll
// says so only once both directions are shut (EPOLLHUP).
bool send_side_shut(int fd, Kind kind) {
    const int saved = errno;
    bool shut = false;
    if (kind == Kind::TcpStream) {
        tcp_info info{};
        socklen_t len = sizeof info;
        if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0) {
            switch (info.tcpi_state) {
            case TCP_FIN_WAIT1: case TCP_FIN_WAIT2: case TCP_CLOSING:
            case TCP_LAST_ACK: case TCP_TIME_WAIT: case TCP_CLOSE:
                shut = true;
                break;
            default:
                break;
            }
        }
    } else if (kind == Kind::UnixStream) {
        // A zero-byte send on a stream moves no data; it fails with EPIPE
        // exactly when this side has shut down writing.
        shut = ::send(fd, nullptr, 0, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno == EPIPE;
    }
    errno = saved;
    return shut;
}

// Writes one kevent to the caller's list, or keeps it for the next wait if
// the list is full and the filter is edge-triggered.
void emit(Queue& q, const Watched& w, struct kevent* events, int nevents, int& out, int fd,
          short filter, const Filter& f, bool eof, unsigned int fflags, std::int64_t data) {
    struct kevent k {};
    k.ident = static_cast<uintptr_t>(fd);
    k.filter = filter;
    k.flags = static_cast<unsigned short>((f.clear ? EV_CLEAR : 0) | (eof ? EV_EOF : 0));
    k.fflags = fflags;
    k.data = data;
    k.udata = f.udata;
    if (out < nevents) {
        events[out++] = k;
    } else if (f.clear) {
        q.overflow.emplace_back(w.generation, k);
    }
}

// Returns the kept EV_CLEAR events whose filter is still there and enabled.
void report_overflow(Queue& q, struct kevent* events, int nevents, int& out) {
    std::vector<std::pair<std::uint32_t, struct kevent>> kept;
    for (const auto& [generation, k] : q.overflow) {
        auto it = q.fds.find(static_cast<int>(k.ident));
        if (it == q.fds.end() || it->second.generation != generation) continue;
        const Filter& f = k.filter == EVFILT_READ ? it->second.read : it->second.write;
        if (!f.present || !f.enabled || !f.clear) continue;
        if (out < nevents) {
            events[out++] = k;
        } else {
            kept.emplace_back(generation, k);
        }
    }
    q.overflow.swap(kept);
}

// Turns one epoll event into kevents, one per enabled filter it makes ready.
void report(Queue& q, const epoll_event& e, struct kevent* events, int nevents, int& out) {
    const int fd = static_cast<int>(e.data.u64 & 0xffffffffu);
    const auto generation = static_cast<std::uint32_t>(e.data.u64 >> 32);
    auto it = q.fds.find(fd);
    if (it == q.fds.end() || it->second.generation != generation) return;  // an older registration
    Watched& w = it->second;
    struct stat st {};
    if (::fstat(fd, &st) != 0 || st.st_dev != w.dev || st.st_ino != w.ino) {
        // Closed while a duplicate keeps the file (and its epoll entry) alive:
        // BSD dropped these filters at close.
        erase(q, it);
        return;
    }
    const std::uint32_t r = e.events;
    const bool error_pending = (r & EPOLLERR) != 0 && is_socket(w.kind);
    const std::uint32_t wakes_reader = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
    if (w.read.present && w.read.enabled && (r & wakes_reader) != 0) {
        const bool eof = (r & (EPOLLRDHUP | EPOLLHUP)) != 0;
        emit(q, w, events, nevents, out, fd, EVFILT_READ, w.read, eof,
             eof && error_pending ? KQUEUE_EMU_PENDING_ERROR : 0, readable_bytes(fd, w.kind));
    }
    if (w.write.present && w.write.enabled && (r & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0) {
        const bool eof = (r & EPOLLHUP) != 0 || ((r & EPOLLERR) != 0 && !is_socket(w.kind)) ||
                         send_side_shut(fd, w.kind);
        emit(q, w, events, nevents, out, fd, EVFILT_WRITE, w.write, eof,
             eof && error_pending ? KQUEUE_EMU_PENDING_ERROR : 0, writable_space(fd, w.kind));
    }
}

// Regular files (which epoll refuses): readable while unread bytes remain
// (FreeBSD filt_vfsread: data = size - offset, ready if non-zero; xnu
// filt_vnode_common the same), writable always (FreeBSD filt_vfswrite:
// data 0; xnu: data 1).
void report_regular_files(Queue& q, struct kevent* events, int nevents, int& out) {
    for (auto& [fd, w] : q.fds) {
        if (w.kind != Kind::Regular) continue;
        if (w.read.present && w.read.enabled && out < nevents) {
            const std::int64_t unread = readable_bytes(fd, w.kind);
            if (unread != 0) emit(q, w, events, nevents, out, fd, EVFILT_READ, w.read, false, 0, unread);
        }
        if (w.write.present && w.write.enabled && out < nevents) {
            emit(q, w, events, nevents, out, fd, EVFILT_WRITE, w.write, false, 0,
                 q.flavor == Flavor::MacOS ? 1 : 0);
        }
    }
}

int wait_for_events(Queue& q, int epfd, struct kevent* events, int nevents,
                    const struct timespec* timeout) {
    using Clock = std::chrono::steady_clock;
    const bool forever = timeout == nullptr;
    const Clock::time_point deadline =
        forever ? Clock::time_point::max()
                : Clock::now() + std::chrono::seconds(timeout->tv_sec) +
                      std::chrono::nanoseconds(timeout->tv_nsec);
    // Reused across calls (per thread), so a wait allocates nothing once warm,
    // as the real kevent() does: tests count allocations on the hot path.
    thread_local std::vector<epoll_event> ready;
    ready.resize(static_cast<std::size_t>(std::min(nevents, 1024)));
    int out = 0;
    for (;;) {
        int ms = -1;
        if (!forever) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
            ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, INT_MAX));
        }
        {
            std::lock_guard<std::mutex> lock(q.mu);
            if (!q.overflow.empty()) report_overflow(q, events, nevents, out);
            if (q.regular_files > 0) report_regular_files(q, events, nevents, out);
        }
        if (out == nevents) return out;
        if (out > 0) ms = 0;
        // A regular file becomes readable when someone appends to it, which
        // epoll cannot tell: look again every 10 ms while one is watched.
        bool files;
        {
            std::lock_guard<std::mutex> lock(q.mu);
            files = q.regular_files > 0;
        }
        if (files && (ms < 0 || ms > 10)) ms = 10;
        // An epoll event becomes one or two kevents: ask for no more events
        // than there is room for.
        const int n = ::epoll_wait(epfd, ready.data(), std::min(nevents - out, 1024), ms);
        if (n < 0) return out > 0 ? out : -1;  // errno is epoll_wait's (EINTR, ...)
        {
            std::lock_guard<std::mutex> lock(q.mu);
            for (int i = 0; i < n; ++i) {
                report(q, ready[static_cast<std::size_t>(i)], events, nevents, out);
            }
        }
        // Events that all belonged to stale registrations wake us without
        // anything to report: wait again for the rest of the timeout.
        if (out > 0) return out;
        if (!forever && Clock::now() >= deadline) return out;
    }
}

}  // namespace

namespace {

// fork(2): the child has no kqueues. Its copies of the emulation's epoll
// fds are closed, so their numbers are free there, as on BSD.
void before_fork() { g_queues_mu.lock(); }
void after_fork_parent() { g_queues_mu.unlock(); }
void after_fork_child() {
    for (const auto& entry : g_queues) ::close(entry.first);
    // The Queue objects are kept, not destroyed: another thread of the
    // parent may have held one's mutex at the fork, and it does not exist here.
    static std::vector<std::shared_ptr<Queue>> forked_away;
    for (auto& entry : g_queues) forked_away.push_back(std::move(entry.second));
    g_queues.clear();
    g_queues_mu.unlock();
}

}  // namespace

extern "C" int kqueue(void) {
    Flavor flavor{};
    if (!flavor_from_env(flavor)) {
        std::fprintf(stderr, "kqueue emulation: REACTOR_KQUEUE_FLAVOR must be freebsd or macos\n");
        errno = EINVAL;
        return -1;
    }
    static const int registered = ::pthread_atfork(before_fork, after_fork_parent, after_fork_child);
    (void)registered;
    const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return -1;
    std::lock_guard<std::mutex> lock(g_queues_mu);
    g_queues[epfd] = std::make_shared<Queue>(flavor);  // a reused number starts afresh
    return epfd;
}

extern "C" const char* kqueue_emu_flavor(void) {
    Flavor flavor{};
    if (!flavor_from_env(flavor)) return "unknown";
    return flavor == Flavor::MacOS ? "macos" : "freebsd";
}

extern "C" int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events,
                      int nevents, const struct timespec* timeout) {
    if (nchanges < 0 || nevents < 0 || (nchanges > 0 && changes == nullptr) ||
        (nevents > 0 && events == nullptr)) {
        errno = EINVAL;
        return -1;
    }
    const std::shared_ptr<Queue> q = find_queue(kq);
    if (q == nullptr) {
        errno = EBADF;
        return -1;
    }
    int out = 0;
    {
        std::lock_guard<std::mutex> lock(q->mu);
        for (int i = 0; i < nchanges; ++i) {
            // A copy: BSD allows the change list and the event list to be the
            // same array, so writing entries may overwrite later changes' slots
            // only after they were read.
            const struct kevent change = changes[i];
            const int err = apply(*q, kq, change);
            if (err == 0 && (change.flags & EV_RECEIPT) == 0) continue;
            if (out < nevents) {
                events[out] = change;
                // FreeBSD: EV_ERROR alone; xnu: EV_ERROR added to the
                // change's own flags (kevent_register's caller).
                events[out].flags = q->flavor == Flavor::MacOS
                                        ? static_cast<unsigned short>(change.flags | EV_ERROR)
                                        : static_cast<unsigned short>(EV_ERROR);
                events[out].data = err;
                ++out;
            } else if (err != 0) {
                errno = err;  // no room to report it: the call fails, later changes are not applied
                return -1;
            }
        }
    }
    // As on BSD: answers to changes are returned at once, without waiting.
    if (out > 0 || nevents == 0) return out;
    return wait_for_events(*q, kq, events, nevents, timeout);
}
