// examples/echo_client.cpp -- sends its standard input to an echo server
// and prints what comes back.
//
//   build/examples/echo_client [--host 127.0.0.1] [--port 7000] < some_file
//
// The client side of the library: TcpClient connects asynchronously; stdin
// is one more fd on the same loop. When stdin ends, the client half-closes
// (shutdown()): the server sees EOF, echoes what is left and closes; the
// client exits 0 once every byte came back, 1 otherwise.
//
// Backpressure works here too: while more than 1 MiB waits to be sent,
// stdin is not read, so a fast producer cannot make the client buffer a
// whole file in memory.
#include <reactor/reactor.hpp>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

using namespace reactor;

namespace {

constexpr std::size_t kHighWater = 1024 * 1024;

// Copies bytes to stdout. A blocking write: acceptable for a command-line
// tool whose stdout is the user's terminal or a pipe it chose.
void print(std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
        if (n <= 0) return;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

// Reads standard input on the loop and hands it to the connection.
class StdinPump {
public:
    StdinPump(EventLoop& loop, TcpConnectionPtr conn, std::uint64_t& sent)
        : loop_(loop), conn_(std::move(conn)), sent_(sent) {}

    void start() {
        std::error_code ec;
        watch_ = loop_.watch(STDIN_FILENO, Readable, [this](Events) { read_once(); }, ec);
        // epoll refuses regular files (EPERM): they are always readable
        // anyway, so read them from a zero-delay timer instead.
        if (ec) schedule();
    }

    void resume() {
        if (paused_ && !done_) {
            paused_ = false;
            if (watch_) {
                (void)loop_.enable(watch_, Readable);
            } else {
                schedule();
            }
        }
    }

    bool done() const { return done_; }

private:
    void schedule() {
        loop_.run_after(EventLoop::Duration::zero(), [this] { read_once(); });
    }

    void read_once() {
        char data[64 * 1024];
        const ssize_t n = ::read(STDIN_FILENO, data, sizeof data);
        if (n < 0 && errno == EINTR) return;
        if (n <= 0) {
            done_ = true;
            if (watch_) loop_.unwatch(watch_);
            conn_->shutdown();  // no more to send: let the server finish
            return;
        }
        sent_ += static_cast<std::uint64_t>(n);
        conn_->send(data, static_cast<std::size_t>(n));
        if (conn_->output_bytes() > kHighWater) {
            paused_ = true;  // resumed by the write-complete callback
            if (watch_) (void)loop_.disable(watch_, Readable);
        } else if (!watch_) {
            schedule();
        }
    }

    EventLoop& loop_;
    TcpConnectionPtr conn_;
    std::uint64_t& sent_;
    WatcherId watch_;
    bool paused_ = false;
    bool done_ = false;
};

}  // namespace

int main(int argc, char** argv) try {
    std::string host = "127.0.0.1";
    long port = 7000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = std::strtol(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr, "usage: %s [--host H] [--port N]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || port > 65535) {
        std::fprintf(stderr, "echo_client: --port must be 1..65535\n");
        return 2;
    }

    EventLoop loop;
    TcpClient client(loop, SocketAddress::from_host_port(host, static_cast<std::uint16_t>(port)));
    std::uint64_t sent = 0;
    std::uint64_t received = 0;
    std::unique_ptr<StdinPump> pump;
    int status = 1;

    client.on_message([&](const TcpConnectionPtr&, Buffer& in) {
        received += in.size();
        print(in.view());
        in.consume_all();
    });
    client.on_write_complete([&](const TcpConnectionPtr&) {
        if (pump) pump->resume();
    });
    client.on_close([&](const TcpConnectionPtr&, std::error_code ec) {
        if (ec) std::fprintf(stderr, "echo_client: %s\n", ec.message().c_str());
        status = (!ec && pump && pump->done() && received == sent) ? 0 : 1;
        if (status != 0 && !ec) {
            std::fprintf(stderr, "echo_client: sent %llu bytes, %llu came back\n",
                         static_cast<unsigned long long>(sent), static_cast<unsigned long long>(received));
        }
        loop.stop();
    });
    client.connect([&](std::error_code ec, const TcpConnectionPtr& conn) {
        if (ec) {
            std::fprintf(stderr, "echo_client: cannot connect to %s: %s\n",
                         client.server_address().to_string().c_str(), ec.message().c_str());
            loop.stop();
            return;
        }
        pump = std::make_unique<StdinPump>(loop, conn, sent);
        pump->start();
    });
    loop.run();
    return status;
} catch (const std::exception& e) {
    std::fprintf(stderr, "echo_client: %s\n", e.what());
    return 1;
}
