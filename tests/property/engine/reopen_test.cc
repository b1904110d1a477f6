// Durability across close and reopen with real (durable) commits: whatever a
// random sequence of single ops and batches left behind — mailboxes, secrets,
// connections, push registrations, entries and their tombstones, messages and
// blobs, gone ids, every feed with its seq and purge point — must read back
// the same from a freshly opened DB. The stateful test reopens relaxed stores;
// this one pays for fsync on every commit, so it runs fewer, shorter cases.
// Crashes (kill -9 mid-write) are deterministic unit tests, not here.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "tests/property/engine/gen.h"
#include "tests/property/engine/harness.h"
#include "tests/property/engine/prop_util.h"

namespace postbox::model {
namespace {

void Check(const std::string& divergence) {
  if (!divergence.empty()) RC_FAIL(divergence);
}

// Runs 1..n random ops, singly or as one batch, each compared with the model.
void RunSomeOps(Harness& h, int n) {
  const auto ops = *rc::gen::container<std::vector<Op>>(*rc::gen::inRange(1, n),
                                                        rc::gen::exec([] { return GenOp(true); }));
  if (*rc::gen::arbitrary<bool>()) {
    Check(h.ApplyBatch(ops));
  } else {
    for (const Op& op : ops) Check(h.Apply(op));
  }
}

POSTBOX_RC_PROP(Reopen, DurableStoreReadsBackEverything, 25, 100, ()) {
  HarnessConfig config;
  config.durability = Durability::kDurable;
  config.slot_depth = *rc::gen::inRange<uint32_t>(1, 3);
  config.policy = *rc::gen::element(PostingPolicy::kConnected, PostingPolicy::kOpen);
  Harness h(config);
  Check(h.open_error());
  for (int i = 0; i < 3; ++i) Check(h.Apply(Op{}));
  for (int round = 0; round < 2; ++round) {
    RunSomeOps(h, 16);
    if (*rc::gen::arbitrary<bool>()) Check(h.Purge(*rc::gen::element<uint64_t>(0, 2 * kHorizonMs)));
    Check(h.Reopen());
    Check(h.CheckAll());
  }
}

}  // namespace
}  // namespace postbox::model
