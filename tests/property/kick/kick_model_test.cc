// The kick scheduler's state (KickCore, engine/src/sync/kick/kick_core.h) and
// its records in a real store (the kKicks op, engine/src/store/kicks.cc)
// against a plain model: random sequences of changes, sessions opening and
// closing, time passing, driver outcomes and restarts. The harness plays the
// scheduler's glue (it writes the core's updates and feeds back what the
// store armed), so what is checked is the pair the scheduler relies on.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include <array>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <random>

#include "postbox/db.h"
#include "store/batch_op.h"
#include "sync/kick/kick_core.h"
#include "sync/kick/kick_util.h"

namespace postbox::sync::kick {
namespace {

constexpr size_t kMailboxes = 3;  // mailbox 0 has no push registration
constexpr uint64_t kDelay = 100;
constexpr CoreOptions kCore{.retry_initial = std::chrono::milliseconds(10),
                            .retry_max = std::chrono::milliseconds(80),
                            .max_attempts = 3};

struct ModelKick {
  uint64_t since = 0;
  uint32_t attempts = 0;
  uint64_t due = 0;
  bool in_flight = false;
  uint64_t covered = 0;  // while in flight: the cursor the send covers
};

struct Model {
  std::array<uint64_t, kMailboxes> seq{};
  std::array<uint32_t, kMailboxes> online{};
  std::array<std::optional<ModelKick>, kMailboxes> pending{};
  uint64_t sent = 0, dropped = 0;
};

class Harness {
 public:
  Harness() {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() /
           ("postbox-kick-model-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
    Open();
    for (size_t i = 0; i < kMailboxes; ++i) {
      auto c = db_->CreateMailbox();
      RC_ASSERT(c.ok());
      mkeys_[i] = c->mkey;
      if (i != 0) RC_ASSERT(db_->RegisterPush(mkeys_[i], Platform::kIos, "t").ok());
      model_.seq[i] = 0;
    }
  }
  ~Harness() {
    db_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Change(size_t i) {
    WriteBatch b;
    b.PutEntry(mkeys_[i], "k", std::to_string(++counter_), 0);
    auto work = std::make_shared<KickWork>();
    work->delay_ms = kDelay;
    work->offline = [this](const MailboxKey& m) { return !core_->Online(m); };
    WriteBatch::Op op;
    op.kind = WriteBatch::Op::Kind::kKicks;
    op.kicks = work;
    b.Add(std::move(op));
    RC_ASSERT(db_->Write(&b).ok());
    RC_ASSERT(b.results()[1].status.ok());
    for (const auto& k : work->armed) core_->Armed(k);
    Flush();
    // Model.
    const uint64_t before = model_.seq[i]++;
    if (model_.online[i] == 0 && i != 0 && !model_.pending[i]) {
      model_.pending[i] = ModelKick{.since = before, .due = now_ + kDelay};
    }
  }

  void Connect(size_t i) {
    if (core_->SessionOpened(mkeys_[i])) core_->Cancel(mkeys_[i], Seq(i));
    Flush();
    if (model_.online[i]++ == 0) model_.pending[i].reset();
  }

  void Disconnect(size_t i) {
    if (model_.online[i] == 0) return;
    core_->SessionClosed(mkeys_[i]);
    --model_.online[i];
  }

  void Tick(uint64_t dt) {
    now_ += dt;
    std::map<size_t, std::string> sent;
    for (const PendingKick& k : core_->TakeDue(now_, 1000)) {
      const size_t i = Index(k.mkey);
      RC_ASSERT(!core_->Online(k.mkey));  // a pending kick never waits for an online mailbox
      flights_[i] = {k, Seq(i)};
      sent[i] = DedupId(k.mkey, k.since);
    }
    Flush();
    std::map<size_t, std::string> expected;
    for (size_t i = 0; i < kMailboxes; ++i) {
      auto& p = model_.pending[i];
      if (p && !p->in_flight && p->due <= now_) {
        p->in_flight = true;
        p->covered = model_.seq[i];
        expected[i] = DedupId(mkeys_[i], p->since);
      }
    }
    RC_ASSERT(sent == expected);
  }

  void Result(size_t i, Outcome outcome, uint64_t retry_after) {
    auto f = flights_.find(i);
    if (f == flights_.end()) return;
    const auto [kick, covered] = f->second;
    flights_.erase(f);
    core_->Finished(kick, outcome, covered, now_, retry_after, jitter_(rng_));
    Flush();
    // Model.
    if (outcome == Outcome::kDelivered) ++model_.sent;
    auto& p = model_.pending[i];
    const bool current = p && p->in_flight && p->since == kick.since;
    if (!current) {
      if (outcome == Outcome::kPermanent) ++model_.dropped;
      return;
    }
    switch (outcome) {
      case Outcome::kDelivered:
        if (model_.seq[i] > covered) {
          p = ModelKick{.since = covered, .due = now_ + kDelay};
        } else {
          p.reset();
        }
        return;
      case Outcome::kPermanent:
        ++model_.dropped;
        p.reset();
        return;
      default:
        break;
    }
    const uint32_t attempts = p->attempts + 1;
    if (attempts >= kCore.max_attempts) {
      ++model_.dropped;
      p.reset();
      return;
    }
    const double base = std::min<double>(
        kCore.retry_max.count(), kCore.retry_initial.count() * std::ldexp(1.0, attempts - 1));
    const uint64_t lo = now_ + std::max<uint64_t>(static_cast<uint64_t>(base / 2), retry_after);
    const uint64_t hi = now_ + std::max<uint64_t>(static_cast<uint64_t>(base), retry_after);
    auto found = core_->Find(mkeys_[i]);
    RC_ASSERT(found.has_value());
    RC_ASSERT(found->due_ms >= lo);
    RC_ASSERT(found->due_ms <= hi);
    *p = ModelKick{.since = p->since, .attempts = attempts, .due = found->due_ms};
  }

  void Restart() {
    core_.reset();
    db_.reset();
    Open();
    flights_.clear();
    for (auto& o : model_.online) o = 0;
    for (auto& p : model_.pending) {
      if (p) p->in_flight = false;
    }
    base_sent_ = model_.sent;
    base_dropped_ = model_.dropped;
  }

  // The core, the store and the model agree about every mailbox.
  void Check() {
    auto stored = db_->ListPendingKicks(std::nullopt, 0);
    RC_ASSERT(stored.ok());
    std::map<MailboxKey, PendingKick> records;
    for (const auto& k : *stored) records[k.mkey] = k;
    for (size_t i = 0; i < kMailboxes; ++i) {
      const auto& p = model_.pending[i];
      const auto in_core = core_->Find(mkeys_[i]);
      RC_ASSERT(in_core.has_value() == p.has_value());
      RC_ASSERT(records.count(mkeys_[i]) == (p ? 1u : 0u));
      if (!p) continue;
      const PendingKick& r = records[mkeys_[i]];
      RC_ASSERT(in_core->since == p->since);
      RC_ASSERT(r.since == p->since);
      RC_ASSERT(in_core->attempts == p->attempts);
      RC_ASSERT(r.attempts == p->attempts);
      RC_ASSERT(in_core->due_ms == p->due);
      RC_ASSERT(r.due_ms == p->due);
      RC_ASSERT(model_.online[i] == 0u);
    }
    RC_ASSERT(core_->pending() == records.size());
    RC_ASSERT(base_sent_ + core_->stats().sent == model_.sent);
    RC_ASSERT(base_dropped_ + core_->stats().dropped == model_.dropped);
  }

 private:
  void Open() {
    Options o;
    o.durability = Durability::kRelaxed;
    o.clock = [this] { return now_; };
    auto db = DB::Open(dir_.string(), o);
    RC_ASSERT(db.ok());
    db_ = std::move(*db);
    core_ = std::make_unique<KickCore>(kCore);
    auto stored = db_->ListPendingKicks(std::nullopt, 0);
    RC_ASSERT(stored.ok());
    for (const auto& k : *stored) core_->Armed(k);
  }

  // Writes the core's updates as the scheduler does and feeds back what the
  // store re-armed.
  void Flush() {
    auto updates = core_->TakeUpdates();
    if (updates.empty()) return;
    WriteBatch b;
    auto work = std::make_shared<KickWork>();
    work->updates = std::move(updates);
    work->delay_ms = kDelay;
    WriteBatch::Op op;
    op.kind = WriteBatch::Op::Kind::kKicks;
    op.kicks = work;
    b.Add(std::move(op));
    RC_ASSERT(db_->Write(&b).ok());
    RC_ASSERT(b.results()[0].status.ok());
    for (const auto& k : work->armed) core_->Armed(k);
  }

  uint64_t Seq(size_t i) const {
    auto info = db_->GetMailbox(mkeys_[i]);
    return info ? info->seq : 0;
  }
  size_t Index(const MailboxKey& m) const {
    for (size_t i = 0; i < kMailboxes; ++i) {
      if (mkeys_[i] == m) return i;
    }
    return kMailboxes;
  }

  std::filesystem::path dir_;
  std::unique_ptr<DB> db_;
  std::unique_ptr<KickCore> core_;
  std::array<MailboxKey, kMailboxes> mkeys_{};
  uint64_t now_ = 1000;
  uint64_t counter_ = 0;
  std::map<size_t, std::pair<PendingKick, uint64_t>> flights_;  // mailbox → (kick, covered)
  Model model_;
  uint64_t base_sent_ = 0, base_dropped_ = 0;
  std::mt19937_64 rng_{42};
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};
};

struct GenState {};
using Cmd = rc::state::Command<GenState, Harness>;

struct ChangeCmd : Cmd {
  size_t i = *rc::gen::inRange<size_t>(0, kMailboxes);
  void run(const GenState&, Harness& h) const override {
    h.Change(i);
    h.Check();
  }
  void show(std::ostream& os) const override { os << "Change(" << i << ")"; }
};
struct ConnectCmd : Cmd {
  size_t i = *rc::gen::inRange<size_t>(0, kMailboxes);
  void run(const GenState&, Harness& h) const override {
    h.Connect(i);
    h.Check();
  }
  void show(std::ostream& os) const override { os << "Connect(" << i << ")"; }
};
struct DisconnectCmd : Cmd {
  size_t i = *rc::gen::inRange<size_t>(0, kMailboxes);
  void run(const GenState&, Harness& h) const override {
    h.Disconnect(i);
    h.Check();
  }
  void show(std::ostream& os) const override { os << "Disconnect(" << i << ")"; }
};
struct TickCmd : Cmd {
  uint64_t dt = *rc::gen::element<uint64_t>(1, 10, 50, 100, 200);
  void run(const GenState&, Harness& h) const override {
    h.Tick(dt);
    h.Check();
  }
  void show(std::ostream& os) const override { os << "Tick(" << dt << ")"; }
};
struct ResultCmd : Cmd {
  size_t i = *rc::gen::inRange<size_t>(0, kMailboxes);
  Outcome outcome =
      *rc::gen::element(Outcome::kDelivered, Outcome::kTransient, Outcome::kPermanent);
  uint64_t retry_after = *rc::gen::element<uint64_t>(0, 0, 150);
  void run(const GenState&, Harness& h) const override {
    h.Result(i, outcome, retry_after);
    h.Check();
  }
  void show(std::ostream& os) const override {
    os << "Result(" << i << ", " << static_cast<int>(outcome) << ", " << retry_after << ")";
  }
};
struct RestartCmd : Cmd {
  void run(const GenState&, Harness& h) const override {
    h.Restart();
    h.Check();
  }
  void show(std::ostream& os) const override { os << "Restart"; }
};

RC_GTEST_PROP(KickModelTest, SchedulerStateMatchesTheModel, ()) {
  Harness h;
  GenState s0;
  rc::state::check(s0, h, [](const GenState&) {
    return rc::gen::weightedOneOf<std::shared_ptr<const Cmd>>({
        {6, rc::state::gen::execOneOfWithArgs<ChangeCmd>()()},
        {2, rc::state::gen::execOneOfWithArgs<ConnectCmd>()()},
        {2, rc::state::gen::execOneOfWithArgs<DisconnectCmd>()()},
        {6, rc::state::gen::execOneOfWithArgs<TickCmd>()()},
        {5, rc::state::gen::execOneOfWithArgs<ResultCmd>()()},
        {1, rc::state::gen::execOneOfWithArgs<RestartCmd>()()},
    });
  });
}

}  // namespace
}  // namespace postbox::sync::kick
