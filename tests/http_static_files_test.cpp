// tests/http_static_files_test.cpp -- the file server's helpers
// (reactor/http/static_files.hpp): which request paths map to which files,
// which are refused with which status, opening beneath a root with symbolic
// links pointing in and out, Content-Type, HTTP dates, ranges, and the
// 200/206/304/416 decision. Pure: no loop, so it runs once (no "runs-on"
// marker). The open tests build a small tree in a temporary directory and
// remove it.
#include "http/open_beneath.hpp"
#include "test_util.hpp"

#include <reactor/http/static_files.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::http;
using reactor::test::Fd;
using reactor::test::TempDir;
using reactor::test::write_file;
namespace stdfs = std::filesystem;

namespace {

// 1994-11-06 08:49:37 UTC, the RFC's example date.
constexpr std::time_t kRfcExample = 784111777;

// A tree to serve, in a fresh temporary directory removed at the end:
//
//   <tmp>/outside/secret.txt          "secret"   (must never be reachable)
//   <tmp>/root/a.txt                  "hello"
//   <tmp>/root/sub/b.css, index.html
//   <tmp>/root/sub/link_ok   -> ../a.txt                 (stays inside)
//   <tmp>/root/sub/link_up2  -> ../../outside/secret.txt (climbs out)
//   <tmp>/root/empty/                                    (no index)
//   <tmp>/root/link_in  -> a.txt          link_dir -> sub
//   <tmp>/root/link_up  -> ../outside/secret.txt
//   <tmp>/root/link_abs -> <tmp>/outside/secret.txt (absolute)
//   <tmp>/root/dir_out  -> ../outside     chain -> sub/link_up2
//   <tmp>/root/loop1 -> loop2 -> loop1    fifo (a named pipe)
class Tree {
public:
    Tree() : dir_("reactor-static"), base_(dir_.path()), root_(base_ / "root") {
        stdfs::create_directories(base_ / "outside");
        stdfs::create_directories(root_ / "sub");
        stdfs::create_directories(root_ / "empty");
        write_file(base_ / "outside" / "secret.txt", "secret");
        write_file(root_ / "a.txt", "hello");
        write_file(root_ / "sub" / "b.css", "b{}");
        write_file(root_ / "sub" / "index.html", "<p>sub</p>");
        stdfs::create_symlink("../a.txt", root_ / "sub" / "link_ok");
        stdfs::create_symlink("../../outside/secret.txt", root_ / "sub" / "link_up2");
        stdfs::create_symlink("a.txt", root_ / "link_in");
        stdfs::create_directory_symlink("sub", root_ / "link_dir");
        stdfs::create_symlink("../outside/secret.txt", root_ / "link_up");
        stdfs::create_symlink(base_ / "outside" / "secret.txt", root_ / "link_abs");
        stdfs::create_directory_symlink("../outside", root_ / "dir_out");
        stdfs::create_symlink("sub/link_up2", root_ / "chain");
        stdfs::create_symlink("loop2", root_ / "loop1");
        stdfs::create_symlink("loop1", root_ / "loop2");
        REQUIRE(::mkfifo((root_ / "fifo").c_str(), 0600) == 0);
        root_fd_ = Fd(::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        REQUIRE(root_fd_.get() >= 0);
    }
    int root_fd() const { return root_fd_.get(); }
    const stdfs::path& root() const { return root_; }

private:
    TempDir dir_;  // removed with the tree, after root_fd_ is closed
    stdfs::path base_, root_;
    Fd root_fd_;
};

// Everything readable from `fd` from offset 0.
std::string contents(int fd) {
    std::string out;
    char buf[256];
    off_t at = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buf, sizeof buf, at);
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
        at += n;
    }
}

using OpenFn = std::function<int(int, std::string_view, std::error_code&)>;

struct NamedOpen {
    const char* name;
    OpenFn open;
};

// The implementations to check: the portable walk always; openat2 where
// this kernel has it; and the public dispatcher.
std::vector<NamedOpen> implementations(int probe_root) {
    std::vector<NamedOpen> all = {{"walk", detail::open_beneath_walk},
                                  {"open_beneath", http::open_beneath}};
    std::error_code ec;
    const int fd = detail::open_beneath_kernel(probe_root, "", ec);
    if (fd >= 0) {
        ::close(fd);
        all.push_back({"openat2", detail::open_beneath_kernel});
    } else {
        MESSAGE("openat2 unavailable here (" << ec.message() << "): only the walk is checked");
    }
    return all;
}

}  // namespace

