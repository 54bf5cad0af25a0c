// tests/histogram_test.cpp -- loadgen::Histogram (examples/loadgen/):
// percentiles within the stated error of the exact ones, exact
// count/min/max/mean, merge, reset, bucket edges and the top of the 64-bit
// range.
#include "../examples/loadgen/histogram.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

using loadgen::Histogram;

namespace {

// The exact percentile with the definition the histogram documents: the
// sample of rank ceil(p/100 * n) in sorted order.
std::uint64_t exact_percentile(std::vector<std::uint64_t> sorted, double p) {
    std::sort(sorted.begin(), sorted.end());
    if (p <= 0) return sorted.front();
    auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size() - 1e-9));
    rank = std::clamp<std::size_t>(rank, 1, sorted.size());
    return sorted[rank - 1];
}

void check_within_bound(std::uint64_t got, std::uint64_t exact) {
    const double error = std::abs(static_cast<double>(got) - static_cast<double>(exact));
    CHECK(error <= Histogram::kRelativeError * static_cast<double>(exact));
    // Reported values never under-report.
    CHECK(got >= exact);
}

const double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};

}  // namespace

TEST_CASE("an empty histogram reports zeros") {
    Histogram h;
    CHECK(h.count() == 0);
    CHECK(h.min() == 0);
    CHECK(h.max() == 0);
    CHECK(h.mean() == 0.0);
    CHECK(h.percentile(50) == 0);
    CHECK(h.percentile(100) == 0);
}

TEST_CASE("the relative error bound is below one percent") {
    CHECK(Histogram::kRelativeError < 0.01);
}

TEST_CASE("values below 256 are counted exactly") {
    Histogram h;
    for (std::uint64_t v = 0; v < 256; ++v) h.record(v);
    CHECK(h.count() == 256);
    CHECK(h.min() == 0);
    CHECK(h.max() == 255);
    CHECK(h.percentile(50) == 127);  // rank 128 of 0..255
    CHECK(h.percentile(100) == 255);
    for (std::uint64_t v = 0; v < 256; ++v) {
        CHECK(Histogram::lowest_equivalent(v) == v);
        CHECK(Histogram::highest_equivalent(v) == v);
    }
}

TEST_CASE("percentiles of random data are within the bound of the exact ones") {
    std::mt19937_64 rng(12345);
    SUBCASE("uniform over six decades") {
        std::uniform_real_distribution<double> exponent(0.0, 6.0);
        std::vector<std::uint64_t> values;
        Histogram h;
        for (int i = 0; i < 20000; ++i) {
            const auto v = static_cast<std::uint64_t>(std::pow(10.0, exponent(rng)) * 1000.0);
            values.push_back(v);
            h.record(v);
        }
        for (double p : kPercentiles) {
            CAPTURE(p);
            check_within_bound(h.percentile(p), exact_percentile(values, p));
        }
    }
    SUBCASE("a latency-like long tail") {
        std::lognormal_distribution<double> dist(11.0, 1.2);  // median ~60 us in ns
        std::vector<std::uint64_t> values;
        Histogram h;
        for (int i = 0; i < 50000; ++i) {
            const auto v = static_cast<std::uint64_t>(dist(rng));
            values.push_back(v);
            h.record(v);
        }
        for (double p : kPercentiles) {
            CAPTURE(p);
            check_within_bound(h.percentile(p), exact_percentile(values, p));
        }
    }
    SUBCASE("few samples") {
        std::vector<std::uint64_t> values = {900000, 5, 77777, 1234567, 300};
        Histogram h;
        for (auto v : values) h.record(v);
        for (double p : kPercentiles) {
            CAPTURE(p);
            check_within_bound(h.percentile(p), exact_percentile(values, p));
        }
    }
}

TEST_CASE("count, min, max and mean are exact") {
    Histogram h;
    h.record(1000);
    h.record(3001);
    h.record(123456789);
    h.record(2, 3);
    CHECK(h.count() == 6);
    CHECK(h.min() == 2);
    CHECK(h.max() == 123456789);
    CHECK(h.mean() == doctest::Approx((1000.0 + 3001 + 123456789 + 6) / 6));
    // The extremes are reported as recorded, not as their bucket's edges.
    CHECK(h.percentile(0) == 2);
    CHECK(h.percentile(100) == 123456789);
}

