// src/poller/kqueue.cpp -- placeholder until the kqueue backend lands.
#include "poller/backends.hpp"
#if REACTOR_HAVE_KQUEUE
#include <stdexcept>
namespace reactor::detail {
std::unique_ptr<Poller> make_kqueue_poller() { throw std::runtime_error("kqueue: not yet"); }
}
#endif
