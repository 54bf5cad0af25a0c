// src/net/tcp_server.cpp -- the listener, the accept loop, the overload policy
// and the table of open connections; and, for a server with several
// threads, one such core per loop.
//
// Layout. A TcpServerCore serves the connections of one loop: its own table,
// counters, reserve fd and (unless it only adopts sockets handed to it) its
// own listener. A one-thread server is one core. A server with N threads is
// N cores, the first on the caller's loop, the others on loops the server
// runs on its own threads (EventLoopThreads), plus a LoopGroup that starts,
// stops and tears them down. Every core is touched only on its loop's
// thread, except its counters (atomics, read by counters() from anywhere)
// and its construction (bind and listen, which need no loop).
#include <reactor/tcp_server.hpp>

#include "net/connection_hub.hpp"
#include "net/socket_ops.hpp"
#include "base/syscall.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <reactor/event_loop_threads.hpp>

#include <algorithm>
#include <cassert>
#include <atomic>
#include <future>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace reactor {
namespace detail {

// What the cores of one server share across threads.
struct ServerShared {
    /// Open connections over every loop, for max_connections.
    std::atomic<std::size_t> current{0};
};

// Counters a core updates on its loop and counters() reads from anywhere.
struct AtomicCounters {
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> refused{0};
    std::atomic<std::uint64_t> paused{0};
    std::atomic<std::size_t> current{0};

    void add_to(TcpServerCounters& c) const noexcept {
        c.accepted += accepted.load(std::memory_order_relaxed);
        c.refused += refused.load(std::memory_order_relaxed);
        c.paused += paused.load(std::memory_order_relaxed);
        c.current += current.load(std::memory_order_relaxed);
    }
};

class TcpServerCore final : public ConnectionOwner {
public:
    /// An accepted socket on its way to the core that adopts it. It holds
    /// a place in ServerShared::current from the accept on; if it is never
    /// adopted (its loop shut down first) the place is given back.
    struct Handed {
        Socket socket;
        std::shared_ptr<ServerShared> shared;
        Handed(Socket s, std::shared_ptr<ServerShared> sh) : socket(std::move(s)), shared(std::move(sh)) {}
        ~Handed() {
            if (socket) shared->current.fetch_sub(1, std::memory_order_relaxed);
        }
    };
    /// Where a core that hands off sends each accepted socket.
    using Dispatch = std::function<void(Socket)>;

    // Any thread: nothing here touches the loop.
    TcpServerCore(EventLoop& loop, TcpServerOptions options, std::shared_ptr<ServerShared> shared)
        : loop_(loop), options_(options), shared_(std::move(shared)), backoff_(options.min_backoff) {
        hub_.options = options.connection;
        hub_.owner = this;
    }

    // Binds and listens (any thread); `reuse_port` is set on top of the
    // options' own choice. Throws std::system_error naming the address.
    void listen(const SocketAddress& address, bool reuse_port) {
        listener_ = Socket::create(address.family(), SOCK_STREAM);
        auto fail = [&](std::error_code ec, const char* what) {
            throw std::system_error(ec, std::string("reactor: TcpServer ") + what + " " +
                                            address.to_string());
        };
        if (options_.reuse_address && address.family() != AF_UNIX) {
            if (auto ec = listener_.set_reuse_address(true)) fail(ec, "SO_REUSEADDR");
        }
        if (options_.reuse_port || reuse_port) {
            if (auto ec = set_balanced_reuse_port()) fail(ec, "SO_REUSEPORT");
        }
        if (auto ec = listener_.bind(address)) fail(ec, "bind");
        if (auto ec = listener_.listen(options_.backlog)) fail(ec, "listen");
        local_ = listener_.local_address();
        open_reserve();
    }

    // Loop thread: watch the listener, so accepting starts.
    void start_accepting() {
        if (abandoned_ || !listener_ || listen_watch_) return;
        listen_watch_ = loop_.watch(listener_.fd(), Readable, [this](Events) { handle_accept(); },
                                    WatchLabel::Listener);
    }

    // Loop thread: takes a socket accepted elsewhere into service.
    void adopt(Handed& handed) {
        if (abandoned_ || shutdown_done_) return;  // ~Handed closes it
        Socket socket = std::move(handed.socket);
        serve(std::move(socket));
    }

    // Called by ~TcpServer: no callbacks from here on.
    void abandon_all() noexcept {
        abandoned_ = true;
        sweep_.stop(loop_);
        stop_listening();
        shutdown_done_ = nullptr;
        loop_.cancel(std::exchange(grace_timer_, TimerId{}));
        for (TcpConnectionPtr& c : connections_) {
            ConnectionHub::abandon(*c);
            loop_.defer_release(std::move(c));  // the lifetime rule
        }
        shared_->current.fetch_sub(connections_.size(), std::memory_order_relaxed);
        connections_.clear();
        counters_.current.store(0, std::memory_order_relaxed);
    }

