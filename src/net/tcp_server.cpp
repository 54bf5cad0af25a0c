// src/net/tcp_server.cpp -- TcpServer: its options made concrete, and its
// methods spread over its loops.
//
// Layout (src/net/README.md). A server is one ServerLoop per loop: an
// Acceptor (listener, connection cap, EMFILE reserve and backoff) and a
// ConnectionTable (the open connections, their callbacks, options and
// counters). A one-thread server is one ServerLoop; with threads > 1 a
// LoopGroup runs the others on threads of its own. Each piece is touched
// only on its loop's thread, except the counters (atomics, read by
// counters() from anywhere) and construction (bind and listen need no loop).
#include <reactor/tcp_server.hpp>

#include "base/platform.hpp"
#include "net/loop_group.hpp"
#include "net/server_loop.hpp"

#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <limits>
#include <string>
#include <utility>

namespace reactor {
namespace detail {

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
    core_ = std::make_shared<detail::ServerLoop>(loop, options, shared);
    core_->acceptor().listen(address, reuse_port);
    detail::Acceptor::OnAccept dispatch;
    if (options.threads > 1) {
        group_ = std::make_shared<detail::LoopGroup>(*core_, options, reuse_port);
        dispatch = group_->wire();
    }
    core_->start_accepting(std::move(dispatch));
}

TcpServer::~TcpServer() {
    if (!core_) return;
    assert(core_->loop().in_loop_thread() && "reactor: destroy a TcpServer on its loop's thread");
    if (group_) group_->abandon_all();
    core_->abandon_all();
    // This destructor may run inside one of the core's own callbacks (a
    // connection's message callback destroying its server): the lifetime
    // rule, the loop frees the core and the callbacks in it after the
    // current dispatch step.
    EventLoop& loop = core_->loop();
    loop.defer_release(std::move(group_));
    loop.defer_release(std::move(core_));
}

namespace {

// Sets one of the callbacks shared by the base loop's connections (the
// other loops get a copy when the base loop first runs).
template <class Callback>
void set_callback(detail::ServerLoop& core, Callback TcpCallbacks::*which, Callback cb) {
    TcpCallbacks callbacks = core.table().callbacks();
    callbacks.*which = std::move(cb);
    core.table().set_callbacks(std::move(callbacks));
}

}  // namespace

void TcpServer::on_connect(ConnectionCallback cb) {
    set_callback(*core_, &TcpCallbacks::on_connect, std::move(cb));
}
void TcpServer::on_message(MessageCallback cb) {
    set_callback(*core_, &TcpCallbacks::on_message, std::move(cb));
}
void TcpServer::on_close(CloseCallback cb) { set_callback(*core_, &TcpCallbacks::on_close, std::move(cb)); }
void TcpServer::on_write_complete(ConnectionCallback cb) {
    set_callback(*core_, &TcpCallbacks::on_write_complete, std::move(cb));
}
void TcpServer::on_high_water(HighWaterCallback cb) {
    set_callback(*core_, &TcpCallbacks::on_high_water, std::move(cb));
}
void TcpServer::on_peer_shutdown(ConnectionCallback cb) {
    set_callback(*core_, &TcpCallbacks::on_peer_shutdown, std::move(cb));
}
void TcpServer::set_high_water_mark(std::size_t bytes) {
    core_->table().set_high_water_mark(bytes);
    if (group_ && group_->started()) {
        group_->on_each([bytes](detail::ServerLoop& c) { c.table().set_high_water_mark(bytes); });
    }
}

EventLoop& TcpServer::loop() const noexcept { return core_->loop(); }
std::size_t TcpServer::thread_count() const noexcept { return group_ ? group_->size() + 1 : 1; }
SocketAddress TcpServer::local_address() const { return core_->acceptor().local_address(); }
bool TcpServer::listening() const noexcept { return core_->acceptor().listening(); }
std::size_t TcpServer::max_connections() const noexcept { return core_->acceptor().max_connections(); }

TcpServerCounters TcpServer::counters() const noexcept {
    if (group_) return group_->counters();
    TcpServerCounters total;
    core_->add_to(total);
    return total;
}

std::size_t TcpServer::connection_count() const noexcept { return counters().current; }

void TcpServer::for_each_connection(const std::function<void(const TcpConnectionPtr&)>& fn) const {
    core_->table().for_each(fn);
    if (group_) group_->on_each([fn](detail::ServerLoop& c) { c.table().for_each(fn); });
}

void TcpServer::stop_listening() {
    core_->acceptor().stop();
    if (group_) group_->on_each([](detail::ServerLoop& c) { c.acceptor().stop(); });
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
