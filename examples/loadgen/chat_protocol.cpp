// examples/loadgen/chat_protocol.cpp -- chat mode: every line a connection
// sends (make_chat_line) must reach every other open connection, once,
// intact, and in order per sender (the server relays in order). Lines are
// split and recognised by chat_verify.hpp.
//
// A line reaches only the clients the server has registered when it
// relays it, and a client that has connected may not be registered yet
// (it may still sit in the listen backlog). So no line is sent until every
// connection is known to be registered: once every connect has resolved,
// the lowest-numbered open connection (the coordinator) sends
// "loadgen-sync" every 100 ms; a client that receives it is registered and
// answers "loadgen-ready ID"; when the coordinator has heard every other
// client, the load starts.
//
// A line is owed (ConnTable::owe) to its sender once per receiver open when
// it was sent; each delivery settles one. A receiver that closes settles,
// at each sender, the lines it had not received yet; a sender that closes
// settles its own (its closing was counted as an error), and a delivery of
// one of them that still arrives is not counted.
#include "chat_verify.hpp"
#include "fifo.hpp"
#include "payload.hpp"
#include "protocol.hpp"
#include "report.hpp"
#include "run.hpp"

#include <vector>

namespace loadgen {

namespace {

// A line in flight: sent at `sent`, still owed to `remaining` receivers.
struct ChatPending {
    TimePoint sent;
    std::uint32_t remaining;
};

struct ChatConn : Conn {
    LineSplitter lines;
    Fifo<ChatPending> pending;        // as sender: lines base, base+1, ...
    std::uint64_t base = 0;           // seq of pending's front
    std::vector<std::uint64_t> next;  // as receiver: next seq expected from each sender
    bool ready_sent = false;
};

ChatConn& chat_conn(Conn& c) { return static_cast<ChatConn&>(c); }
const ChatConn& chat_conn(const Conn& c) { return static_cast<const ChatConn&>(c); }

constexpr std::string_view kSyncLine = "loadgen-sync\n";

class ChatProtocol final : public Protocol {
public:
    explicit ChatProtocol(Run& run) : run_(run) {}

    std::unique_ptr<Conn> make_conn() override { return std::make_unique<ChatConn>(); }
    int burst() const override { return 1; }

    void on_open(Conn& c) override {
        chat_conn(c).next.assign(static_cast<std::size_t>(run_.opts().connections), 0);
    }

    void write_request(Conn& conn, TimePoint now) override {
        ChatConn& c = chat_conn(conn);
        const Options& o = run_.opts();
        const auto receivers = static_cast<std::uint32_t>(run_.table().open() - 1);
        if (c.pending.empty()) c.base = c.seq;
        c.pending.push_back({now, receivers});
        run_.table().owe(c, receivers);
        c.out += make_chat_line(o.seed, c.id, c.seq, o.size);
        c.out += '\n';
    }

    void on_data(Conn& c, std::string_view data, TimePoint now) override {
        if (!chat_conn(c).lines.feed(data, [&](std::string_view line) { on_line(c, line, now); })) {
            run_.error(c, kMismatch, 1, "a line longer than 1 MiB");
            run_.close(c);
        }
    }

    std::size_t awaiting(const Conn&) const override { return 0; }
    bool mid_reply(const Conn& c) const override { return chat_conn(c).lines.in_progress(); }

    void expire(Conn& conn, TimePoint now, Clock::duration limit) override {
        ChatConn& c = chat_conn(conn);
        while (!c.pending.empty() && now - c.pending.front().sent > limit) {
            ChatPending& p = c.pending.front();
            if (p.remaining > 0) {
                run_.error(c, kTimeout, p.remaining,
                           "line " + std::to_string(c.base) + " did not reach " +
                               std::to_string(p.remaining) + " receiver(s) within " +
                               detail::fmt("%g", run_.opts().timeout_s) + " s");
                run_.table().settle(c, p.remaining);
                p.remaining = 0;
            }
            pop_delivered(c);
        }
    }

    void at_end(Conn& conn) override {
        ChatConn& c = chat_conn(conn);
        for (std::size_t i = 0; i < c.pending.size(); ++i) {
            const auto& p = c.pending.at(i);
            if (p.remaining > 0) {
                run_.error(c, kTimeout, p.remaining, "a chat line still undelivered at the end");
            }
        }
        // Counted: the receivers that close after this must not settle them again.
        c.pending.clear();
    }

    void on_close(Conn& conn, bool was_open) override {
        ChatConn& c = chat_conn(conn);
        c.pending.clear();  // settled by the table; a late delivery is ignored
        if (!was_open) return;
        forget_receiver(c);
        if (&c == coordinator_ && phase_ == Phase::Syncing) {
            // Its closing was counted; without it the start cannot complete.
            coordinator_ = nullptr;
            run_.begin_stop();
        }
    }

