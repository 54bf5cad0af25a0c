// examples/loadgen/histogram.hpp -- a log-linear histogram of latencies (or any
// non-negative integers) with a bounded relative error.
//
// Recording every sample of a load test and sorting them at the end costs
// memory in proportion to the samples; a histogram costs a fixed few tens
// of kilobytes however many samples it holds, at the price of a small,
// bounded error. The layout follows the idea of HdrHistogram (Gil Tene):
// each power of two is cut into the same number of equal sub-buckets, so
// the bucket width grows with the value and the relative error stays
// constant.
//
//   value bits            bucket index = magnitude * 128 + (value >> magnitude)
//   ------------------    -------------------------------------------------
//   0 .. 255              magnitude 0: one bucket per value (exact)
//   256 .. 511            magnitude 1: 128 buckets, each 2 wide
//   512 .. 1023           magnitude 2: 128 buckets, each 4 wide
//   2^k .. 2^(k+1)-1      magnitude k-7: 128 buckets, each 2^(k-7) wide
//
// A bucket of magnitude m starts at s * 2^m with s >= 128 and is 2^m wide,
// so any value in it is within 2^m / (128 * 2^m) = 1/128 (0.78%) of any
// other value in it: every reported percentile is within kRelativeError of
// the exact one (the value of the sample of that rank in sorted order).
// The whole 64-bit range is covered (at most 7,424 buckets, 58 KiB); the
// counts array grows only as far as the largest value recorded, so a
// histogram of sub-second latencies in nanoseconds stays near 27 KiB.
//
// count(), min(), max() and mean() are exact (mean up to double rounding).
//
// Thread safety: none. A Histogram is a plain value: use one per thread and
// merge() them once the threads are done (that is what loadgen does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loadgen {

class Histogram {
public:
    /// log2 of the number of sub-buckets per power of two.
    static constexpr unsigned kSubBucketBits = 7;
    /// Every percentile() lies within this fraction of the exact value.
    static constexpr double kRelativeError = 1.0 / (1u << kSubBucketBits);

    /// An empty histogram (allocates nothing until the first record()).
    Histogram() = default;

    /// Counts `value` once (or `times` times). Never fails; allocates when a
    /// value is larger than any recorded before (std::bad_alloc aside).
    void record(std::uint64_t value);
    void record(std::uint64_t value, std::uint64_t times);

    /// Adds every sample of `other` to this histogram, as if each had been
    /// recorded here.
    void merge(const Histogram& other);

    /// Forgets every sample; keeps the allocated buckets for reuse.
    void reset() noexcept;

    /// Number of samples recorded.
    std::uint64_t count() const noexcept { return count_; }
    /// Smallest and largest sample, exact; 0 when empty.
    std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    std::uint64_t max() const noexcept { return max_; }
    /// Arithmetic mean of the samples; 0 when empty.
    double mean() const noexcept;

    /// The value below or at which `p` percent of the samples lie, for p in
    /// [0, 100] (clamped): the sample of rank ceil(p/100 * count) in sorted
    /// order, within kRelativeError. The value reported is the largest value
    /// of that sample's bucket, clamped to [min(), max()], so a percentile
    /// never under-reports and percentile(100) == max(). 0 when empty.
    std::uint64_t percentile(double p) const noexcept;

    /// The index of the bucket that counts `value` (for tests and tools).
    static std::size_t bucket_index(std::uint64_t value) noexcept;
    /// The smallest and largest value counted in the same bucket as `value`.
    static std::uint64_t lowest_equivalent(std::uint64_t value) noexcept;
    static std::uint64_t highest_equivalent(std::uint64_t value) noexcept;

private:
    std::vector<std::uint64_t> counts_;  // grows to the highest index used
    std::uint64_t count_ = 0;
    std::uint64_t min_ = 0;
    std::uint64_t max_ = 0;
    double sum_ = 0.0;
};

}  // namespace loadgen
