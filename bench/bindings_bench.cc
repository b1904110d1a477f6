// The cost of one call through the C API against the C++ call it wraps
// (docs/benchmarks.md "Bindings"): an entry get from an app's replica.
//
//   BM_ReplicaGetEntry/cxx  postbox::sync::Replica::GetEntry("k") — the baseline
//   BM_ReplicaGetEntry/c    pbx_replica_get_entry + pbx_entry_free (postbox.h),
//                           the call the Python and Java bindings make
//
// Both read the same replica: opened with start = false (no network, no other
// thread touching the store), one entry "k" with a 100-byte value put into
// its mirror. Each iteration is one read transaction and one copy of the
// entry into the caller's memory; the time is wall-clock per call, as the
// other languages' programs measure it. bench/run_bindings_bench.sh runs this next
// to the Python and Java programs in bench/bindings/ (the same replica, key
// and value) and prints every binding's ratio to the cxx row of the same run.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>

#include "bench/bench_util.h"
#include "postbox.h"
#include "postbox/sync/replica.h"

namespace {

namespace pb = postbox::bench;

constexpr const char* kKey = "k";
const std::string kValue(100, 'v');

// Client options for a replica that never connects (start = 0): any mailbox.
pbx_client_options OfflineClient() {
  pbx_client_options o;
  pbx_client_options_init(&o);
  o.port = 1;  // never dialled: start = 0
  o.secret = "unused-offline";
  pbx_id_random(&o.mkey, nullptr);
  return o;
}

void BM_ReplicaGetEntryCxx(benchmark::State& state) {
  pb::Folder folder("bindings-cxx");
  postbox::sync::ReplicaOptions o;
  o.folder = folder.path();
  o.start = false;
  o.client.secret = "unused-offline";
  o.client.mkey = postbox::MailboxKey::Random();
  auto r = pb::Unwrap(postbox::sync::Replica::Open(std::move(o)), "Replica::Open");
  pb::Unwrap(r->PutEntry(kKey, kValue), "PutEntry");
  for (auto _ : state) {
    auto e = r->GetEntry(kKey);
    if (!e || e->value.size() != kValue.size()) pb::Fail("GetEntry: " + e.error().ToString());
    benchmark::DoNotOptimize(e->value.data());
  }
}
BENCHMARK(BM_ReplicaGetEntryCxx)->Name("BM_ReplicaGetEntry/cxx")->UseRealTime();

void BM_ReplicaGetEntryC(benchmark::State& state) {
  pb::Folder folder("bindings-c");
  pbx_replica_options o;
  pbx_replica_options_init(&o);
  o.folder = folder.path().c_str();
  o.start = 0;
  o.client = OfflineClient();
  pbx_replica* r = nullptr;
  pbx_error err{};
  if (pbx_replica_open(&o, &r, &err) != PBX_OK) pb::Fail(std::string("open: ") + err.message);
  if (pbx_replica_put_entry(r, kKey, kValue.data(), kValue.size(), 0, nullptr, &err) != PBX_OK) {
    pb::Fail(std::string("put: ") + err.message);
  }
  for (auto _ : state) {
    pbx_entry* e = nullptr;
    if (pbx_replica_get_entry(r, kKey, &e, &err) != PBX_OK || e->value_len != kValue.size()) {
      pb::Fail(std::string("pbx_replica_get_entry: ") + err.message);
    }
    benchmark::DoNotOptimize(e->value);
    pbx_entry_free(e);
  }
  pbx_replica_close(r);
}
BENCHMARK(BM_ReplicaGetEntryC)->Name("BM_ReplicaGetEntry/c")->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
