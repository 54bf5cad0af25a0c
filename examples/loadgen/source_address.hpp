// examples/loadgen/source_address.hpp -- how many local addresses to spread
// connections over, so that picking a local port stays cheap and never runs
// out.
//
// A TCP connection is identified by (source address, source port,
// destination address, destination port). To one server, one source
// address therefore has at most one connection per ephemeral port: 28,232
// with Linux's default range, net.ipv4.ip_local_port_range = 32768 60999.
// Long before that, connect() slows down: since Linux 4.6 the kernel
// prefers even ports for connect() (leaving odd ones to bind()), and once
// the even half is taken every connect() scans all of it before trying an
// odd port. Measured here: 10,000 connections from one address are made at
// 10,000/s; beyond about 14,000 each connect() costs milliseconds and the
// whole loop stalls. So loadgen plans for at most 90% of half the range
// per source address and, for a 127.x server, spreads the connections
// evenly over 127.0.0.1, 127.0.0.2, ... (all loopback on Linux). If
// connect() still fails with EADDRNOTAVAIL, later connections move to a
// further address (see worker.cpp).
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace loadgen {

/// Used when the port range cannot be read (not Linux, or no /proc).
inline constexpr int kDefaultConnectionsPerSource = 12000;

/// Connections one source address should carry to one destination, given
/// the text of /proc/sys/net/ipv4/ip_local_port_range ("32768\t60999").
inline int connections_per_source(const std::string& port_range) {
    std::istringstream in(port_range);
    long lo = 0, hi = 0;
    if (!(in >> lo >> hi) || lo <= 0 || hi < lo || hi > 65535) return kDefaultConnectionsPerSource;
    const long ports = hi - lo + 1;
    const long n = ports / 2 * 9 / 10;
    return n < 1000 ? 1000 : static_cast<int>(n);
}

/// The same, for this machine.
inline int connections_per_source() {
    std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
    std::stringstream text;
    text << f.rdbuf();
    return f ? connections_per_source(text.str()) : kDefaultConnectionsPerSource;
}

/// How many source addresses `connections` need at `per_source` each.
inline unsigned planned_sources(int connections, int per_source) {
    if (per_source <= 0 || connections <= per_source) return 1;
    return static_cast<unsigned>((connections + per_source - 1) / per_source);
}

/// The source address index of connection `id`: 0 means "let the kernel
/// choose" (127.0.0.1 towards a loopback server), k means 127.0.0.(1 + k).
/// Connections are spread round-robin over the `planned` addresses; after
/// `extra` EADDRNOTAVAIL moves, every later connection uses the newest one.
inline unsigned source_index(std::uint64_t id, unsigned planned, unsigned extra) {
    if (extra > 0) return planned - 1 + extra;
    return planned > 1 ? static_cast<unsigned>(id % planned) : 0;
}

}  // namespace loadgen
