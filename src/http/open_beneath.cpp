// src/http/open_beneath.cpp -- opening a file beneath a root directory, so
// that neither ".." nor a symbolic link can lead out of it; and opening what
// a request path names for a file server. The system-call side of
// static_files.hpp.
//
// Two implementations with one contract (static_files.hpp, open_beneath()):
//
//   open_beneath ──► Linux 5.6+: openat2(RESOLVE_BENEATH)   the directories in one call
//                └─► otherwise:  component walk             POSIX openat / readlinkat
//
// The walk keeps a stack of directory fds, the root at the bottom. Each
// component is opened with O_NOFOLLOW relative to the top of the stack; ".."
// pops (and popping the root is an escape); a symbolic link is read and its
// target's components are pushed in front of the remaining ones, so the
// target is resolved by the same rules. Nothing is ever resolved by the
// kernel across more than one component, so a link swapped in while we walk
// is noticed at its openat(O_NOFOLLOW) and then resolved beneath the root
// like any other.
//
// The last component is looked at before it is opened, in both ways:
//
//   parent dir fd + name ──► fstatat(AT_SYMLINK_NOFOLLOW)
//        symbolic link   ──► read it, resolve its target beneath the root
//        regular file    ──► openat(O_NOFOLLOW | O_NONBLOCK), fstat: the same
//        directory       ──► openat(O_DIRECTORY | O_NOFOLLOW), fstat: the same
//        anything else   ──► ENXIO, never opened
//
// Opening a FIFO, a device or a socket can block or have side effects (a
// FIFO's writers wake up; a tape rewinds; a watchdog arms), so such a file
// must be refused by its type, not after it was opened. The walk stands in
// the parent directory anyway; the openat2 way opens the parent with
// RESOLVE_BENEATH (O_PATH: no read permission needed) and takes the last
// step itself. Between fstatat() and openat() the name can be replaced;
// O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK and O_NOCTTY bound what such a swap
// can do (no link followed, no wait, no controlling terminal), and the fstat
// after the open catches it (another inode): the fd is closed and the name
// looked at again.
#include <reactor/http/static_files.hpp>

#include "http/open_beneath.hpp"
#include "base/syscall.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "base/platform.hpp"

#if REACTOR_HAVE_OPENAT2
#include <linux/openat2.h>
#include <sys/syscall.h>
#if !defined(SYS_openat2)  // C library headers older than the kernel's
#undef REACTOR_HAVE_OPENAT2
#define REACTOR_HAVE_OPENAT2 0
#endif
#endif

namespace reactor::detail {

namespace {

// How every file is opened. O_NONBLOCK: should a FIFO be swapped in after
// its type was checked, opening it must not wait for a writer (holding a
// worker thread forever); it does not change reads of a regular file.
// O_NOCTTY: nor may a terminal swapped in become our controlling terminal.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
// The last component, once its type is known: never through a link.
constexpr int kFileFlags = kOpenFlags | O_NOFOLLOW;
constexpr int kDirFlags = kOpenFlags | O_NOFOLLOW | O_DIRECTORY;

// As Linux's MAXSYMLINKS: more links than this in one resolution is a loop.
constexpr int kMaxLinks = 40;

// How often the last component is looked at again when it changed between
// fstatat() and openat(); past that, someone is swapping it on purpose.
constexpr int kMaxLookAgain = 8;

std::error_code errno_code(int e) {
    return {e, std::system_category()};
}

// The directories walked so far: the caller's root fd (not ours to close)
// at the bottom, fds we opened above it.
class DirStack {
public:
    explicit DirStack(int root) : root_(root) {}
    ~DirStack() {
        for (int fd : owned_) ::close(fd);
    }
    DirStack(const DirStack&) = delete;
    DirStack& operator=(const DirStack&) = delete;

