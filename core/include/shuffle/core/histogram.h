// LatencyHistogram: a lock-free histogram of durations with fixed bucket bounds (seconds,
// 0.5 ms to 10 s), in the shape Prometheus expects. Observe() is safe from any thread; a
// Snapshot is a plain copy.
#ifndef SHUFFLE_CORE_HISTOGRAM_H_
#define SHUFFLE_CORE_HISTOGRAM_H_

#include <array>
#include <atomic>
#include <cstdint>

namespace shuffle::core {

class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};  // non-cumulative; last is +Inf
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) {
      ++i;
    }
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
  }

  Snapshot Take() const {
    Snapshot s;
    for (size_t i = 0; i < buckets_.size(); ++i) {
      s.buckets[i] = buckets_[i].load(std::memory_order_relaxed);
    }
    s.count = count_.load(std::memory_order_relaxed);
    s.sum_seconds = static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6;
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

}  // namespace shuffle::core

#endif  // SHUFFLE_CORE_HISTOGRAM_H_