TEST_CASE("recording zero times changes nothing") {
    Histogram h;
    h.record(5, 0);
    CHECK(h.count() == 0);
    CHECK(h.max() == 0);
}

TEST_CASE("bucket edges: each power of two starts a bucket, widths double") {
    for (unsigned k = 8; k < 64; ++k) {
        CAPTURE(k);
        const std::uint64_t edge = std::uint64_t{1} << k;
        CHECK(Histogram::lowest_equivalent(edge) == edge);
        CHECK(Histogram::highest_equivalent(edge - 1) == edge - 1);
        CHECK(Histogram::bucket_index(edge) == Histogram::bucket_index(edge - 1) + 1);
        const std::uint64_t width = std::uint64_t{1} << (k - 7);
        CHECK(Histogram::highest_equivalent(edge) - Histogram::lowest_equivalent(edge) ==
              width - 1);
        CHECK(Histogram::bucket_index(edge + width - 1) == Histogram::bucket_index(edge));
        CHECK(Histogram::bucket_index(edge + width) == Histogram::bucket_index(edge) + 1);
    }
}

TEST_CASE("two values in one bucket report the bucket's top, clamped to max") {
    Histogram h;
    h.record(1000);  // bucket 1000..1003 (magnitude 2)
    CHECK(Histogram::lowest_equivalent(1000) == 1000);
    CHECK(Histogram::highest_equivalent(1000) == 1003);
    CHECK(h.percentile(50) == 1000);  // clamped to max
    h.record(1002);
    CHECK(h.percentile(50) == 1002);  // bucket top 1003, clamped to max 1002
    h.record(5000);
    CHECK(h.percentile(50) == 1003);
}

TEST_CASE("huge values up to the top of the 64-bit range") {
    const std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
    Histogram h;
    h.record(top);
    h.record(top - 1);
    h.record(std::uint64_t{1} << 63);
    h.record(1);
    CHECK(h.count() == 4);
    CHECK(h.max() == top);
    CHECK(h.min() == 1);
    CHECK(h.percentile(100) == top);
    CHECK(Histogram::highest_equivalent(top) == top);
    const std::uint64_t p50 = h.percentile(50);  // rank 2: 2^63
    CHECK(p50 >= std::uint64_t{1} << 63);
    CHECK(static_cast<double>(p50 - (std::uint64_t{1} << 63)) <=
          Histogram::kRelativeError * 0x1p63);
    CHECK(Histogram::bucket_index(top) < 7424);
}

TEST_CASE("merge gives the same answers as recording everything in one") {
    std::mt19937_64 rng(7);
    std::uniform_int_distribution<std::uint64_t> dist(1, 50'000'000);
    Histogram a, b, all;
    for (int i = 0; i < 5000; ++i) {
        const auto v = dist(rng);
        (i % 3 == 0 ? a : b).record(v);
        all.record(v);
    }
    b.record(60'000'000'000ull);  // b has more buckets than a
    all.record(60'000'000'000ull);
    a.merge(b);
    CHECK(a.count() == all.count());
    CHECK(a.min() == all.min());
    CHECK(a.max() == all.max());
    CHECK(a.mean() == doctest::Approx(all.mean()));
    for (double p : kPercentiles) {
        CAPTURE(p);
        CHECK(a.percentile(p) == all.percentile(p));
    }
    SUBCASE("merging into an empty histogram copies") {
        Histogram empty;
        empty.merge(all);
        CHECK(empty.count() == all.count());
        CHECK(empty.min() == all.min());
        CHECK(empty.percentile(99) == all.percentile(99));
    }
    SUBCASE("merging an empty histogram changes nothing") {
        const auto before = a.percentile(90);
        a.merge(Histogram{});
        CHECK(a.count() == all.count());
        CHECK(a.percentile(90) == before);
    }
}

TEST_CASE("reset forgets every sample") {
    Histogram h;
    h.record(10);
    h.record(1'000'000);
    h.reset();
    CHECK(h.count() == 0);
    CHECK(h.min() == 0);
    CHECK(h.max() == 0);
    CHECK(h.percentile(99) == 0);
    h.record(42);
    CHECK(h.min() == 42);
    CHECK(h.max() == 42);
    CHECK(h.percentile(50) == 42);
}
