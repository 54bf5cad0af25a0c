// src/poller/kqueue.cpp -- the FreeBSD and macOS backend, over kqueue(2) and kevent(2).
//
// kqueue watches (fd, filter) pairs, not fds. Each fd gets up to two
// filters, EVFILT_READ and EVFILT_WRITE, added when first wanted, then
// disabled and enabled as the interest changes (a server turns write
// interest on and off all the time; disabling keeps the kernel's knote).
// slots_[fd] records which filters exist, so modify() sends only the changes
// needed and remove() deletes only what exists, and it holds the token: a
// udata pointer cannot carry a 64-bit token on a 32-bit BSD, and the merge
// below needs a per-fd record anyway.
//
// kevent() returns one entry per filter; wait() merges the entries of one fd
// into one PollEvent (STYLE.md, habit 2). Level-triggered (no EV_CLEAR).
//
// Translation:
//   EVFILT_READ                   -> Readable (with EV_EOF too: read() says 0
//                                    once the remaining bytes are read)
//   EVFILT_WRITE                  -> Writable
//   EV_EOF on both filters        -> Hangup: reading is over and writing is
//                                    too, as when epoll reports EPOLLHUP
//   EV_EOF with fflags != 0       -> Error (fflags is the socket's so_error)
//   EV_ERROR on a returned entry  -> Error
//   EV_EOF on a pipe's write end  -> Writable|Error, as epoll and poll say
//                                    (POLLERR): the reader is gone
// kqueue tells EOF per direction, so with a single filter registered there
// is never a Hangup; docs/backends.md has the table of what each backend
// reports where.
//
// Where FreeBSD and macOS differ (docs/backends.md, "FreeBSD and macOS"):
//   - EVFILT_WRITE on a pipe whose reader is gone: FreeBSD refuses it with
//     EPIPE and registers nothing (sys_pipe.c, pipe_kqfilter); macOS
//     registers it and reports EV_EOF at once (xnu sys_pipe.c). Either way
//     the fd is reported Writable|Error while write interest is on: for
//     FreeBSD this file remembers the refusal and reports it itself, since
//     no kernel event will ever come.
//   - The answer to a change: FreeBSD sets flags to EV_ERROR, macOS adds
//     EV_ERROR to the change's flags: only the EV_ERROR bit is tested.
//   - Deleting a filter of a closed fd: EBADF (FreeBSD) or ENOENT (macOS):
//     both mean "gone".
// Both kernels report a regular file readable only while unread bytes
// remain (FreeBSD filt_vfsread, xnu filt_vnode_common), so a program
// reading a redirected stdin to its end would never see EOF: add() refuses
// regular files and directories with EPERM, as epoll does (and poll.cpp).
//
// fork(): a kqueue is not inherited (kqueue(2)); in the child its number
// is free and may name another file. The destructor closes the kqueue only
// in the process that created it.
//
// Portability: only <sys/event.h>, <sys/types.h>, <sys/time.h>,
// <sys/stat.h>, <fcntl.h>, <unistd.h> and standard C++, so this file
// compiles unchanged on FreeBSD and macOS. On Linux the test build compiles it against the emulation in
// tests/kqueue_emu/ (REACTOR_KQUEUE_EMULATION).
#include "poller/backends.hpp"

#if REACTOR_HAVE_KQUEUE

#include "base/syscall.hpp"

