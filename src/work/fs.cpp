// src/work/fs.cpp -- blocking file system calls, run on the worker pool.
//
// Each public function is two halves: a blocking function below (runs on a
// pool thread, returns the errno as a std::error_code) and a queue_work call
// that carries its outcome back to the loop thread.
#include <reactor/fs.hpp>

#include "base/syscall.hpp"

#include <algorithm>
#include <atomic>
#include <new>
#include <string_view>
#include <utility>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace reactor::fs {
namespace {

using detail::last_error;
using detail::retry_eintr;

std::error_code errno_code(int e) { return {e, std::system_category()}; }

// Closing: POSIX leaves an fd's state unspecified after close() fails with
// EINTR, but Linux, the BSDs and macOS always release it, so retrying could
// close a number another thread has just been given. Never retry; EINTR
// counts as closed.
std::error_code close_fd(int fd) {
    if (::close(fd) == 0 || errno == EINTR) return {};
    return last_error();
}

// Closes on scope exit, for the paths where the close result does not matter
// (reading, and error paths that already have an error to report).
class FdGuard {
public:
    explicit FdGuard(int fd) : fd_(fd) {}
    ~FdGuard() {
        if (fd_ >= 0) (void)close_fd(fd_);
    }
    FdGuard(const FdGuard&) = delete;
    FdGuard& operator=(const FdGuard&) = delete;
    /// Closes now and reports the result (a writer must: NFS reports
    /// delayed write errors at close).
    std::error_code close() { return close_fd(std::exchange(fd_, -1)); }

private:
    int fd_;
};

std::error_code open_file(const std::string& path, int flags, unsigned mode, int& fd) {
    std::error_code ec;
    fd = retry_eintr(ec, [&] {
        return ::open(path.c_str(), flags | O_CLOEXEC, static_cast<mode_t>(mode));
    });
    return ec;
}

// ---- read_file ----------------------------------------------------------------

std::error_code read_whole(const std::string& path, std::string& out) {
    int fd;
    if (auto ec = open_file(path, O_RDONLY, 0, fd)) return ec;
    FdGuard guard(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return last_error();
    // Linux refuses read() on a directory with EISDIR, but some BSDs return
    // the raw directory bytes: check the type so every system says EISDIR.
    if (S_ISDIR(st.st_mode)) return errno_code(EISDIR);
    // The size is a hint: a regular file may change while we read, and
    // /proc files and devices report 0 whatever they hold.
    const std::uint64_t hint =
        S_ISREG(st.st_mode) && st.st_size > 0 ? std::uint64_t(st.st_size) : 0;
    if (hint > kMaxReadSize) return errno_code(EFBIG);
    std::string data;
    // One byte beyond the expected size, so that the read seeing EOF needs
    // no growth; then a doubling buffer for whatever the hint missed. Every
    // byte is copied at most log2(size / 4096) times, so reading stays linear.
    data.resize(hint > 0 ? hint + 1 : 4096);
    std::size_t used = 0;
    for (;;) {
        if (used == data.size()) {
            if (data.size() > kMaxReadSize) return errno_code(EFBIG);
            data.resize(std::min<std::size_t>(data.size() * 2, kMaxReadSize + 1));
        }
        std::error_code ec;
        const ssize_t n =
            retry_eintr(ec, [&] { return ::read(fd, data.data() + used, data.size() - used); });
        if (ec) return ec;
        if (n == 0) break;
        used += static_cast<std::size_t>(n);
    }
    if (used > kMaxReadSize) return errno_code(EFBIG);
    data.resize(used);
    out = std::move(data);
    return {};
}

// ---- write_file, append_file ----------------------------------------------

std::error_code write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        std::error_code ec;
        const ssize_t n = retry_eintr(ec, [&] { return ::write(fd, data.data(), data.size()); });
        if (ec) return ec;
        data.remove_prefix(static_cast<std::size_t>(n));  // short writes: go on
    }
    return {};
}

std::error_code write_in_place(const std::string& path, std::string_view data, int flags,
                               unsigned mode) {
    int fd;
    if (auto ec = open_file(path, O_WRONLY | O_CREAT | flags, mode, fd)) return ec;
    FdGuard guard(fd);
    if (auto ec = write_all(fd, data)) return ec;
    return guard.close();
}

