/* tests/kqueue_emu/sys/event.h -- TEST-ONLY EMULATION of BSD kqueue on Linux.
 *
 * THIS IS NOT THE REAL <sys/event.h>. It exists so that the kqueue backend
 * (src/poller/kqueue.cpp) can be compiled, unchanged, and run by the whole
 * test suite on Linux. The test build puts tests/kqueue_emu first on the
 * include path (Makefile: TEST_CPPFLAGS) and links kqueue_emu.cpp into every
 * test binary; the installed library never sees this file.
 *
 * What is emulated, on top of epoll (kqueue_emu.cpp has the details):
 *   - struct kevent with the BSD field names, EV_SET, kqueue(), kevent();
 *   - filters EVFILT_READ and EVFILT_WRITE on sockets, pipes and other
 *     pollable fds, and on regular files (readable while unread bytes
 *     remain, writable always, as on BSD);
 *   - two kernels, chosen by REACTOR_KQUEUE_FLAVOR=freebsd (the default) or
 *     macos when a queue is created, where they differ: the flags of an
 *     answer to a change, the errno of a change to a closed fd, and
 *     EVFILT_WRITE on a pipe whose reader is gone (kqueue_emu.cpp has the
 *     table and the kernel sources it follows);
 *   - kqueues not inherited by fork(): closed in the child;
 *   - flags EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_CLEAR, EV_RECEIPT
 *     on input, EV_EOF and EV_ERROR on output;
 *   - change lists applied in order before waiting, a failing change
 *     reported as an EV_ERROR entry (data = errno) when EV_RECEIPT is set or
 *     the event list has room, else kevent() fails with that errno;
 *   - registrations dropped when their fd is closed, as kqueue does.
 *
 * Known gaps against a real kernel (also listed in docs/backends.md):
 *   - fflags with EV_EOF is non-zero exactly when a socket error is pending,
 *     but it holds the stand-in KQUEUE_EMU_PENDING_ERROR, not the errno:
 *     Linux cannot read SO_ERROR without clearing it, and clearing it would
 *     change what the program itself reads later.
 *   - EV_ONESHOT, EV_DISPATCH and every other filter are refused (EINVAL);
 *     EV_CLEAR is per fd (epoll's EPOLLET), so an fd whose two filters
 *     disagree about EV_CLEAR is refused (EINVAL).
 *   - A registered fd closed while a duplicate of it stays open is no longer
 *     reported (as on BSD), but epoll still wakes the emulation for it.
 */
#ifndef REACTOR_TESTS_KQUEUE_EMU_SYS_EVENT_H
#define REACTOR_TESTS_KQUEUE_EMU_SYS_EVENT_H

/* Treated as the system header it stands in for: a function named like its
 * struct (kevent) is what BSD declares, and -Wshadow would flag it here. */
#pragma GCC system_header

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define REACTOR_KQUEUE_EMU 1

/* The filters (negative, as on every BSD). */
#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)

/* Input flags: what a change does. */
#define EV_ADD 0x0001     /* add the (ident, filter) pair, or update it */
#define EV_DELETE 0x0002  /* remove it */
#define EV_ENABLE 0x0004  /* report it again */
#define EV_DISABLE 0x0008 /* keep it, report nothing */
#define EV_ONESHOT 0x0010 /* not emulated: refused with EINVAL */
#define EV_CLEAR 0x0020   /* edge-triggered: report changes only */
#define EV_RECEIPT 0x0040 /* always answer the change with an EV_ERROR entry */
#define EV_DISPATCH 0x0080 /* not emulated: refused with EINVAL */

/* Output flags. */
#define EV_ERROR 0x4000 /* this entry answers a change; data = errno or 0 */
#define EV_EOF 0x8000   /* EOF on this direction; fflags = pending error */

/* The fflags value reported with EV_EOF when a socket error is pending. */
#define KQUEUE_EMU_PENDING_ERROR 5 /* EIO */

struct kevent {
    uintptr_t ident;       /* the fd */
    short filter;          /* EVFILT_READ or EVFILT_WRITE */
    unsigned short flags;  /* EV_* */
    unsigned int fflags;   /* with EV_EOF: the pending error, if any */
    int64_t data;          /* bytes readable / space to write / errno */
    void* udata;           /* opaque, returned as given */
};

/* The shape of FreeBSD's macro (a compound literal with designated
 * initializers), so that C++ code that would not compile there, e.g. an int
 * narrowed into `flags` inside the braces, does not compile here either. */
#define EV_SET(kevp, a, b, c, d, e, f)  \
    do {                                \
        *(kevp) = (struct kevent){      \
            .ident = (a),               \
            .filter = (b),              \
            .flags = (c),               \
            .fflags = (d),              \
            .data = (e),                \
            .udata = (f),               \
        };                              \
    } while (0)

#ifdef __cplusplus
extern "C" {
#endif

/* Creates an (emulated) kqueue: a real fd, closed with close(). */
int kqueue(void);

/* The emulated kernel: "freebsd" or "macos" (REACTOR_KQUEUE_FLAVOR), or
 * "unknown" for any other value (then kqueue() fails with EINVAL). */
const char* kqueue_emu_flavor(void);

/* Applies `changes` in order, then, if `nevents` > 0 and no change wrote an
 * EV_ERROR entry, waits up to `timeout` (NULL: no limit) for ready filters.
 * Returns the number of entries written to `events`, or -1 with errno set
 * (EBADF: not a kqueue; EINVAL: bad counts; EINTR: interrupted wait; or the
 * errno of a failing change that found no room in `events`). */
int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events,
           int nevents, const struct timespec* timeout);

#ifdef __cplusplus
}
#endif

#endif
