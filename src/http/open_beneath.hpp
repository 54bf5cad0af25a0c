// src/http/open_beneath.hpp -- the two ways http::open_beneath() resolves a
// path beneath a root directory, named separately so that the tests can run
// both on one machine. Internal: not installed.
#pragma once

#include <string_view>
#include <system_error>

namespace reactor::detail {

/// The kernel's way: Linux openat2() with RESOLVE_BENEATH for the directory
/// part (O_PATH), the last component's type read before it is opened.
/// Returns -1 with ENOSYS where openat2 does not exist (other systems, Linux
/// before 5.6, or headers without it), or where a seccomp policy filters it.
int open_beneath_kernel(int root_fd, std::string_view relative, std::error_code& ec);

/// The portable way: one openat(O_NOFOLLOW) per component, symbolic links
/// read with readlinkat() and resolved by the same walk, the last
/// component's type read with fstatat() before it is opened. POSIX calls
/// only.
int open_beneath_walk(int root_fd, std::string_view relative, std::error_code& ec);

}  // namespace reactor::detail
