// runs-on: every backend
#include "test_util.hpp"
TEST_CASE("loop runs a timer") {
    reactor::EventLoop loop;
    bool fired = false;
    loop.run_after(std::chrono::milliseconds(5), [&] { fired = true; });
    CHECK(reactor::test::run_until(loop, [&] { return fired; }));
    CHECK(loop.backend() == reactor::test::backend_name());
}