    void connection_closed(TcpConnection& connection) override {
        // Swap-remove: O(1), and the table stays dense (16 bytes per
        // connection, no per-node allocation).
        const std::uint32_t index = ConnectionHub::slot(connection);
        if (index >= connections_.size() || connections_[index].get() != &connection) return;
        // This runs inside the connection's own close path: the table's
        // reference goes to the loop, which drops it after this step (the
        // lifetime rule), rather than here.
        loop_.defer_release(std::move(connections_[index]));
        if (index + 1 != connections_.size()) {
            connections_[index] = std::move(connections_.back());
            ConnectionHub::slot(*connections_[index]) = index;
        }
        connections_.pop_back();
        if (connections_.empty()) sweep_.stop(loop_);
        counters_.current.store(connections_.size(), std::memory_order_relaxed);
        shared_->current.fetch_sub(1, std::memory_order_relaxed);
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
    std::shared_ptr<ServerShared> shared_;
    Dispatch dispatch_;  // set: hand accepted sockets off instead of serving them
    ConnectionHub hub_;
    Socket listener_;
    Socket reserve_;  // the spare fd for the EMFILE trick
    SocketAddress local_;
    WatcherId listen_watch_;
    std::vector<TcpConnectionPtr> connections_;
    AtomicCounters counters_;
    std::chrono::milliseconds backoff_;
    TimerId backoff_timer_;
    bool paused_ = false;
    std::function<void()> shutdown_done_;
    TimerId grace_timer_;
    TimeoutSweep sweep_;  // the connections' timeouts, while there are connections
    bool abandoned_ = false;

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
            // Count the newcomer at once, so a burst handed to other loops
            // cannot overshoot the cap while in flight.
            const std::size_t before = shared_->current.fetch_add(1, std::memory_order_relaxed);
            if (before >= options_.max_connections) {
                shared_->current.fetch_sub(1, std::memory_order_relaxed);
                counters_.refused.fetch_add(1, std::memory_order_relaxed);
                continue;  // the Socket closes it: the client reads EOF
            }
            if (dispatch_) {
                dispatch_(std::move(socket));
            } else {
                serve(std::move(socket));
            }
        }
    }

