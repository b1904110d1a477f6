// What the server counts for GET /metrics (Prometheus text exposition,
// docs/operations.md "Metrics") beyond ServerStats: sessions by platform,
// Hello verdicts, acks, window stalls, bytes in and out, error replies by
// code, and histograms of the group commits' size and latency. Loop threads
// and the writer add to these as they work: relaxed atomics, no locks, a few
// nanoseconds each.
//
// Internal. Thread-safety: every method may be called from any thread.
#ifndef POSTBOX_SYNC_SERVER_METRICS_H_
#define POSTBOX_SYNC_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "postbox/sync/server.h"
#include "postbox/types.h"

namespace postbox::sync::internal {

// A Prometheus histogram with fixed upper bounds (the +Inf bucket is implied).
// Observations are counted per bucket (not cumulatively) and summed as
// integers of `unit` (1 for counts, 1e-6 for seconds kept as microseconds),
// so that no floating-point atomic is needed.
template <size_t N>
class Histogram {
 public:
  constexpr Histogram(std::array<double, N> bounds, double unit) : bounds_(bounds), unit_(unit) {}
  void Observe(double value) {
    size_t i = 0;
    while (i < N && value > bounds_[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(static_cast<uint64_t>(value / unit_ + 0.5), std::memory_order_relaxed);
  }
  // Appends the histogram's HELP, TYPE and samples.
  void Render(std::string_view name, std::string_view help, std::string* out) const;
  // Observations so far per bucket (not cumulative; the last is +Inf).
  std::array<uint64_t, N + 1> Counts() const {
    std::array<uint64_t, N + 1> out{};
    for (size_t i = 0; i <= N; ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
    return out;
  }
  const std::array<double, N>& bounds() const { return bounds_; }

 private:
  std::array<double, N> bounds_;
  double unit_;
  std::array<std::atomic<uint64_t>, N + 1> buckets_{};
  std::atomic<uint64_t> sum_{0};
};

class Metrics {
 public:
  // Error codes counted apart; any other is counted as "other".
  static constexpr std::array<uint16_t, 14> kCodes = {400, 401, 403, 404, 409, 410, 413,
                                                      422, 426, 429, 500, 503, 507, 0};

  void SessionOpened(Platform p) { At(sessions_, p).fetch_add(1, std::memory_order_relaxed); }
  void SessionClosed(Platform p) { At(sessions_, p).fetch_sub(1, std::memory_order_relaxed); }
  void Verdict(sync::Verdict v) {
    verdicts_[static_cast<size_t>(v) % verdicts_.size()].fetch_add(1, std::memory_order_relaxed);
  }
  void Ack() { acks_.fetch_add(1, std::memory_order_relaxed); }
  // A change of a session's mailbox found its push window full.
  void WindowStall() { stalls_.fetch_add(1, std::memory_order_relaxed); }
  void BytesIn(size_t n) { bytes_in_.fetch_add(n, std::memory_order_relaxed); }
  void BytesOut(size_t n) { bytes_out_.fetch_add(n, std::memory_order_relaxed); }
  void ErrorSent(uint16_t code);
  // One group commit of `ops` ops that took `seconds` (Write to durable).
  void Commit(size_t ops, double seconds) {
    commit_ops_.Observe(static_cast<double>(ops));
    commit_seconds_.Observe(seconds);
  }

  // For the console's health history (health.h).
  const Histogram<14>& commit_seconds() const { return commit_seconds_; }
  std::array<uint64_t, kCodes.size()> ErrorCounts() const {
    std::array<uint64_t, kCodes.size()> out{};
    for (size_t i = 0; i < out.size(); ++i) out[i] = errors_[i].load(std::memory_order_relaxed);
    return out;
  }

  // The whole exposition: these, `stats` and `store` (null if the store
  // could not be read), in Prometheus text format 0.0.4.
  std::string Render(const ServerStats& stats, const StoreStats* store) const;

 private:
  static std::atomic<int64_t>& At(std::array<std::atomic<int64_t>, 4>& a, Platform p) {
    return a[static_cast<size_t>(p) % a.size()];
  }
  std::array<std::atomic<int64_t>, 4> sessions_{};   // by Platform
  std::array<std::atomic<uint64_t>, 4> verdicts_{};  // by Verdict
  std::array<std::atomic<uint64_t>, kCodes.size()> errors_{};
  std::atomic<uint64_t> acks_{0}, stalls_{0}, bytes_in_{0}, bytes_out_{0};
  Histogram<13> commit_ops_{{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096}, 1};
  Histogram<14> commit_seconds_{
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
      1e-6};
};

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_METRICS_H_
