// tests/fuzz/fuzz_check.hpp -- the fuzz targets' assertion: an invariant
// that fails prints where and aborts, which libFuzzer reports as a crash
// and saves the input for. (assert() would vanish under NDEBUG.)
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            std::abort();                                                                 \
        }                                                                                 \
    } while (0)
