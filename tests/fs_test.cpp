// runs-on: every backend
// tests/fs_test.cpp -- reactor::fs: every call's success and error paths.
//
// The suite often runs as root, for whom the kernel skips permission
// checks; the EACCES case then drops the file system privileges of one pool
// thread (Linux's per-thread fsuid) so that the check is real. See the test.
#include "test_util.hpp"
#include "worker_util.hpp"

#include <reactor/fs.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "base/platform.hpp"
#if REACTOR_HAVE_SETFSUID
#include <sys/syscall.h>
#endif

using namespace reactor;
using namespace reactor::test;
namespace stdfs = std::filesystem;

namespace {

std::string get(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Starts an fs call with a callback of (ec, T) and runs the loop until it
/// is called (on the loop thread, checked); returns what it received.
template <class T, class Start>
std::pair<std::error_code, T> await_value(EventLoop& loop, Start start) {
    bool done = false;
    std::error_code ec;
    T value{};
    start([&](std::error_code e, T v) {
        CHECK(loop.in_loop_thread());
        ec = e;
        value = std::move(v);
        done = true;
    });
    CHECK_FALSE(done);  // never synchronous
    REQUIRE(run_until(loop, [&] { return done; }));
    return {ec, std::move(value)};
}

/// The same for calls whose callback takes only (ec).
template <class Start>
std::error_code await_done(EventLoop& loop, Start start) {
    bool done = false;
    std::error_code ec;
    start([&](std::error_code e) {
        CHECK(loop.in_loop_thread());
        ec = e;
        done = true;
    });
    CHECK_FALSE(done);
    REQUIRE(run_until(loop, [&] { return done; }));
    return ec;
}

std::pair<std::error_code, std::string> read(EventLoop& loop, const std::string& path) {
    return await_value<std::string>(loop, [&](auto cb) { fs::read_file(loop, path, cb); });
}

std::error_code write(EventLoop& loop, const std::string& path, const std::string& data,
                      fs::WriteOptions options = {}) {
    return await_done(loop, [&](auto cb) { fs::write_file(loop, path, data, options, cb); });
}

using Names = std::vector<std::string>;

std::pair<std::error_code, Names> list(EventLoop& loop, const std::string& path) {
    return await_value<Names>(loop, [&](auto cb) { fs::list_dir(loop, path, cb); });
}

std::pair<std::error_code, fs::FileStatus> stat(EventLoop& loop, const std::string& path) {
    return await_value<fs::FileStatus>(loop, [&](auto cb) { fs::stat(loop, path, cb); });
}

std::error_code remove(EventLoop& loop, const std::string& path) {
    return await_done(loop, [&](auto cb) { fs::remove(loop, path, cb); });
}

const std::error_code enoent{ENOENT, std::system_category()};
const std::error_code enotdir{ENOTDIR, std::system_category()};
const std::error_code eisdir{EISDIR, std::system_category()};

}  // namespace

// ---- read_file ----------------------------------------------------------------

TEST_CASE("read_file delivers the whole file on the loop thread") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "a.txt", "hello\nworld\n");
    auto [ec, data] = read(loop, dir / "a.txt");
    CHECK_FALSE(ec);
    CHECK(data == "hello\nworld\n");

    write_file(dir / "empty", "");
    auto [ec2, data2] = read(loop, dir / "empty");
    CHECK_FALSE(ec2);
    CHECK(data2.empty());
}

TEST_CASE("read_file errors carry the errno and no data") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "file", "x");
    SUBCASE("a missing file: ENOENT") {
        auto [ec, data] = read(loop, dir / "missing");
        CHECK(ec == enoent);
        CHECK(ec.category() == std::system_category());
        CHECK(data.empty());
    }
    SUBCASE("a directory where a file is expected: EISDIR") {
        auto [ec, data] = read(loop, dir.path());
        CHECK(ec == eisdir);
        CHECK(data.empty());
    }
    SUBCASE("a path through a regular file: ENOTDIR") {
        auto [ec, data] = read(loop, dir / "file/child");
        CHECK(ec == enotdir);
        CHECK(data.empty());
    }
}

TEST_CASE("read_file of an unreadable file: EACCES") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "secret", "top secret");
    REQUIRE(::chmod((dir / "secret").c_str(), 0) == 0);
    if (::geteuid() != 0) {
        auto [ec, data] = read(loop, dir / "secret");
        CHECK(ec == std::errc::permission_denied);
        CHECK(data.empty());
        return;
    }
#if REACTOR_HAVE_SETFSUID
    // Root bypasses permission checks (CAP_DAC_OVERRIDE). On Linux the file
    // system uid is per thread, and changing it from 0 to non-zero clears
    // the file-system capabilities of that thread only (capabilities(7)):
    // run the read on a one-thread pool whose thread has become "nobody"
    // for file access, through the raw syscall (glibc's wrapper would do it
    // for every thread of the process).
    Gate gate;
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    auto [ec0, previous] = await_value<long>(loop, [&](auto cb) {
        queue_work(loop, [] { return ::syscall(SYS_setfsuid, 65534); }, cb);
    });
    REQUIRE_FALSE(ec0);
    CHECK(previous == 0);
    auto [ec, data] = read(loop, dir / "secret");
    CHECK(ec == std::errc::permission_denied);
    CHECK(data.empty());
    // The same thread becomes root again; the main thread never changed.
    auto [ec1, nobody] = await_value<long>(loop, [&](auto cb) {
        queue_work(loop, [] { return ::syscall(SYS_setfsuid, 0); }, cb);
    });
    CHECK(nobody == 65534);
    CHECK(get(dir / "secret") == "top secret");
