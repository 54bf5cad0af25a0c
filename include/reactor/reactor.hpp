// reactor/reactor.hpp -- the umbrella header: everything a program needs.
#pragma once

#include <reactor/event_loop.hpp>
#include <reactor/event_loop_threads.hpp>
#include <reactor/fs.hpp>
#include <reactor/histogram.hpp>
#include <reactor/poller.hpp>
#include <reactor/resolve.hpp>
#include <reactor/worker_pool.hpp>