TEST_CASE("percent_decode decodes %XX in either case and refuses bad escapes and NUL") {
    CHECK(percent_decode("a%20b") == "a b");
    CHECK(percent_decode("%2e%2E") == "..");
    CHECK(percent_decode("a+b") == "a+b");  // '+' is a space only in queries
    CHECK(percent_decode("%ff") == std::string("\xff"));
    CHECK(percent_decode("") == "");
    CHECK_FALSE(percent_decode("%"));
    CHECK_FALSE(percent_decode("%2"));
    CHECK_FALSE(percent_decode("a%zz"));
    CHECK_FALSE(percent_decode("%g0"));
    CHECK_FALSE(percent_decode("a%00b"));
}

TEST_CASE("map_request_path maps ordinary paths below the root") {
    MappedPath m = map_request_path("/");
    CHECK(m.status == 0);
    CHECK(m.relative == "");
    CHECK(m.directory);

    m = map_request_path("/a/b.txt");
    CHECK(m.status == 0);
    CHECK(m.relative == "a/b.txt");
    CHECK_FALSE(m.directory);

    m = map_request_path("/a//b/./c/");
    CHECK(m.status == 0);
    CHECK(m.relative == "a/b/c");
    CHECK(m.directory);

    CHECK(map_request_path("/%7Euser/x%20y").relative == "~user/x y");
    // Names that merely contain dots are names.
    CHECK(map_request_path("/.../..x/x..").relative == ".../..x/x..");
    CHECK(map_request_path("/.well-known/a").relative == ".well-known/a");
}

TEST_CASE("map_request_path reads absolute-looking paths below the root") {
    CHECK(map_request_path("/etc/passwd").relative == "etc/passwd");
    CHECK(map_request_path("//etc/passwd").relative == "etc/passwd");
    CHECK(map_request_path("/%2Fetc/passwd").status == 403);  // encoded '/' refused
}

TEST_CASE("map_request_path refuses '..' in every spelling with 403") {
    for (const char* path :
         {"/..", "/../", "/../etc/passwd", "/a/../b", "/a/..", "/%2e%2e/x", "/%2E%2E/x",
          "/%2E%2e/x", "/%2e%2E/x", "/.%2e/x", "/%2e./x", "/a/%2e%2e", "/..%2f..%2fetc/passwd",
          "/..%2F..", "/a%2fb", "/..%5c..%5cetc", "/a\\b", "/..\\..\\etc"}) {
        CAPTURE(path);
        const MappedPath m = map_request_path(path);
        CHECK(m.status == 403);
        CHECK(m.relative.empty());
    }
}

TEST_CASE("map_request_path refuses malformed paths with 400") {
    for (const char* path : {"", "*", "a/b", "example.com:80", "/a%00b", "/%00", "/a%zz", "/%",
                             "/a%2", "/a%0Ab", "/a%0d%0aSet-Cookie:x", "/%7f", "/%1b[31m"}) {
        CAPTURE(path);
        CHECK(map_request_path(path).status == 400);
    }
}

TEST_CASE("map_request_path never yields a path that could climb: random paths") {
    // Paths built from the characters that matter, checked against the
    // promise in the header: no empty, "." or ".." segment, no leading '/',
    // no NUL, no backslash, no control character.
    const std::string alphabet = "./%2eEfF5cCa0\\";
    std::mt19937 rng(1234);
    int mapped = 0;
    for (int i = 0; i < 20000; ++i) {
        std::string path = "/";
        const std::size_t length = rng() % 14;
        for (std::size_t k = 0; k < length; ++k) path.push_back(alphabet[rng() % alphabet.size()]);
        const MappedPath m = map_request_path(path);
        CAPTURE(path);
        if (m.status != 0) {
            REQUIRE((m.status == 400 || m.status == 403));
            continue;
        }
        ++mapped;
        REQUIRE((m.relative.empty() || m.relative.front() != '/'));
        REQUIRE(m.relative.find('\\') == std::string::npos);
        REQUIRE(m.relative.find('\0') == std::string::npos);
        std::size_t begin = 0;
        while (!m.relative.empty() && begin <= m.relative.size()) {
            std::size_t end = m.relative.find('/', begin);
            if (end == std::string::npos) end = m.relative.size();
            const std::string segment = m.relative.substr(begin, end - begin);
            REQUIRE(segment != "");
            REQUIRE(segment != ".");
            REQUIRE(segment != "..");
            begin = end + 1;
        }
    }
    CHECK(mapped > 1000);  // the generator does reach the accepting paths
}

