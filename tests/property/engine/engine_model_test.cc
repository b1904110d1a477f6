// The stateful model-based test: random sequences of every engine operation
// (the relays' EnsureMailbox and RetractMessage included) against a real
// store (LMDB in a temp folder) and the in-memory Model, with each result
// (code and value) compared, and every mailbox's feed (Changes from 0)
// compared after each step. RapidCheck shrinks a failing sequence to a short
// one; the harness's message says which call diverged and how.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <rapidcheck/state.h>

#include "tests/property/engine/gen.h"
#include "tests/property/engine/harness.h"
#include "tests/property/engine/prop_util.h"

namespace postbox::model {
namespace {

// RapidCheck generates whole sequences before running them and mailbox keys
// only exist once the engine made them, so the generation state is just how
// many mailboxes exist; commands name mailboxes by ref (see harness.h).
struct GenState {
  int mailboxes = 0;
};
using Cmd = rc::state::Command<GenState, Harness>;

void Check(const std::string& divergence) {
  if (!divergence.empty()) RC_FAIL(divergence);
}

struct CreateMailbox : Cmd {
  void apply(GenState& s) const override { ++s.mailboxes; }
  void run(const GenState&, Harness& h) const override {
    Check(h.Apply(Op{}));
    Check(h.CheckFeeds());
  }
  void show(std::ostream& os) const override { os << "CreateMailbox"; }
};

struct WriteOne : Cmd {
  Op op = GenOp(false);
  void run(const GenState&, Harness& h) const override {
    Check(h.Apply(op));
    Check(h.CheckFeeds());
  }
  void show(std::ostream& os) const override { os << ShowOp(op); }
};

struct WriteBatchCmd : Cmd {
  std::vector<Op> ops = *rc::gen::container<std::vector<Op>>(
      *rc::gen::inRange(1, 7), rc::gen::exec([] { return GenOp(true); }));
  void apply(GenState& s) const override {
    for (const Op& op : ops) s.mailboxes += op.kind == Op::kCreateMailbox;
  }
  void run(const GenState&, Harness& h) const override {
    Check(h.ApplyBatch(ops));
    Check(h.CheckFeeds());
  }
  void show(std::ostream& os) const override {
    os << "Batch[";
    for (const Op& op : ops) os << "\n    " << ShowOp(op);
    os << "]";
  }
};

struct Read : Cmd {
  int kind = *rc::gen::inRange(0, 8);
  int a = kind <= 1 ? GenActorRef() : GenMailboxRef();
  int b = *rc::gen::inRange(-1, 8);
  int id = *rc::gen::inRange(0, kIdPool);
  uint64_t offset = *rc::gen::inRange<uint64_t>(0, 20);
  uint64_t length = *rc::gen::weightedOneOf<uint64_t>(
      {{1, rc::gen::just(UINT64_MAX)}, {3, rc::gen::inRange<uint64_t>(0, 20)}});
  uint64_t since = *rc::gen::inRange<uint64_t>(0, 1000);
  size_t limit = *rc::gen::inRange<size_t>(0, 5);
  void run(const GenState&, Harness& h) const override {
    switch (kind) {
      case 0:
        Check(h.GetMessage(a, id));
        break;
      case 1:
        Check(h.ReadBlob(a, id, offset, length));
        break;
      case 2:
        Check(h.GetEntry(a, b));
        break;
      case 3:
        Check(h.ListEntries(a, b, id - 1, limit + 1));
        break;
      case 4:
        Check(h.Changes(a, since, limit));
        break;
      case 5:
        Check(h.ListMailboxes(b, limit + 1));
        break;
      case 6:
        Check(h.Connections(a, b, limit + 1));
        break;
      default:
        // The current secret, a wrong one, and now and then the secret from
        // CreateMailbox or one of EnsureMailbox's (rotated to, or away from).
        Check(b <= 3 ? h.Authenticate(a, b >= 0) : h.AuthenticateWith(a, b - 5));
        break;
    }
  }
  void show(std::ostream& os) const override {
    os << "Read(kind=" << kind << " a=" << a << " b=" << b << " id=" << id << " offset=" << offset
       << " length=" << length << " since=" << since << " limit=" << limit << ")";
  }
};

// The clock moves by amounts around the horizon, so purges see tombstones just
// inside, exactly at and just past it.
struct Purge : Cmd {
  uint64_t advance = *rc::gen::element<uint64_t>(0, 1, 500, kHorizonMs - 1, kHorizonMs,
                                                 kHorizonMs + 1, 3 * kHorizonMs);
  size_t batch = *rc::gen::element<size_t>(0, 0, 1, 2);
  void run(const GenState&, Harness& h) const override {
    Check(batch == 0 ? h.Purge(advance) : h.PurgeInBatches(advance, batch));
    Check(h.CheckFeeds());
  }
  void show(std::ostream& os) const override {
    os << "Purge(+" << advance << "ms, batch " << batch << ")";
  }
};

struct Tick : Cmd {
  uint64_t advance = *rc::gen::element<uint64_t>(1, 1000, kHorizonMs / 2);
  void run(const GenState&, Harness& h) const override { h.AdvanceClock(advance); }
  void show(std::ostream& os) const override { os << "Tick(+" << advance << "ms)"; }
};

struct Reopen : Cmd {
  void run(const GenState&, Harness& h) const override {
    Check(h.Reopen());
    Check(h.CheckAll());
  }
  void show(std::ostream& os) const override { os << "Reopen"; }
};

struct CheckEverything : Cmd {
  void run(const GenState&, Harness& h) const override { Check(h.CheckAll()); }
  void show(std::ostream& os) const override { os << "CheckAll"; }
};

void RunSequence(const HarnessConfig& config) {
  Harness h(config);
  Check(h.open_error());
  // Start with mailboxes so most generated ops reach past the 404 checks.
  const int initial = *rc::gen::inRange(2, 5);
  for (int i = 0; i < initial; ++i) Check(h.Apply(Op{}));
  // Connect most pairs up front, so that posts under kConnected get through.
  for (int i = 0; i < initial; ++i) {
    for (int j = i + 1; j < initial; ++j) {
      Op connect{Op::kConnect, i, j};
      if (*rc::gen::inRange(0, 4) > 0) Check(h.Apply(connect));
    }
  }
  GenState s0{initial};
  rc::state::check(s0, h, [](const GenState& s) {
    (void)s;
    return rc::gen::weightedOneOf<std::shared_ptr<const Cmd>>({
        {2, rc::state::gen::execOneOfWithArgs<CreateMailbox>()()},
        {20, rc::state::gen::execOneOfWithArgs<WriteOne>()()},
        {4, rc::state::gen::execOneOfWithArgs<WriteBatchCmd>()()},
        {10, rc::state::gen::execOneOfWithArgs<Read>()()},
        {2, rc::state::gen::execOneOfWithArgs<Purge>()()},
        {2, rc::state::gen::execOneOfWithArgs<Tick>()()},
        {1, rc::state::gen::execOneOfWithArgs<Reopen>()()},
        {1, rc::state::gen::execOneOfWithArgs<CheckEverything>()()},
    });
  });
  Check(h.CheckAll());
}

// Sequence length grows with RapidCheck's size (up to 100 here). 100 + 100 +
// 60 + 60 sequences take ~10 s in RelWithDebInfo and ~15 s under ASan+UBSan;
// soak with RC_PARAMS="max_success=1000 max_size=150".
POSTBOX_RC_PROP(EngineModel, SlotDepth1Connected, 100, 100, ()) {
  RunSequence({1, PostingPolicy::kConnected});
}

POSTBOX_RC_PROP(EngineModel, SlotDepth2Connected, 100, 100, ()) {
  RunSequence({2, PostingPolicy::kConnected});
}

POSTBOX_RC_PROP(EngineModel, SlotDepth1Open, 60, 100, ()) {
  RunSequence({1, PostingPolicy::kOpen});
}

POSTBOX_RC_PROP(EngineModel, SlotDepth2Open, 60, 100, ()) {
  RunSequence({2, PostingPolicy::kOpen});
}

}  // namespace
}  // namespace postbox::model
