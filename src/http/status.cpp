// src/http/status.cpp -- reason phrases (RFC 9110 section 15).
#include <reactor/http/status.hpp>

#include "http/status_list.hpp"

namespace reactor::http {

std::string_view reason_phrase(int status) noexcept {
    switch (status) {
#define REACTOR_HTTP_REASON_CASE(code, text) \
    case code: return text;
        REACTOR_HTTP_STATUS_LIST(REACTOR_HTTP_REASON_CASE)
#undef REACTOR_HTTP_REASON_CASE
    default: return {};
    }
}

}  // namespace reactor::http
