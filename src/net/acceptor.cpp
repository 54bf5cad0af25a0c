// src/net/acceptor.cpp -- the accept loop, the connection cap and the EMFILE
// trick.
#include "net/acceptor.hpp"

#include "net/socket_ops.hpp"
#include "base/syscall.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>
#include <utility>

namespace reactor::detail {

Acceptor::Acceptor(EventLoop& loop, const TcpServerOptions& options, std::shared_ptr<ServerShared> shared)
    : loop_(loop),
      max_connections_(options.max_connections),
      accepts_per_wakeup_(options.accepts_per_wakeup),
      min_backoff_(options.min_backoff),
      max_backoff_(options.max_backoff),
      backlog_(options.backlog),
      reuse_address_(options.reuse_address),
      reuse_port_(options.reuse_port),
      tcp_nodelay_(options.tcp_nodelay),
      shared_(std::move(shared)),
      backoff_(options.min_backoff) {}

void Acceptor::listen(const SocketAddress& address, bool reuse_port) {
    listener_ = Socket::create(address.family(), SOCK_STREAM);
    auto fail = [&](std::error_code ec, const char* what) {
        throw std::system_error(ec, std::string("reactor: TcpServer ") + what + " " + address.to_string());
    };
    if (reuse_address_ && address.family() != AF_UNIX) {
        if (auto ec = listener_.set_reuse_address(true)) fail(ec, "SO_REUSEADDR");
    }
    if (reuse_port_ || reuse_port) {
        if (auto ec = set_balanced_reuse_port()) fail(ec, "SO_REUSEPORT");
    }
    if (auto ec = listener_.bind(address)) fail(ec, "bind");
    if (auto ec = listener_.listen(backlog_)) fail(ec, "listen");
    local_ = listener_.local_address();
    open_reserve();
}

void Acceptor::start(OnAccept on_accept) {
    if (!listener_ || watch_) return;
    on_accept_ = std::move(on_accept);
    watch_ = loop_.watch(listener_.fd(), Readable, [this](Events) { on_readable(); }, WatchLabel::Listener);
}

void Acceptor::stop() noexcept {
    if (watch_) loop_.unwatch(std::exchange(watch_, WatcherId{}));
    loop_.cancel(std::exchange(backoff_timer_, TimerId{}));
    paused_ = false;
    listener_.close();
    reserve_.close();
}

void Acceptor::fd_freed() {
    if (!paused_) return;
    loop_.cancel(std::exchange(backoff_timer_, TimerId{}));
    resume();
}

void Acceptor::add_to(TcpServerCounters& c) const noexcept {
    c.refused += refused_.load(std::memory_order_relaxed);
    c.paused += paused_count_.load(std::memory_order_relaxed);
}

void Acceptor::on_readable() {
    for (std::size_t i = 0; i < accepts_per_wakeup_ && watch_; ++i) {
        std::error_code ec;
        Socket socket = listener_.accept(ec);
        if (!socket) {
            if (is_errno(ec, EMFILE) || is_errno(ec, ENFILE)) {
                out_of_fds();
            } else if (is_errno(ec, ENOBUFS) || is_errno(ec, ENOMEM)) {
                // Out of kernel memory: a free fd would not help, and the
                // newcomer may be served once memory returns. Back off and
                // leave it in the backlog; dropping it would lose a client.
                pause();
            }
            // EAGAIN: drained. Anything else (a network error on a
            // pending connection): try again on the next wake-up.
            return;
        }
        backoff_ = min_backoff_;
        // Count the newcomer at once, so a burst handed to other loops
        // cannot overshoot the cap while in flight.
        const std::size_t before = shared_->current.fetch_add(1, std::memory_order_relaxed);
        if (before >= max_connections_) {
            shared_->current.fetch_sub(1, std::memory_order_relaxed);
            refused_.fetch_add(1, std::memory_order_relaxed);
            continue;  // the Socket closes it: the client reads EOF
        }
        if (tcp_nodelay_) (void)socket.set_tcp_nodelay(true);
        on_accept_(std::move(socket));
    }
}

// SO_REUSEPORT, in the flavour that balances where there is a choice:
// FreeBSD 12+ balances only listeners with SO_REUSEPORT_LB (plain
// SO_REUSEPORT there hands every connection to one socket); Linux 3.9+
// balances plain SO_REUSEPORT by a hash of the connection's addresses.
std::error_code Acceptor::set_balanced_reuse_port() noexcept {
#ifdef SO_REUSEPORT_LB
    const int on = 1;
    if (::setsockopt(listener_.fd(), SOL_SOCKET, SO_REUSEPORT_LB, &on, sizeof on) == 0) {
        return {};
    }
#endif
    return listener_.set_reuse_port(true);
}

void Acceptor::open_reserve() noexcept {
    if (!reserve_) reserve_ = Socket(::open("/dev/null", O_RDONLY | O_CLOEXEC));
}

// EMFILE/ENFILE: the pending connection stays in the backlog and the
// listener stays readable, so a level-triggered loop would spin at 100%
// CPU. Free one fd (the reserve), take the newcomer and drop it, so the
// client learns at once, then stop watching the listener for a while.
void Acceptor::out_of_fds() {
    if (reserve_) {
        reserve_.close();
        std::error_code ec;
        Socket dropped = listener_.accept(ec);
        if (dropped) refused_.fetch_add(1, std::memory_order_relaxed);
        dropped.close();
        open_reserve();
    }
    pause();
}

void Acceptor::pause() {
    if (paused_ || !watch_) return;
    paused_ = true;
    paused_count_.fetch_add(1, std::memory_order_relaxed);
    (void)loop_.disable(watch_, Readable);
    backoff_timer_ = loop_.run_after(backoff_, [this] {
        backoff_timer_ = {};
        resume();
    });
    backoff_ = std::min(backoff_ * 2, max_backoff_);
}

void Acceptor::resume() {
    paused_ = false;
    if (!watch_) return;
    open_reserve();
    (void)loop_.enable(watch_, Readable);
}

}  // namespace reactor::detail