    int top() const { return owned_.empty() ? root_ : owned_.back(); }
    void push(int fd) { owned_.push_back(fd); }
    // False when at the root: ".." there would leave it.
    bool pop() {
        if (owned_.empty()) return false;
        ::close(owned_.back());
        owned_.pop_back();
        return true;
    }

private:
    int root_;
    std::vector<int> owned_;
};

// Puts the components of `path` in front of `pending`, in order.
void push_front_components(std::deque<std::string>& pending, std::string_view path) {
    std::vector<std::string> parts;
    std::size_t begin = 0;
    while (begin <= path.size()) {
        std::size_t end = path.find('/', begin);
        if (end == std::string_view::npos) end = path.size();
        parts.emplace_back(path.substr(begin, end - begin));
        begin = end + 1;
    }
    pending.insert(pending.begin(), parts.begin(), parts.end());
}

// Reads the symbolic link `name` in `dir`; false if it is not one (or
// cannot be read).
bool read_link(int dir, const std::string& name, std::string& target) {
    char buf[PATH_MAX];
    const ssize_t n = ::readlinkat(dir, name.c_str(), buf, sizeof buf);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof buf) return false;
    target.assign(buf, static_cast<std::size_t>(n));
    return true;
}

bool is_absolute_or_has_nul(std::string_view path) {
    return (!path.empty() && path.front() == '/') || path.find('\0') != std::string_view::npos;
}

// A symbolic link met during a resolution: counts it and checks its target
// can be resolved beneath the root. False with `ec` set if not.
bool accept_link(const std::string& target, int& links, std::error_code& ec) {
    if (++links > kMaxLinks) {
        ec = errno_code(ELOOP);
        return false;
    }
    if (target.empty()) {
        ec = errno_code(ENOENT);
        return false;
    }
    if (target.front() == '/') {
        ec = errno_code(EXDEV);
        return false;
    }
    return true;
}

// The outcome of open_last(): an open fd; or a symbolic link (its target,
// still to be resolved); or neither, with the error code set.
struct LastStep {
    int fd = -1;
    bool link = false;
    std::string target;
};

// Opens `name` in the directory `dir` if it is a regular file or a
// directory, having read its type first; see the top of the file.
LastStep open_last(int dir, const std::string& name, std::error_code& ec) {
    LastStep step;
    for (int look = 0; look < kMaxLookAgain; ++look) {
        struct stat before{};
        if (retry_eintr(ec, [&] {
                return ::fstatat(dir, name.c_str(), &before, AT_SYMLINK_NOFOLLOW);
            }) != 0) {
            return step;
        }
        if (S_ISLNK(before.st_mode)) {
            if (read_link(dir, name, step.target)) {
                step.link = true;
                ec.clear();
                return step;
            }
            continue;  // no longer a link: look again
        }
        int flags = 0;
        if (S_ISREG(before.st_mode)) {
            flags = kFileFlags;
        } else if (S_ISDIR(before.st_mode)) {
            flags = kDirFlags;
        } else {
            // A FIFO, a device or a socket: refused unopened. ENXIO is what
            // open() itself says for a socket.
            ec = errno_code(ENXIO);
            return step;
        }
        const int fd = retry_eintr(ec, [&] { return ::openat(dir, name.c_str(), flags); });
        if (fd < 0) {
            // Replaced between the two calls: by a link (ELOOP; EMLINK on
            // FreeBSD), by a non-directory (ENOTDIR), or removed (ENOENT).
            const int error = ec.value();
            if (error == ELOOP || error == EMLINK || error == ENOTDIR || error == ENOENT) continue;
            return step;
        }
        struct stat after{};
        if (::fstat(fd, &after) == 0 && after.st_dev == before.st_dev &&
            after.st_ino == before.st_ino &&
            (after.st_mode & S_IFMT) == (before.st_mode & S_IFMT)) {
            step.fd = fd;
            ec.clear();
            return step;
        }
        ::close(fd);  // another file was swapped in: look again
    }
    ec = errno_code(EAGAIN);
    return step;
}

}  // namespace