// Best effort: makes the rename durable. Some file systems refuse fsync on
// a directory (EINVAL); the rename has happened either way, so a failure
// here is not reported as a failed write.
void sync_directory(const std::string& dir) {
    int fd;
    if (open_file(dir, O_RDONLY | O_DIRECTORY, 0, fd)) return;
    (void)::fsync(fd);
    (void)close_fd(fd);
}

std::error_code write_atomic(const std::string& path, std::string_view data, unsigned mode) {
    // The temporary file lives beside the target, so rename() stays within
    // one file system (and so is atomic): "dir/.name.tmp-<pid>-<n>".
    const std::size_t slash = path.rfind('/');
    const std::string prefix = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    static std::atomic<unsigned> counter{0};
    std::string temp;
    int fd = -1;
    // O_EXCL makes the name ours; a clash (a leftover of a crashed process
    // with a recycled pid) just moves on to the next number.
    for (int attempt = 0; attempt < 100; ++attempt) {
        temp = prefix + "." + base + ".tmp-" + std::to_string(::getpid()) + "-" +
               std::to_string(counter.fetch_add(1, std::memory_order_relaxed));
        const std::error_code ec = open_file(temp, O_WRONLY | O_CREAT | O_EXCL, mode, fd);
        if (!ec) break;
        if (ec != std::errc::file_exists) return ec;
    }
    if (fd < 0) return errno_code(EEXIST);
    FdGuard guard(fd);
    std::error_code ec = write_all(fd, data);
    if (!ec) retry_eintr(ec, [&] { return ::fsync(fd); });
    if (!ec) ec = guard.close();
    if (!ec && ::rename(temp.c_str(), path.c_str()) != 0) ec = last_error();
    if (ec) {
        (void)::unlink(temp.c_str());
        return ec;
    }
    sync_directory(prefix.empty() ? "." : prefix);
    return {};
}

// ---- stat, remove, list_dir ---------------------------------------------------

std::error_code stat_path(const std::string& path, FileStatus& out) {
    struct stat st {};
    std::error_code ec;
    retry_eintr(ec, [&] { return ::stat(path.c_str(), &st); });
    if (ec) return ec;
    out.size = st.st_size > 0 ? std::uint64_t(st.st_size) : 0;
    // The nanosecond mtime is st_mtim in POSIX 2008 (Linux, the BSDs);
    // macOS names it st_mtimespec.
#if defined(__APPLE__)
    const struct timespec& mtime = st.st_mtimespec;
#else
    const struct timespec& mtime = st.st_mtim;
#endif
    using std::chrono::system_clock;
    out.mtime = system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(
        std::chrono::seconds(mtime.tv_sec) + std::chrono::nanoseconds(mtime.tv_nsec)));
    out.is_directory = S_ISDIR(st.st_mode);
    out.is_regular = S_ISREG(st.st_mode);
    out.mode = static_cast<unsigned>(st.st_mode) & 07777u;
    return {};
}

std::error_code remove_path(const std::string& path) {
    if (::unlink(path.c_str()) == 0) return {};
    const int unlink_errno = errno;
    // unlink() of a directory fails with EISDIR on Linux and EPERM on
    // POSIX and the BSDs; only then is rmdir() the right call. lstat, so a
    // symbolic link to a directory is removed as a link.
    if (unlink_errno != EISDIR && unlink_errno != EPERM) return errno_code(unlink_errno);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return errno_code(unlink_errno);
    if (::rmdir(path.c_str()) == 0) return {};
    // POSIX allows EEXIST for a non-empty directory; say ENOTEMPTY everywhere.
    return errno_code(errno == EEXIST ? ENOTEMPTY : errno);
}

