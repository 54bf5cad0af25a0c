// examples/loadgen/echo_protocol.cpp -- echo mode: each request is a
// --size-byte line (payload.hpp), and the reply must be the same bytes,
// checked byte for byte by EchoVerifier (echo_verify.hpp).
#include "echo_verify.hpp"
#include "payload.hpp"
#include "protocol.hpp"
#include "run.hpp"

namespace loadgen {

namespace {

struct EchoConn : Conn {
    EchoVerifier echo;
};

EchoConn& echo_conn(Conn& c) { return static_cast<EchoConn&>(c); }
const EchoConn& echo_conn(const Conn& c) { return static_cast<const EchoConn&>(c); }

class EchoProtocol final : public RequestReplyProtocol {
public:
    using RequestReplyProtocol::RequestReplyProtocol;

    std::unique_ptr<Conn> make_conn() override { return std::make_unique<EchoConn>(); }
    int burst() const override { return run_.opts().pipeline; }

    void write_request(Conn& c, TimePoint now) override {
        const Options& o = run_.opts();
        const std::string msg = make_echo_message(o.seed, c.id, c.seq, o.size);
        echo_conn(c).echo.expect(msg, now);
        c.out += msg;
        run_.table().owe(c, 1);
    }

    void on_data(Conn& c, std::string_view data, TimePoint now) override {
        EchoVerifier& echo = echo_conn(c).echo;
        std::size_t done = 0;
        const bool ok = echo.feed(data, [&](TimePoint sent) {
            run_.replied(c, sent, now);
            ++done;
        });
        if (!ok) {
            run_.error(c, kMismatch, 1, echo.error());
            return run_.close(c);
        }
        completed(c, done);
    }

    bool mid_reply(const Conn&) const override { return false; }

private:
    TimePoint oldest(const Conn& c) const override { return echo_conn(c).echo.oldest(); }
};

}  // namespace

std::unique_ptr<Protocol> make_echo_protocol(Run& run) {
    return std::make_unique<EchoProtocol>(run);
}

}  // namespace loadgen
