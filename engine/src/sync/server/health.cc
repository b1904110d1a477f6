#include "sync/server/health.h"

#include <chrono>
#include <string>

#include "sync/server/server_impl.h"

namespace postbox::sync::internal {

void HealthHistory::Tick(ServerCore* core, uint64_t now_ms) {
  if (last_ && now_ms - last_->at_ms < kIntervalMs) return;
  const ServerStats stats = core->stats();
  const Metrics& m = core->metrics();
  Reading now{.at_ms = now_ms,
              .commits = stats.commits,
              .ops = stats.committed_ops,
              .pushes = stats.pushes,
              .latency = m.commit_seconds().Counts(),
              .errors = m.ErrorCounts()};
  if (!last_) {
    last_ = now;
    return;
  }
  const Reading& was = *last_;
  const double seconds = static_cast<double>(now.at_ms - was.at_ms) / 1000.0;
  const auto rate = [seconds](uint64_t before, uint64_t after) {
    return static_cast<double>(after - before) / seconds;
  };
  const auto ms = [](std::optional<double> s) {
    return s ? nlohmann::json(*s * 1000.0) : nlohmann::json(nullptr);
  };
  nlohmann::json errors = nlohmann::json::object();
  uint64_t error_total = 0;
  for (size_t i = 0; i < now.errors.size(); ++i) {
    const uint64_t n = now.errors[i] - was.errors[i];
    if (n == 0) continue;
    const uint16_t code = Metrics::kCodes[i];
    errors[code == 0 ? std::string("other") : std::to_string(code)] = n;
    error_total += n;
  }
  const auto& bounds = m.commit_seconds().bounds();
  nlohmann::json sample = {{"t_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()},
                           {"sessions", stats.sessions},
                           {"http_connections", stats.http_connections},
                           {"commits_per_s", rate(was.commits, now.commits)},
                           {"ops_per_s", rate(was.ops, now.ops)},
                           {"commit_p50_ms", ms(Quantile(0.5, bounds, was.latency, now.latency))},
                           {"commit_p99_ms", ms(Quantile(0.99, bounds, was.latency, now.latency))},
                           {"pushes_per_s", rate(was.pushes, now.pushes)},
                           {"errors_per_s", static_cast<double>(error_total) / seconds},
                           {"errors", std::move(errors)}};
  if (auto store = core->db()->Stats(); store.ok()) {
    sample["store_used_bytes"] = store->used_bytes;
    sample["store_map_bytes"] = store->map_size;
    sample["store_mailboxes"] = store->mailboxes;
    sample["store_messages"] = store->messages;
  }
  last_ = now;
  std::lock_guard lock(mu_);
  samples_.push_back(std::move(sample));
  if (samples_.size() > kKept) samples_.pop_front();
}

nlohmann::json HealthHistory::Json() const {
  nlohmann::json list = nlohmann::json::array();
  std::lock_guard lock(mu_);
  for (const auto& s : samples_) list.push_back(s);
  return {{"interval_ms", kIntervalMs}, {"samples", std::move(list)}};
}

}  // namespace postbox::sync::internal
