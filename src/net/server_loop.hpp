// src/net/server_loop.hpp -- what a TcpServer runs on one loop: an acceptor
// and a connection table.
//
// A one-thread server is one ServerLoop. A server with N threads is N of
// them, the first on the caller's loop, the others on loops the LoopGroup
// runs on threads of its own. A ServerLoop that only adopts sockets handed
// to it (Balance::HandOff, loops after the first) never listens.
//
// Internal: used by TcpServer and LoopGroup only.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket.hpp>
#include <reactor/tcp_server.hpp>

#include "net/acceptor.hpp"
#include "net/connection_hub.hpp"
#include "net/connection_table.hpp"

#include <memory>
#include <utility>

namespace reactor::detail {

class ServerLoop {
public:
    /// An accepted socket on its way to the loop that adopts it. It holds a
    /// place in ServerShared::current from the accept on; if it is never
    /// adopted (its loop shut down first) the place is given back.
    struct Handed {
        Socket socket;
        std::shared_ptr<ServerShared> shared;
        Handed(Socket s, std::shared_ptr<ServerShared> sh) : socket(std::move(s)), shared(std::move(sh)) {}
        ~Handed() {
            if (socket) shared->current.fetch_sub(1, std::memory_order_relaxed);
        }
    };

    // Any thread: nothing here touches the loop.
    ServerLoop(EventLoop& loop, const TcpServerOptions& options, std::shared_ptr<ServerShared> shared)
        : loop_(loop), shared_(shared), acceptor_(loop, options, shared),
          table_(loop, options.connection, shared) {
        table_.set_on_freed([this] { acceptor_.fd_freed(); });
    }
    ServerLoop(const ServerLoop&) = delete;
    ServerLoop& operator=(const ServerLoop&) = delete;

    EventLoop& loop() const noexcept { return loop_; }
    const std::shared_ptr<ServerShared>& shared() const noexcept { return shared_; }
    Acceptor& acceptor() noexcept { return acceptor_; }
    const Acceptor& acceptor() const noexcept { return acceptor_; }
    ConnectionTable& table() noexcept { return table_; }
    const ConnectionTable& table() const noexcept { return table_; }

    /// Starts accepting into this loop's table, or, with `dispatch`,
    /// handing each socket to it. Loop thread.
    void start_accepting(Acceptor::OnAccept dispatch = {}) {
        if (!dispatch) dispatch = [this](Socket socket) { table_.serve(std::move(socket)); };
        acceptor_.start(std::move(dispatch));
    }
    /// Takes a socket accepted on another loop into service. Loop thread.
    void adopt(Handed& handed) {
        if (!table_.accepting()) return;  // ~Handed closes it
        table_.serve(std::move(handed.socket));
    }
    void shutdown(EventLoop::Duration grace, std::function<void()> done) {
        acceptor_.stop();
        table_.shutdown(grace, std::move(done));
    }
    /// Called by ~TcpServer: no callbacks from here on.
    void abandon_all() noexcept {
        table_.abandon_all();
        acceptor_.stop();
    }
    void add_to(TcpServerCounters& c) const noexcept {
        acceptor_.add_to(c);
        table_.add_to(c);
    }

private:
    EventLoop& loop_;
    std::shared_ptr<ServerShared> shared_;
    Acceptor acceptor_;
    ConnectionTable table_;
};

}  // namespace reactor::detail
