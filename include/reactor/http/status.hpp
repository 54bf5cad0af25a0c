// reactor/http/status.hpp -- HTTP status codes and their reason phrases.
#pragma once

#include <string_view>

namespace reactor::http {

/// The standard reason phrase of `status` (RFC 9110 section 15), e.g.
/// "Not Found" for 404; an empty view for a code it does not know (a status
/// line may carry an empty reason). Static strings; any thread.
std::string_view reason_phrase(int status) noexcept;

/// True for statuses whose responses never carry a body (RFC 9110 section
/// 6.4.1): 1xx, 204 No Content and 304 Not Modified.
constexpr bool status_has_no_body(int status) noexcept {
    return (status >= 100 && status < 200) || status == 204 || status == 304;
}

}  // namespace reactor::http
