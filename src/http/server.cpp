// src/http/server.cpp -- http::Server: the TCP callbacks, routing, the
// per-loop tick, and the graceful shutdown.
#include "http/server_internal.hpp"

#include "http/chars.hpp"

#include <algorithm>
#include <cassert>
#include <ctime>
#include <stdexcept>

namespace reactor::http {
namespace detail {

namespace {

// The tick checks deadlines a few times per shortest timeout, so a timeout
// fires at most a quarter late; never more often than every 10 ms (a busy
// loop would spend its time sweeping), never less than once a second (the
// Date header must follow the clock).
EventLoop::Duration tick_interval(const SessionSettings& s) {
    using std::chrono::milliseconds;
    const milliseconds quarter =
        std::min({s.header_timeout, s.idle_timeout, s.body_timeout}) / 4;
    return std::clamp(quarter, milliseconds(10), milliseconds(1000));
}

Session* session_of(const TcpConnectionPtr& c) noexcept {
    const auto* link = std::any_cast<SessionLink>(&c->context());
    return link != nullptr ? link->get() : nullptr;
}

// "/api" matches "/api", "/api/" and "/api/x", not "/apix"; a prefix ending
// in '/' matches every path that starts with it.
bool prefix_matches(std::string_view path, std::string_view prefix) noexcept {
    if (path.substr(0, prefix.size()) != prefix) return false;
    return prefix.back() == '/' || path.size() == prefix.size() || path[prefix.size()] == '/';
}

// How well a route's method fits: 0 not at all; an exact method beats "any",
// which beats a GET route serving HEAD.
int method_fit(std::string_view route, std::string_view request) noexcept {
    if (route == request) return 3;
    if (route.empty()) return 2;
    if (route == "GET" && request == "HEAD") return 1;
    return 0;
}

void send_text(Response& res, int status, std::string_view text) {
    res.status(status).header("Content-Type", "text/plain; charset=utf-8").send(text);
}

}  // namespace

// ---- LoopState ----------------------------------------------------------------

LoopState::LoopState(EventLoop& l, SessionSettings s)
    : loop(l), settings(s), interval_(tick_interval(s)) {}

LoopState::~LoopState() {
    // The tick runs only while sessions exist, and every session holds this
    // object: none is left, so no timer is either.
    assert(!timer_);
    while (free_requests_ != nullptr) delete std::exchange(free_requests_, free_requests_->next_free);
    while (free_queues_ != nullptr) std::exchange(free_queues_, free_queues_->next_free)->release();
}

void LoopState::add(Session& session) {
    session.prev_ = nullptr;
    session.next_ = first_;
    if (first_ != nullptr) first_->prev_ = &session;
    first_ = &session;
    session.listed_ = true;
    if (++count_ == 1) {
        dates.update(std::time(nullptr));
        timer_ = loop.run_every(interval_, [this] { tick(); });
    }
}

void LoopState::remove(Session& session) noexcept {
    if (session.scheduled_) {
        session.scheduled_ = false;
        for (auto* list : {&scheduled_, &running_}) {
            for (Session*& s : *list) {
                if (s == &session) s = nullptr;
            }
        }
    }
    if (!session.listed_) return;
    if (session.prev_ != nullptr) session.prev_->next_ = session.next_;
    if (session.next_ != nullptr) session.next_->prev_ = session.prev_;
    if (first_ == &session) first_ = session.next_;
    session.prev_ = session.next_ = nullptr;
    session.listed_ = false;
    if (--count_ == 0) loop.cancel(std::exchange(timer_, TimerId{}));
}

void LoopState::close_all() noexcept {
    // A snapshot: closing one session destroys its drain callbacks, which
    // may close others. Each Session's memory outlives this (defer_release).
    std::vector<Session*> open;
    try {
        open.reserve(count_);
    } catch (...) {
    }
    for_each([&](Session& s) {
        try {
            open.push_back(&s);
        } catch (...) {
        }
    });
    for (Session* s : open) s->abandon();
}

void LoopState::schedule(Session& session) {
    if (session.scheduled_) return;
    scheduled_.push_back(&session);
    session.scheduled_ = true;
    if (posted_) return;
    posted_ = true;
    loop.post([self = shared_from_this()] { self->run_scheduled(); });
}

void LoopState::run_scheduled() {
    posted_ = false;
    running_.swap(scheduled_);
    // By index: a session run may close others (remove() nulls them here)
    // or schedule more (they go to scheduled_, for the next post).
    std::size_t i = 0;
    try {
        for (; i < running_.size(); ++i) {
            Session* s = std::exchange(running_[i], nullptr);
            if (s == nullptr) continue;
            s->scheduled_ = false;
            s->run_scheduled();
        }
    } catch (...) {
        // A drain callback threw: the exception leaves the loop's run(), and
        // the sessions not run yet wait for the next post, none lost.
        for (++i; i < running_.size(); ++i) {
            if (running_[i] != nullptr) scheduled_.push_back(running_[i]);
        }
        running_.clear();
        if (!scheduled_.empty() && !posted_) {
            posted_ = true;
            loop.post([self = shared_from_this()] { self->run_scheduled(); });
        }
        throw;
    }
    running_.clear();
}

void LoopState::tick() {
    dates.update(std::time(nullptr));
    const EventLoop::TimePoint now = loop.now();
    for_each([now](Session& s) { s.check_deadline(now); });
}

// ---- ServerCore -----------------------------------------------------------------

namespace {

TcpServerOptions tcp_options(const ServerOptions& o) {
    if (o.max_pipelined == 0) throw std::invalid_argument("http::Server: max_pipelined must be >= 1");
    TcpServerOptions t = o.tcp;
    t.connection.high_water_mark = o.max_output_bytes;
    // The send clock is the TCP layer's: one sweep per loop, stamps per
    // connection. A write_timeout set on the TCP options wins.
    if (t.connection.write_timeout.count() == 0) t.connection.write_timeout = o.send_timeout;
    return t;
}

}  // namespace

ServerCore::ServerCore(EventLoop& loop, const SocketAddress& address, ServerOptions options)
    : loop_(loop),
      options_(std::move(options)),
      settings_{options_.limits, options_.header_timeout, options_.idle_timeout, options_.body_timeout,
                options_.max_pipelined, options_.max_output_bytes},
      tcp_(loop, address, tcp_options(options_)) {
    fallback_ = [](const Request&, Response res) { send_text(res, 404, "Not Found\n"); };
    // The callbacks run on each connection's loop and reach this core
    // only while the TcpServer, and so the core, exists.
    tcp_.on_connect([this](const TcpConnectionPtr& c) {
        auto* session = new Session(*this, loop_state(c->loop()), *c);
        c->context() = SessionLink(session);
        sessions_.fetch_add(1, std::memory_order_relaxed);
        if (shutting_down_.load(std::memory_order_acquire)) session->begin_shutdown();
    });
    tcp_.on_message([](const TcpConnectionPtr& c, Buffer& input) {
        if (Session* s = session_of(c)) {
            s->on_message(input);
        } else {
            input.consume_all();
        }
    });
    tcp_.on_close([](const TcpConnectionPtr& c, std::error_code) {
        if (Session* s = session_of(c)) s->on_close();
    });
    tcp_.on_high_water([](const TcpConnectionPtr& c, std::size_t) {
        if (Session* s = session_of(c)) s->on_high_water();
    });
    tcp_.on_write_complete([](const TcpConnectionPtr& c) {
        if (Session* s = session_of(c)) s->on_write_complete();
    });
    tcp_.on_peer_shutdown([](const TcpConnectionPtr& c) {
        if (Session* s = session_of(c)) s->on_peer_shutdown();
    });
}

ServerCore::~ServerCore() {
    loop_.cancel(grace_timer_);
    // "Closes every connection at once": the sessions on this loop stop now
    // (their Responses turn into no-ops at once), whenever the TCP layer
    // then frees its connection objects. Those on other loops stop on their
    // own threads, when ~TcpServer abandons their connections there.
    std::shared_ptr<LoopState> own;
    {
        std::lock_guard<std::mutex> lock(loops_mutex_);
        for (const auto& ls : loops_) {
            if (&ls->loop == &loop_) own = ls;
        }
    }
    if (own) own->close_all();
}

std::shared_ptr<LoopState> ServerCore::loop_state(EventLoop& loop) {
    std::lock_guard<std::mutex> lock(loops_mutex_);
    for (const auto& ls : loops_) {
        if (&ls->loop == &loop) return ls;
    }
    loops_.push_back(std::make_shared<LoopState>(loop, settings_));
    return loops_.back();
}

void ServerCore::handle(const Request& request, Response response) {
    const std::string_view path = request.path();
    const std::string_view method = request.method();
    const Route* best = nullptr;
    std::size_t best_length = 0;
    int best_fit = 0;
    bool path_matched = false;
    for (const Route& r : routes_) {
        if (!prefix_matches(path, r.prefix)) continue;
        path_matched = true;
        const int fit = method_fit(r.method, method);
        if (fit == 0) continue;
        if (best == nullptr || r.prefix.size() > best_length ||
            (r.prefix.size() == best_length && fit > best_fit)) {
            best = &r;
            best_length = r.prefix.size();
            best_fit = fit;
        }
    }
    if (best != nullptr) {
        best->handler(request, std::move(response));
        return;
    }
    if (!path_matched) {
        fallback_(request, std::move(response));
        return;
    }
    // The path is served, but not with this method (RFC 9110 section
    // 15.5.6: a 405 lists the methods that are).
    std::string allow;
    auto add = [&](std::string_view m) {
        for (std::size_t at = 0; at < allow.size();) {
            const std::size_t end = std::min(allow.find(", ", at), allow.size());
            if (allow.compare(at, end - at, m) == 0) return;
            at = end + 2;
        }
        if (!allow.empty()) allow += ", ";
        allow += m;
    };
    for (const Route& r : routes_) {
        if (!prefix_matches(path, r.prefix)) continue;
        add(r.method);
        if (r.method == "GET") add("HEAD");
    }
    response.status(405).header("Allow", allow);
    send_text(response, 405, "Method Not Allowed\n");
}

template <class Fn>
void ServerCore::on_every_loop(Fn fn) {
    std::vector<std::shared_ptr<LoopState>> loops;
    {
        std::lock_guard<std::mutex> lock(loops_mutex_);
        loops = loops_;
    }
    for (auto& ls : loops) ls->loop.run_in_loop([ls, fn] { fn(*ls); });
}

void ServerCore::shutdown(EventLoop::Duration grace, std::function<void()> done) {
    loop_.assert_in_loop_thread();
    if (shutting_down_.load(std::memory_order_acquire)) return;  // a second signal
    tcp_.stop_listening();
    shutdown_done_ = std::move(done);
    shutting_down_.store(true, std::memory_order_release);
    on_every_loop([](LoopState& ls) { ls.for_each([](Session& s) { s.begin_shutdown(); }); });
    grace_timer_ = loop_.run_after(grace, [this] {
        grace_timer_ = {};
        on_every_loop([](LoopState& ls) { ls.for_each([](Session& s) { s.force_close(); }); });
    });
    if (sessions_.load(std::memory_order_acquire) == 0) {
        // Still asynchronous, as promised: from the loop, not from here.
        loop_.post([weak = weak_from_this()] {
            if (auto core = weak.lock()) core->finish_shutdown();
        });
    }
}

void ServerCore::session_closed() {
    if (sessions_.fetch_sub(1, std::memory_order_acq_rel) == 1 &&
        shutting_down_.load(std::memory_order_acquire)) {
        loop_.post([weak = weak_from_this()] {
            if (auto core = weak.lock()) core->finish_shutdown();
        });
    }
}

void ServerCore::finish_shutdown() {
    if (!shutdown_done_ || sessions_.load(std::memory_order_acquire) != 0) return;
    loop_.cancel(std::exchange(grace_timer_, TimerId{}));
    auto done = std::move(shutdown_done_);
    shutdown_done_ = nullptr;
    done();  // may destroy the server: nothing after this
}

}  // namespace detail

// ---- Server ------------------------------------------------------------------------

Server::Server(EventLoop& loop, const SocketAddress& address, ServerOptions options)
    : core_(std::make_shared<detail::ServerCore>(loop, address, std::move(options))) {}

Server::~Server() = default;

void Server::route(std::string_view method, std::string_view path_prefix, Handler handler) {
    core_->loop_.assert_in_loop_thread();
    if (!method.empty() && !reactor::detail::all_of_class(method, reactor::detail::kToken)) {
        throw std::invalid_argument("http::Server::route: the method is not a token");
    }
    if (path_prefix.empty() || path_prefix.front() != '/') {
        throw std::invalid_argument("http::Server::route: the prefix must start with '/'");
    }
    core_->routes_.push_back({std::string(method), std::string(path_prefix), std::move(handler)});
}

void Server::on_request(Handler handler) {
    core_->loop_.assert_in_loop_thread();
    core_->fallback_ = std::move(handler);
}

SocketAddress Server::local_address() const { return core_->tcp_.local_address(); }
EventLoop& Server::loop() const noexcept { return core_->loop_; }
TcpServer& Server::tcp() noexcept { return core_->tcp_; }

void Server::shutdown(EventLoop::Duration grace, std::function<void()> done) {
    core_->shutdown(grace, std::move(done));
}

}  // namespace reactor::http
