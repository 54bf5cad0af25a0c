// runs-on: every backend
// tests/http_files_test.cpp -- examples/http_files, driven as a user would:
// started as a child process on a temporary root holding files, an index
// page and symbolic links pointing in and out; asked over loopback with raw
// HTTP requests (no client-side path normalisation, so "..", "%2e%2e" and
// friends reach the server as written); stopped with SIGTERM. The backend
// under test reaches the child through REACTOR_BACKEND.
#include "child_process.hpp"
#include "http_server_util.hpp"

#include <reactor/http/static_files.hpp>
#include <reactor/socket_address.hpp>

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace reactor;
using namespace reactor::test;
namespace stdfs = std::filesystem;

namespace {

// Larger than three of the server's 64 KiB slices, not a multiple of one.
constexpr std::size_t kBigSize = 200 * 1000 + 7;

// The served tree, in a fresh temporary directory removed at the end:
//
//   <tmp>/outside/secret.txt                 "TOP SECRET" (never served)
//   <tmp>/root/hello.txt  page.html  style.css  data.bin (kBigSize bytes)
//   <tmp>/root/sub/index.html   <tmp>/root/empty/
//   <tmp>/root/link_in  -> hello.txt
//   <tmp>/root/link_out -> ../outside/secret.txt
//   <tmp>/root/link_abs -> <tmp>/outside/secret.txt
//   <tmp>/root/dir_out  -> ../outside
class Site {
public:
    Site() : dir_("reactor-files"), base_(dir_.path()), root_(base_ / "root") {
        stdfs::create_directories(base_ / "outside");
        stdfs::create_directories(root_ / "sub");
        stdfs::create_directories(root_ / "empty");
        write_file(base_ / "outside" / "secret.txt", "TOP SECRET");
        write_file(root_ / "hello.txt", "Hello, files!\n");
        write_file(root_ / "page.html", "<h1>page</h1>");
        write_file(root_ / "style.css", "h1{}");
        write_file(root_ / "data.bin", big());
        write_file(root_ / "sub" / "index.html", "<p>sub index</p>");
        stdfs::create_symlink("hello.txt", root_ / "link_in");
        stdfs::create_symlink("../outside/secret.txt", root_ / "link_out");
        stdfs::create_symlink(base_ / "outside" / "secret.txt", root_ / "link_abs");
        stdfs::create_directory_symlink("../outside", root_ / "dir_out");
    }
    std::string root() const { return root_.string(); }
    std::time_t mtime(const char* name) const {
        struct stat st{};
        REQUIRE(::stat((root_ / name).c_str(), &st) == 0);
        return st.st_mtime;
    }
    static const std::string& big() {
        static const std::string data = pattern(kBigSize);
        return data;
    }

private:
    TempDir dir_;  // removed with the tree
    stdfs::path base_, root_;
};

// build/.../http_files --root ROOT --port 0, running until the test ends
// (SIGKILL then, if terminate() was not called).
class FileServer {
public:
    explicit FileServer(const std::string& root)
        : child_("http_files", {"--root", root, "--port", "0"}),
          address_(listening_address(child_.read_stdout_line())) {}
    const SocketAddress& address() const { return address_; }
    // Sends `signo`, then returns the exit status (-1 if it did not exit
    // in time).
    int terminate(int signo = SIGTERM) { return child_.stop(signo); }

private:
    ChildProcess child_;
    SocketAddress address_;
};

// Sends `raw` (one or more requests) on a new connection and reads one
// reply per entry of `head_flags` (true: that request was a HEAD), within
// the deadline.
std::vector<HttpReply> exchange(const SocketAddress& where, const std::string& raw,
                            const std::vector<bool>& head_flags) {
    Fd fd = tcp_connect(where);
    write_all(fd.get(), raw);
    std::vector<HttpReply> replies;
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    bool open = true;
    while (replies.size() < head_flags.size() && std::chrono::steady_clock::now() < deadline) {
        if (auto r = take_reply(in, head_flags[replies.size()], !open)) {
            replies.push_back(std::move(*r));
            continue;
        }
        if (!open) break;
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 50);
        open = read_into(fd.get(), in) > 0;
    }
    replies.resize(head_flags.size());  // missing ones stay incomplete
    return replies;
}

HttpReply request(const SocketAddress& where, const std::string& method, const std::string& target,
              const std::string& extra_headers = "") {
    const std::string raw =
        method + " " + target + " HTTP/1.1\r\nHost: test\r\n" + extra_headers + "\r\n";
    return exchange(where, raw, {method == "HEAD"}).front();
}