std::error_code list_directory(const std::string& path, std::vector<std::string>& out) {
    int fd;
    if (auto ec = open_file(path, O_RDONLY | O_DIRECTORY, 0, fd)) return ec;
    // opendir() alone may not set close-on-exec on every system: open the
    // fd ourselves (O_CLOEXEC) and hand it over.
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
        const std::error_code ec = last_error();
        (void)close_fd(fd);
        return ec;
    }
    std::vector<std::string> names;
    std::error_code ec;
    for (;;) {
        errno = 0;  // readdir returns null both at the end and on error
        const dirent* entry = ::readdir(dir);
        if (entry == nullptr) {
            if (errno != 0) ec = last_error();
            break;
        }
        const std::string_view name = entry->d_name;
        if (name == "." || name == "..") continue;
        names.emplace_back(name);
    }
    ::closedir(dir);  // closes fd
    if (ec) return ec;
    std::sort(names.begin(), names.end());
    out = std::move(names);
    return {};
}

// ---- the bridge to the loop -----------------------------------------------

// A blocking call's outcome: its error, and its value when there is none.
template <class T>
struct Outcome {
    std::error_code ec;
    T value{};
};

// Runs `blocking(T&) -> error_code` on the pool and calls `cb(ec, T)` on the
// loop. An allocation failure becomes ENOMEM rather than an exception.
template <class T, class Blocking, class Callback>
WorkId run_with_value(EventLoop& loop, Blocking blocking, Callback cb) {
    return queue_work(loop,
        [blocking = std::move(blocking)] {
            Outcome<T> r;
            try {
                r.ec = blocking(r.value);
            } catch (const std::bad_alloc&) {
                r.ec = std::make_error_code(std::errc::not_enough_memory);
            }
            if (r.ec) r.value = T{};
            return r;
        },
        [cb = std::move(cb)](std::error_code ec, Outcome<T> r) {
            if (!ec) ec = r.ec;
            if (ec) r.value = T{};
            cb(ec, std::move(r.value));
        });
}

// The same for calls without a value: `blocking() -> error_code`, `cb(ec)`.
template <class Blocking>
WorkId run_for_error(EventLoop& loop, Blocking blocking, DoneCallback cb) {
    return queue_work(loop,
        [blocking = std::move(blocking)]() -> std::error_code {
            try {
                return blocking();
            } catch (const std::bad_alloc&) {
                return std::make_error_code(std::errc::not_enough_memory);
            }
        },
        [cb = std::move(cb)](std::error_code ec, std::error_code result) { cb(ec ? ec : result); });
}

}  // namespace

WorkId read_file(EventLoop& loop, std::string path, ReadCallback cb) {
    return run_with_value<std::string>(
        loop, [path = std::move(path)](std::string& out) { return read_whole(path, out); },
        std::move(cb));
}

WorkId write_file(EventLoop& loop, std::string path, std::string data, DoneCallback cb) {
    return write_file(loop, std::move(path), std::move(data), WriteOptions{}, std::move(cb));
}

WorkId write_file(EventLoop& loop, std::string path, std::string data, WriteOptions options,
                  DoneCallback cb) {
    return run_for_error(
        loop,
        [path = std::move(path), data = std::move(data), options] {
            return options.atomic ? write_atomic(path, data, options.mode)
                                  : write_in_place(path, data, O_TRUNC, options.mode);
        },
        std::move(cb));
}

WorkId append_file(EventLoop& loop, std::string path, std::string data, DoneCallback cb) {
    return run_for_error(
        loop,
        [path = std::move(path), data = std::move(data)] {
            return write_in_place(path, data, O_APPEND, 0644);
        },
        std::move(cb));
}

WorkId stat(EventLoop& loop, std::string path, StatCallback cb) {
    return run_with_value<FileStatus>(
        loop, [path = std::move(path)](FileStatus& out) { return stat_path(path, out); },
        std::move(cb));
}

WorkId remove(EventLoop& loop, std::string path, DoneCallback cb) {
    return run_for_error(
        loop, [path = std::move(path)] { return remove_path(path); }, std::move(cb));
}

WorkId list_dir(EventLoop& loop, std::string path, ListCallback cb) {
    return run_with_value<std::vector<std::string>>(
        loop,
        [path = std::move(path)](std::vector<std::string>& out) {
            return list_directory(path, out);
        },
        std::move(cb));
}

}  // namespace reactor::fs
