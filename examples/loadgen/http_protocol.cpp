// examples/loadgen/http_protocol.cpp -- http mode: keep-alive GETs
// (make_http_request), each answered by one response that must frame like
// HTTP/1.x (HttpResponseScanner, http_verify.hpp) and carry status 200.
#include "fifo.hpp"
#include "http_verify.hpp"
#include "protocol.hpp"
#include "run.hpp"

namespace loadgen {

namespace {

struct HttpConn : Conn {
    HttpResponseScanner scanner;
    Fifo<TimePoint> sent;  // send times of the requests without a response yet
};

HttpConn& http_conn(Conn& c) { return static_cast<HttpConn&>(c); }
const HttpConn& http_conn(const Conn& c) { return static_cast<const HttpConn&>(c); }

class HttpProtocol final : public RequestReplyProtocol {
public:
    explicit HttpProtocol(Run& run)
        : RequestReplyProtocol(run), request_(make_http_request(run.opts().host, run.opts().port)) {}

    std::unique_ptr<Conn> make_conn() override { return std::make_unique<HttpConn>(); }
    int burst() const override { return run_.opts().pipeline; }

    void write_request(Conn& c, TimePoint now) override {
        http_conn(c).sent.push_back(now);
        c.out += request_;
        run_.table().owe(c, 1);
    }

    void on_data(Conn& c, std::string_view data, TimePoint now) override {
        HttpConn& h = http_conn(c);
        std::size_t done = 0;
        bool unsolicited = false;
        const bool ok = h.scanner.feed(data, [&](const HttpResponse& r) {
            if (h.sent.empty()) {
                unsolicited = true;
                return;
            }
            const TimePoint sent = h.sent.front();
            h.sent.pop_front();
            ++done;
            if (r.status == 200) {
                run_.replied(c, sent, now);
            } else {
                run_.table().settle(c, 1);
                run_.error(c, kMismatch, 1, "status " + std::to_string(r.status) + ", expected 200");
            }
        });
        if (!ok || unsolicited) {
            run_.error(c, kMismatch, 1, ok ? "a response to no request" : h.scanner.error());
            return run_.close(c);
        }
        completed(c, done);
    }

    bool mid_reply(const Conn& c) const override { return http_conn(c).scanner.in_progress(); }

private:
    TimePoint oldest(const Conn& c) const override { return http_conn(c).sent.front(); }

    const std::string request_;
};

}  // namespace

std::unique_ptr<Protocol> make_http_protocol(Run& run) {
    return std::make_unique<HttpProtocol>(run);
}

}  // namespace loadgen
