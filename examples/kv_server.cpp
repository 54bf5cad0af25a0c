// examples/kv_server.cpp -- a protocol of your own on TcpServer: a tiny
// key-value store (docs/tutorial/12-your-own-protocol.md, the worked answer
// to its first exercise).
//
//   build/examples/kv_server [--port 7001]
//   SET name reactor        ->  OK
//   GET name                ->  VALUE reactor
//   DEL name                ->  DELETED   (or NOT_FOUND)
//   anything else           ->  ERROR unknown command
//
// One request per line (LF or CRLF). The store is a std::map shared by all
// connections without a lock: every callback runs on the one loop thread.
// The three rules of a line protocol are here: a line may arrive in pieces
// (keep the unfinished tail in the input Buffer), several lines may arrive
// at once (loop until no newline is left), and a line has a maximum length
// (a peer that never sends a newline must not grow the buffer forever).
#include <reactor/reactor.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <string>
#include <string_view>

using namespace reactor;

namespace {

constexpr std::size_t kMaxLine = 4096;

// [protocol]
// Answers one request line.
std::string answer(std::map<std::string, std::string>& store, std::string_view line) {
    auto word = [&line] {
        const auto space = line.find(' ');
        std::string_view w = line.substr(0, space);
        line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
        return std::string(w);
    };
    const std::string command = word();
    if (command == "SET") {
        const std::string key = word();
        store[key] = std::string(line);  // the value is the rest of the line
        return "OK\n";
    }
    if (command == "GET") {
        const auto it = store.find(word());
        return it == store.end() ? "NOT_FOUND\n" : "VALUE " + it->second + "\n";
    }
    if (command == "DEL") return store.erase(word()) != 0 ? "DELETED\n" : "NOT_FOUND\n";
    return "ERROR unknown command\n";
}

// Takes every complete line out of `input` and answers it.
void on_input(std::map<std::string, std::string>& store, const TcpConnectionPtr& conn, Buffer& input) {
    std::size_t end;
    while ((end = input.find('\n')) != Buffer::npos) {
        std::string_view line = input.view().substr(0, end);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        conn->send(answer(store, line));
        input.consume(end + 1);
    }
    if (input.size() > kMaxLine) {  // no newline in sight: refuse, then close
        conn->send("ERROR line too long\n");
        conn->close();  // flushes the answer first, reads nothing more
        input.consume_all();
    }
}
// [/protocol]

}  // namespace

int main(int argc, char** argv) try {
    long port = 7001;
    if (argc == 3 && std::strcmp(argv[1], "--port") == 0) {
        port = std::strtol(argv[2], nullptr, 10);
    } else if (argc != 1) {
        std::fprintf(stderr, "usage: %s [--port N]\n", argv[0]);
        return 2;
    }
    EventLoop loop;
    TcpServer server(loop, SocketAddress::from_host_port("127.0.0.1", static_cast<std::uint16_t>(port)));
    std::map<std::string, std::string> store;
    server.on_message([&](const TcpConnectionPtr& c, Buffer& in) { on_input(store, c, in); });
    // A client that sends requests but never reads its answers: cut it off
    // once 1 MiB of answers waits for it.
    server.set_high_water_mark(1024 * 1024);
    server.on_high_water([](const TcpConnectionPtr& c, std::size_t) { c->force_close(); });

    auto stop = [&](int) { server.shutdown(std::chrono::seconds(1), [&] { loop.stop(); }); };
    loop.on_signal(SIGINT, stop);
    loop.on_signal(SIGTERM, stop);
    std::printf("listening on %s\n", server.local_address().to_string().c_str());
    std::fflush(stdout);
    loop.run();
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "kv_server: %s\n", e.what());
    return 1;
}
