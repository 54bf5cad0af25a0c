// examples/loops.cpp -- several loops on several threads, and work handed
// between them with post() (docs/tutorial/10-beyond-one-core.md).
//
// EventLoopThreads starts N loops, one thread each. The main thread's loop
// hands out 8 jobs round-robin (next_loop()); each job runs on its loop's
// thread and posts its result back to the main loop, the only place the
// results are touched -- no lock needed. post() is the one call that is
// safe from any thread.
//
//   $ build/examples/loops
#include <reactor/reactor.hpp>

#include <cstdio>
#include <vector>

int main() {
    reactor::EventLoop main_loop;
    reactor::EventLoopThreads workers(2);

    std::vector<int> ran_on(8, -1);  // touched on the main loop only
    int done = 0;
    for (int job = 0; job < 8; ++job) {
        reactor::EventLoop* target = &workers.next_loop();
        const int index = target == &workers.loop(0) ? 0 : 1;
        target->post([&main_loop, &ran_on, &done, target, job, index] {
            // On the worker loop's thread.
            const bool on_its_thread = target->in_loop_thread();
            main_loop.post([&, job, index, on_its_thread] {
                // Back on the main thread.
                ran_on[static_cast<std::size_t>(job)] = on_its_thread ? index : -1;
                if (++done == 8) main_loop.stop();
            });
        });
    }
    main_loop.run();
    workers.stop();

    for (int job = 0; job < 8; ++job) {
        std::printf("job %d ran on loop %d's thread\n", job, ran_on[static_cast<std::size_t>(job)]);
    }
    return 0;
}
