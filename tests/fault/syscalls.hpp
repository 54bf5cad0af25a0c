// tests/fault/syscalls.hpp -- TEST-ONLY: the system calls as the library
// sees them when it is built for the tests.
//
// src/base/syscall.hpp writes every socket and poller call REACTOR_SYS(name);
// in the test library (-DREACTOR_FAULT_INJECTION) that names the function
// of the same name and signature declared here. Each one asks the schedule
// the test installed (fault.hpp) what to do with this call -- let it
// through, fail it with an errno, or cut it short -- and then makes the real
// call (or not). With no schedule installed it is the real call and one
// relaxed atomic load. Not part of the shipped library.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/platform.hpp"

#if REACTOR_HAVE_EPOLL
#include <sys/epoll.h>
#endif
#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__NetBSD__) || \
    defined(__OpenBSD__) || defined(__DragonFly__) || defined(REACTOR_KQUEUE_EMULATION)
#include <sys/event.h>
#define REACTOR_FAULT_HAVE_KEVENT 1
#endif

namespace reactor::fault {

ssize_t read(int fd, void* data, size_t size);
ssize_t readv(int fd, const struct iovec* iov, int count);
ssize_t write(int fd, const void* data, size_t size);
ssize_t send(int fd, const void* data, size_t size, int flags);
ssize_t sendmsg(int fd, const struct msghdr* msg, int flags);
ssize_t recvfrom(int fd, void* data, size_t size, int flags, struct sockaddr* from, socklen_t* length);
ssize_t sendto(int fd, const void* data, size_t size, int flags, const struct sockaddr* to,
               socklen_t length);
int socket(int family, int type, int protocol);
int connect(int fd, const struct sockaddr* address, socklen_t length);
int accept(int fd, struct sockaddr* address, socklen_t* length);
#if REACTOR_HAVE_ACCEPT4
int accept4(int fd, struct sockaddr* address, socklen_t* length, int flags);
#endif
int shutdown(int fd, int how);
int getsockopt(int fd, int level, int name, void* value, socklen_t* length);
int poll(struct pollfd* fds, nfds_t count, int timeout_ms);
#if REACTOR_HAVE_EPOLL
int epoll_wait(int epfd, struct epoll_event* events, int max_events, int timeout_ms);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event);
#endif
#ifdef REACTOR_FAULT_HAVE_KEVENT
int kevent(int kq, const struct kevent* changes, int nchanges, struct kevent* events, int nevents,
           const struct timespec* timeout);
#endif

}  // namespace reactor::fault
