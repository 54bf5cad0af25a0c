// examples/loadgen/fifo.hpp -- a first-in first-out queue on one vector.
//
// Each connection keeps its requests in flight in one of these. A std::deque
// would allocate its map and a first block (over half a kilobyte) even when
// empty; with ten thousand mostly idle connections that is megabytes for
// nothing. Here an empty queue costs three words and the storage is reused:
// when the queue drains, the vector is cleared (capacity kept); while it
// never drains, the consumed prefix is erased once it is the larger half.
#pragma once

#include <cassert>
#include <cstddef>
#include <vector>

namespace loadgen {

template <class T>
class Fifo {
public:
    bool empty() const { return head_ == items_.size(); }
    std::size_t size() const { return items_.size() - head_; }
    T& front() {
        assert(!empty());
        return items_[head_];
    }
    const T& front() const {
        assert(!empty());
        return items_[head_];
    }
    /// The i-th item from the front (0 = front).
    T& at(std::size_t i) {
        assert(i < size());
        return items_[head_ + i];
    }
    void push_back(const T& item) { items_.push_back(item); }
    void pop_front() {
        assert(!empty());
        if (++head_ == items_.size()) {
            items_.clear();
            head_ = 0;
        } else if (head_ > 64 && head_ * 2 > items_.size()) {
            items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }
    void clear() {
        items_.clear();
        head_ = 0;
    }

private:
    std::vector<T> items_;
    std::size_t head_ = 0;
};

}  // namespace loadgen
