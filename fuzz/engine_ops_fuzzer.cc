// engine_ops: decodes the input into a sequence of engine operations and runs
// it against a real store (LMDB in a temp folder, one per input) and the
// in-memory model of tests/property/engine, aborting on the first divergence
// in any result, in any feed (Changes from 0 after every write) or in the full
// state (at each reopen and at the end).
//
// The bytecode (every missing byte reads as 0, so any input decodes):
//   byte 0          config: bit 0 → slot_depth 2, bit 1 → posting policy kOpen
//   then, repeated  an opcode byte c and its operands:
//     c % 16 == 0       CreateMailbox
//     c % 16 in 1..8    one write op of kind c % 16 (harness.h Op::Kind), 4 operand bytes
//     c % 16 == 9       WriteBatch: n = next % 6 + 1, then n × (kind byte % 9, 4 operand bytes)
//     c % 16 == 10, 11  a read: kind byte % 8, 4 operand bytes
//     c % 16 == 12      PurgeTombstones: advance byte (index into kAdvances), batch byte % 3
//     c % 16 == 13      advance the clock by kAdvances[next % 7]
//     c % 16 == 14      close and reopen the DB, then compare everything
//     c % 16 == 15      compare everything
//   Operands x, w, y, z: mailbox refs a = x % 9 - 3 and b = x / 9 % 9 - 3 (harness.h:
//   −1 a key no store issued, −2/−3 the recipient/sender of the op's id);
//   status = w % 5 (0 and 4 invalid), platform = w / 5 % 4, version =
//   kVersions[w / 20 % 6]; key/topic/token = y % 8, value/meta = y / 8 % 8;
//   blob = z % 8, id = z / 8 % 6.
// At most kMaxOps opcodes run, so every input stays fast.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/property/engine/harness.cc"
#include "tests/property/engine/harness.h"
#include "tests/property/engine/model.cc"

namespace {

using postbox::model::Harness;
using postbox::model::HarnessConfig;
using postbox::model::kHorizonMs;
using postbox::model::Op;

constexpr int kMaxOps = 96;
constexpr uint64_t kAdvances[] = {
    0, 1, 1000, kHorizonMs - 1, kHorizonMs, kHorizonMs + 1, 3 * kHorizonMs};
constexpr uint64_t kVersions[] = {0, 1, 2, 3, 4, uint64_t{1} << 40};

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Next() { return pos_ < size_ ? data_[pos_++] : 0; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

Op DecodeOp(int kind, Reader& in) {
  const uint8_t x = in.Next();
  const uint8_t w = in.Next();
  const uint8_t y = in.Next();
  const uint8_t z = in.Next();
  Op op;
  op.kind = static_cast<Op::Kind>(kind);
  op.a = x % 9 - 3;
  op.b = x / 9 % 9 - 3;
  op.status = w % 5;
  op.platform = w / 5 % 4;
  op.version = kVersions[w / 20 % 6];
  op.key = y % 8;
  op.value = y / 8 % 8;
  op.blob = z % 8;
  op.id = z / 8 % 6;
  return op;
}

std::string Read(Harness& h, Reader& in) {
  const int kind = in.Next() % 8;
  const Op o = DecodeOp(0, in);
  const size_t limit = static_cast<size_t>(o.value % 4);
  switch (kind) {
    case 0:
      return h.GetMessage(o.a, o.id);
    case 1:
      return h.ReadBlob(o.a, o.id, o.key, o.blob == 7 ? UINT64_MAX : o.blob);
    case 2:
      return h.GetEntry(o.a, o.key);
    case 3:
      return h.ListEntries(o.a, o.value, o.key - 1, limit + 1);
    case 4:
      return h.Changes(o.a, o.version + o.key, limit);
    case 5:
      return h.ListMailboxes(o.b, limit + 1);
    case 6:
      return h.Connections(o.a, o.b, limit + 1);
    default:
      return h.Authenticate(o.a, o.b >= 0);
  }
}

std::string Step(Harness& h, Reader& in) {
  const int code = in.Next() % 16;
  std::string d;
  if (code == 0) {
    d = h.Apply(Op{});
  } else if (code <= 8) {
    d = h.Apply(DecodeOp(code, in));
  } else if (code == 9) {
    std::vector<Op> ops(in.Next() % 6 + 1);
    for (Op& op : ops) op = DecodeOp(in.Next() % 9, in);
    d = h.ApplyBatch(ops);
  } else if (code <= 11) {
    return Read(h, in);
  } else if (code == 12) {
    const uint64_t advance = kAdvances[in.Next() % 7];
    const size_t batch = in.Next() % 3;
    d = batch == 0 ? h.Purge(advance) : h.PurgeInBatches(advance, batch);
  } else if (code == 13) {
    h.AdvanceClock(kAdvances[in.Next() % 7]);
    return "";
  } else if (code == 14) {
    d = h.Reopen();
    if (d.empty()) d = h.CheckAll();
    return d;
  } else {
    return h.CheckAll();
  }
  return d.empty() ? h.CheckFeeds() : d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  const uint8_t config = in.Next();
  HarnessConfig hc;
  hc.slot_depth = (config & 1) ? 2 : 1;
  hc.policy = (config & 2) ? postbox::PostingPolicy::kOpen : postbox::PostingPolicy::kConnected;
  std::string d;
  {
    // Scoped so the store's temp folder is removed before a divergence aborts.
    Harness h(hc);
    d = h.open_error();
    for (int i = 0; i < kMaxOps && d.empty() && !in.done(); ++i) d = Step(h, in);
    if (d.empty()) d = h.CheckAll();
  }
  if (!d.empty()) {
    std::fprintf(stderr, "engine and model diverge:\n%s\n", d.c_str());
    std::abort();
  }
  return 0;
}
