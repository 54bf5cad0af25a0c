// src/net/udp_socket.cpp -- datagrams in and out, bounded per wake-up.
#include <reactor/udp_socket.hpp>

#include "net/socket_ops.hpp"
#include "base/syscall.hpp"

#include <string>
#include <utility>

namespace reactor {

// What a UdpSocket is: held by the object while it lives, then by the loop
// until the dispatch step in which it was destroyed has ended. The watcher
// calls the core, never the object, so the object may die in a callback.
struct UdpSocket::Core {
    Core(EventLoop& l, Socket s) : loop(l), socket(std::move(s)) {}

    void handle_readable();
    void close() noexcept {
        if (watch) loop.unwatch(std::exchange(watch, WatcherId{}));
        socket.close();
    }

    EventLoop& loop;
    Socket socket;
    WatcherId watch;
    DatagramCallback callback;
    bool replaced = false;  // on_datagram() called during a dispatch
};

UdpSocket::UdpSocket(EventLoop& loop, const SocketAddress& address)
    : core_(std::make_shared<Core>(loop, Socket::create(address.family(), SOCK_DGRAM))) {
    if (const std::error_code ec = core_->socket.bind(address)) {
        throw std::system_error(ec, "reactor: UdpSocket bind " + address.to_string());
    }
}

UdpSocket::~UdpSocket() {
    core_->close();
    EventLoop& loop = core_->loop;
    loop.defer_release(std::move(core_));
}

SocketAddress UdpSocket::local_address() const noexcept { return core_->socket.local_address(); }
Socket& UdpSocket::socket() noexcept { return core_->socket; }
void UdpSocket::close() noexcept { core_->close(); }

void UdpSocket::on_datagram(DatagramCallback cb) {
    Core& c = *core_;
    c.loop.assert_in_loop_thread();
    c.callback = std::move(cb);
    c.replaced = true;  // tells a dispatch in progress not to restore the old one
    if (c.callback && !c.watch && c.socket) {
        c.watch = c.loop.watch(c.socket.fd(), Readable, [&c](Events) { c.handle_readable(); },
                               WatchLabel::Datagram);
    } else if (!c.callback && c.watch) {
        c.loop.unwatch(std::exchange(c.watch, WatcherId{}));
    }
}

void UdpSocket::Core::handle_readable() {
    char data[65536];
    // The running callback is moved aside (no copy per datagram), so it may
    // replace or clear itself, or destroy the socket, while it runs; it is
    // put back when the batch ends, by return or by exception, unless it
    // was replaced meanwhile. A destroyed socket's core is still alive here
    // (defer_release): close() removed the watch, which ends the batch.
    struct Restore {
        Core& core;
        DatagramCallback running;
        ~Restore() {
            if (!core.replaced) core.callback = std::move(running);
        }
    } restore{*this, std::move(callback)};
    replaced = false;
    for (int i = 0; i < kDatagramsPerWakeup && watch && !replaced; ++i) {
        SocketAddress from;
        socklen_t length = SocketAddress::capacity();
        std::error_code ec;
        const ssize_t n = detail::retry_eintr(ec, [&] {
            return REACTOR_SYS(recvfrom)(socket.fd(), data, sizeof data, 0, from.native_mut(), &length);
        });
        if (n < 0) {
            // EAGAIN: drained. ECONNREFUSED and the like are ICMP news about
            // an earlier send_to(), not a broken socket: keep receiving.
            break;
        }
        from.set_length(length);
        restore.running(std::string_view(data, static_cast<std::size_t>(n)), from);
    }
}

std::error_code UdpSocket::send_to(std::string_view data, const SocketAddress& to) noexcept {
    std::error_code ec;
    const ssize_t n = detail::retry_eintr(ec, [&] {
        return REACTOR_SYS(sendto)(core_->socket.fd(), data.data(), data.size(), detail::kSendFlags, to.native(),
                        to.length());
    });
    return n < 0 ? ec : std::error_code{};
}

}  // namespace reactor
