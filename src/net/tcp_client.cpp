// src/net/tcp_client.cpp -- connect attempts, their timeout, retries, and the
// one connection a client owns; for a client made with a host name, the
// lookup on the worker pool and the walk through the addresses it returns.
#include <reactor/tcp_client.hpp>

#include <reactor/resolve.hpp>

#include "net/connection_hub.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace reactor {
namespace detail {

class TcpClientCore final : public ConnectionOwner,
                            public std::enable_shared_from_this<TcpClientCore> {
public:
    TcpClientCore(EventLoop& loop, const SocketAddress& server, TcpClientOptions options)
        : loop_(loop), server_(server), options_(options) {
        hub_.options = options.connection;
        hub_.owner = this;
    }

    TcpClientCore(EventLoop& loop, std::string host, std::uint16_t port, TcpClientOptions options)
        : loop_(loop), options_(options), host_(std::move(host)), port_(port), by_name_(true) {
        hub_.options = options.connection;
        hub_.owner = this;
    }

    void connect(TcpClient::ConnectCallback done) {
        loop_.assert_in_loop_thread();
        if (connecting_ || connection_) {
            const auto why = connecting_ ? std::errc::connection_already_in_progress
                                         : std::errc::already_connected;
            loop_.run_after(EventLoop::Duration::zero(), [done = std::move(done), why] {
                if (done) done(std::make_error_code(why), nullptr);
            });
            return;
        }
        connecting_ = true;
        attempts_ = 0;
        backoff_ = options_.initial_backoff;
        done_ = std::move(done);
        // The first attempt starts from the loop, so that every outcome,
        // even an immediate ECONNREFUSED, reaches `done` asynchronously.
        retry_timer_ = loop_.run_after(EventLoop::Duration::zero(), [this] {
            retry_timer_ = {};
            attempt();
        });
    }

    void cancel() {
        if (!connecting_) return;
        stop_attempt();
        stop_lookup();
        loop_.cancel(std::exchange(retry_timer_, TimerId{}));
        connecting_ = false;
        loop_.run_after(EventLoop::Duration::zero(), [done = std::move(done_)] {
            if (done) done(std::make_error_code(std::errc::operation_canceled), nullptr);
        });
        done_ = nullptr;
    }

    // Called by ~TcpClient: no callbacks from here on.
    void abandon_all() noexcept {
        sweep_.stop(loop_);
        stop_attempt();
        stop_lookup();
        loop_.cancel(std::exchange(retry_timer_, TimerId{}));
        connecting_ = false;
        done_ = nullptr;
        if (connection_) {
            ConnectionHub::abandon(*connection_);
            loop_.defer_release(std::move(connection_));
        }
    }

    // The client's reference goes to the loop (the lifetime rule): this runs
    // inside the connection's own close path.
    void connection_closed(TcpConnection& connection) override {
        if (connection_.get() != &connection) return;
        sweep_.stop(loop_);
        loop_.defer_release(std::move(connection_));
    }

    EventLoop& loop_;
    SocketAddress server_;  // the address tried or connected to
    TcpClientOptions options_;
    ConnectionHub hub_;
    TcpConnectionPtr connection_;
    unsigned attempts_ = 0;
    bool connecting_ = false;
    const std::string host_;  // by name: what to resolve
    const std::uint16_t port_ = 0;
    const bool by_name_ = false;

private:
    // One attempt: by address, one connect; by name, a fresh lookup (names
    // move between addresses, so a retry asks again), then the addresses in
    // the resolver's order of preference until one connects.
    void attempt() {
        ++attempts_;
        if (!by_name_) {
            connect_to(server_);
            return;
        }
        const unsigned lookup = ++lookup_generation_;
        std::weak_ptr<TcpClientCore> weak = weak_from_this();
        lookup_work_ = resolve(loop_, host_, port_,
                               [weak, lookup](std::error_code ec, std::vector<ResolvedAddress> found) {
                                   // A lookup that had started cannot be cancelled: its
                                   // answer may come after cancel() or the client's end.
                                   auto self = weak.lock();
                                   if (!self || self->lookup_generation_ != lookup) return;
                                   self->resolved(ec, std::move(found));
                               });
    }

    void resolved(std::error_code ec, std::vector<ResolvedAddress> found) {
        lookup_work_ = {};
        if (ec) {
            failed(ec);
            return;
        }
        candidates_.clear();
        for (const ResolvedAddress& a : found) {
            candidates_.push_back(SocketAddress::from_native(a.sockaddr_ptr(), a.length));
        }
        next_candidate_ = 0;
        try_next_candidate({});
    }

    // By name: the next address, or the attempt fails with the last error.
    void try_next_candidate(std::error_code last) {
        if (next_candidate_ >= candidates_.size()) {
            candidates_.clear();
            failed(last ? last : std::make_error_code(std::errc::address_not_available));
            return;
        }
        server_ = candidates_[next_candidate_++];
        connect_to(server_);
    }

    void connect_to(const SocketAddress& address) {
        std::error_code ec;
        socket_ = Socket::create(address.family(), SOCK_STREAM, ec);
        if (!ec) ec = socket_.connect(address);
        if (!ec) {
            established();  // loopback and Unix sockets may connect at once
            return;
        }
        if (ec != std::errc::operation_in_progress) {
            failed_address(ec);
            return;
        }
        watch_ = loop_.watch(socket_.fd(), Writable, [this](Events) { handshake_ended(); }, ec,
                             WatchLabel::Connecting);
        if (ec) {
            failed_address(ec);
            return;
        }
        if (options_.connect_timeout > EventLoop::Duration::zero()) {
            timeout_timer_ = loop_.run_after(options_.connect_timeout, [this] {
                timeout_timer_ = {};
                failed_address(std::make_error_code(std::errc::timed_out));
            });
        }
    }

    void handshake_ended() {
        // Writable (or Error/Hangup) means the handshake is over; SO_ERROR
        // says how. Some systems report a refused connect with SO_ERROR 0 and
        // a hang-up only; getpeername() failing (ENOTCONN) catches that.
        std::error_code ec = socket_.take_error();
        if (!ec) {
            std::error_code peer_ec;
            (void)socket_.peer_address(peer_ec);
            if (peer_ec) ec = std::make_error_code(std::errc::connection_refused);
        }
        if (ec) {
            failed_address(ec);
        } else {
            established();
        }
    }

    void established() {
        stop_watching();
        // TCP's simultaneous open lets a socket connect to itself when the
        // target port is free and in the ephemeral range: that is no server.
        if (server_.family() != AF_UNIX && socket_.local_address() == socket_.peer_address()) {
            failed_address(std::make_error_code(std::errc::connection_refused));
            return;
        }
        if (options_.tcp_nodelay && server_.family() != AF_UNIX) (void)socket_.set_tcp_nodelay(true);
        auto connection = std::make_shared<TcpConnection>(loop_, std::move(socket_), hub_);
        if (const std::error_code ec = ConnectionHub::start(*connection)) {
            failed_address(ec);
            return;
        }
        connection_ = connection;
        connecting_ = false;
        candidates_.clear();
        sweep_.start(loop_, hub_, [this](std::uint32_t now_ms) {
            if (connection_) ConnectionHub::check_timeouts(*connection_, now_ms);
        });
        auto done = std::exchange(done_, nullptr);
        if (done) done({}, connection);  // may destroy the client: nothing after this
    }

    // The current address failed: by name, the next one is tried at once
    // (the attempt is not over); otherwise the attempt failed.
    void failed_address(std::error_code ec) {
        stop_attempt();
        if (by_name_ && next_candidate_ < candidates_.size()) {
            try_next_candidate(ec);
            return;
        }
        failed(ec);
    }

    void failed(std::error_code ec) {
        stop_attempt();
        candidates_.clear();
        if (options_.max_attempts == 0 || attempts_ < options_.max_attempts) {
            retry_timer_ = loop_.run_after(backoff_, [this] {
                retry_timer_ = {};
                attempt();
            });
            backoff_ = std::min(backoff_ * 2, options_.max_backoff);
            return;
        }
        connecting_ = false;
        auto done = std::exchange(done_, nullptr);
        if (done) done(ec, nullptr);  // may destroy the client: nothing after this
    }

    void stop_watching() noexcept {
        if (watch_) loop_.unwatch(std::exchange(watch_, WatcherId{}));
        loop_.cancel(std::exchange(timeout_timer_, TimerId{}));
    }

    void stop_attempt() noexcept {
        stop_watching();
        socket_.close();
    }

    void stop_lookup() noexcept {
        ++lookup_generation_;  // an answer still on its way is ignored
        if (lookup_work_) cancel_work(loop_, std::exchange(lookup_work_, WorkId{}));
        candidates_.clear();
    }

    Socket socket_;  // the socket of the attempt under way
    WatcherId watch_;
    TimerId timeout_timer_;
    TimerId retry_timer_;
    TimeoutSweep sweep_;  // the connection's timeouts, while connected
    EventLoop::Duration backoff_{};
    TcpClient::ConnectCallback done_;
    WorkId lookup_work_;
    unsigned lookup_generation_ = 0;
    std::vector<SocketAddress> candidates_;  // by name: this attempt's addresses
    std::size_t next_candidate_ = 0;
};

}  // namespace detail

