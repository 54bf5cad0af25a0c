// src/udp_socket.cpp -- datagrams in and out, bounded per wake-up.
#include <reactor/udp_socket.hpp>

#include "socket_ops.hpp"
#include "syscall.hpp"

#include <string>
#include <utility>

namespace reactor {

UdpSocket::UdpSocket(EventLoop& loop, const SocketAddress& address)
    : loop_(loop), socket_(Socket::create(address.family(), SOCK_DGRAM)) {
    if (const std::error_code ec = socket_.bind(address)) {
        throw std::system_error(ec, "reactor: UdpSocket bind " + address.to_string());
    }
}

UdpSocket::~UdpSocket() {
    if (destroyed_ != nullptr) *destroyed_ = true;
    close();
}

void UdpSocket::close() noexcept {
    if (watch_) loop_.unwatch(std::exchange(watch_, WatcherId{}));
    socket_.close();
}

void UdpSocket::on_datagram(DatagramCallback cb) {
    loop_.assert_in_loop_thread();
    callback_ = std::move(cb);
    replaced_ = true;  // tells a dispatch in progress not to restore the old one
    if (callback_ && !watch_ && socket_) {
        watch_ = loop_.watch(socket_.fd(), Readable, [this](Events) { handle_readable(); });
    } else if (!callback_ && watch_) {
        loop_.unwatch(std::exchange(watch_, WatcherId{}));
    }
}

void UdpSocket::handle_readable() {
    char data[65536];
    // The running callback is moved aside (no copy per datagram), so it may
    // replace or clear itself, or destroy this socket, while it runs.
    DatagramCallback running = std::move(callback_);
    replaced_ = false;
    bool destroyed = false;
    destroyed_ = &destroyed;
    for (int i = 0; i < kDatagramsPerWakeup && watch_ && !replaced_; ++i) {
        SocketAddress from;
        socklen_t length = SocketAddress::capacity();
        std::error_code ec;
        const ssize_t n = detail::retry_eintr(ec, [&] {
            return ::recvfrom(socket_.fd(), data, sizeof data, 0, from.native_mut(), &length);
        });
        if (n < 0) {
            // EAGAIN: drained. ECONNREFUSED and the like are ICMP news about
            // an earlier send_to(), not a broken socket: keep receiving.
            break;
        }
        from.set_length(length);
        running(std::string_view(data, static_cast<std::size_t>(n)), from);
        if (destroyed) return;
    }
    destroyed_ = nullptr;
    if (!replaced_) callback_ = std::move(running);
}

std::error_code UdpSocket::send_to(std::string_view data, const SocketAddress& to) noexcept {
    std::error_code ec;
    const ssize_t n = detail::retry_eintr(ec, [&] {
        return ::sendto(socket_.fd(), data.data(), data.size(), detail::kSendFlags, to.native(),
                        to.length());
    });
    return n < 0 ? ec : std::error_code{};
}

}  // namespace reactor
