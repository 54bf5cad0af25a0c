// reactor/udp_socket.hpp -- a bound datagram socket on a loop.
//
//   UdpSocket udp(loop, SocketAddress::parse("127.0.0.1:0"));
//   udp.on_datagram([&](std::string_view data, const SocketAddress& from) {
//       udp.send_to(data, from);   // an echo
//   });
//
// Receiving: each wake-up reads at most kDatagramsPerWakeup datagrams (so a
// flood on one socket cannot starve the loop) into a 64 KiB stack area, the
// largest a UDP datagram can be; each is handed to the callback with its
// sender. A datagram larger than that cannot exist on IP; on a Unix
// datagram socket the excess would be truncated.
//
// Sending never blocks: send_to() returns EAGAIN (errc::resource_unavailable_
// try_again) when the socket's send buffer is full, and the datagram is not
// sent; UDP has no queue to wait in, so the caller decides.
//
// Lifetime: the socket's state lives in a small core that the object owns.
// Destroying the object (inside its own callback too) closes the socket at
// once, so no datagram callback runs after that, and hands the core to
// EventLoop::defer_release(), which frees it after the current dispatch
// step: the one lifetime rule (docs/architecture.md).
//
// Exceptions: one thrown by the datagram callback leaves the loop's run()
// (the loop's exception policy); the socket stays registered with its
// callback, and the datagrams not yet read are read on the next wake-up.
//
// Threads: loop thread only. Destroy the socket before its loop.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/socket.hpp>
#include <reactor/socket_address.hpp>

#include <functional>
#include <memory>
#include <string_view>
#include <system_error>

namespace reactor {

class UdpSocket {
public:
    using DatagramCallback = std::function<void(std::string_view data, const SocketAddress& from)>;
    static constexpr int kDatagramsPerWakeup = 32;

    /// Creates a non-blocking datagram socket bound to `address` (port 0:
    /// the kernel picks; see local_address()). Throws std::system_error if
    /// the socket or the bind fails, naming the address.
    UdpSocket(EventLoop& loop, const SocketAddress& address);
    ~UdpSocket();
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    /// Starts receiving, calling `cb` per datagram; an empty `cb` stops.
    /// Throws std::system_error if the loop refuses the fd.
    void on_datagram(DatagramCallback cb);

    /// Sends one datagram. Returns an empty error_code on success, EAGAIN
    /// if the send buffer is full, EMSGSIZE if too large, or the kernel's
    /// error (e.g. ECONNREFUSED reported by an earlier ICMP message).
    std::error_code send_to(std::string_view data, const SocketAddress& to) noexcept;

    SocketAddress local_address() const noexcept;
    /// For options (buffer sizes, SO_BROADCAST via setsockopt on fd()).
    Socket& socket() noexcept;
    /// Stops receiving and closes the socket now.
    void close() noexcept;

private:
    struct Core;
    std::shared_ptr<Core> core_;  // shared only with the loop's deferred list
};

}  // namespace reactor
