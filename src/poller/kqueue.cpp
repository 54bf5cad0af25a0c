// src/poller/kqueue.cpp -- placeholder until the kqueue backend lands.
#include "poller/backends.hpp"
