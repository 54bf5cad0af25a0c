// reactor/reactor.hpp -- the umbrella header: everything a program needs.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/event_loop_threads.hpp>
#include <reactor/poller.hpp>