#if REACTOR_HAVE_OPENAT2
namespace {

// One openat2() beneath `root_fd`, retried as the kernel asks.
int openat2_beneath(int root_fd, const std::string& path, int flags, std::error_code& ec) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    // RESOLVE_NO_MAGICLINKS: /proc/self/fd/N style links, which jump
    // anywhere, are refused even if someone mounted /proc beneath the root.
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0;; ++attempt) {
        const long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
        if (fd >= 0) {
            ec.clear();
            return static_cast<int>(fd);
        }
        // EAGAIN: a rename or mount elsewhere raced with the resolution of
        // ".." and the kernel refused to guess (openat2(2)); trying again is
        // the documented answer.
        if (errno == EINTR || (errno == EAGAIN && attempt < 8)) continue;
        ec = last_error();
        return -1;
    }
}

}  // namespace
#endif

int open_beneath_kernel(int root_fd, std::string_view relative, std::error_code& ec) {
#if REACTOR_HAVE_OPENAT2
    if (is_absolute_or_has_nul(relative)) {
        ec = errno_code(relative.front() == '/' ? EXDEV : ENOENT);
        return -1;
    }
    // The kernel resolves everything up to the last component; the last
    // step is open_last()'s. A link there is resolved by putting its target
    // in place of the name and letting the kernel resolve the result.
    std::string path(relative);
    int links = 0;
    for (;;) {
        const std::size_t slash = path.rfind('/');
        // The directory part, with its '/' ("" for a name in the root).
        const std::string dir = path.substr(0, slash == std::string::npos ? 0 : slash + 1);
        const std::string name = path.substr(dir.size());
        if (name.empty() || name == "." || name == "..") {
            // The path names a directory: O_DIRECTORY refuses anything else
            // before the kernel would open it.
            return openat2_beneath(root_fd, path.empty() ? "." : path, kOpenFlags | O_DIRECTORY,
                                   ec);
        }
        // A name in the root itself needs no parent opened. O_PATH: the
        // parent is only a place to stand, so search permission suffices.
        const int parent = dir.empty() ? root_fd
                                       : openat2_beneath(root_fd, dir,
                                                         O_PATH | O_DIRECTORY | O_CLOEXEC, ec);
        if (parent < 0) return -1;
        LastStep step = open_last(parent, name, ec);
        if (parent != root_fd) ::close(parent);
        if (!step.link) return step.fd;
        if (!accept_link(step.target, links, ec)) return -1;
        path = dir + step.target;
    }
#else
    (void)root_fd;
    (void)relative;
    ec = errno_code(ENOSYS);
    return -1;
#endif
}

int open_beneath_walk(int root_fd, std::string_view relative, std::error_code& ec) {
    if (is_absolute_or_has_nul(relative)) {
        ec = errno_code(relative.front() == '/' ? EXDEV : ENOENT);
        return -1;
    }
    std::deque<std::string> pending;
    push_front_components(pending, relative);
    DirStack dirs(root_fd);
    int links = 0;

    while (!pending.empty()) {
        const std::string name = std::move(pending.front());
        pending.pop_front();
        if (name.empty() || name == ".") continue;
        if (name == "..") {
            if (!dirs.pop()) {
                ec = errno_code(EXDEV);
                return -1;
            }
            continue;
        }
        if (pending.empty()) {
            // The last component: its type is read before it is opened.
            LastStep step = open_last(dirs.top(), name, ec);
            if (!step.link) return step.fd;
            if (!accept_link(step.target, links, ec)) return -1;
            push_front_components(pending, step.target);
            continue;
        }
        // Anything after this component (even "" from a trailing '/')
        // means it must be a directory, as the kernel's resolution says;
        // O_DIRECTORY refuses anything else before it would be opened.
        const int fd = retry_eintr(ec, [&] { return ::openat(dirs.top(), name.c_str(), kDirFlags); });
        if (fd >= 0) {
            dirs.push(fd);
            continue;
        }
        // O_NOFOLLOW met a symbolic link: Linux and macOS say ELOOP,
        // FreeBSD says EMLINK, and with O_DIRECTORY some systems say
        // ENOTDIR. readlinkat() tells a link from a real error of that kind.
        const int error = ec.value();
        std::string target;
        if ((error == ELOOP || error == EMLINK || error == ENOTDIR) &&
            read_link(dirs.top(), name, target)) {
            if (!accept_link(target, links, ec)) return -1;
            push_front_components(pending, target);
            continue;
        }
        return -1;
    }
    // The path ended on a directory (the root itself, or after "x/.."):
    // open the one we stand in.
    return retry_eintr(ec, [&] { return ::openat(dirs.top(), ".", kOpenFlags | O_DIRECTORY); });
}

}  // namespace reactor::detail

