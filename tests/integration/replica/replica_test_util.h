// The replica tests' fixture: a real server on 127.0.0.1 (SyncTest) and
// replicas opened in a temp folder with short retries, and a recorder of what
// their callbacks report.
#ifndef POSTBOX_TESTS_INTEGRATION_REPLICA_REPLICA_TEST_UTIL_H_
#define POSTBOX_TESTS_INTEGRATION_REPLICA_REPLICA_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "integration/sync/sync_test_util.h"
#include "postbox/sync/replica.h"

namespace postbox::sync::testing {

// Records what the replica reports through its callbacks.
class Reports {
 public:
  void Outcome(const OutboxOutcome& o) {
    std::lock_guard lock(mu_);
    outcomes_.push_back(o);
    cv_.notify_all();
  }
  void Change(const ReplicaChange& c) {
    std::lock_guard lock(mu_);
    changes_.push_back(c);
    cv_.notify_all();
  }
  bool WaitOutcomes(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return outcomes_.size() >= n; });
  }
  std::vector<OutboxOutcome> outcomes() {
    std::lock_guard lock(mu_);
    return outcomes_;
  }
  std::vector<ReplicaChange> changes() {
    std::lock_guard lock(mu_);
    return changes_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<OutboxOutcome> outcomes_;
  std::vector<ReplicaChange> changes_;
};

class ReplicaTest : public SyncTest {
 protected:
  ReplicaOptions OptionsFor(const MailboxCredentials& c, const std::string& name,
                            Reports* reports = nullptr) {
    ReplicaOptions o;
    o.folder = (apps_.path() / name).string();
    o.client = SyncTest::OptionsFor(c);
    o.client.request_timeout = std::chrono::milliseconds(2000);
    o.durability = Durability::kRelaxed;
    o.retry_initial = std::chrono::milliseconds(10);
    o.retry_max = std::chrono::milliseconds(200);
    o.poll_interval = std::chrono::milliseconds(1000);
    if (reports != nullptr) {
      o.on_outbox = [reports](const OutboxOutcome& out) { reports->Outcome(out); };
      o.on_change = [reports](const ReplicaChange& ch) { reports->Change(ch); };
    }
    return o;
  }
  std::unique_ptr<Replica> Open(ReplicaOptions o) {
    auto r = Replica::Open(std::move(o));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  void ExpectSynced(Replica* r) {
    Status s = r->Sync(kWait);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  TempDir apps_;
};

}  // namespace postbox::sync::testing

#endif  // POSTBOX_TESTS_INTEGRATION_REPLICA_REPLICA_TEST_UTIL_H_
