// examples/chat_server.cpp -- a line-based chat room any `nc` can join.
//
//   build/examples/chat_server [--host 127.0.0.1] [--port 7001]
//                              [--max-line BYTES] [--max-output BYTES]
//   nc 127.0.0.1 7001        (in several terminals)
//
// Every line a client sends reaches every OTHER client as "[NAME] LINE",
// where NAME is the sender's address; joins and leaves are announced as
// "* NAME joined" and "* NAME left". One thread serves everybody.
//
// Memory stays bounded whatever the clients do:
//   - a line longer than --max-line (4 KiB) is refused: the client gets a
//     message and is disconnected, so a client cannot make the server
//     buffer an endless line;
//   - a client that does not read (its queued output passes --max-output,
//     1 MiB, the high-water mark) is cut off, so a slow or hostile reader
//     cannot make the server queue the whole conversation for it.
//
// Prints "listening on HOST:PORT" once ready; exits 0 on SIGINT/SIGTERM
// after closing its connections.
#include <reactor/reactor.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <string>

using namespace reactor;

namespace {

struct Args {
    std::string host = "127.0.0.1";
    long port = 7001;
    long long max_line = 4096;
    long long max_output = 1024 * 1024;
};

[[noreturn]] void usage(const char* self) {
    std::fprintf(stderr, "usage: %s [--host H] [--port N] [--max-line BYTES] [--max-output BYTES]\n", self);
    std::exit(2);
}

Args parse_args(int argc, char** argv) {
    Args args;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (std::strcmp(argv[i], "--host") == 0 && has_value) {
            args.host = argv[++i];
        } else if (std::strcmp(argv[i], "--port") == 0 && has_value) {
            args.port = std::strtol(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--max-line") == 0 && has_value) {
            args.max_line = std::strtoll(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--max-output") == 0 && has_value) {
            args.max_output = std::strtoll(argv[++i], nullptr, 10);
        } else {
            usage(argv[0]);
        }
    }
    if (args.port < 0 || args.port > 65535 || args.max_line <= 0 || args.max_output <= 0) usage(argv[0]);
    return args;
}

// The room: who is here, and how to tell everybody else something.
class ChatRoom {
public:
    explicit ChatRoom(std::size_t max_line) : max_line_(max_line) {}

    void join(const TcpConnectionPtr& client) {
        // The peer address is asked of the socket now and kept as the
        // client's name in its context slot: after a reset it is gone.
        client->context() = client->peer_address().to_string();
        tell_others(client, "* " + name(client) + " joined\n");
        members_[client.get()] = client;
    }

    void leave(const TcpConnectionPtr& client) {
        if (members_.erase(client.get()) == 0) return;
        tell_others(client, "* " + name(client) + " left\n");
    }

    void hear(const TcpConnectionPtr& client, Buffer& input) {
        std::size_t end;
        while ((end = input.find('\n')) != Buffer::npos) {
            if (end > max_line_) return cut_off(client, input);
            std::string_view line = input.view().substr(0, end);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // telnet, nc -C
            tell_others(client, "[" + name(client) + "] " + std::string(line) + "\n");
            input.consume(end + 1);
        }
        // An unfinished line stays buffered, but not beyond the limit.
        if (input.size() > max_line_) cut_off(client, input);
    }

private:
    static const std::string& name(const TcpConnectionPtr& client) {
        return *std::any_cast<std::string>(&client->context());
    }

    void tell_others(const TcpConnectionPtr& sender, const std::string& text) {
        // send() never closes a connection from inside (closes are deferred
        // to the loop), so iterating the room while sending is safe.
        for (const auto& [raw, member] : members_) {
            if (raw != sender.get()) member->send(text);
        }
    }

    void cut_off(const TcpConnectionPtr& client, Buffer& input) {
        input.consume_all();
        client->send("* line too long (over " + std::to_string(max_line_) + " bytes), bye\n");
        client->close();
    }

    std::size_t max_line_;
    std::map<TcpConnection*, TcpConnectionPtr> members_;
};

}  // namespace

int main(int argc, char** argv) try {
    const Args args = parse_args(argc, argv);
    EventLoop loop;
    TcpServer server(loop, SocketAddress::from_host_port(args.host, static_cast<std::uint16_t>(args.port)));
    ChatRoom room(static_cast<std::size_t>(args.max_line));
    server.set_high_water_mark(static_cast<std::size_t>(args.max_output));

    server.on_connect([&](const TcpConnectionPtr& c) { room.join(c); });
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) { room.hear(c, in); });
    server.on_close([&](const TcpConnectionPtr& c, std::error_code) { room.leave(c); });
    server.on_high_water([](const TcpConnectionPtr& c, std::size_t queued) {
        std::fprintf(stderr, "chat_server: cutting off %s: %zu bytes queued, not reading\n",
                     std::any_cast<std::string>(&c->context())->c_str(), queued);
        c->force_close();
    });

    auto stop = [&](int) { server.shutdown(std::chrono::seconds(1), [&] { loop.stop(); }); };
    loop.on_signal(SIGINT, stop);
    loop.on_signal(SIGTERM, stop);

    std::printf("listening on %s\n", server.local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "chat_server: %s\n", e.what());
    return 1;
}
