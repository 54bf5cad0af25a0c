// src/tcp_server.cpp -- the listener, the accept loop, the overload policy
// and the table of open connections.
#include <reactor/tcp_server.hpp>

#include "connection_hub.hpp"
#include "socket_ops.hpp"
#include "syscall.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace reactor {
namespace detail {

class TcpServerCore final : public ConnectionOwner {
public:
    TcpServerCore(EventLoop& loop, const SocketAddress& address, TcpServerOptions options)
        : loop_(loop), options_(options), backoff_(options.min_backoff) {
        hub_.options = options.connection;
        hub_.owner = this;
        listener_ = Socket::create(address.family(), SOCK_STREAM);
        auto fail = [&](std::error_code ec, const char* what) {
            throw std::system_error(ec, std::string("reactor: TcpServer ") + what + " " +
                                            address.to_string());
        };
        if (options.reuse_address && address.family() != AF_UNIX) {
            if (auto ec = listener_.set_reuse_address(true)) fail(ec, "SO_REUSEADDR");
        }
        if (options.reuse_port) {
            if (auto ec = listener_.set_reuse_port(true)) fail(ec, "SO_REUSEPORT");
        }
        if (auto ec = listener_.bind(address)) fail(ec, "bind");
        if (auto ec = listener_.listen(options.backlog)) fail(ec, "listen");
        local_ = listener_.local_address();
        open_reserve();
        listen_watch_ = loop_.watch(listener_.fd(), Readable, [this](Events) { handle_accept(); });
    }

    // Called by ~TcpServer: no callbacks from here on.
    void abandon_all() noexcept {
        stop_listening();
        shutdown_done_ = nullptr;
        loop_.cancel(std::exchange(grace_timer_, TimerId{}));
        for (const TcpConnectionPtr& c : connections_) ConnectionHub::abandon(*c);
        connections_.clear();
        counters_.current = 0;
    }

    void connection_closed(TcpConnection& connection) override {
        // Swap-remove: O(1), and the table stays dense (16 bytes per
        // connection, no per-node allocation).
        const std::uint32_t index = ConnectionHub::slot(connection);
        if (index >= connections_.size() || connections_[index].get() != &connection) return;
        if (index + 1 != connections_.size()) {
            connections_[index] = std::move(connections_.back());
            ConnectionHub::slot(*connections_[index]) = index;
        }
        connections_.pop_back();
        counters_.current = connections_.size();
        // An fd was just freed: a listener paused for EMFILE resumes now
        // rather than at the end of its backoff.
        if (paused_) {
            loop_.cancel(std::exchange(backoff_timer_, TimerId{}));
            resume_listener();
        }
        if (shutdown_done_ && connections_.empty()) finish_shutdown();
    }

    void stop_listening() noexcept {
        if (listen_watch_) loop_.unwatch(std::exchange(listen_watch_, WatcherId{}));
        loop_.cancel(std::exchange(backoff_timer_, TimerId{}));
        paused_ = false;
        listener_.close();
        reserve_.close();
    }

    void for_each(const std::function<void(const TcpConnectionPtr&)>& fn) const {
        const std::vector<TcpConnectionPtr> snapshot = connections_;
        for (const TcpConnectionPtr& c : snapshot) fn(c);
    }

    void shutdown(EventLoop::Duration grace, std::function<void()> done) {
        stop_listening();
        shutdown_done_ = std::move(done);
        for_each([](const TcpConnectionPtr& c) { c->close(); });
        if (connections_.empty()) {
            // Still asynchronous, as promised: from the loop, not from here.
            grace_timer_ = loop_.run_after(EventLoop::Duration::zero(), [this] {
                grace_timer_ = {};
                finish_shutdown();
            });
            return;
        }
        grace_timer_ = loop_.run_after(grace, [this] {
            grace_timer_ = {};
            for_each([](const TcpConnectionPtr& c) { c->force_close(); });
        });
    }

    EventLoop& loop_;
    TcpServerOptions options_;
    ConnectionHub hub_;
    Socket listener_;
    Socket reserve_;  // the spare fd for the EMFILE trick
    SocketAddress local_;
    WatcherId listen_watch_;
    std::vector<TcpConnectionPtr> connections_;
    TcpServerCounters counters_;
    std::chrono::milliseconds backoff_;
    TimerId backoff_timer_;
    bool paused_ = false;
    std::function<void()> shutdown_done_;
    TimerId grace_timer_;

private:
    void open_reserve() noexcept {
        if (!reserve_) reserve_ = Socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    }

