// examples/loadgen/histogram.cpp -- log-linear buckets; the layout is drawn in the header.
#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace loadgen {

namespace {

constexpr unsigned kSub = 1u << Histogram::kSubBucketBits;  // 128

// The magnitude of a value: how many low bits its bucket ignores. Values
// below 2 * kSub need no rounding at all.
unsigned magnitude_of(std::uint64_t value) noexcept {
    const auto bits = static_cast<unsigned>(std::bit_width(value));
    return bits > Histogram::kSubBucketBits + 1 ? bits - (Histogram::kSubBucketBits + 1) : 0;
}

// The inverse of bucket_index(): the smallest value of bucket `index`.
std::uint64_t lowest_of_index(std::size_t index) noexcept {
    if (index < 2 * kSub) return index;
    const std::size_t magnitude = index / kSub - 1;
    const std::uint64_t sub = index - magnitude * kSub;
    return sub << magnitude;
}

std::uint64_t highest_of_index(std::size_t index) noexcept {
    const std::size_t magnitude = index < 2 * kSub ? 0 : index / kSub - 1;
    return lowest_of_index(index) + ((std::uint64_t{1} << magnitude) - 1);
}

}  // namespace

std::size_t Histogram::bucket_index(std::uint64_t value) noexcept {
    const unsigned magnitude = magnitude_of(value);
    return std::size_t{magnitude} * kSub + static_cast<std::size_t>(value >> magnitude);
}

std::uint64_t Histogram::lowest_equivalent(std::uint64_t value) noexcept {
    const unsigned magnitude = magnitude_of(value);
    return (value >> magnitude) << magnitude;
}

std::uint64_t Histogram::highest_equivalent(std::uint64_t value) noexcept {
    return lowest_equivalent(value) + ((std::uint64_t{1} << magnitude_of(value)) - 1);
}

void Histogram::record(std::uint64_t value) { record(value, 1); }

void Histogram::record(std::uint64_t value, std::uint64_t times) {
    if (times == 0) return;
    const std::size_t index = bucket_index(value);
    if (index >= counts_.size()) counts_.resize(index + 1, 0);
    counts_[index] += times;
    if (count_ == 0 || value < min_) min_ = value;
    if (value > max_) max_ = value;
    count_ += times;
    sum_ += static_cast<double>(value) * static_cast<double>(times);
}

void Histogram::merge(const Histogram& other) {
    if (other.count_ == 0) return;
    if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
    for (std::size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
    if (count_ == 0 || other.min_ < min_) min_ = other.min_;
    max_ = std::max(max_, other.max_);
    count_ += other.count_;
    sum_ += other.sum_;
}

void Histogram::reset() noexcept {
    std::fill(counts_.begin(), counts_.end(), 0);
    count_ = 0;
    min_ = 0;
    max_ = 0;
    sum_ = 0.0;
}

double Histogram::mean() const noexcept {
    return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

std::uint64_t Histogram::percentile(double p) const noexcept {
    if (count_ == 0) return 0;
    if (!(p > 0.0)) return min_;  // also catches NaN
    if (p >= 100.0) return max_;
    // The rank of the wanted sample, 1-based, as in a sorted array. The
    // product is rounded up, with a little slack so that 99.9% of 1000
    // samples is rank 999 despite binary floating point.
    const double exact = p / 100.0 * static_cast<double>(count_);
    auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(highest_of_index(i), min_, max_);
    }
    return max_;  // unreachable: the counts sum to count_
}

}  // namespace loadgen
