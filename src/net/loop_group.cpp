// src/net/loop_group.cpp -- starting, feeding, shutting down and tearing
// down the other loops of a multi-threaded TcpServer.
#include "net/loop_group.hpp"

#include <future>
#include <utility>

namespace reactor::detail {

LoopGroup::LoopGroup(ServerLoop& base, const TcpServerOptions& options, bool reuse_port)
    : base_(base), threads_(options.threads - 1, base.loop().backend()), reuse_port_(reuse_port) {
    for (std::size_t i = 0; i < threads_.size(); ++i) {
        auto loop = std::make_shared<ServerLoop>(threads_.loop(i), options, base.shared());
        // Same address, real port: the kernel spreads connections over
        // every listener bound to it.
        if (reuse_port_) loop->acceptor().listen(base.acceptor().local_address(), true);
        loops_.push_back(std::move(loop));
    }
}

Acceptor::OnAccept LoopGroup::wire() {
    std::weak_ptr<LoopGroup> weak = weak_from_this();
    base_.loop().post([weak] {
        if (auto group = weak.lock()) group->ensure_started();
    });
    if (reuse_port_) return {};
    return [weak](Socket socket) {
        if (auto group = weak.lock()) group->hand_off(std::move(socket));
    };
}

// Base loop thread. Copies the callbacks and connection options to every
// loop (posting is what publishes them to the other threads), then lets the
// loops with listeners accept.
void LoopGroup::ensure_started() {
    if (started_) return;
    started_ = true;
    for (const auto& loop : loops_) {
        loop->table().set_callbacks(base_.table().callbacks());
        loop->table().set_options(base_.table().options());
        if (reuse_port_) loop->loop().post([loop] { loop->start_accepting(); });
    }
}

void LoopGroup::hand_off(Socket socket) {
    ensure_started();
    const std::size_t turn = next_++ % (loops_.size() + 1);
    if (turn == 0) {
        base_.table().serve(std::move(socket));
        return;
    }
    auto handed = std::make_shared<ServerLoop::Handed>(std::move(socket), base_.shared());
    const auto& loop = loops_[turn - 1];
    loop->loop().post([loop, handed] { loop->adopt(*handed); });
}

void LoopGroup::on_each(std::function<void(ServerLoop&)> fn) {
    for (const auto& loop : loops_) loop->loop().post([loop, fn] { fn(*loop); });
}

TcpServerCounters LoopGroup::counters() const noexcept {
    TcpServerCounters total;
    base_.add_to(total);
    for (const auto& loop : loops_) loop->add_to(total);
    return total;
}

void LoopGroup::shutdown(EventLoop::Duration grace, std::function<void()> done) {
    ensure_started();
    auto state = std::make_shared<ShutdownState>();
    state->remaining = loops_.size() + 1;
    state->done = std::move(done);
    shutdown_ = state;
    // Each loop reports to the base loop; the last report calls done.
    auto report = [state] {
        if (--state->remaining == 0 && state->done) {
            auto call = std::move(state->done);
            state->done = nullptr;
            call();  // may destroy the server: nothing after this
        }
    };
    EventLoop& base_loop = base_.loop();
    on_each([grace, report, &base_loop](ServerLoop& loop) {
        loop.shutdown(grace, [report, &base_loop] { base_loop.post(report); });
    });
    base_.shutdown(grace, report);
}

void LoopGroup::abandon_all() {
    if (auto state = shutdown_.lock()) state->done = nullptr;
    std::vector<std::future<void>> finished;
    for (const auto& loop : loops_) {
        auto promise = std::make_shared<std::promise<void>>();
        finished.push_back(promise->get_future());
        loop->loop().post([loop, promise] {
            loop->abandon_all();
            promise->set_value();
        });
    }
    for (auto& f : finished) f.wait();
    threads_.stop();
    loops_.clear();
}

}  // namespace reactor::detail