HttpReply get(const SocketAddress& where, const std::string& target, const std::string& extra = "") {
    return request(where, "GET", target, extra);
}

}  // namespace

TEST_CASE("http_files serves files with their type, length and Last-Modified") {
    Site site;
    FileServer server(site.root());

    HttpReply r = get(server.address(), "/hello.txt");
    REQUIRE(r.complete());
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, files!\n");
    CHECK(r.header("content-type") == "text/plain; charset=utf-8");
    CHECK(r.header("content-length") == "14");
    CHECK(r.header("last-modified") == http::format_http_date(site.mtime("hello.txt")));
    CHECK(r.header("accept-ranges") == "bytes");

    r = get(server.address(), "/page.html");
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.body == "<h1>page</h1>");
    CHECK(get(server.address(), "/style.css").header("content-type") == "text/css; charset=utf-8");

    // Several slices, read one after another on the worker pool.
    r = get(server.address(), "/data.bin");
    REQUIRE(r.complete());
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "application/octet-stream");
    CHECK(r.body.size() == kBigSize);
    CHECK(r.body == Site::big());

    // A link that stays inside the root is followed.
    CHECK(get(server.address(), "/link_in").body == "Hello, files!\n");

    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: HEAD gives GET's head without the body") {
    Site site;
    FileServer server(site.root());
    Fd fd = tcp_connect(server.address());
    write_all(fd.get(), "HEAD /data.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    // Read the head, then whatever follows within 300 ms: nothing may.
    std::string in;
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    bool open = true;
    while (open && in.find("\r\n\r\n") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 50);
        open = read_into(fd.get(), in) > 0;
    }
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (open && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 50);
        open = read_into(fd.get(), in) > 0;
    }
    const auto reply = take_reply(in, true, true);
    REQUIRE(reply);
    const HttpReply& r = *reply;
    CHECK(r.status == 200);
    CHECK(r.header("content-length") == std::to_string(kBigSize));
    CHECK(r.header("content-type") == "application/octet-stream");
    CHECK(r.header("last-modified") == http::format_http_date(site.mtime("data.bin")));
    CHECK(in.empty());  // no body bytes after the head
    CHECK(server.terminate(SIGINT) == 0);
}