TcpClient::TcpClient(EventLoop& loop, const SocketAddress& server, TcpClientOptions options)
    : core_(std::make_shared<detail::TcpClientCore>(loop, server, options)) {}

TcpClient::TcpClient(EventLoop& loop, std::string host, std::uint16_t port, TcpClientOptions options)
    : core_(std::make_shared<detail::TcpClientCore>(loop, std::move(host), port, options)) {}

TcpClient::~TcpClient() {
    core_->abandon_all();
    // Possibly inside one of the core's callbacks: the lifetime rule, the
    // loop frees it after this step.
    EventLoop& loop = core_->loop_;
    loop.defer_release(std::move(core_));
}

void TcpClient::on_message(std::function<void(const TcpConnectionPtr&, Buffer&)> cb) {
    core_->hub_.callbacks.on_message = std::move(cb);
}
void TcpClient::on_close(std::function<void(const TcpConnectionPtr&, std::error_code)> cb) {
    core_->hub_.callbacks.on_close = std::move(cb);
}
void TcpClient::on_write_complete(std::function<void(const TcpConnectionPtr&)> cb) {
    core_->hub_.callbacks.on_write_complete = std::move(cb);
}
void TcpClient::on_high_water(std::function<void(const TcpConnectionPtr&, std::size_t)> cb) {
    core_->hub_.callbacks.on_high_water = std::move(cb);
}
void TcpClient::on_peer_shutdown(std::function<void(const TcpConnectionPtr&)> cb) {
    core_->hub_.callbacks.on_peer_shutdown = std::move(cb);
}

void TcpClient::connect(ConnectCallback done) { core_->connect(std::move(done)); }
void TcpClient::cancel() { core_->cancel(); }
bool TcpClient::connecting() const noexcept { return core_->connecting_; }
TcpConnectionPtr TcpClient::connection() const noexcept { return core_->connection_; }
unsigned TcpClient::attempts() const noexcept { return core_->attempts_; }
const SocketAddress& TcpClient::server_address() const noexcept { return core_->server_; }
const std::string& TcpClient::host() const noexcept { return core_->host_; }

}  // namespace reactor
