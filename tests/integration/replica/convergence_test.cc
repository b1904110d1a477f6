// The convergence simulation (tests/support/convergence.h) at CI size: about
// 50 apps through fault-injecting proxies to a postbox-server that is SIGKILLed
// and restarted, a quarter of them through two relays that are SIGKILLed and
// restarted too, with app restarts, for about half a minute; then one sync
// round, and every check must hold. bench/convergence runs the 1,000-app one.
#include "tests/support/convergence.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "integration/sync/server_process.h"
#include "integration/sync/sync_test_util.h"

namespace postbox::testing {
namespace {

TEST(ConvergenceTest, FiftyAppsConvergeThroughDroppedFramesKilledServersAndRelaysAndRestarts) {
  sync::testing::TempDir dir;
  ConvergenceOptions o;
  o.seed = std::getenv("POSTBOX_CONVERGENCE_SEED") != nullptr
               ? std::strtoull(std::getenv("POSTBOX_CONVERGENCE_SEED"), nullptr, 10)
               : 20261202;
  o.apps = 50;
  o.proxies = 4;
  o.duration = std::chrono::seconds(25);
  o.ops_per_second = 150;
  o.kill_every = std::chrono::seconds(7);
  o.relays = 2;
  o.relay_kill_every = std::chrono::seconds(5);
  o.server_binary = sync::testing::ServerBinary();
  o.folder = (dir.path() / "sim").string();
  o.verbose = true;
  auto report = RunConvergence(o);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::printf("seed %llu\n%s\n", static_cast<unsigned long long>(o.seed),
              report->Summary().c_str());
  EXPECT_TRUE(report->violations.empty()) << report->Summary();
  // The faults really happened, and the checks had something to check.
  EXPECT_GE(report->server_kills, 2u);
  EXPECT_GE(report->relay_kills, 2u);
  EXPECT_GT(report->relayed_apps, 0u);
  EXPECT_GT(report->app_restarts, 0u);
  EXPECT_GT(report->frames_dropped, 0u);
  EXPECT_GT(report->frames_duplicated, 0u);
  EXPECT_GT(report->connections_cut, 0u);
  EXPECT_GT(report->messages_checked, 0u);
  EXPECT_GT(report->entries_checked, 0u);
  EXPECT_GT(report->blobs_downloaded, 0u);
}

}  // namespace
}  // namespace postbox::testing
