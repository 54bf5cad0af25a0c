// reactor/fs.hpp -- asynchronous file system calls, Node's fs in C++.
//
//   fs::read_file(loop, "/etc/passwd", [](std::error_code ec, std::string data) {
//       if (ec) { ... ec.message() ... return; }
//       ...
//   });
//   // runs on at once; the callback comes later, on the loop thread
//
// Disks do not tell poll() when a read would block, so every call here runs
// its blocking system calls on the loop's WorkerPool (reactor::queue_work,
// WorkKind::Normal) and delivers the outcome to an error-first callback on
// the loop thread, in a later iteration.
//
// Common rules for every function below:
//  - Call it on the loop thread. `path` and `data` are taken by value and
//    moved to the pool thread; the callback is called exactly once.
//  - Errors carry the errno (std::system_category): ENOENT, EACCES, EISDIR,
//    ENOTDIR, ENOTEMPTY... as the system reports them for the same call;
//    std::errc::operation_canceled if the call was cancelled (via
//    cancel_work(loop, id)) before it started, or its pool was destroyed.
//  - No partial results: on error the string or vector is empty.
//  - Files are opened with O_CLOEXEC (no fd leaks into child processes);
//    EINTR is retried.
//  - Each returns the id of its pool work, for cancel_work(loop, id); an fs
//    call that has started runs to its end.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/worker_pool.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <vector>

namespace reactor::fs {

/// What stat() reports about a file (it follows symbolic links).
struct FileStatus {
    std::uint64_t size = 0;                           ///< bytes
    std::chrono::system_clock::time_point mtime{};    ///< last modification
    bool is_directory = false;
    bool is_regular = false;
    unsigned mode = 0;  ///< permission bits, st_mode & 07777 (e.g. 0644)
};

/// How write_file() writes.
struct WriteOptions {
    /// false: open with O_TRUNC and write in place (a reader, or a crash,
    /// may see a partial file). true: write a temporary file in the same
    /// directory, fsync it, rename it over `path`, fsync the directory:
    /// readers see the old content or the new, never a mix, and on error
    /// `path` is untouched and the temporary file is removed.
    bool atomic = false;
    /// Permission bits of a file this call creates, before the umask. In
    /// atomic mode the file is always new, so they apply even when `path`
    /// existed with other bits.
    unsigned mode = 0644;
};

/// The largest file read_file() reads: 2 GiB, as Node. A larger file (or
/// an endless one, such as /dev/zero) fails with EFBIG ("File too large").
inline constexpr std::uint64_t kMaxReadSize = std::uint64_t{2} << 30;

using DoneCallback = std::function<void(std::error_code)>;
using ReadCallback = std::function<void(std::error_code, std::string)>;
using StatCallback = std::function<void(std::error_code, FileStatus)>;
using ListCallback = std::function<void(std::error_code, std::vector<std::string>)>;

/// Reads a whole file. Regular files are read into one buffer sized from
/// fstat (no quadratic copying; a file that grows or shrinks meanwhile is
/// read to its actual end); files whose size is unknown (/proc, pipes)
/// are read to EOF in a buffer that doubles. EISDIR for a directory.
WorkId read_file(EventLoop& loop, std::string path, ReadCallback cb);

/// Writes `data` to `path`, creating or replacing the file.
WorkId write_file(EventLoop& loop, std::string path, std::string data, DoneCallback cb);
/// As above, with options (atomic replacement, permission bits).
WorkId write_file(EventLoop& loop, std::string path, std::string data, WriteOptions options,
                  DoneCallback cb);

/// Appends `data` to `path` (O_APPEND), creating it (0644 before the
/// umask) if missing. Each call's data lands contiguously, even with other
/// appenders, as far as O_APPEND guarantees on the file system.
WorkId append_file(EventLoop& loop, std::string path, std::string data, DoneCallback cb);

/// Reports a file's size, modification time, type and permissions.
WorkId stat(EventLoop& loop, std::string path, StatCallback cb);

/// Removes a file, a symbolic link (not its target) or an empty
/// directory. ENOTEMPTY for a directory that has entries.
WorkId remove(EventLoop& loop, std::string path, DoneCallback cb);

/// Lists a directory's entry names (not paths), sorted bytewise, without
/// "." and "..". ENOTDIR if `path` is not a directory.
WorkId list_dir(EventLoop& loop, std::string path, ListCallback cb);

}  // namespace reactor::fs