    void handle_accept() {
        for (std::size_t i = 0; i < options_.accepts_per_wakeup && listen_watch_; ++i) {
            std::error_code ec;
            Socket socket = listener_.accept(ec);
            if (!socket) {
                if (is_errno(ec, EMFILE) || is_errno(ec, ENFILE) || is_errno(ec, ENOBUFS) ||
                    is_errno(ec, ENOMEM)) {
                    out_of_fds();
                }
                // EAGAIN: drained. Anything else (a network error on a
                // pending connection): try again on the next wake-up.
                return;
            }
            backoff_ = options_.min_backoff;
            if (options_.max_connections != 0 && connections_.size() >= options_.max_connections) {
                ++counters_.refused;
                continue;  // the Socket closes it: the client reads EOF
            }
            if (options_.tcp_nodelay) (void)socket.set_tcp_nodelay(true);
            auto connection = std::make_shared<TcpConnection>(loop_, std::move(socket), hub_);
            ConnectionHub::slot(*connection) = static_cast<std::uint32_t>(connections_.size());
            connections_.push_back(connection);
            counters_.current = connections_.size();
            ++counters_.accepted;
            if (ConnectionHub::start(*connection)) {
                // The poller refused the fd (ENOMEM, ENOSPC): undo.
                --counters_.accepted;
                ++counters_.refused;
                connection_closed(*connection);
            }
        }
    }

    // EMFILE/ENFILE: the pending connection stays in the backlog and the
    // listener stays readable, so a level-triggered loop would spin at 100%
    // CPU. Free one fd (the reserve), take the newcomer and drop it, so the
    // client learns at once, then stop watching the listener for a while.
    void out_of_fds() {
        if (reserve_) {
            reserve_.close();
            std::error_code ec;
            Socket dropped = listener_.accept(ec);
            if (dropped) ++counters_.refused;
            dropped.close();
            open_reserve();
        }
        pause_listener();
    }

    void pause_listener() {
        if (paused_ || !listen_watch_) return;
        paused_ = true;
        ++counters_.paused;
        (void)loop_.disable(listen_watch_, Readable);
        backoff_timer_ = loop_.run_after(backoff_, [this] {
            backoff_timer_ = {};
            resume_listener();
        });
        backoff_ = std::min(backoff_ * 2, options_.max_backoff);
    }

    void resume_listener() {
        paused_ = false;
        if (!listen_watch_) return;
        open_reserve();
        (void)loop_.enable(listen_watch_, Readable);
    }

    void finish_shutdown() {
        loop_.cancel(std::exchange(grace_timer_, TimerId{}));
        auto done = std::move(shutdown_done_);
        shutdown_done_ = nullptr;
        if (done) done();  // may destroy the server: nothing after this
    }
};

}  // namespace detail

TcpServer::TcpServer(EventLoop& loop, const SocketAddress& address, TcpServerOptions options)
    : core_(options.threads != 1
                ? throw std::invalid_argument("reactor: TcpServer threads != 1 is being implemented")
                : std::make_shared<detail::TcpServerCore>(loop, address, options)) {}

TcpServer::~TcpServer() {
    if (!core_) return;
    core_->abandon_all();
    // This destructor may run inside one of the core's own callbacks (a
    // connection's message callback destroying its server): free the core,
    // and the callbacks in it, only after the current dispatch step.
    EventLoop& loop = core_->loop_;
    loop.post([core = std::move(core_)] {});
}

void TcpServer::on_connect(ConnectionCallback cb) { core_->hub_.callbacks.on_connect = std::move(cb); }
void TcpServer::on_message(MessageCallback cb) { core_->hub_.callbacks.on_message = std::move(cb); }
void TcpServer::on_close(CloseCallback cb) { core_->hub_.callbacks.on_close = std::move(cb); }
void TcpServer::on_write_complete(ConnectionCallback cb) {
    core_->hub_.callbacks.on_write_complete = std::move(cb);
}
void TcpServer::on_high_water(HighWaterCallback cb) {
    core_->hub_.callbacks.on_high_water = std::move(cb);
}
void TcpServer::on_peer_shutdown(ConnectionCallback cb) {
    core_->hub_.callbacks.on_peer_shutdown = std::move(cb);
}
void TcpServer::set_high_water_mark(std::size_t bytes) { core_->hub_.options.high_water_mark = bytes; }

EventLoop& TcpServer::loop() const noexcept { return core_->loop_; }
SocketAddress TcpServer::local_address() const { return core_->local_; }
bool TcpServer::listening() const noexcept { return static_cast<bool>(core_->listen_watch_); }
TcpServerCounters TcpServer::counters() const noexcept { return core_->counters_; }
std::size_t TcpServer::connection_count() const noexcept { return core_->connections_.size(); }

void TcpServer::for_each_connection(const std::function<void(const TcpConnectionPtr&)>& fn) const {
    core_->for_each(fn);
}

void TcpServer::stop_listening() { core_->stop_listening(); }

void TcpServer::close_all() {
    core_->for_each([](const TcpConnectionPtr& c) { c->close(); });
}

void TcpServer::shutdown(EventLoop::Duration grace, std::function<void()> done) {
    core_->shutdown(grace, std::move(done));
}

}  // namespace reactor
