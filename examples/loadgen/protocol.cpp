// examples/loadgen/protocol.cpp -- what the echo and http protocols share
// (RequestReplyProtocol, protocol.hpp).
#include "protocol.hpp"

#include "report.hpp"
#include "run.hpp"

namespace loadgen {

void RequestReplyProtocol::on_open(Conn& c) { run_.start_sending(c); }

void RequestReplyProtocol::expire(Conn& c, TimePoint now, Clock::duration limit) {
    const std::size_t pending = awaiting(c);
    if (pending > 0 && now - oldest(c) > limit) {
        run_.error(c, kTimeout, pending,
                   "no complete reply within " + detail::fmt("%g", run_.opts().timeout_s) + " s");
        run_.close(c);
    }
}

void RequestReplyProtocol::at_end(Conn& c) {
    if (awaiting(c) > 0) run_.error(c, kTimeout, awaiting(c), "replies still missing at the end");
}

void RequestReplyProtocol::completed(Conn& c, std::size_t n) {
    // With --interval 0 each completed reply makes room for the next.
    if (run_.opts().interval_ms > 0) return;
    for (std::size_t i = 0; i < n && c.is_open(); ++i) run_.send_request(c);
}

}  // namespace loadgen