namespace reactor::http {

int open_beneath(int root_fd, std::string_view relative, std::error_code& ec) {
    // Once the kernel said openat2 does not exist, stop asking. EPERM is
    // what some seccomp policies answer for a system call they do not know;
    // it may also be a real refusal, so it only sends this one call to the
    // walk, which then reports the real error if there is one.
    static std::atomic<bool> kernel_missing{false};
    if (!kernel_missing.load(std::memory_order_relaxed)) {
        const int fd = detail::open_beneath_kernel(root_fd, relative, ec);
        if (fd >= 0) return fd;
        if (ec.value() == ENOSYS) {
            kernel_missing.store(true, std::memory_order_relaxed);
        } else if (ec.value() != EPERM) {
            return -1;
        }
    }
    return detail::open_beneath_walk(root_fd, relative, ec);
}

int status_for_open_error(std::error_code ec) noexcept {
    if (ec.category() != std::system_category()) return 500;
    switch (ec.value()) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG:
        return 404;
    case EXDEV:
    case ELOOP:
    case EMLINK:
    case EACCES:
    case EPERM:
    case ENXIO:  // a FIFO, device or socket, refused unopened
        return 403;
    default:
        return 500;
    }
}

// ---- OpenedFile -------------------------------------------------------------------

OpenedFile::OpenedFile(OpenedFile&& other) noexcept
    : status(other.status),
      name(std::move(other.name)),
      size(other.size),
      mtime(other.mtime),
      fd_(std::exchange(other.fd_, -1)) {}

OpenedFile& OpenedFile::operator=(OpenedFile&& other) noexcept {
    if (this != &other) {
        close();
        status = other.status;
        name = std::move(other.name);
        size = other.size;
        mtime = other.mtime;
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

OpenedFile::~OpenedFile() {
    close();
}

void OpenedFile::close() noexcept {
    // No EINTR retry: after close() fails with EINTR the fd is gone on
    // Linux and the BSDs, and a retry could close someone else's.
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

OpenedFile open_for_serving(int root_fd, const MappedPath& path, std::string_view index_name) {
    OpenedFile file;
    const auto fail = [&](int status) {
        file.close();
        file.status = status;
        return std::move(file);
    };
    std::error_code ec;
    struct stat st{};
    const auto open_and_stat = [&](const std::string& name) {
        file.name = name;
        file.fd_ = open_beneath(root_fd, name, ec);
        if (file.fd_ < 0) return status_for_open_error(ec);
        return ::fstat(file.fd_, &st) == 0 ? 0 : 500;
    };

    if (const int status = open_and_stat(path.relative)) return fail(status);
    if (S_ISDIR(st.st_mode)) {
        // "/docs" is a directory asked for as a file: send the client to
        // "/docs/", or the relative links of its index page would resolve
        // against "/".
        if (!path.directory && !path.relative.empty()) return fail(301);
        file.close();
        const std::string index = path.relative.empty()
                                      ? std::string(index_name)
                                      : path.relative + "/" + std::string(index_name);
        if (const int status = open_and_stat(index)) return fail(status);
        if (S_ISDIR(st.st_mode)) return fail(404);
    } else if (path.directory) {
        // "/a.txt/": a file name followed by '/' names nothing (ENOTDIR).
        return fail(404);
    }
    if (!S_ISREG(st.st_mode)) return fail(403);
    file.size = static_cast<std::uint64_t>(st.st_size);
    file.mtime = st.st_mtime;
    return file;
}

}  // namespace reactor::http
