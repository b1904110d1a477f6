#include "sync/kick/kick_core.h"

#include "sync/kick/kick_util.h"

namespace postbox::sync::kick {

void KickCore::Unschedule(const MailboxKey& m, const Entry& e) {
  if (e.in_flight) {
    --in_flight_;
    return;
  }
  auto [lo, hi] = due_.equal_range(e.kick.due_ms);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == m) {
      due_.erase(it);
      return;
    }
  }
}

void KickCore::Armed(const PendingKick& kick) {
  auto it = pending_.find(kick.mkey);
  if (it != pending_.end()) {
    // The same record again (a re-read): a send in flight stays in flight.
    if (it->second.in_flight && it->second.kick.since == kick.since) return;
    Unschedule(kick.mkey, it->second);
    pending_.erase(it);
  }
  pending_.emplace(kick.mkey, Entry{kick, false});
  due_.emplace(kick.due_ms, kick.mkey);
}

bool KickCore::SessionOpened(const MailboxKey& m) {
  const bool first = online_[m]++ == 0;
  return first && pending_.count(m) != 0;
}

void KickCore::SessionClosed(const MailboxKey& m) {
  auto it = online_.find(m);
  if (it == online_.end()) return;
  if (--it->second == 0) online_.erase(it);
}

bool KickCore::Online(const MailboxKey& m) const { return online_.count(m) != 0; }

void KickCore::Cancel(const MailboxKey& m, uint64_t covered) {
  auto it = pending_.find(m);
  if (it != pending_.end()) {
    Unschedule(m, it->second);
    pending_.erase(it);
  }
  updates_.push_back(KickUpdate{.kind = KickUpdate::Kind::kCancel, .mkey = m, .covered = covered});
}

std::vector<PendingKick> KickCore::TakeDue(uint64_t now_ms, size_t max) {
  std::vector<PendingKick> out;
  while (!due_.empty() && out.size() < max && due_.begin()->first <= now_ms) {
    const MailboxKey m = due_.begin()->second;
    due_.erase(due_.begin());
    Entry& e = pending_.at(m);
    e.in_flight = true;
    ++in_flight_;
    out.push_back(e.kick);
  }
  return out;
}

void KickCore::Finished(const PendingKick& kick, Outcome outcome, uint64_t covered, uint64_t now_ms,
                        uint64_t retry_after_ms, double jitter) {
  if (outcome == Outcome::kDelivered) ++stats_.sent;
  auto it = pending_.find(kick.mkey);
  const bool current =
      it != pending_.end() && it->second.in_flight && it->second.kick.since == kick.since;
  if (!current) {
    // Cancelled (or replaced) while in flight: what cancelled it updated the store.
    if (outcome == Outcome::kPermanent) ++stats_.dropped;
    return;
  }
  Entry& e = it->second;
  using Kind = KickUpdate::Kind;
  const auto forget = [&] {
    --in_flight_;
    pending_.erase(it);
  };
  switch (outcome) {
    case Outcome::kDelivered:
      updates_.push_back(
          {.kind = Kind::kDone, .mkey = kick.mkey, .since = kick.since, .covered = covered});
      forget();
      return;
    case Outcome::kCancelled:
    case Outcome::kGone:
      updates_.push_back(
          {.kind = Kind::kCancel, .mkey = kick.mkey, .since = kick.since, .covered = covered});
      forget();
      return;
    case Outcome::kPermanent:
      ++stats_.dropped;
      updates_.push_back({.kind = Kind::kDrop, .mkey = kick.mkey, .since = kick.since});
      forget();
      return;
    case Outcome::kTransient:
      break;
  }
  const uint32_t attempts = e.kick.attempts + 1;
  if (attempts >= options_.max_attempts) {
    ++stats_.dropped;
    updates_.push_back({.kind = Kind::kDrop, .mkey = kick.mkey, .since = kick.since});
    forget();
    return;
  }
  ++stats_.retried;
  const auto delay = Backoff(attempts, options_.retry_initial, options_.retry_max, jitter,
                             std::chrono::milliseconds(retry_after_ms));
  e.kick.attempts = attempts;
  e.kick.due_ms = now_ms + static_cast<uint64_t>(delay.count());
  e.in_flight = false;
  --in_flight_;
  due_.emplace(e.kick.due_ms, kick.mkey);
  updates_.push_back({.kind = Kind::kRetry,
                      .mkey = kick.mkey,
                      .since = kick.since,
                      .due_ms = e.kick.due_ms,
                      .attempts = attempts});
}

std::optional<uint64_t> KickCore::NextDue() const {
  if (due_.empty()) return std::nullopt;
  return due_.begin()->first;
}

std::vector<KickUpdate> KickCore::TakeUpdates() {
  std::vector<KickUpdate> out;
  out.swap(updates_);
  return out;
}

std::optional<PendingKick> KickCore::Find(const MailboxKey& m) const {
  auto it = pending_.find(m);
  if (it == pending_.end()) return std::nullopt;
  return it->second.kick;
}

}  // namespace postbox::sync::kick