TEST_CASE("percent_encode_path round-trips through map_request_path") {
    CHECK(percent_encode_path("a b/c~-._") == "a%20b/c~-._");
    CHECK(percent_encode_path("?#%") == "%3F%23%25");
    for (const std::string name : {"plain.txt", "dir/with space/x", "caf\xc3\xa9", "100%/?#[]",
                                   "a+b;c=d", "..x/x.."}) {
        CAPTURE(name);
        const MappedPath m = map_request_path("/" + percent_encode_path(name));
        CHECK(m.status == 0);
        CHECK(m.relative == name);
    }
}

TEST_CASE("open_beneath: files, directories and links inside the root open") {
    Tree tree;
    for (const NamedOpen& impl : implementations(tree.root_fd())) {
        CAPTURE(impl.name);
        std::error_code ec;
        struct Case {
            const char* path;
            const char* contents;  // nullptr: a directory
        };
        for (const Case& c : {Case{"a.txt", "hello"}, Case{"sub/b.css", "b{}"},
                              Case{"link_in", "hello"}, Case{"link_dir/b.css", "b{}"},
                              Case{"sub/link_ok", "hello"}, Case{"link_dir/../a.txt", "hello"},
                              Case{"sub/../a.txt", "hello"}, Case{"./a.txt", "hello"},
                              Case{"", nullptr}, Case{"sub", nullptr}, Case{"sub/", nullptr},
                              Case{"link_dir", nullptr}, Case{"sub/..", nullptr}}) {
            CAPTURE(c.path);
            Fd fd(impl.open(tree.root_fd(), c.path, ec));
            REQUIRE_MESSAGE(fd.get() >= 0, ec.message());
            CHECK_FALSE(ec);
            struct stat st{};
            REQUIRE(::fstat(fd.get(), &st) == 0);
            if (c.contents) {
                CHECK(S_ISREG(st.st_mode));
                CHECK(contents(fd.get()) == c.contents);
            } else {
                CHECK(S_ISDIR(st.st_mode));
            }
            CHECK((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
        }
    }
}

TEST_CASE("open_beneath: every way out of the root is refused with EXDEV") {
    Tree tree;
    for (const NamedOpen& impl : implementations(tree.root_fd())) {
        CAPTURE(impl.name);
        for (const char* path : {"link_up", "link_abs", "sub/link_up2", "chain", "dir_out",
                                 "dir_out/secret.txt", "..", "../outside/secret.txt",
                                 "sub/../../outside/secret.txt", "link_dir/../..",
                                 "/etc/passwd"}) {
            CAPTURE(path);
            std::error_code ec;
            Fd fd(impl.open(tree.root_fd(), path, ec));
            CHECK(fd.get() == -1);
            CHECK(ec == std::error_code(EXDEV, std::system_category()));
            CHECK(status_for_open_error(ec) == 403);
        }
    }
}

TEST_CASE("open_beneath: missing names, files used as directories, link loops") {
    Tree tree;
    for (const NamedOpen& impl : implementations(tree.root_fd())) {
        CAPTURE(impl.name);
        struct Case {
            const char* path;
            int error;
        };
        for (const Case& c : {Case{"missing", ENOENT}, Case{"sub/missing", ENOENT},
                              Case{"missing/x", ENOENT}, Case{"a.txt/x", ENOTDIR},
                              Case{"a.txt/", ENOTDIR}, Case{"loop1", ELOOP},
                              Case{"loop2/x", ELOOP}}) {
            CAPTURE(c.path);
            std::error_code ec;
            Fd fd(impl.open(tree.root_fd(), c.path, ec));
            CHECK(fd.get() == -1);
            CHECK(ec == std::error_code(c.error, std::system_category()));
        }
    }
}

// Tells whether anyone opened a FIFO for reading: a writer thread waits in
// a blocking open(O_WRONLY), which returns only once a reader has opened the
// FIFO. The destructor opens it for reading itself, so the writer always
// ends. It also bounds the test in time: an open for reading that blocked
// waiting for a writer would find this one and return at once.
class FifoReaderProbe {
public:
    explicit FifoReaderProbe(std::string path)
        : path_(std::move(path)), writer_([this] {
              const int fd = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
              reader_came_ = true;
              if (fd >= 0) ::close(fd);
          }) {}
    ~FifoReaderProbe() {
        const int reader = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        writer_.join();
        if (reader >= 0) ::close(reader);
    }
    FifoReaderProbe(const FifoReaderProbe&) = delete;
    FifoReaderProbe& operator=(const FifoReaderProbe&) = delete;

    /// Whether a reader opened the FIFO, after giving the writer `grace` to
    /// wake up (it is woken at once; the grace is for a slow scheduler).
    bool reader_came(std::chrono::milliseconds grace) const {
        std::this_thread::sleep_for(grace);
        return reader_came_.load();
    }

private:
    std::string path_;
    std::atomic<bool> reader_came_{false};
    std::thread writer_;
};

TEST_CASE("open_beneath refuses a FIFO by its type, without opening it") {
    // Opening a FIFO for reading wakes its writers (and, without O_NONBLOCK,
    // waits for one, holding a worker thread): a request must do neither.
    Tree tree;
    stdfs::create_symlink("fifo", tree.root() / "fifo_link");
    stdfs::create_directories(tree.root() / "fifo_dir");
    REQUIRE(::mkfifo((tree.root() / "fifo_dir" / "index.html").c_str(), 0600) == 0);
    {
        const FifoReaderProbe fifo((tree.root() / "fifo").string());
        const FifoReaderProbe index((tree.root() / "fifo_dir" / "index.html").string());
        for (const NamedOpen& impl : implementations(tree.root_fd())) {
            CAPTURE(impl.name);
            for (const char* path : {"fifo", "fifo_link", "sub/../fifo", "fifo_dir/index.html"}) {
                CAPTURE(path);
                std::error_code ec;
                Fd fd(impl.open(tree.root_fd(), path, ec));
                CHECK(fd.get() == -1);
                CHECK(ec == std::error_code(ENXIO, std::system_category()));
                CHECK(status_for_open_error(ec) == 403);
            }
        }
        for (const char* request_path : {"/fifo", "/fifo_link", "/fifo_dir/"}) {
            CAPTURE(request_path);
            const OpenedFile file = open_for_serving(tree.root_fd(), map_request_path(request_path));
            CHECK(file.status == 403);
            CHECK(file.fd() == -1);
        }
        CHECK_FALSE(fifo.reader_came(std::chrono::milliseconds(100)));
        CHECK_FALSE(index.reader_came(std::chrono::milliseconds(0)));
    }
    // A regular file beside them is still served.
    const OpenedFile file = open_for_serving(tree.root_fd(), map_request_path("/a.txt"));
    CHECK(file.status == 0);
    CHECK(contents(file.fd()) == "hello");
}

TEST_CASE("a name swapped between a file and a FIFO while it is opened: only a file comes back") {
    // The type is read (fstatat) before the open; a swap in between is
    // caught by the fstat after it (another inode): the fd is closed and the
    // name looked at again. Whatever the timing, open_beneath() returns a
    // regular file or refuses; never the FIFO.
    Tree tree;
    const stdfs::path root = tree.root();
    write_file(root / "swapped", "file");
    std::atomic<bool> stop{false};
    std::thread swapper([&] {
        for (int i = 0; !stop.load(); ++i) {
            if (i % 2 == 0) {
                write_file(root / "next_file", "file");
                stdfs::rename(root / "next_file", root / "swapped");
            } else {
                ::mkfifo((root / "next_fifo").c_str(), 0600);
                stdfs::rename(root / "next_fifo", root / "swapped");
            }
        }
    });
    int files = 0, refusals = 0, others = 0;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    const std::vector<NamedOpen> impls = implementations(tree.root_fd());
    while (std::chrono::steady_clock::now() < until) {
        for (const NamedOpen& impl : impls) {
            std::error_code ec;
            Fd fd(impl.open(tree.root_fd(), "swapped", ec));
            if (fd.get() >= 0) {
                struct stat st{};
                if (::fstat(fd.get(), &st) == 0 && S_ISREG(st.st_mode)) {
                    ++files;
                } else {
                    ++others;
                }
            } else if (ec.value() == ENXIO || ec.value() == EAGAIN) {
                ++refusals;
            } else {
                ++others;
            }
        }
    }
    stop = true;
    swapper.join();
    CHECK(others == 0);
    CHECK(files + refusals > 0);
}

TEST_CASE("open_beneath refuses devices and sockets by their type; /dev/null stays out") {
    Tree tree;
    std::vector<std::string> special;
    // A UNIX socket: open() itself would fail (ENXIO), but it must be refused
    // as a special file (403), not reported as a server error.
    Fd sock(::socket(AF_UNIX, SOCK_STREAM, 0));
    REQUIRE(sock.get() >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string sock_path = (tree.root() / "sock").string();
    REQUIRE(sock_path.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, sock_path.c_str(), sock_path.size() + 1);
    REQUIRE(::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    special.push_back("sock");
    // A character device with /dev/null's numbers, where this process may
    // make one (root with CAP_MKNOD); opening it is harmless, but it must
    // not be opened at all.
    struct stat null_st{};
    REQUIRE(::stat("/dev/null", &null_st) == 0);
    if (::mknod((tree.root() / "null").c_str(), S_IFCHR | 0600, null_st.st_rdev) == 0) {
        special.push_back("null");
        stdfs::create_symlink("null", tree.root() / "null_link");
        special.push_back("null_link");
    } else {
        MESSAGE("mknod not permitted here (" << std::strerror(errno)
                                             << "): no device node inside the root checked");
    }
    for (const NamedOpen& impl : implementations(tree.root_fd())) {
        CAPTURE(impl.name);
        for (const std::string& path : special) {
            CAPTURE(path);
            std::error_code ec;
            Fd fd(impl.open(tree.root_fd(), path, ec));
            CHECK(fd.get() == -1);
            CHECK(ec == std::error_code(ENXIO, std::system_category()));
        }
    }
    for (const std::string& path : special) {
        CAPTURE(path);
        CHECK(open_for_serving(tree.root_fd(), map_request_path("/" + path)).status == 403);
    }

    // /dev/null through a symbolic link, absolute or climbing: out of the root.
    stdfs::create_symlink("/dev/null", tree.root() / "devnull_abs");
    stdfs::create_symlink("../../../../../../../../../../dev/null", tree.root() / "devnull_up");
    for (const char* path : {"/devnull_abs", "/devnull_up"}) {
        CAPTURE(path);
        CHECK(open_for_serving(tree.root_fd(), map_request_path(path)).status == 403);
    }
}

TEST_CASE("status_for_open_error: 404 for names that do not exist, 403 for refusals") {
    const auto status = [](int e) {
        return status_for_open_error(std::error_code(e, std::system_category()));
    };
    CHECK(status(ENOENT) == 404);
    CHECK(status(ENOTDIR) == 404);
    CHECK(status(ENAMETOOLONG) == 404);
    CHECK(status(EXDEV) == 403);
    CHECK(status(ELOOP) == 403);
    CHECK(status(EACCES) == 403);
    CHECK(status(EPERM) == 403);
    CHECK(status(ENXIO) == 403);  // a FIFO, device or socket, refused unopened
    CHECK(status(EIO) == 500);
    CHECK(status_for_open_error(std::make_error_code(std::errc::io_error)) == 500);
}

TEST_CASE("open_for_serving: files, index pages, redirects and refusals") {
    Tree tree;
    struct Case {
        const char* request_path;
        int status;
        const char* name;  // the name opened (or redirected to), when status is 0 or 301
    };
    for (const Case& c : {Case{"/a.txt", 0, "a.txt"}, Case{"/sub/", 0, "sub/index.html"},
                          Case{"/link_dir/", 0, "link_dir/index.html"},
                          Case{"/sub/link_ok", 0, "sub/link_ok"}, Case{"/sub", 301, "sub"},
                          Case{"/link_dir", 301, "link_dir"}, Case{"/", 404, nullptr},
                          Case{"/empty/", 404, nullptr}, Case{"/a.txt/", 404, nullptr},
                          Case{"/missing", 404, nullptr}, Case{"/link_up", 403, nullptr},
                          Case{"/link_abs", 403, nullptr},
                          Case{"/dir_out/secret.txt", 403, nullptr}, Case{"/loop1", 403, nullptr},
                          Case{"/fifo", 403, nullptr}}) {
        CAPTURE(c.request_path);
        const MappedPath mapped = map_request_path(c.request_path);
        REQUIRE(mapped.status == 0);
        OpenedFile file = open_for_serving(tree.root_fd(), mapped);
        CHECK(file.status == c.status);
        if (c.status == 0) {
            CHECK(file.name == c.name);
            REQUIRE(file.fd() >= 0);
            struct stat st{};
            REQUIRE(::fstat(file.fd(), &st) == 0);
            CHECK(file.size == static_cast<std::uint64_t>(st.st_size));
            CHECK(file.mtime == st.st_mtime);
            CHECK(contents(file.fd()).size() == file.size);
        } else {
            CHECK(file.fd() == -1);
            if (c.status == 301) CHECK(file.name == c.name);
        }
    }

    // The fd moves with the object and is closed exactly once.
    OpenedFile a = open_for_serving(tree.root_fd(), map_request_path("/a.txt"));
    const int fd = a.fd();
    OpenedFile b = std::move(a);
    CHECK(a.fd() == -1);
    CHECK(b.fd() == fd);
    b.close();
    CHECK(b.fd() == -1);
    CHECK(::fcntl(fd, F_GETFD) == -1);
}

TEST_CASE("content_type_for: common extensions, any case, text with charset") {
    CHECK(content_type_for("index.html") == "text/html; charset=utf-8");
    CHECK(content_type_for("a/b/INDEX.HTM") == "text/html; charset=utf-8");
    CHECK(content_type_for("s.css") == "text/css; charset=utf-8");
    CHECK(content_type_for("app.js") == "text/javascript; charset=utf-8");
    CHECK(content_type_for("app.mjs") == "text/javascript; charset=utf-8");
    CHECK(content_type_for("d.json") == "application/json");
    CHECK(content_type_for("r.txt") == "text/plain; charset=utf-8");
    CHECK(content_type_for("i.svg") == "image/svg+xml");
    CHECK(content_type_for("i.png") == "image/png");
    CHECK(content_type_for("i.jpg") == "image/jpeg");
    CHECK(content_type_for("i.JPEG") == "image/jpeg");
    CHECK(content_type_for("i.gif") == "image/gif");
    CHECK(content_type_for("i.webp") == "image/webp");
    CHECK(content_type_for("favicon.ico") == "image/x-icon");
    CHECK(content_type_for("m.wasm") == "application/wasm");
    CHECK(content_type_for("d.pdf") == "application/pdf");
    CHECK(content_type_for("d.xml") == "application/xml");
    CHECK(content_type_for("v.mp4") == "video/mp4");
    CHECK(content_type_for("f.woff2") == "font/woff2");
    CHECK(content_type_for("f.woff") == "font/woff");
    CHECK(content_type_for("archive.tar.gz") == "application/octet-stream");
    CHECK(content_type_for("Makefile") == "application/octet-stream");
    CHECK(content_type_for(".html") == "application/octet-stream");  // a hidden name
    CHECK(content_type_for("dir.html/file") == "application/octet-stream");
    CHECK(content_type_for("trailing.") == "application/octet-stream");
}

TEST_CASE("parse_http_date reads the three forms of RFC 9110 section 5.6.7") {
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == kRfcExample);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kRfcExample) == kRfcExample);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == kRfcExample);
    CHECK(parse_http_date("Sun Nov 06 08:49:37 1994") == kRfcExample);
    CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
    CHECK(parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT") == -1);
    CHECK(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT") == 253402300799);
    CHECK(parse_http_date("Tue, 29 Feb 2000 12:00:00 GMT") == 951825600);
    // A leap second counts as the next minute's first second.
    CHECK(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT") == 1483228800);
}

TEST_CASE("parse_http_date places two-digit RFC 850 years at most 50 years ahead") {
    const std::time_t now = *parse_http_date("Mon, 01 Jan 2024 00:00:00 GMT");
    const auto year_of = [&](const char* yy) {
        const std::string text = std::string("Monday, 01-Jan-") + yy + " 00:00:00 GMT";
        const auto t = parse_http_date(text, now);
        REQUIRE(t);
        return format_http_date(*t).substr(12, 4);
    };
    CHECK(year_of("94") == "1994");
    CHECK(year_of("24") == "2024");
    CHECK(year_of("30") == "2030");
    CHECK(year_of("74") == "2074");  // exactly 50 years ahead: kept
    CHECK(year_of("75") == "1975");  // 51 years ahead: the past century
    CHECK(year_of("00") == "2000");
}

TEST_CASE("parse_http_date refuses what is not an HTTP-date") {
    for (const char* text :
         {"", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
          "Sun, 06 Nov 1994 08:49:37 GMT ", " Sun, 06 Nov 1994 08:49:37 GMT",
          "sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 nov 1994 08:49:37 GMT",
          "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT",
          "Sun, 30 Feb 1994 08:49:37 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
          "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT",
          "Sun, 06 Nov 1994 08:49:61 GMT", "Sun, 06 Nov 1994 8:49:37 GMT",
          "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT",
          "Sunday, 06-Nov-1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994",
          "Sun Nov  6 08:49:37 94", "Xyz, 06 Nov 1994 08:49:37 GMT", "784111777",
          "Sun, 06 Nov 1994 08:49:37 GMT\r\nX: y"}) {
        CAPTURE(text);
        CHECK_FALSE(parse_http_date(text, kRfcExample));
    }
}

TEST_CASE("format_http_date writes IMF-fixdate and round-trips") {
    CHECK(format_http_date(kRfcExample) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(format_http_date(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    for (std::time_t t : {std::time_t{0}, kRfcExample, std::time_t{951825600},
                          std::time_t{1700000000}, std::time_t{253402300799}}) {
        CAPTURE(t);
        CHECK(parse_http_date(format_http_date(t)) == t);
    }
}

TEST_CASE("parse_range: one byte range against a file of 1000 bytes") {
    struct Case {
        const char* value;
        RangeKind kind;
        std::uint64_t first, last;
    };
    const auto P = RangeKind::Partial;
    const auto W = RangeKind::Whole;
    const auto U = RangeKind::Unsatisfiable;
    for (const Case& c : {
             Case{"bytes=0-499", P, 0, 499},
             Case{"bytes=500-", P, 500, 999},
             Case{"bytes=-200", P, 800, 999},
             Case{"bytes=-1000", P, 0, 999},
             Case{"bytes=-2000", P, 0, 999},  // longer suffix than the file: all of it
             Case{"bytes=0-5000", P, 0, 999},  // last clamped to the end
             Case{"bytes=999-999", P, 999, 999},
             Case{"bytes=0-0", P, 0, 0},
             Case{"BYTES=1-2", P, 1, 2},  // the unit is case-insensitive
             Case{"bytes=1-2, ", P, 1, 2},  // empty list elements are allowed
             Case{"bytes=,1-2", P, 1, 2},
             Case{"bytes=0-99999999999999999999999", P, 0, 999},  // saturates
             Case{"bytes=-99999999999999999999999", P, 0, 999},
             Case{"bytes=1000-", U, 0, 0},
             Case{"bytes=1000-2000", U, 0, 0},
             Case{"bytes=99999999999999999999-", U, 0, 0},
             Case{"bytes=-0", U, 0, 0},
             Case{"bytes=5-1", W, 0, 0},  // last < first: invalid, ignored
             Case{"bytes=", W, 0, 0},
             Case{"bytes=-", W, 0, 0},
             Case{"bytes=a-b", W, 0, 0},
             Case{"bytes=1-2-3", W, 0, 0},
             Case{"bytes=1 -2", W, 0, 0},
             Case{"bytes=+1-2", W, 0, 0},
             Case{"bytes 0-1", W, 0, 0},
             Case{"items=0-1", W, 0, 0},
             Case{"bytes=0-1,2-3", W, 0, 0},  // several ranges: the whole file
             Case{"bytes=0-1,5000-", W, 0, 0},
             Case{"", W, 0, 0},
         }) {
        CAPTURE(c.value);
        const ByteRange r = parse_range(c.value, 1000);
        CHECK(r.kind == c.kind);
        if (c.kind == RangeKind::Partial) {
            CHECK(r.first == c.first);
            CHECK(r.last == c.last);
        }
    }
}

TEST_CASE("parse_range on an empty file: offsets are unsatisfiable, suffixes ignored") {
    CHECK(parse_range("bytes=0-", 0).kind == RangeKind::Unsatisfiable);
    CHECK(parse_range("bytes=0-10", 0).kind == RangeKind::Unsatisfiable);
    CHECK(parse_range("bytes=-5", 0).kind == RangeKind::Whole);
    CHECK(parse_range("bytes=-0", 0).kind == RangeKind::Unsatisfiable);
}

TEST_CASE("plan_file_reply: 200, 304, 206 and 416 in the order of RFC 9110 13.2.2") {
    const std::uint64_t size = 1000;
    const std::time_t mtime = kRfcExample;
    const std::string same = format_http_date(mtime);
    const std::string later = format_http_date(mtime + 60);
    const std::string earlier = format_http_date(mtime - 60);

    SUBCASE("no conditions: the whole file") {
        const FileReply r = plan_file_reply({}, size, mtime);
        CHECK(r.status == 200);
        CHECK(r.offset == 0);
        CHECK(r.length == size);
        CHECK(r.content_range.empty());
    }
    SUBCASE("If-Modified-Since") {
        FileRequest q;
        q.if_modified_since = same;
        CHECK(plan_file_reply(q, size, mtime).status == 304);
        CHECK(plan_file_reply(q, size, mtime).length == 0);
        q.if_modified_since = later;
        CHECK(plan_file_reply(q, size, mtime).status == 304);
        q.if_modified_since = earlier;
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.if_modified_since = "yesterday";  // invalid: ignored
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.if_modified_since = same;
        q.head = true;
        CHECK(plan_file_reply(q, size, mtime).status == 304);
    }
    SUBCASE("If-Modified-Since later than the server's clock is ignored (RFC 9110 13.1.3)") {
        const std::time_t now = mtime + 3600;  // the file changed an hour ago
        FileRequest q;
        q.if_modified_since = format_http_date(now + 86400);  // a day ahead
        FileReply r = plan_file_reply(q, size, mtime, now);
        CHECK(r.status == 200);
        CHECK(r.length == size);
        q.if_modified_since = format_http_date(now + 1);  // one second ahead
        CHECK(plan_file_reply(q, size, mtime, now).status == 200);
        // Not in the future, and not older than the file: still 304.
        for (const std::time_t since : {mtime, mtime + 60, now}) {
            CAPTURE(since);
            q.if_modified_since = format_http_date(since);
            CHECK(plan_file_reply(q, size, mtime, now).status == 304);
        }
        q.if_modified_since = format_http_date(mtime - 1);
        CHECK(plan_file_reply(q, size, mtime, now).status == 200);
        q.if_modified_since = "Sun, 06 Nov 1994 08:49:37 UTC";  // not an HTTP-date: ignored
        CHECK(plan_file_reply(q, size, mtime, now).status == 200);
        // The overload without `now` reads the clock: a day ahead of it is
        // in the future too.
        q.if_modified_since = format_http_date(std::time(nullptr) + 86400);
        CHECK(plan_file_reply(q, size, mtime).status == 200);
    }
    SUBCASE("If-None-Match overrides If-Modified-Since; only * matches without ETags") {
        FileRequest q;
        q.if_modified_since = same;
        q.if_none_match = "\"abc\"";
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.if_none_match = "*";
        CHECK(plan_file_reply(q, size, mtime).status == 304);
    }
    SUBCASE("Range on GET: 206 with Content-Range; unsatisfiable: 416") {
        FileRequest q;
        q.range = "bytes=10-19";
        FileReply r = plan_file_reply(q, size, mtime);
        CHECK(r.status == 206);
        CHECK(r.offset == 10);
        CHECK(r.length == 10);
        CHECK(r.content_range == "bytes 10-19/1000");

        q.range = "bytes=-1";
        r = plan_file_reply(q, size, mtime);
        CHECK(r.status == 206);
        CHECK(r.offset == 999);
        CHECK(r.length == 1);
        CHECK(r.content_range == "bytes 999-999/1000");

        q.range = "bytes=1000-";
        r = plan_file_reply(q, size, mtime);
        CHECK(r.status == 416);
        CHECK(r.length == 0);
        CHECK(r.content_range == "bytes */1000");

        q.range = "bytes=0-1,3-4";
        r = plan_file_reply(q, size, mtime);
        CHECK(r.status == 200);
        CHECK(r.length == size);
    }
    SUBCASE("Range is ignored for HEAD, and after a 304") {
        FileRequest q;
        q.range = "bytes=10-19";
        q.head = true;
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.head = false;
        q.if_modified_since = same;
        CHECK(plan_file_reply(q, size, mtime).status == 304);
    }
    SUBCASE("If-Range: the range only if the date is exactly Last-Modified") {
        FileRequest q;
        q.range = "bytes=10-19";
        q.if_range = same;
        CHECK(plan_file_reply(q, size, mtime).status == 206);
        q.if_range = earlier;
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.if_range = later;
        CHECK(plan_file_reply(q, size, mtime).status == 200);
        q.if_range = "\"an-etag\"";
        CHECK(plan_file_reply(q, size, mtime).status == 200);
    }
}

TEST_CASE("FileRequest::from copies the conditional headers out of a parsed request") {
    RequestParser parser;
    const std::string raw =
        "HEAD /x HTTP/1.1\r\nHost: h\r\nrange: bytes=1-2\r\nIf-Modified-Since: " +
        format_http_date(kRfcExample) + "\r\nIF-RANGE: x\r\n\r\n";
    REQUIRE(parser.feed(raw) == raw.size());
    REQUIRE(parser.done());
    const FileRequest q = FileRequest::from(parser.request());
    CHECK(q.head);
    CHECK(q.range == "bytes=1-2");
    CHECK(q.if_modified_since == format_http_date(kRfcExample));
    CHECK(q.if_range == "x");
    CHECK_FALSE(q.if_none_match);

    RequestParser get;
    REQUIRE(get.feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
    const FileRequest plain = FileRequest::from(get.request());
    CHECK_FALSE(plain.head);
    CHECK_FALSE(plain.range);
    CHECK_FALSE(plain.if_modified_since);
}
