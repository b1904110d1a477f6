// RapidCheck generators of harness ops, shared by the stateful test and the
// reopen property. Values come from small ranges on purpose: few mailboxes,
// ids, keys and topics make collisions (reused ids, full slots, merge ties)
// the common case rather than a rare one.
#ifndef POSTBOX_TESTS_PROPERTY_ENGINE_GEN_H_
#define POSTBOX_TESTS_PROPERTY_ENGINE_GEN_H_

#include <rapidcheck.h>

#include "tests/property/engine/harness.h"

namespace postbox::model {

// Refs over a handful of mailboxes, now and then the never-issued key.
inline int GenMailboxRef() {
  return *rc::gen::weightedOneOf<int>({{1, rc::gen::just(-1)}, {12, rc::gen::inRange(0, 5)}});
}

// The other mailbox of a pair: usually a different one (refs are taken modulo
// the number of mailboxes, so an offset of 1..3 rarely wraps onto `a`),
// sometimes `a` itself or the never-issued key.
inline int GenOtherRef(int a) {
  return *rc::gen::weightedOneOf<int>(
      {{1, rc::gen::just(-1)},
       {1, rc::gen::just(a)},
       {10, rc::gen::map(rc::gen::inRange(1, 4), [a](int d) { return (a < 0 ? 0 : a) + d; })}});
}

// An actor for an op on a message: mostly one of its parties.
inline int GenActorRef() {
  return *rc::gen::weightedOneOf<int>({{4, rc::gen::just(kRecipientRef)},
                                       {2, rc::gen::just(kSenderRef)},
                                       {3, rc::gen::exec(GenMailboxRef)}});
}

// RetractMessage's actor: mostly the sender, sometimes the recipient, another
// mailbox or the never-issued key.
inline int GenRetractorRef() {
  return *rc::gen::weightedOneOf<int>({{6, rc::gen::just(kSenderRef)},
                                       {2, rc::gen::just(kRecipientRef)},
                                       {2, rc::gen::exec(GenMailboxRef)}});
}

// EnsureMailbox's mailbox: one made before (live or deleted) or a fresh key
// (harness.h Op::a), with no secret, a short one, or the longest allowed;
// now and then one over the limit.
inline int GenEnsureRef() {
  return *rc::gen::weightedOneOf<int>(
      {{3, rc::gen::inRange(0, 5)}, {2, rc::gen::inRange(-kFreshKeys, 0)}});
}
inline int GenSecretRef() {
  return *rc::gen::weightedOneOf<int>({{4, rc::gen::just(0)},
                                       {3, rc::gen::just(1)},
                                       {2, rc::gen::just(2)},
                                       {1, rc::gen::just(3)},
                                       {1, rc::gen::just(4)}});
}

inline uint64_t GenVersion() {
  return *rc::gen::weightedOneOf<uint64_t>({{3, rc::gen::just<uint64_t>(0)},
                                            {6, rc::gen::inRange<uint64_t>(1, 5)},
                                            {1, rc::gen::just<uint64_t>(uint64_t{1} << 40)}});
}

inline Op GenOp(bool allow_create) {
  Op op;
  op.kind = *rc::gen::weightedOneOf<Op::Kind>({
      {allow_create ? 2u : 0u, rc::gen::just(Op::kCreateMailbox)},
      {1, rc::gen::just(Op::kDeleteMailbox)},
      {2, rc::gen::just(Op::kConnect)},
      {3, rc::gen::just(Op::kRequestConnection)},
      {1, rc::gen::just(Op::kDisconnect)},
      {1, rc::gen::just(Op::kRegisterPush)},
      {6, rc::gen::just(Op::kPutEntry)},
      {3, rc::gen::just(Op::kDeleteEntry)},
      {6, rc::gen::just(Op::kPostMessage)},
      {5, rc::gen::just(Op::kAdvanceStatus)},
      {2, rc::gen::just(Op::kEnsureMailbox)},
      {3, rc::gen::just(Op::kRetractMessage)},
  });
  switch (op.kind) {
    case Op::kAdvanceStatus:
      op.a = GenActorRef();
      break;
    case Op::kRetractMessage:
      op.a = GenRetractorRef();
      break;
    case Op::kEnsureMailbox:
      op.a = GenEnsureRef();
      break;
    default:
      op.a = GenMailboxRef();
      break;
  }
  op.b = GenOtherRef(op.a);
  op.key = op.kind == Op::kEnsureMailbox ? GenSecretRef() : *rc::gen::inRange(0, 8);
  op.value = *rc::gen::inRange(0, 7);
  op.blob = *rc::gen::inRange(0, 7);
  op.id = *rc::gen::inRange(0, kIdPool);
  // Retractions mostly name a live message; otherwise the id pool gives
  // unknown and removed ids (and live ones by chance).
  op.live_id = op.kind == Op::kRetractMessage &&
               *rc::gen::weightedOneOf<bool>({{3, rc::gen::just(true)}, {2, rc::gen::just(false)}});
  op.version = GenVersion();
  op.status =
      *rc::gen::weightedOneOf<int>({{1, rc::gen::element(0, 4)}, {10, rc::gen::inRange(1, 4)}});
  op.platform = *rc::gen::inRange(0, 4);
  return op;
}

}  // namespace postbox::model

#endif  // POSTBOX_TESTS_PROPERTY_ENGINE_GEN_H_