// The order of kqueue(2)'s synopsis, which older systems need.
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace reactor::detail {
namespace {

enum class FilterState : std::uint8_t { Absent, Enabled, Disabled };

// What this poller knows about one fd. Invariant: `registered` exactly when
// at least one filter is not Absent, and then the kernel holds that filter
// (until the fd is closed) -- except a write filter the kernel refused with
// EPIPE (`write_refused`): then `write` records only the interest, and
// wait() reports Writable|Error itself while it is Enabled. `pipe` says the
// fd is a pipe or FIFO. The last four fields are scratch for wait():
// `wait_number` says which wait last saw the fd, and then `position` is its
// entry in the output and the eof flags say which filters reported EOF.
struct Slot {
    bool registered = false;
    bool pipe = false;
    bool write_refused = false;
    FilterState read = FilterState::Absent;
    FilterState write = FilterState::Absent;
    std::uint64_t token = 0;
    std::uint64_t wait_number = 0;
    std::size_t position = 0;
    bool read_eof = false;
    bool write_eof = false;
};

// One filter change for one fd.
struct Change {
    short filter;
    unsigned short flags;
};

class KqueuePoller final : public Poller {
public:
    KqueuePoller() : kq_(::kqueue()), owner_(::getpid()), events_(64) {
        if (kq_ < 0) throw_error(last_error(), "reactor: kqueue");
        // A kqueue is not inherited across fork(2), but it would survive a
        // plain exec(2) without this.
        if (::fcntl(kq_, F_SETFD, FD_CLOEXEC) != 0) {
            const std::error_code ec = last_error();
            ::close(kq_);
            throw_error(ec, "reactor: fcntl(kqueue, FD_CLOEXEC)");
        }
    }
    // In a child of fork() the number kq_ is not this kqueue (not inherited)
    // and may be any file the child opened since: leave it alone.
    ~KqueuePoller() override {
        if (::getpid() == owner_) ::close(kq_);
    }

    std::string_view name() const noexcept override { return "kqueue"; }

    std::error_code add(int fd, Events interest, std::uint64_t token) override {
        if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
        interest &= Readable | Writable;
        if (interest == NoEvents) return std::make_error_code(std::errc::invalid_argument);
        const auto index = static_cast<std::size_t>(fd);
        if (index >= slots_.size()) slots_.resize(index + 1);
        Slot& s = slots_[index];
        if (s.registered) return std::make_error_code(std::errc::file_exists);
        struct stat st {};
        if (::fstat(fd, &st) != 0) return last_error();
        // Readable under kqueue only while unread bytes remain: EOF would
        // never be reported. Refused, as epoll refuses them.
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
            return std::make_error_code(std::errc::operation_not_permitted);
        }
        const bool pipe = S_ISFIFO(st.st_mode);

        std::array<Change, 2> changes{};
        std::size_t n = 0;
        if (interest & Readable) changes[n++] = {EVFILT_READ, EV_ADD};
        if (interest & Writable) changes[n++] = {EVFILT_WRITE, EV_ADD};
        std::array<int, 2> errors = submit(fd, changes, n);
        bool write_refused = false;
        for (std::size_t i = 0; i < n; ++i) {
            if (refused_for_dead_pipe(changes[i], errors[i])) {
                errors[i] = 0;
                write_refused = true;
            }
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (errors[i] == 0) continue;
            // All or nothing: take back the filters that were added.
            std::array<Change, 2> undo{};
            std::size_t m = 0;
            for (std::size_t j = 0; j < n; ++j) {
                const bool refused = write_refused && changes[j].filter == EVFILT_WRITE;
                if (errors[j] == 0 && !refused) undo[m++] = {changes[j].filter, EV_DELETE};
            }
            (void)submit(fd, undo, m);
            return {errors[i], std::system_category()};
        }
        s.registered = true;
        s.read = (interest & Readable) ? FilterState::Enabled : FilterState::Absent;
        s.write = (interest & Writable) ? FilterState::Enabled : FilterState::Absent;
        s.token = token;
        s.pipe = pipe;
        s.write_refused = write_refused;
        if (write_refused) refused_.push_back(fd);
        return {};
    }

    std::error_code modify(int fd, Events interest, std::uint64_t token) override {
        Slot* s = find(fd);
        if (s == nullptr) return std::make_error_code(std::errc::no_such_file_or_directory);
        interest &= Readable | Writable;
        if (interest == NoEvents) return std::make_error_code(std::errc::invalid_argument);
        s->token = token;

        std::array<Change, 2> changes{};
        std::array<FilterState*, 2> states{};
        std::array<FilterState, 2> next{};
        std::size_t n = 0;
        auto plan = [&](short filter, FilterState& state, bool wanted) {
            if (filter == EVFILT_WRITE && s->write_refused) {
                // Nothing in the kernel: only the interest changes.
                state = wanted ? FilterState::Enabled : FilterState::Disabled;
                return;
            }
            if (wanted && state != FilterState::Enabled) {
                // EV_ADD creates an absent filter and updates an existing
                // one; EV_ENABLE is still needed for a disabled one, because
                // re-adding alone was seen to leave a disabled knote
                // disabled on macOS (andrewjstone/amy#13).
                changes[n] = {filter, static_cast<unsigned short>(EV_ADD | EV_ENABLE)};
                next[n] = FilterState::Enabled;
            } else if (!wanted && state == FilterState::Enabled) {
                changes[n] = {filter, EV_DISABLE};
                next[n] = FilterState::Disabled;
            } else {
                return;
            }
            states[n++] = &state;
        };
        plan(EVFILT_READ, s->read, (interest & Readable) != 0);
        plan(EVFILT_WRITE, s->write, (interest & Writable) != 0);

        const std::array<int, 2> errors = submit(fd, changes, n);
        std::error_code first;
        for (std::size_t i = 0; i < n; ++i) {
            if (*states[i] == FilterState::Absent && refused_for_dead_pipe(changes[i], errors[i])) {
                s->write_refused = true;
                refused_.push_back(fd);
                *states[i] = next[i];
            } else if (errors[i] == 0) {
                *states[i] = next[i];
            } else if (!first) {
                first = {errors[i], std::system_category()};
            }
        }
        return first;
    }

    std::error_code remove(int fd) override {
        Slot* s = find(fd);
        if (s == nullptr) return std::make_error_code(std::errc::no_such_file_or_directory);

        std::array<Change, 2> changes{};
        std::array<FilterState*, 2> states{};
        std::size_t n = 0;
        if (s->read != FilterState::Absent) {
            changes[n] = {EVFILT_READ, EV_DELETE};
            states[n++] = &s->read;
        }
        if (s->write_refused) {
            s->write = FilterState::Absent;  // never in the kernel
        } else if (s->write != FilterState::Absent) {
            changes[n] = {EVFILT_WRITE, EV_DELETE};
            states[n++] = &s->write;
        }
        const std::array<int, 2> errors = submit(fd, changes, n);
        std::error_code first;
        for (std::size_t i = 0; i < n; ++i) {
            // Closing an fd removes every kevent that references it
            // (kqueue(2)), so deleting them afterwards fails with EBADF, or
            // with ENOENT if the number was reused: either way they are gone.
            if (errors[i] == 0 || errors[i] == EBADF || errors[i] == ENOENT) {
                *states[i] = FilterState::Absent;
            } else if (!first) {
                first = {errors[i], std::system_category()};
            }
        }
        // Forgotten even if a delete failed (ENOMEM): the fd is about to be
        // closed, which drops its filters, or given up on; a slot left
        // registered would refuse the next fd with this number (EEXIST).
        // Found by fault injection (tests/fault_injection_test.cpp).
        if (s->write_refused) std::erase(refused_, fd);
        *s = Slot{};
        return first;
    }

    std::error_code wait(std::vector<PollEvent>& out, int timeout_ms) override {
        out.clear();
        struct timespec ts {};
        const struct timespec* timeout = nullptr;  // null: wait without limit
        if (timeout_ms >= 0) {
            ts.tv_sec = timeout_ms / 1000;
            ts.tv_nsec = static_cast<long>(timeout_ms % 1000) * 1000000L;
            timeout = &ts;
        }
        // A refused write filter with write interest is ready now: look
        // without sleeping.
        for (int fd : refused_) {
            const Slot* s = find(fd);
            if (s != nullptr && s->write == FilterState::Enabled) {
                ts = {};
                timeout = &ts;
                break;
            }
        }
        int n = REACTOR_SYS(kevent)(kq_, nullptr, 0, events_.data(), static_cast<int>(events_.size()), timeout);
        if (n < 0) {
            if (errno != EINTR) return last_error();
            n = 0;
        }

        ++wait_number_;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            const struct kevent& ev = events_[static_cast<std::size_t>(i)];
            // Changes are applied synchronously by add/modify/remove, so every
            // returned filter belongs to a registered fd; stay defensive.
            Slot* s = find(static_cast<int>(ev.ident));
            if (s == nullptr) continue;
            if (s->wait_number != wait_number_) {
                s->wait_number = wait_number_;
                s->position = out.size();
                s->read_eof = false;
                s->write_eof = false;
                out.push_back(PollEvent{s->token, NoEvents});
            }
            out[s->position].events |= translate(ev, *s);
        }
        for (int fd : refused_) {
            Slot* s = find(fd);
            if (s == nullptr || s->write != FilterState::Enabled) continue;
            if (s->wait_number != wait_number_) {
                s->wait_number = wait_number_;
                s->position = out.size();
                s->read_eof = false;
                s->write_eof = false;
                out.push_back(PollEvent{s->token, NoEvents});
            }
            out[s->position].events |= Writable | Error;
        }
        // A full batch hints at more ready filters: take more next time.
        if (n > 0 && static_cast<std::size_t>(n) == events_.size() && events_.size() < 8192) {
            events_.resize(events_.size() * 2);
        }
        return {};
    }

private:
    // FreeBSD refuses EVFILT_WRITE on a pipe whose reader is gone with EPIPE
    // and registers nothing (sys_pipe.c, pipe_kqfilter; older macOS too,
    // tokio-rs/mio#582). The fd is writable -- write() fails with EPIPE at
    // once -- so the caller must still be woken: wait() reports it.
    static bool refused_for_dead_pipe(const Change& change, int error) {
        return change.filter == EVFILT_WRITE && (change.flags & EV_ADD) != 0 && error == EPIPE;
    }

    Slot* find(int fd) {
        if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return nullptr;
        Slot& s = slots_[static_cast<std::size_t>(fd)];
        return s.registered ? &s : nullptr;
    }

    // The events one returned filter contributes to its fd's PollEvent.
    static Events translate(const struct kevent& ev, Slot& s) {
        if ((ev.flags & EV_ERROR) != 0) return Error;
        Events e = NoEvents;
        const bool eof = (ev.flags & EV_EOF) != 0;
        if (ev.filter == EVFILT_READ) {
            e |= Readable;
            s.read_eof = s.read_eof || eof;
        } else if (ev.filter == EVFILT_WRITE) {
            e |= Writable;
            s.write_eof = s.write_eof || eof;
            // A pipe's reader is gone (macOS reports it so, FreeBSD once it
            // happens after the filter was added): epoll and poll say POLLERR.
            if (eof && s.pipe) e |= Error;
        }
        // With EV_EOF, a socket's filters carry its pending error in fflags
        // (FreeBSD filt_soread/filt_sowrite; the same on macOS).
        if (eof && ev.fflags != 0) e |= Error;
        // EV_EOF on the write filter alone also follows our own
        // shutdown(SHUT_WR); only both directions over is a hang-up.
        if (s.read_eof && s.write_eof) e |= Hangup;
        return e;
    }

    // Applies `count` changes to `fd` with one kevent() call and returns
    // each change's errno (0: done). EV_RECEIPT makes the kernel answer every
    // change with an EV_ERROR entry (data = errno or 0) and return at once,
    // without collecting ready events, so each failure is reported by the
    // add/modify/remove that caused it.
    std::array<int, 2> submit(int fd, const std::array<Change, 2>& changes, std::size_t count) {
        std::array<int, 2> errors{};
        if (count == 0) return errors;
        std::array<struct kevent, 2> list{};
        std::array<struct kevent, 2> receipts{};
        for (std::size_t i = 0; i < count; ++i) {
            // Typed exactly: FreeBSD's EV_SET is a braced initializer, where
            // an int would be a narrowing error.
            const auto flags = static_cast<unsigned short>(changes[i].flags | EV_RECEIPT);
            EV_SET(&list[i], static_cast<uintptr_t>(fd), changes[i].filter, flags, 0, 0, 0);
        }
        const struct timespec no_wait {};
        const int n = REACTOR_SYS(kevent)(kq_, list.data(), static_cast<int>(count), receipts.data(),
                               static_cast<int>(count), &no_wait);
        if (n < 0) {
            // kqueue(2), ERRORS: when kevent() fails with EINTR, the changes
            // in the change list have already been applied.
            if (errno == EINTR) return errors;
            for (std::size_t i = 0; i < count; ++i) errors[i] = errno;
            return errors;
        }
        for (int r = 0; r < n; ++r) {
            const struct kevent& answer = receipts[static_cast<std::size_t>(r)];
            if ((answer.flags & EV_ERROR) == 0 || answer.data == 0) continue;
            for (std::size_t i = 0; i < count; ++i) {
                if (list[i].filter == answer.filter) errors[i] = static_cast<int>(answer.data);
            }
        }
        return errors;
    }

    int kq_;
    pid_t owner_;                        // the process whose kqueue kq_ is
    std::vector<int> refused_;           // fds whose write filter was refused (EPIPE)
    std::vector<Slot> slots_;            // by fd
    std::vector<struct kevent> events_;  // wait()'s buffer, grown when a batch fills it
    std::uint64_t wait_number_ = 0;
};

}  // namespace

std::unique_ptr<Poller> make_kqueue_poller() { return std::make_unique<KqueuePoller>(); }

}  // namespace reactor::detail

#endif  // REACTOR_HAVE_KQUEUE
