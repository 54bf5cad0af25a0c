// src/base/scope_exit.hpp -- run a function when a scope ends, by return or by
// exception. The library's exception policy (docs/architecture.md) needs
// state put right on both paths around user callbacks: a lent scratch
// buffer settled, a moved-aside callback restored, a dispatch step ended.
//
// Internal: not installed.
#pragma once

#include <utility>

namespace reactor::detail {

template <class Fn>
class ScopeExit {
public:
    explicit ScopeExit(Fn fn) noexcept : fn_(std::move(fn)) {}
    ~ScopeExit() { fn_(); }
    ScopeExit(const ScopeExit&) = delete;
    ScopeExit& operator=(const ScopeExit&) = delete;

private:
    Fn fn_;
};

}  // namespace reactor::detail
