// src/poller/poller.cpp -- choosing a backend at run time.
#include "poller/backends.hpp"

#include <cstdlib>
#include <string>

namespace reactor {

std::vector<std::string_view> Poller::available() {
    std::vector<std::string_view> names;
#if REACTOR_HAVE_EPOLL
    names.emplace_back("epoll");
#endif
#if REACTOR_HAVE_KQUEUE
    names.emplace_back("kqueue");
#endif
    names.emplace_back("poll");
    return names;
}

std::unique_ptr<Poller> Poller::create(std::string_view backend) {
    std::string chosen(backend);
    if (chosen.empty()) {
        if (const char* env = std::getenv("REACTOR_BACKEND"); env != nullptr && *env != '\0') {
            chosen = env;
        } else {
            chosen = std::string(available().front());
        }
    }
#if REACTOR_HAVE_EPOLL
    if (chosen == "epoll") return detail::make_epoll_poller();
#endif
#if REACTOR_HAVE_KQUEUE
    if (chosen == "kqueue") return detail::make_kqueue_poller();
#endif
    if (chosen == "poll") return detail::make_poll_poller();

    std::string choices;
    for (auto name : available()) {
        if (!choices.empty()) choices += ", ";
        choices += name;
    }
    const bool known = chosen == "epoll" || chosen == "kqueue" || chosen == "poll";
    throw std::system_error(
        std::make_error_code(known ? std::errc::function_not_supported : std::errc::invalid_argument),
        "reactor: poller backend '" + chosen + "' is " + (known ? "not available in this build" : "unknown") +
            " (available: " + choices + ")");
}

std::string to_string_events(Events events) {
    std::string out;
    auto add = [&](Events bit, const char* name) {
        if ((events & bit) == 0) return;
        if (!out.empty()) out += '|';
        out += name;
    };
    add(Readable, "Readable");
    add(Writable, "Writable");
    add(Hangup, "Hangup");
    add(Error, "Error");
    return out.empty() ? "None" : out;
}

}  // namespace reactor
