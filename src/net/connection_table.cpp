// src/net/connection_table.cpp -- one loop's connections: add, swap-remove,
// sweep, shut down, abandon.
#include "net/connection_table.hpp"

#include <utility>

namespace reactor::detail {

ConnectionTable::ConnectionTable(EventLoop& loop, const TcpConnectionOptions& options,
                                 std::shared_ptr<ServerShared> shared)
    : loop_(loop), shared_(std::move(shared)) {
    hub_.options = options;
    hub_.owner = this;
}

void ConnectionTable::serve(Socket socket) {
    auto connection = std::make_shared<TcpConnection>(loop_, std::move(socket), hub_);
    ConnectionHub::slot(*connection) = static_cast<std::uint32_t>(connections_.size());
    connections_.push_back(connection);
    current_.store(connections_.size(), std::memory_order_relaxed);
    accepted_.fetch_add(1, std::memory_order_relaxed);
    if (ConnectionHub::start(*connection)) {
        // The poller refused the fd (ENOMEM, ENOSPC): undo.
        accepted_.fetch_sub(1, std::memory_order_relaxed);
        refused_.fetch_add(1, std::memory_order_relaxed);
        connection_closed(*connection);
        return;
    }
    sweep_.start(loop_, hub_, [this](std::uint32_t now_ms) {
        for (const TcpConnectionPtr& c : connections_) ConnectionHub::check_timeouts(*c, now_ms);
    });
}

void ConnectionTable::connection_closed(TcpConnection& connection) {
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
    current_.store(connections_.size(), std::memory_order_relaxed);
    shared_->current.fetch_sub(1, std::memory_order_relaxed);
    if (on_freed_) on_freed_();
    if (shutdown_done_ && connections_.empty()) finish_shutdown();
}

void ConnectionTable::for_each(const std::function<void(const TcpConnectionPtr&)>& fn) const {
    const std::vector<TcpConnectionPtr> snapshot = connections_;
    for (const TcpConnectionPtr& c : snapshot) fn(c);
}

void ConnectionTable::shutdown(EventLoop::Duration grace, std::function<void()> done) {
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

void ConnectionTable::abandon_all() noexcept {
    abandoned_ = true;
    sweep_.stop(loop_);
    shutdown_done_ = nullptr;
    loop_.cancel(std::exchange(grace_timer_, TimerId{}));
    for (TcpConnectionPtr& c : connections_) {
        ConnectionHub::abandon(*c);
        loop_.defer_release(std::move(c));  // the lifetime rule
    }
    shared_->current.fetch_sub(connections_.size(), std::memory_order_relaxed);
    connections_.clear();
    current_.store(0, std::memory_order_relaxed);
}

void ConnectionTable::add_to(TcpServerCounters& c) const noexcept {
    c.accepted += accepted_.load(std::memory_order_relaxed);
    c.refused += refused_.load(std::memory_order_relaxed);
    c.current += current_.load(std::memory_order_relaxed);
}

void ConnectionTable::finish_shutdown() {
    loop_.cancel(std::exchange(grace_timer_, TimerId{}));
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    if (done) done();  // may destroy the server: nothing after this
}

}  // namespace reactor::detail
