// src/loop/event_loop_threads.cpp
#include <reactor/event_loop_threads.hpp>

#include <cassert>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <system_error>

namespace reactor {

EventLoopThreads::EventLoopThreads(std::size_t count, std::string_view backend) {
    if (count == 0) {
        throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                "reactor: EventLoopThreads needs at least one thread");
    }
    const std::string backend_name(backend);
    for (std::size_t i = 0; i < count; ++i) {
        std::promise<EventLoop*> ready;
        std::future<EventLoop*> started = ready.get_future();
        releases_.emplace_back();
        threads_.emplace_back([&ready, backend_name, released = releases_.back().get_future()] {
            std::unique_ptr<EventLoop> loop;
            try {
                loop = std::make_unique<EventLoop>(backend_name);
            } catch (...) {
                ready.set_exception(std::current_exception());
                return;
            }
            ready.set_value(loop.get());
            loop->run();
            // stop() may still be inside loop->stop() (waking us) when run()
            // returns: destroy the loop only once it says it is done with it.
            released.wait();
            // The loop dies on its own thread: its callbacks may hold state
            // that expects to be destroyed where it lived.
        });
        try {
            loops_.push_back(started.get());
        } catch (...) {
            threads_.back().join();
            threads_.pop_back();
            releases_.pop_back();
            stop();
            throw;
        }
    }
}

EventLoopThreads::~EventLoopThreads() { stop(); }

void EventLoopThreads::stop() {
    for (EventLoop* loop : loops_) {
        assert(!loop->in_loop_thread() && "reactor: EventLoopThreads::stop() called from one of its loops");
        loop->stop();
    }
    // Only now that no loop is touched any more may the threads destroy them.
    for (std::promise<void>& release : releases_) release.set_value();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    releases_.clear();
    loops_.clear();
}

}  // namespace reactor