#else
    MESSAGE("running as root without a per-thread fsuid: EACCES cannot be produced here; "
            "the errno path is covered by ENOENT/ENOTDIR/EISDIR");
#endif
}

TEST_CASE("read_file reads a 50 MiB file byte for byte") {
    EventLoop loop;
    TempDir dir;
    std::string big(50u << 20, '\0');
    std::mt19937 rng(12345);
    for (char& c : big) c = static_cast<char>(rng());
    write_file(dir / "big", big);
    auto [ec, data] = read(loop, dir / "big");
    CHECK_FALSE(ec);
    CHECK(data.size() == big.size());
    CHECK(data == big);
}

TEST_CASE("read_file reads /proc files, whose size is reported as 0, to their end") {
    struct stat st {};
    if (::stat("/proc/self/status", &st) != 0) {
        MESSAGE("no /proc on this system");
        return;
    }
    CHECK(st.st_size == 0);  // the case this test is about
    EventLoop loop;
    auto [ec, data] = read(loop, "/proc/self/status");
    CHECK_FALSE(ec);
    CHECK(data.find("Name:") == 0);
    CHECK(data.find("Pid:") != std::string::npos);
    CHECK(data.back() == '\n');  // read to EOF, not cut at a buffer size
}

// ---- write_file, append_file ------------------------------------------------

TEST_CASE("write_file creates and replaces files") {
    EventLoop loop;
    TempDir dir;
    CHECK_FALSE(write(loop, dir / "f", "first version"));
    CHECK(get(dir / "f") == "first version");
    CHECK_FALSE(write(loop, dir / "f", "2nd"));
    CHECK(get(dir / "f") == "2nd");  // truncated, not overwritten in place

    CHECK_FALSE(write(loop, dir / "private", "x", fs::WriteOptions{false, 0600}));
    struct stat st {};
    REQUIRE(::stat((dir / "private").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("write_file errors: missing directory, a file as directory, a directory as file") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "file", "x");
    for (const bool atomic : {false, true}) {
        CAPTURE(atomic);
        const fs::WriteOptions options{atomic, 0644};
        CHECK(write(loop, dir / "no/such/dir", "data", options) == enoent);
        CHECK(write(loop, dir / "file/child", "data", options) == enotdir);
        CHECK(write(loop, dir.path(), "data", options) == eisdir);
    }
    // Nothing was left behind by the failed atomic writes.
    auto [ec, names] = list(loop, dir.path());
    CHECK_FALSE(ec);
    CHECK(names == std::vector<std::string>{"file"});
}

TEST_CASE("atomic write_file replaces the file whole and leaves no temporary file") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "config", "old");
    CHECK_FALSE(write(loop, dir / "config", "new content", fs::WriteOptions{true, 0640}));
    CHECK(get(dir / "config") == "new content");
    struct stat st {};
    REQUIRE(::stat((dir / "config").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0640);
    auto [ec, names] = list(loop, dir.path());
    CHECK(names == std::vector<std::string>{"config"});

    // A target that cannot be replaced (a non-empty directory) fails the
    // rename: the error is reported and the temporary file removed.
    REQUIRE(::mkdir((dir / "sub").c_str(), 0755) == 0);
    write_file(dir / "sub/inner", "keep");
    CHECK(write(loop, dir / "sub", "data", fs::WriteOptions{true, 0644}));
    auto [ec2, names2] = list(loop, dir.path());
    CHECK(names2 == std::vector<std::string>{"config", "sub"});
    CHECK(get(dir / "sub/inner") == "keep");

    // A relative path: the temporary file goes to the current directory.
    const std::string cwd = stdfs::current_path();
    stdfs::current_path(dir.path());
    const std::error_code rel = write(loop, "relative", "r", fs::WriteOptions{true, 0644});
    stdfs::current_path(cwd);
    CHECK_FALSE(rel);
    CHECK(get(dir / "relative") == "r");
}

TEST_CASE("append_file appends, creating the file if needed") {
    EventLoop loop;
    TempDir dir;
    auto append = [&](const std::string& path, const std::string& data) {
        return await_done(loop, [&](auto cb) { fs::append_file(loop, path, data, cb); });
    };
    CHECK_FALSE(append(dir / "log", "one\n"));
    CHECK_FALSE(append(dir / "log", "two\n"));
    CHECK(get(dir / "log") == "one\ntwo\n");
    write_file(dir / "file", "x");
    CHECK(append(dir / "file/child", "data") == enotdir);
    CHECK(append(dir.path(), "data") == eisdir);
}

// ---- stat ---------------------------------------------------------------------

