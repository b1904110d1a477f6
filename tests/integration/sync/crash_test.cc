// Issue 5, integration test 6: the real postbox-server is SIGKILLed while
// clients write; after a restart on the same folder every acknowledged write
// is there. The binary: tests/integration/sync/server_process.h. The crash
// loop (bench/crashloop, ctest crashloop_short) does this 20 times over with
// statuses and uploads too; this is its single-kill, entries-only form.
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "tests/integration/sync/server_process.h"
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

ClientOptions Opts(const MailboxCredentials& c, uint16_t port) {
  ClientOptions o;
  o.port = port;
  o.mkey = c.mkey;
  o.secret = c.secret;
  o.reconnect = false;
  o.request_timeout = std::chrono::milliseconds(3000);
  return o;
}

TEST(CrashTest, SigkillUnderLoadLosesNoAcknowledgedWrite) {
  const std::string bin = ServerBinary();
  ASSERT_TRUE(std::filesystem::exists(bin)) << "postbox-server not found at '" << bin << "'";
  TempDir dir;
  const std::string data = (dir.path() / "data").string();
  MailboxCredentials creds;
  {
    auto db = DB::Open(data, {});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto c = (*db)->CreateMailbox();
    ASSERT_TRUE(c.ok());
    creds = *c;
  }
  std::mutex mu;
  std::set<std::string> acked;
  {
    ServerProcess server(bin, data);
    ASSERT_NE(server.port(), 0) << "postbox-server did not report its port";
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 8; ++w) {
      writers.emplace_back([&, w] {
        auto c = Client::Create(Opts(creds, server.port()));
        if (!c.ok() || !(*c)->Connect().ok()) return;
        for (int i = 0; !stop; ++i) {
          const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
          if (!(*c)->PutEntry(key, "value of " + key).ok()) return;  // the crash
          std::lock_guard lock(mu);
          acked.insert(key);
        }
      });
    }
    // Kill once a good number of writes has been acknowledged.
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (acked.size() >= 300) break;
      }
      std::this_thread::yield();
    }
    const int status = server.Kill(SIGKILL);
    EXPECT_TRUE(WIFSIGNALED(status));
    stop = true;
    for (auto& t : writers) t.join();
  }
  ServerProcess restarted(bin, data);
  ASSERT_NE(restarted.port(), 0);
  auto c = Client::Create(Opts(creds, restarted.port()));
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Connect().ok());
  std::set<std::string> present;
  std::string after;
  for (;;) {
    auto page = (*c)->ListEntries("", after, 1000);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& e : page->entries) present.insert(e.key);
    if (!page->more || page->entries.empty()) break;
    after = page->entries.back().key;
  }
  std::lock_guard lock(mu);
  size_t missing = 0;
  for (const auto& k : acked) missing += present.count(k) == 0;
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  auto v = (*c)->GetEntry(*acked.begin());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value, "value of " + *acked.begin());
}

}  // namespace
}  // namespace postbox::sync::testing
