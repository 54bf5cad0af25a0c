// reactor/reactor.hpp -- the umbrella header: everything a program needs.
#pragma once

#include <reactor/buffer.hpp>
#include <reactor/event_loop.hpp>
#include <reactor/event_loop_threads.hpp>
#include <reactor/fs.hpp>
#include <reactor/http/request_parser.hpp>
#include <reactor/http/server.hpp>
#include <reactor/http/static_files.hpp>
#include <reactor/http/status.hpp>
#include <reactor/poller.hpp>
#include <reactor/resolve.hpp>
#include <reactor/socket.hpp>
#include <reactor/socket_address.hpp>
#include <reactor/tcp_client.hpp>
#include <reactor/tcp_connection.hpp>
#include <reactor/tcp_server.hpp>
#include <reactor/udp_socket.hpp>
#include <reactor/worker_pool.hpp>