TEST_CASE("stat reports size, type, permissions and modification time") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "f", std::string(1234, 'z'));
    REQUIRE(::chmod((dir / "f").c_str(), 0640) == 0);
    const auto before = std::chrono::system_clock::now() - std::chrono::minutes(1);
    auto [ec, st] = stat(loop, dir / "f");
    CHECK_FALSE(ec);
    CHECK(st.size == 1234);
    CHECK(st.is_regular);
    CHECK_FALSE(st.is_directory);
    CHECK(st.mode == 0640);
    CHECK(st.mtime > before);
    CHECK(st.mtime < std::chrono::system_clock::now() + std::chrono::minutes(1));

    auto [ec2, st2] = stat(loop, dir.path());
    CHECK_FALSE(ec2);
    CHECK(st2.is_directory);
    CHECK_FALSE(st2.is_regular);
    CHECK(st2.mode == 0700);  // mkdtemp's

    auto [ec3, st3] = stat(loop, dir / "missing");
    CHECK(ec3 == enoent);
    CHECK(st3.size == 0);
    CHECK_FALSE(st3.is_regular);
    CHECK(stat(loop, dir / "f/child").first == enotdir);
}

// ---- remove -------------------------------------------------------------------

TEST_CASE("remove deletes files, links and empty directories, not full ones") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "f", "x");
    REQUIRE(::mkdir((dir / "empty").c_str(), 0755) == 0);
    REQUIRE(::mkdir((dir / "full").c_str(), 0755) == 0);
    write_file(dir / "full/inner", "x");
    REQUIRE(::symlink((dir / "full").c_str(), (dir / "link").c_str()) == 0);

    CHECK_FALSE(remove(loop, dir / "f"));
    CHECK_FALSE(remove(loop, dir / "empty"));
    CHECK_FALSE(remove(loop, dir / "link"));  // the link, not the directory it names
    CHECK(remove(loop, dir / "full") == std::errc::directory_not_empty);
    CHECK(remove(loop, dir / "missing") == enoent);
    CHECK(remove(loop, dir / "full/inner/x") == enotdir);
    auto [ec, names] = list(loop, dir.path());
    CHECK(names == std::vector<std::string>{"full"});
    CHECK(get(dir / "full/inner") == "x");
}

// ---- list_dir -----------------------------------------------------------------

TEST_CASE("list_dir returns sorted names without . and ..") {
    EventLoop loop;
    TempDir dir;
    for (const char* name : {"zeta", "Alpha", "beta", ".hidden", "10", "9"}) write_file(dir / name, "");
    REQUIRE(::mkdir((dir / "sub").c_str(), 0755) == 0);
    auto [ec, names] = list(loop, dir.path());
    CHECK_FALSE(ec);
    CHECK(names == std::vector<std::string>{".hidden", "10", "9", "Alpha", "beta", "sub", "zeta"});

    auto [ec2, empty] = list(loop, dir / "sub");
    CHECK_FALSE(ec2);
    CHECK(empty.empty());

    auto [ec3, none] = list(loop, dir / "missing");
    CHECK(ec3 == enoent);
    CHECK(none.empty());
    CHECK(list(loop, dir / "zeta").first == enotdir);
}

// ---- cancellation -------------------------------------------------------------

TEST_CASE("an fs call cancelled before it starts reports operation_canceled") {
    EventLoop loop;
    TempDir dir;
    write_file(dir / "f", "data");
    Gate gate;
    WorkerPool pool(1);
    set_worker_pool(loop, pool);
    std::atomic<bool> blocked{false};
    bool unblocked = false;
    queue_work(loop,
        [&] {
            blocked = true;
            gate.wait();
        },
        [&](std::error_code) { unblocked = true; });
    REQUIRE(run_until(loop, [&] { return blocked.load(); }));

    bool done = false;
    std::error_code got;
    std::string data = "untouched";
    const WorkId id = fs::read_file(loop, dir / "f", [&](std::error_code ec, std::string d) {
        got = ec;
        data = std::move(d);
        done = true;
    });
    CHECK(cancel_work(loop, id));
    REQUIRE(run_until(loop, [&] { return done; }));
    CHECK(got == std::errc::operation_canceled);
    CHECK(data.empty());
    gate.open();
    REQUIRE(run_until(loop, [&] { return unblocked; }));
}

// ---- the example ----------------------------------------------------------------

TEST_CASE("examples/read_file prints 'Doing other things...' first, then the byte count") {
    TempDir dir;
    write_file(dir / "seven", "7 bytes");
    const std::string program = example_path("read_file");
    auto [out, status] = run_command(program + " " + (dir / "seven") + " 2>&1");
    CHECK(status == 0);
    CHECK(out == "Doing other things...\nFile content ready! (7 bytes)\n");

    auto [err, status1] = run_command(program + " " + (dir / "nope") + " 2>&1 >/dev/null");
    CHECK(status1 == 1);
    CHECK(err == "read_file: " + (dir / "nope") + ": No such file or directory\n");

    auto [usage, status2] = run_command(program + " 2>&1");
    CHECK(status2 == 2);
    CHECK(usage.find("usage:") == 0);
}