TEST_CASE("http_files: directories, missing files and other methods") {
    Site site;
    FileServer server(site.root());

    HttpReply r = get(server.address(), "/sub/");
    CHECK(r.status == 200);
    CHECK(r.body == "<p>sub index</p>");
    CHECK(r.header("content-type") == "text/html; charset=utf-8");

    r = get(server.address(), "/sub");
    CHECK(r.status == 301);
    CHECK(r.header("location") == "/sub/");

    CHECK(get(server.address(), "/empty/").status == 404);  // no listings
    CHECK(get(server.address(), "/").status == 404);        // the root has no index.html
    CHECK(get(server.address(), "/missing.txt").status == 404);
    CHECK(get(server.address(), "/hello.txt/").status == 404);

    for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS"}) {
        CAPTURE(method);
        r = request(server.address(), method, "/hello.txt", "Content-Length: 0\r\n");
        CHECK(r.status == 405);
        CHECK(r.header("allow") == "GET, HEAD");
    }
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: If-Modified-Since gives 304 while the file is unchanged") {
    Site site;
    FileServer server(site.root());
    const std::time_t mtime = site.mtime("hello.txt");

    HttpReply r = get(server.address(), "/hello.txt",
                  "If-Modified-Since: " + http::format_http_date(mtime) + "\r\n");
    REQUIRE(r.complete());
    CHECK(r.status == 304);
    CHECK(r.body.empty());

    r = get(server.address(), "/hello.txt",
            "If-Modified-Since: " + http::format_http_date(mtime - 3600) + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, files!\n");

    r = get(server.address(), "/hello.txt", "If-Modified-Since: not a date\r\n");
    CHECK(r.status == 200);

    // A date later than the server's clock is ignored (RFC 9110 13.1.3).
    r = get(server.address(), "/hello.txt",
            "If-Modified-Since: " + http::format_http_date(std::time(nullptr) + 86400) + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, files!\n");
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: a single Range gives 206 with its slice; past the end gives 416") {
    Site site;
    FileServer server(site.root());
    const std::string& big = Site::big();
    const std::string size = std::to_string(kBigSize);

    HttpReply r = get(server.address(), "/data.bin", "Range: bytes=100-199\r\n");
    REQUIRE(r.complete());
    CHECK(r.status == 206);
    CHECK(r.header("content-range") == "bytes 100-199/" + size);
    CHECK(r.body == big.substr(100, 100));

    // Across slice boundaries.
    r = get(server.address(), "/data.bin", "Range: bytes=65000-140000\r\n");
    CHECK(r.status == 206);
    CHECK(r.header("content-range") == "bytes 65000-140000/" + size);
    CHECK(r.body == big.substr(65000, 140001 - 65000));

    r = get(server.address(), "/data.bin", "Range: bytes=-10\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == big.substr(kBigSize - 10));

    r = get(server.address(), "/data.bin", "Range: bytes=" + size + "-\r\n");
    CHECK(r.status == 416);
    CHECK(r.header("content-range") == "bytes */" + size);

    // Several ranges: the whole file.
    r = get(server.address(), "/data.bin", "Range: bytes=0-1,5-6\r\n");
    CHECK(r.status == 200);
    CHECK(r.body.size() == kBigSize);
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files refuses paths that leave the root: '..', encoded, absolute, symlinks") {
    Site site;
    FileServer server(site.root());
    struct Case {
        const char* target;
        int status;
    };
    for (const Case& c : {
             Case{"/../outside/secret.txt", 403},
             Case{"/sub/../../outside/secret.txt", 403},
             Case{"/%2e%2e/outside/secret.txt", 403},
             Case{"/%2E%2e/outside/secret.txt", 403},
             Case{"/.%2E/outside/secret.txt", 403},
             Case{"/..%2foutside%2fsecret.txt", 403},
             Case{"/..%5coutside%5csecret.txt", 403},
             Case{"/a%00b", 400},
             Case{"http://test/../outside/secret.txt", 403},  // absolute-form target
             Case{"//etc/passwd", 404},  // read below the root, where it does not exist
             Case{"/link_out", 403},
             Case{"/link_abs", 403},
             Case{"/dir_out/secret.txt", 403},
         }) {
        CAPTURE(c.target);
        const HttpReply r = get(server.address(), c.target);
        REQUIRE(r.complete());
        CHECK(r.status == c.status);
        CHECK(r.body.find("SECRET") == std::string::npos);
    }
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files answers pipelined requests in order, whatever finishes first") {
    Site site;
    FileServer server(site.root());
    // The big file takes several worker round trips, the small one one; the
    // answers must still come in request order, on one connection.
    const std::string raw =
        "GET /data.bin HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1-3\r\n\r\n";
    const std::vector<HttpReply> replies = exchange(server.address(), raw, {false, false, false, false});
    REQUIRE(replies[3].complete());
    CHECK(replies[0].status == 200);
    CHECK(replies[0].body == Site::big());
    CHECK(replies[1].body == "Hello, files!\n");
    CHECK(replies[2].status == 404);
    CHECK(replies[3].status == 206);
    CHECK(replies[3].body == Site::big().substr(1, 3));
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: two pipelined multi-slice files each arrive whole, in order") {
    Site site;
    FileServer server(site.root());
    // Each body takes several slices paced by on_drain(): the second
    // response's pacing must not take over the first's.
    const std::string raw =
        "GET /data.bin HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /data.bin HTTP/1.1\r\nHost: t\r\n\r\n";
    const std::vector<HttpReply> replies = exchange(server.address(), raw, {false, false});
    REQUIRE(replies.size() == 2);
    REQUIRE(replies[1].complete());
    CHECK(replies[0].status == 200);
    CHECK(replies[0].body == Site::big());
    CHECK(replies[1].status == 200);
    CHECK(replies[1].body == Site::big());
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: HEAD keeps the connection open for the requests after it") {
    Site site;
    FileServer server(site.root());
    const std::string raw =
        "HEAD /data.bin HTTP/1.1\r\nHost: t\r\n\r\n"
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    const std::vector<HttpReply> replies = exchange(server.address(), raw, {true, false});
    REQUIRE(replies.size() == 2);
    REQUIRE(replies[1].complete());
    CHECK(replies[0].status == 200);
    CHECK(replies[0].body.empty());
    CHECK(replies[1].status == 200);
    CHECK(replies[1].body == "Hello, files!\n");
    CHECK(server.terminate() == 0);
}

namespace {

// A file of several MiB: large enough that a client which stops reading
// leaves the server mid-body, with slices still to read and an on_drain()
// callback pending.
constexpr std::size_t kHugeSize = 8 * 1024 * 1024;

// Sends `raw` on a new connection and reads until at least `want` bytes of
// the reply have arrived (or the deadline passes); returns the connection.
Fd start_download(const SocketAddress& where, const std::string& raw, std::size_t want) {
    Fd fd = tcp_connect(where);
    write_all(fd.get(), raw);
    std::string in;
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (in.size() < want && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd.get(), POLLIN, 0};
        ::poll(&p, 1, 50);
        if (read_into(fd.get(), in) <= 0) break;
    }
    REQUIRE(in.size() >= want);
    REQUIRE(in.rfind("HTTP/1.1 20", 0) == 0);
    return fd;
}

// Closes with a reset: SO_LINGER with a zero timeout makes close() send RST.
void reset_connection(Fd fd) {
    const linger l{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

}  // namespace

TEST_CASE("http_files: 100 abandoned downloads, closed or reset mid-body, leave the server serving") {
    Site site;
    write_file(site.root() + "/huge.bin", pattern(kHugeSize));
    FileServer server(site.root());
    // Ten rounds of ten clients, each leaving at a different point: right
    // after the head, after one slice, after several; half close (FIN, or
    // RST from the kernel since bytes are unread), half reset at once. A
    // third ask for a range, as a video player does.
    for (int round = 0; round < 10; ++round) {
        std::vector<Fd> clients;
        for (int i = 0; i < 10; ++i) {
            const int n = round * 10 + i;
            const std::string range = n % 3 == 0 ? "Range: bytes=1000-7000000\r\n" : "";
            const std::string raw = "GET /huge.bin HTTP/1.1\r\nHost: t\r\n" + range + "\r\n";
            const std::size_t want = 1 + static_cast<std::size_t>(n % 4) * 70000;
            clients.push_back(start_download(server.address(), raw, want));
        }
        for (std::size_t i = 0; i < clients.size(); ++i) {
            if (i % 2 == 1) {
                reset_connection(std::move(clients[i]));
            } else {
                clients[i].reset();
            }
        }
    }
    // Alive and answering, on a new connection...
    const HttpReply r = get(server.address(), "/hello.txt");
    REQUIRE(r.complete());
    CHECK(r.status == 200);
    CHECK(r.body == "Hello, files!\n");
    // ... and a whole download still arrives intact.
    const HttpReply whole = get(server.address(), "/data.bin");
    REQUIRE(whole.complete());
    CHECK(whole.body == Site::big());
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files: SIGTERM while a client that does not read is mid-download exits 0") {
    Site site;
    write_file(site.root() + "/huge.bin", pattern(kHugeSize));
    FileServer server(site.root());
    // The client reads the head and a little, then nothing: the server's
    // output stalls with the body unfinished. Shutdown's grace ends with a
    // forced close of that connection, which must not bring the server down.
    Fd stalled = start_download(server.address(), "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    Fd ranged = start_download(server.address(),
                               "GET /huge.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=5-\r\n\r\n", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(server.terminate() == 0);
}

TEST_CASE("http_files --send-timeout: a download nobody reads is cut off, the server serves on") {
    Site site;
    write_file(site.root() + "/huge.bin", pattern(kHugeSize));
    ChildProcess child("http_files", {"--root", site.root(), "--port", "0", "--send-timeout", "0.3",
                                      "--max-connections", "50"});
    const SocketAddress where = listening_address(child.read_stdout_line());
    // The client reads the head and a little, then nothing for a second:
    // the server's output stops making progress, and after 0.3 s the
    // connection (and the file it holds open) goes. Reading again then
    // gets what the kernels still held, and the EOF long before the whole
    // file (a client that had not stalled gets all of it, and no EOF).
    Fd stalled = start_download(where, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n", 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    std::string rest;
    const int state = read_until_closed_blocking(stalled.get(), rest);
    CHECK(state <= 0);  // closed by the server
    CHECK(rest.size() < kHugeSize);
    const HttpReply r = get(where, "/hello.txt");
    REQUIRE(r.complete());
    CHECK(r.body == "Hello, files!\n");
    CHECK(child.stop(SIGTERM) == 0);
}

TEST_CASE("http_files refuses a bad --send-timeout or --max-connections with its usage") {
    for (const char* bad : {"--send-timeout", "--max-connections"}) {
        ChildProcess child("http_files", {"--root", ".", bad, "-1"});
        CHECK(child.read_stderr_line().rfind("usage: ", 0) == 0);
        CHECK(child.stop(0) == 2);
    }
}
