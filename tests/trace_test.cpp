// runs-on: every backend
// tests/trace_test.cpp -- the loop tracer prints what each iteration did.
#include "test_util.hpp"

#include <cstdio>
#include <string>

using namespace reactor;
using namespace reactor::test;

namespace {
std::string slurp(std::FILE* f) {
    std::string out;
    std::rewind(f);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    return out;
}
}  // namespace

TEST_CASE("the tracer names the backend, the ready fd and its events, and the timers run") {
    EventLoop loop;
    std::FILE* out = std::tmpfile();
    REQUIRE(out != nullptr);
    loop.set_trace(out);
    auto r_w = make_pipe();  // not a structured binding: lambdas capture these (clang 14)
    auto& r = r_w.first;
    auto& w = r_w.second;
    bool read_once = false;
    const WatcherId id = loop.watch(r.get(), Readable, [&](Events) {
        read_some(r.get());
        read_once = true;
    });
    write_all(w.get(), "x");
    bool fired = false;
    loop.run_after(std::chrono::milliseconds(1), [&] { fired = true; });
    CHECK(run_until(loop, [&] { return read_once && fired; }));
    loop.set_trace(nullptr);
    loop.unwatch(id);
    const std::string text = slurp(out);
    std::fclose(out);
    CHECK(text.find("[reactor] iteration ") != std::string::npos);
    CHECK(text.find(std::string(loop.backend()) + "(timeout ") != std::string::npos);
    CHECK(text.find("fd " + std::to_string(r.get()) + ": Readable") != std::string::npos);
    CHECK(text.find("timers run: 1") != std::string::npos);
}

TEST_CASE("with the tracer off nothing is written") {
    EventLoop loop;
    std::FILE* out = std::tmpfile();
    REQUIRE(out != nullptr);
    loop.set_trace(out);
    loop.set_trace(nullptr);
    bool fired = false;
    loop.run_after(std::chrono::milliseconds(1), [&] { fired = true; });
    CHECK(run_until(loop, [&] { return fired; }));
    CHECK(slurp(out).empty());
    std::fclose(out);
}
