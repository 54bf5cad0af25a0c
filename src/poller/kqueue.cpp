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
// kqueue tells EOF per direction, so with a single filter registered there
// is never a Hangup; docs/backends.md has the table of what each backend
// reports where.
//
// Portability: only <sys/event.h>, <sys/types.h>, <sys/time.h>, <fcntl.h>,
// <unistd.h> and standard C++, so this file compiles unchanged on FreeBSD
// and macOS. On Linux the test build compiles it against the emulation in
// tests/kqueue_emu/ (REACTOR_KQUEUE_EMULATION).
#include "poller/backends.hpp"

#if REACTOR_HAVE_KQUEUE

#include "base/syscall.hpp"

// The order of kqueue(2)'s synopsis, which older systems need.
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>

namespace reactor::detail {
namespace {

enum class FilterState : std::uint8_t { Absent, Enabled, Disabled };

// What this poller knows about one fd. Invariant: `registered` exactly when
// at least one filter is not Absent, and then the kernel holds that filter
// (until the fd is closed). The last four fields are scratch for wait():
// `wait_number` says which wait last saw the fd, and then `position` is its
// entry in the output and the eof flags say which filters reported EOF.
struct Slot {
    bool registered = false;
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
    KqueuePoller() : kq_(::kqueue()), events_(64) {
        if (kq_ < 0) throw_error(last_error(), "reactor: kqueue");
        // A kqueue is not inherited across fork(2), but it would survive a
        // plain exec(2) without this.
        if (::fcntl(kq_, F_SETFD, FD_CLOEXEC) != 0) {
            const std::error_code ec = last_error();
            ::close(kq_);
            throw_error(ec, "reactor: fcntl(kqueue, FD_CLOEXEC)");
        }
    }
    ~KqueuePoller() override { ::close(kq_); }

    std::string_view name() const noexcept override { return "kqueue"; }

    std::error_code add(int fd, Events interest, std::uint64_t token) override {
        if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
        interest &= Readable | Writable;
        if (interest == NoEvents) return std::make_error_code(std::errc::invalid_argument);
        const auto index = static_cast<std::size_t>(fd);
        if (index >= slots_.size()) slots_.resize(index + 1);
        Slot& s = slots_[index];
        if (s.registered) return std::make_error_code(std::errc::file_exists);

        std::array<Change, 2> changes{};
        std::size_t n = 0;
        if (interest & Readable) changes[n++] = {EVFILT_READ, EV_ADD};
        if (interest & Writable) changes[n++] = {EVFILT_WRITE, EV_ADD};
        std::array<int, 2> errors = submit(fd, changes, n);
        for (std::size_t i = 0; i < n; ++i) {
            // Older macOS (10.10, 10.11) fails EV_ADD with EPIPE for a pipe
            // whose other end is already closed, yet registers the filter and
            // then reports its EOF (tokio-rs/mio#582): not an error.
            if (errors[i] == EPIPE) errors[i] = 0;
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (errors[i] == 0) continue;
            // All or nothing: take back the filters that were added.
            std::array<Change, 2> undo{};
            std::size_t m = 0;
            for (std::size_t j = 0; j < n; ++j) {
                if (errors[j] == 0) undo[m++] = {changes[j].filter, EV_DELETE};
            }
            (void)submit(fd, undo, m);
            return {errors[i], std::system_category()};
        }
        s.registered = true;
        s.read = (interest & Readable) ? FilterState::Enabled : FilterState::Absent;
        s.write = (interest & Writable) ? FilterState::Enabled : FilterState::Absent;
        s.token = token;
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
            if (errors[i] == 0) {
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
        if (s->write != FilterState::Absent) {
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
        const int n =
            REACTOR_SYS(kevent)(kq_, nullptr, 0, events_.data(), static_cast<int>(events_.size()), timeout);
        if (n < 0) return errno == EINTR ? std::error_code{} : last_error();

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
        // A full batch hints at more ready filters: take more next time.
        if (static_cast<std::size_t>(n) == events_.size() && events_.size() < 8192) {
            events_.resize(events_.size() * 2);
        }
        return {};
    }

private:
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
    std::vector<Slot> slots_;            // by fd
    std::vector<struct kevent> events_;  // wait()'s buffer, grown when a batch fills it
    std::uint64_t wait_number_ = 0;
};

}  // namespace

std::unique_ptr<Poller> make_kqueue_poller() { return std::make_unique<KqueuePoller>(); }

}  // namespace reactor::detail

#endif  // REACTOR_HAVE_KQUEUE