    // Serves an accepted socket already counted in shared_->current.
    void serve(Socket socket) {
        if (options_.tcp_nodelay) (void)socket.set_tcp_nodelay(true);
        auto connection = std::make_shared<TcpConnection>(loop_, std::move(socket), hub_);
        ConnectionHub::slot(*connection) = static_cast<std::uint32_t>(connections_.size());
        connections_.push_back(connection);
        counters_.current.store(connections_.size(), std::memory_order_relaxed);
        counters_.accepted.fetch_add(1, std::memory_order_relaxed);
        if (ConnectionHub::start(*connection)) {
            // The poller refused the fd (ENOMEM, ENOSPC): undo.
            counters_.accepted.fetch_sub(1, std::memory_order_relaxed);
            counters_.refused.fetch_add(1, std::memory_order_relaxed);
            connection_closed(*connection);
            return;
        }
        sweep_.start(loop_, hub_, [this](std::uint32_t now_ms) {
            for (const TcpConnectionPtr& c : connections_) ConnectionHub::check_timeouts(*c, now_ms);
        });
    }

private:
    // SO_REUSEPORT, in the flavour that balances where there is a choice:
    // FreeBSD 12+ balances only listeners with SO_REUSEPORT_LB (plain
    // SO_REUSEPORT there hands every connection to one socket); Linux 3.9+
    // balances plain SO_REUSEPORT by a hash of the connection's addresses.
    std::error_code set_balanced_reuse_port() noexcept {
#ifdef SO_REUSEPORT_LB
        const int on = 1;
        if (::setsockopt(listener_.fd(), SOL_SOCKET, SO_REUSEPORT_LB, &on, sizeof on) == 0) {
            return {};
        }
#endif
        return listener_.set_reuse_port(true);
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
            if (dropped) counters_.refused.fetch_add(1, std::memory_order_relaxed);
            dropped.close();
            open_reserve();
        }
        pause_listener();
    }

    void pause_listener() {
        if (paused_ || !listen_watch_) return;
        paused_ = true;
        counters_.paused.fetch_add(1, std::memory_order_relaxed);
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

// The extra loops of a server with threads > 1, and their cores. Lives on
// the server's (base) loop thread; talks to the other loops by post().
class LoopGroup : public std::enable_shared_from_this<LoopGroup> {
public:
    LoopGroup(TcpServerCore& base, const TcpServerOptions& options,
              const std::shared_ptr<ServerShared>& shared, bool reuse_port)
        : base_(base), threads_(options.threads - 1, base.loop_.backend()), reuse_port_(reuse_port) {
        for (std::size_t i = 0; i < threads_.size(); ++i) {
            auto core = std::make_shared<TcpServerCore>(threads_.loop(i), options, shared);
            // Same address, real port: the kernel spreads connections over
            // every listener bound to it.
            if (reuse_port_) core->listen(base.local_, true);
            cores_.push_back(std::move(core));
        }
    }

    // After construction, once shared_from_this() works: the base core
    // either hands its sockets to us or the other cores accept on their
    // own once the base loop runs (so that the callbacks, which the user
    // sets after construction, are copied first).
    void wire() {
        std::weak_ptr<LoopGroup> weak = weak_from_this();
        if (!reuse_port_) {
            base_.dispatch_ = [weak](Socket socket) {
                if (auto group = weak.lock()) group->hand_off(std::move(socket));
            };
        }
        base_.loop_.post([weak] {
            if (auto group = weak.lock()) group->ensure_started();
        });
    }

    std::size_t size() const noexcept { return cores_.size(); }
    // Whether the other cores have their copy of the callbacks and options
    // (before that, changes to the base core's reach them with the copy).
    bool started() const noexcept { return started_; }

    // Base loop thread. Copies the callbacks and connection options to
    // every core (posting is what publishes them to the other threads), then
    // lets the cores with listeners accept.
    void ensure_started() {
        if (started_) return;
        started_ = true;
        for (const auto& core : cores_) {
            core->hub_.callbacks = base_.hub_.callbacks;
            core->hub_.options = base_.hub_.options;
            if (reuse_port_) core->loop_.post([core] { core->start_accepting(); });
        }
    }

    void hand_off(Socket socket) {
        ensure_started();
        const std::size_t turn = next_++ % (cores_.size() + 1);
        if (turn == 0) {
            base_.serve(std::move(socket));
            return;
        }
        auto handed = std::make_shared<TcpServerCore::Handed>(std::move(socket), base_.shared_);
        const auto& core = cores_[turn - 1];
        core->loop_.post([core, handed] { core->adopt(*handed); });
    }

    // Runs `fn(core)` on each other core's loop; returns at once.
    void on_each(std::function<void(TcpServerCore&)> fn) {
        for (const auto& core : cores_) core->loop_.post([core, fn] { fn(*core); });
    }

    TcpServerCounters counters() const noexcept {
        TcpServerCounters total;
        base_.counters_.add_to(total);
        for (const auto& core : cores_) core->counters_.add_to(total);
        return total;
    }

    void shutdown(EventLoop::Duration grace, std::function<void()> done) {
        ensure_started();
        auto state = std::make_shared<ShutdownState>();
        state->remaining = cores_.size() + 1;
        state->done = std::move(done);
        shutdown_ = state;
        // Each core reports to the base loop; the last report calls done.
        auto report = [state] {
            if (--state->remaining == 0 && state->done) {
                auto call = std::move(state->done);
                state->done = nullptr;
                call();  // may destroy the server: nothing after this
            }
        };
        EventLoop& base_loop = base_.loop_;
        on_each([grace, report, &base_loop](TcpServerCore& core) {
            core.shutdown(grace, [report, &base_loop] { base_loop.post(report); });
        });
        base_.shutdown(grace, report);
    }

    // ~TcpServer, on the base loop thread: every other core abandons its
    // connections on its own thread, and this waits for all of them before
    // stopping the threads, so no callback runs after the destructor.
    void abandon_all() {
        if (auto state = shutdown_.lock()) state->done = nullptr;
        base_.dispatch_ = nullptr;
        std::vector<std::future<void>> finished;
        for (const auto& core : cores_) {
            auto promise = std::make_shared<std::promise<void>>();
            finished.push_back(promise->get_future());
            core->loop_.post([core, promise] {
                core->abandon_all();
                promise->set_value();
            });
        }
        for (auto& f : finished) f.wait();
        threads_.stop();
        cores_.clear();
    }

private:
    struct ShutdownState {
        std::size_t remaining = 0;
        std::function<void()> done;
    };

    TcpServerCore& base_;
    EventLoopThreads threads_;
    std::vector<std::shared_ptr<TcpServerCore>> cores_;
    bool reuse_port_;
    bool started_ = false;
    std::size_t next_ = 0;
    std::weak_ptr<ShutdownState> shutdown_;
};

namespace {

// Balance::Auto made concrete for this address on this system.
bool use_reuse_port(const TcpServerOptions& options, const SocketAddress& address) {
    const bool stream_inet = address.family() == AF_INET || address.family() == AF_INET6;
    switch (options.balance) {
    case Balance::ReusePort:
        if (!stream_inet) {
            throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                    "reactor: TcpServer Balance::ReusePort needs a TCP address, not " +
                                        address.to_string());
        }
        return true;
    case Balance::HandOff:
        return false;
    case Balance::Auto:
        break;
    }
#if REACTOR_REUSEPORT_BALANCES  // base/platform.hpp
    return stream_inet;
#else
    // macOS and older BSDs accept SO_REUSEPORT but do not balance with it.
    return false;
#endif
}

// max_connections = 0 made concrete: the open-file limit less a reserve,
// so that connections alone can never exhaust the process's fds (the
// EMFILE trick then stays the last line, not the everyday one).
std::size_t automatic_connection_cap() noexcept {
    struct rlimit limit {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
        limit.rlim_cur > std::numeric_limits<std::size_t>::max() / 2) {
        return TcpServerOptions::kNoConnectionCap;
    }
    const auto fds = static_cast<std::size_t>(limit.rlim_cur);
    const std::size_t reserve = std::max<std::size_t>(32, fds / 16);
    return fds > reserve ? fds - reserve : 1;
}

}  // namespace

}  // namespace detail