    void on_all_resolved() override {
        if (phase_ != Phase::Connecting) return;
        ConnTable& table = run_.table();
        if (table.open() < 2) return run_.begin_stop();  // nobody to talk to; the report says why
        for (auto& c : table) {
            if (c->is_open()) {
                coordinator_ = &chat_conn(*c);
                break;
            }
        }
        phase_ = Phase::Syncing;
        ready_.assign(table.size(), false);
        sync_deadline_ = Clock::now() + run_.timeout();
        run_.send(*coordinator_, kSyncLine);
        sync_timer_ = run_.loop().run_every(std::chrono::milliseconds(100), [this] {
            if (coordinator_ != nullptr) run_.send(*coordinator_, kSyncLine);
        });
    }

    void tick(TimePoint now) override {
        if (phase_ != Phase::Syncing || now <= sync_deadline_) return;
        const std::uint64_t missing = run_.table().open() - 1 - ready_count_;
        run_.error(kTimeout, missing,
                   std::to_string(missing) +
                       " chat connection(s) never received the start line "
                       "(is the server a line relay?)");
        phase_ = Phase::Running;  // never start: just end
        run_.loop().cancel(sync_timer_);
        run_.begin_stop();
    }

    void on_stop() override { run_.loop().cancel(sync_timer_); }

private:
    enum class Phase { Connecting, Syncing, Running };

    // Chat runs on one worker, so ids are indexes.
    ChatConn* conn_by_id(std::uint64_t id) {
        return id < run_.table().size() ? &chat_conn(run_.table()[id]) : nullptr;
    }

    void on_line(Conn& conn, std::string_view line, TimePoint now) {
        if (!conn.is_open()) return;  // closed by an earlier line of this read
        ChatConn& c = chat_conn(conn);
        const ChatLine got = parse_chat_line(line, run_.opts().seed, run_.opts().size);
        switch (got.kind) {
        case ChatLine::Kind::Other:
            return;
        case ChatLine::Kind::Sync:
            if (!c.ready_sent) {
                c.ready_sent = true;
                run_.send(c, "loadgen-ready " + std::to_string(c.id) + "\n");
            }
            return;
        case ChatLine::Kind::Ready:
            if (&c == coordinator_ && phase_ == Phase::Syncing && got.conn != c.id &&
                got.conn < ready_.size() && !ready_[got.conn]) {
                ready_[got.conn] = true;
                if (++ready_count_ == run_.table().open() - 1) start_load();
            }
            return;
        case ChatLine::Kind::Message:
            break;
        }
        if (!got.intact) return run_.error(c, kMismatch, 1, "a chat line arrived corrupted");
        if (got.conn == c.id) return run_.error(c, kMismatch, 1, "its own line came back");
        if (got.conn >= c.next.size()) return run_.error(c, kMismatch, 1, "a line from nobody");
        std::uint64_t& next = c.next[got.conn];
        if (got.seq < next) {
            return run_.error(c, kMismatch, 1,
                              "line " + std::to_string(got.seq) + " of connection " +
                                  std::to_string(got.conn) + " arrived twice or out of order");
        }
        // A gap (got.seq > next) means lines were lost; they stay owed at
        // their sender and are counted as timeouts there.
        next = got.seq + 1;
        ChatConn* sender = conn_by_id(got.conn);
        if (sender == nullptr || got.seq < sender->base) return;  // already timed out
        const std::uint64_t index = got.seq - sender->base;
        if (index >= sender->pending.size()) return;
        ChatPending& p = sender->pending.at(index);
        if (p.remaining == 0) return;
        --p.remaining;
        run_.replied(*sender, p.sent, now);
        pop_delivered(*sender);
    }

    void pop_delivered(ChatConn& sender) {
        bool freed = false;
        while (!sender.pending.empty() && sender.pending.front().remaining == 0) {
            sender.pending.pop_front();
            ++sender.base;
            freed = true;
        }
        // With --interval 0 a sender's next line goes once every receiver has its last.
        if (freed && run_.opts().interval_ms == 0 && sender.pending.empty()) {
            run_.send_request(sender);
        }
    }

    void start_load() {
        phase_ = Phase::Running;
        run_.loop().cancel(sync_timer_);
        for (auto& c : run_.table()) {
            if (c->is_open()) run_.start_sending(*c);
        }
    }

    // A receiver has gone: the lines it was still owed will never come.
    void forget_receiver(ChatConn& gone) {
        for (auto& cp : run_.table()) {
            ChatConn& s = chat_conn(*cp);
            if (&s == &gone || gone.next.empty()) continue;
            const std::uint64_t next = gone.next[s.id];
            for (std::size_t i = 0; i < s.pending.size(); ++i) {
                ChatPending& p = s.pending.at(i);
                if (s.base + i >= next && p.remaining > 0) {
                    --p.remaining;
                    run_.table().settle(s, 1);
                }
            }
            pop_delivered(s);
        }
    }

    Run& run_;
    Phase phase_ = Phase::Connecting;
    ChatConn* coordinator_ = nullptr;
    std::vector<bool> ready_;
    std::uint64_t ready_count_ = 0;
    TimePoint sync_deadline_;
    reactor::TimerId sync_timer_;
};

}  // namespace

std::unique_ptr<Protocol> make_chat_protocol(Run& run) {
    return std::make_unique<ChatProtocol>(run);
}

}  // namespace loadgen
