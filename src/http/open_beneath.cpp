// src/http/open_beneath.cpp -- opening a file beneath a root directory, so
// that neither ".." nor a symbolic link can lead out of it; and opening what
// a request path names for a file server. The system-call side of
// static_files.hpp.
//
// Two implementations with one contract (static_files.hpp, open_beneath()):
//
//   open_beneath ──► Linux 5.6+: openat2(RESOLVE_BENEATH)   one system call
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
#include <reactor/http/static_files.hpp>

#include "http/open_beneath.hpp"
#include "syscall.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#if defined(__linux__) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#include <sys/syscall.h>
#if defined(SYS_openat2)
#define REACTOR_HAVE_OPENAT2 1
#endif
#endif

namespace reactor::detail {

namespace {

// How every file is opened. O_NONBLOCK: opening a FIFO for reading would
// otherwise wait for a writer, holding a worker thread forever; it does not
// change reads of a regular file. O_NOCTTY: a terminal device in the tree
// must not become our controlling terminal.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

// As Linux's MAXSYMLINKS: more links than this in one resolution is a loop.
constexpr int kMaxLinks = 40;

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

}  // namespace

int open_beneath_kernel(int root_fd, std::string_view relative, std::error_code& ec) {
#if defined(REACTOR_HAVE_OPENAT2)
    if (is_absolute_or_has_nul(relative)) {
        ec = errno_code(relative.front() == '/' ? EXDEV : ENOENT);
        return -1;
    }
    open_how how{};
    how.flags = kOpenFlags;
    // RESOLVE_NO_MAGICLINKS: /proc/self/fd/N style links, which jump
    // anywhere, are refused even if someone mounted /proc beneath the root.
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
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
        // Anything after this component (even "" from a trailing '/')
        // means it must be a directory, as the kernel's resolution says.
        const bool last = pending.empty();
        const int flags = kOpenFlags | O_NOFOLLOW | (last ? 0 : O_DIRECTORY);
        const int fd = retry_eintr(ec, [&] { return ::openat(dirs.top(), name.c_str(), flags); });
        if (fd >= 0) {
            if (last) return fd;
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
            if (++links > kMaxLinks) {
                ec = errno_code(ELOOP);
                return -1;
            }
            if (target.empty()) {
                ec = errno_code(ENOENT);
                return -1;
            }
            if (target.front() == '/') {
                ec = errno_code(EXDEV);
                return -1;
            }
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