TcpServer::TcpServer(EventLoop& loop, const SocketAddress& address, TcpServerOptions options) {
    if (options.threads == 0) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "reactor: TcpServer needs at least one thread");
    }
    if (options.max_connections == 0) options.max_connections = detail::automatic_connection_cap();
    const bool reuse_port = options.threads > 1 && detail::use_reuse_port(options, address);
    auto shared = std::make_shared<detail::ServerShared>();
    core_ = std::make_shared<detail::TcpServerCore>(loop, options, shared);
    core_->listen(address, reuse_port);
    if (options.threads > 1) {
        group_ = std::make_shared<detail::LoopGroup>(*core_, options, shared, reuse_port);
        group_->wire();
    }
    core_->start_accepting();
}

TcpServer::~TcpServer() {
    if (!core_) return;
    assert(core_->loop_.in_loop_thread() && "reactor: destroy a TcpServer on its loop's thread");
    if (group_) group_->abandon_all();
    core_->abandon_all();
    // This destructor may run inside one of the core's own callbacks (a
    // connection's message callback destroying its server): the lifetime
    // rule, the loop frees the core and the callbacks in it after the
    // current dispatch step.
    EventLoop& loop = core_->loop_;
    loop.defer_release(std::move(group_));
    loop.defer_release(std::move(core_));
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
void TcpServer::set_high_water_mark(std::size_t bytes) {
    core_->hub_.options.high_water_mark = bytes;
    if (group_ && group_->started()) {
        group_->on_each([bytes](detail::TcpServerCore& c) { c.hub_.options.high_water_mark = bytes; });
    }
}

EventLoop& TcpServer::loop() const noexcept { return core_->loop_; }
std::size_t TcpServer::thread_count() const noexcept { return group_ ? group_->size() + 1 : 1; }
SocketAddress TcpServer::local_address() const { return core_->local_; }
bool TcpServer::listening() const noexcept { return static_cast<bool>(core_->listen_watch_); }
std::size_t TcpServer::max_connections() const noexcept { return core_->options_.max_connections; }

TcpServerCounters TcpServer::counters() const noexcept {
    if (group_) return group_->counters();
    TcpServerCounters total;
    core_->counters_.add_to(total);
    return total;
}

std::size_t TcpServer::connection_count() const noexcept { return counters().current; }

void TcpServer::for_each_connection(const std::function<void(const TcpConnectionPtr&)>& fn) const {
    core_->for_each(fn);
    if (group_) group_->on_each([fn](detail::TcpServerCore& c) { c.for_each(fn); });
}

void TcpServer::stop_listening() {
    core_->stop_listening();
    if (group_) group_->on_each([](detail::TcpServerCore& c) { c.stop_listening(); });
}

void TcpServer::close_all() {
    for_each_connection([](const TcpConnectionPtr& c) { c->close(); });
}

void TcpServer::shutdown(EventLoop::Duration grace, std::function<void()> done) {
    if (group_) {
        group_->shutdown(grace, std::move(done));
    } else {
        core_->shutdown(grace, std::move(done));
    }
}

}  // namespace reactor
