// The server's recent health for the web console (GET /admin/health,
// docs/operations.md "Web console"): every two seconds loop 0 takes a sample
// of its figures (sessions, commits and their latency, pushes, error replies
// by code, the store's use), and the last ten minutes of samples are kept.
// Rates and latency quantiles are over the interval between two samples.
//
// Internal. Thread-safety: Tick runs on loop 0's thread; Json may be called
// from any thread.
#ifndef POSTBOX_SYNC_SERVER_HEALTH_H_
#define POSTBOX_SYNC_SERVER_HEALTH_H_

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "sync/server/metrics.h"

namespace postbox::sync::internal {

class ServerCore;

class HealthHistory {
 public:
  static constexpr uint64_t kIntervalMs = 2000;
  static constexpr size_t kKept = 300;  // ten minutes

  // Takes a sample once kIntervalMs passed since the last (`now_ms` on a
  // steady clock). The first call only sets the baseline.
  void Tick(ServerCore* core, uint64_t now_ms);

  // {"interval_ms": 2000, "samples": [...]}, oldest first.
  nlohmann::json Json() const;

  // The `q` quantile (0..1), in seconds, of the observations between two
  // readings of a histogram (`before`, `after`: per-bucket counts, the last
  // +Inf), linear within a bucket as Prometheus' histogram_quantile; nullopt
  // without observations. Observations past the last bound count as that
  // bound.
  template <size_t N>
  static std::optional<double> Quantile(double q, const std::array<double, N>& bounds,
                                        const std::array<uint64_t, N + 1>& before,
                                        const std::array<uint64_t, N + 1>& after);

 private:
  // The cumulative figures a rate is computed from.
  struct Reading {
    uint64_t at_ms = 0;
    uint64_t commits = 0, ops = 0, pushes = 0;
    std::array<uint64_t, 15> latency{};
    std::array<uint64_t, Metrics::kCodes.size()> errors{};
  };
  std::optional<Reading> last_;  // loop 0 only
  mutable std::mutex mu_;
  std::deque<nlohmann::json> samples_;
};

template <size_t N>
std::optional<double> HealthHistory::Quantile(double q, const std::array<double, N>& bounds,
                                              const std::array<uint64_t, N + 1>& before,
                                              const std::array<uint64_t, N + 1>& after) {
  uint64_t total = 0;
  for (size_t i = 0; i <= N; ++i) total += after[i] - before[i];
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i <= N; ++i) {
    const uint64_t in = after[i] - before[i];
    if (in > 0 && static_cast<double>(below + in) >= rank) {
      if (i == N) return bounds[N - 1];
      const double lo = i == 0 ? 0.0 : bounds[i - 1];
      return lo + (bounds[i] - lo) * (rank - static_cast<double>(below)) / static_cast<double>(in);
    }
    below += in;
  }
  return bounds[N - 1];
}

}  // namespace postbox::sync::internal

#endif  // POSTBOX_SYNC_SERVER_HEALTH_H_
