// Connections by consent (SPEC §2): a connection exists only when both
// mailboxes asked for it (or an operator made it), and nothing a mailbox can
// ask reveals whether another mailbox exists.
//
// A request from A to B is the row A‖out‖B in `conn_requests`, mirrored as
// B‖in‖A when B exists so that B can list who asked. B's request to A, finding
// A‖out‖B, is the second consent: the pair moves to `conns` (both directions)
// and every request row between them goes.
#include "store/codec.h"
#include "store/store.h"

namespace postbox::store {
namespace {

MailboxKey KeyFrom(std::string_view raw) { return MailboxKey::FromBytes(raw).value(); }

std::string CreatedRecord(uint64_t now_ms) {
  std::string v;
  RecordWriter(&v).U64(now_ms);
  return v;
}

// Removes every request row between a and b, both ways (a connection was made).
Status DeleteRequestsBetween(Txn& t, const MailboxKey& a, const MailboxKey& b) {
  for (uint8_t kind : {kRequestOut, kRequestIn}) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conn_requests, ConnRequestKey(a, kind, b)));
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conn_requests, ConnRequestKey(b, kind, a)));
  }
  return Status();
}

Status PutConnection(WriteCtx& w, const MailboxKey& a, const MailboxKey& b) {
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(DeleteRequestsBetween(t, a, b));
  POSTBOX_ASSIGN_OR_RETURN(auto existing, t.Get(t.t().conns, ConnKey(a, b)));
  if (existing) return Status();
  // Stored in both directions so either side lists its connections by prefix.
  const std::string created = CreatedRecord(w.now_ms);
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().conns, ConnKey(a, b), created));
  return t.Put(t.t().conns, ConnKey(b, a), created);
}

}  // namespace

Status Store::Connect(WriteCtx& w, const MailboxKey& a, const MailboxKey& b) const {
  if (a == b) return Status::InvalidArgument("a mailbox cannot connect to itself");
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(w.txn, a).status());
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(w.txn, b).status());
  return PutConnection(w, a, b);
}

Result<ConnectionState> Store::RequestConnection(WriteCtx& w, const MailboxKey& actor,
                                                 const MailboxKey& peer) const {
  if (actor == peer) return Status::InvalidArgument("a mailbox cannot connect to itself");
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, actor).status());
  POSTBOX_ASSIGN_OR_RETURN(auto connected, t.Get(t.t().conns, ConnKey(actor, peer)));
  if (connected) return ConnectionState::kConnected;
  // The peer asked first: this request is the second consent.
  POSTBOX_ASSIGN_OR_RETURN(auto asked,
                           t.Get(t.t().conn_requests, ConnRequestKey(peer, kRequestOut, actor)));
  if (asked) {
    POSTBOX_RETURN_IF_ERROR(PutConnection(w, actor, peer));
    return ConnectionState::kConnected;
  }
  const std::string out = ConnRequestKey(actor, kRequestOut, peer);
  POSTBOX_ASSIGN_OR_RETURN(auto pending, t.Get(t.t().conn_requests, out));
  if (pending) return ConnectionState::kRequested;
  // A request to an unknown mailbox is stored like any other (the answer and
  // the actor's own lists must not tell the two apart), so the cap is what
  // bounds the rows one mailbox can create.
  size_t count = 0;
  std::string prefix(actor.AsBytes());
  prefix.push_back(static_cast<char>(kRequestOut));
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().conn_requests, prefix, prefix, [&](std::string_view, std::string_view) {
        return ++count < options_.max_pending_connections;
      }));
  if (count >= options_.max_pending_connections) {
    return Status(Code::kBackOff,
                  "this mailbox has " + std::to_string(count) +
                      " connection requests waiting for consent (max_pending_connections); "
                      "remove some with ConnectionRemove");
  }
  // The mirror row is written for an unknown peer too: a mailbox created
  // with that key later (WriteBatch::EnsureMailbox) lists the request.
  const std::string created = CreatedRecord(w.now_ms);
  POSTBOX_RETURN_IF_ERROR(t.Put(t.t().conn_requests, out, created));
  POSTBOX_RETURN_IF_ERROR(
      t.Put(t.t().conn_requests, ConnRequestKey(peer, kRequestIn, actor), created));
  return ConnectionState::kRequested;
}

Status Store::Disconnect(WriteCtx& w, const MailboxKey& actor, const MailboxKey& peer) const {
  Txn& t = w.txn;
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, actor).status());
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conns, ConnKey(actor, peer)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conns, ConnKey(peer, actor)));
  // The actor withdraws its own request and declines the peer's. The peer's
  // own request row stays: removing it would tell the peer that this mailbox
  // exists and said no, which an unknown mailbox could not do.
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conn_requests, ConnRequestKey(actor, kRequestOut, peer)));
  POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conn_requests, ConnRequestKey(peer, kRequestIn, actor)));
  return t.Del(t.t().conn_requests, ConnRequestKey(actor, kRequestIn, peer));
}

Result<bool> Store::IsConnected(Txn& t, const MailboxKey& a, const MailboxKey& b) const {
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, a).status());
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, b).status());
  POSTBOX_ASSIGN_OR_RETURN(auto raw, t.Get(t.t().conns, ConnKey(a, b)));
  return raw.has_value();
}

Result<std::vector<MailboxKey>> Store::ListConnections(Txn& t, const MailboxKey& m,
                                                       std::optional<MailboxKey> after,
                                                       size_t limit,
                                                       ConnectionListKind kind) const {
  POSTBOX_RETURN_IF_ERROR(RequireMailbox(t, m).status());
  MDB_dbi dbi = t.t().conns;
  std::string prefix(m.AsBytes());
  if (kind != ConnectionListKind::kConnected) {
    dbi = t.t().conn_requests;
    prefix.push_back(
        static_cast<char>(kind == ConnectionListKind::kRequested ? kRequestOut : kRequestIn));
  }
  std::vector<MailboxKey> out;
  const std::string from = after ? prefix + std::string(after->AsBytes()) : prefix;
  POSTBOX_RETURN_IF_ERROR(t.Scan(dbi, prefix, from, [&](std::string_view k, std::string_view) {
    if (after && k == from) return true;
    if (out.size() >= limit) return false;
    out.push_back(KeyFrom(k.substr(prefix.size())));
    return true;
  }));
  return out;
}

Status Store::DeleteConnectionsOf(WriteCtx& w, const MailboxKey& m) const {
  Txn& t = w.txn;
  std::vector<MailboxKey> peers;
  const auto collect = [&](std::string_view k, std::string_view) {
    peers.push_back(KeyFrom(k.substr(16)));
    return true;
  };
  POSTBOX_RETURN_IF_ERROR(t.Scan(t.t().conns, m.AsBytes(), m.AsBytes(), collect));
  for (const auto& p : peers) {
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conns, ConnKey(m, p)));
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conns, ConnKey(p, m)));
  }
  // The mailbox's own requests and their mirrors go. Requests others sent it
  // stay, mirrors included, as requests to an unknown mailbox do (their
  // senders learn nothing from the deletion, and a mailbox created with this
  // key again, WriteBatch::EnsureMailbox, lists them).
  std::string out_prefix(m.AsBytes());
  out_prefix.push_back(static_cast<char>(kRequestOut));
  std::vector<std::string> rows;
  POSTBOX_RETURN_IF_ERROR(t.Scan(t.t().conn_requests, out_prefix, out_prefix,
                                 [&](std::string_view k, std::string_view) {
                                   rows.emplace_back(k);
                                   return true;
                                 }));
  for (const auto& k : rows) {
    POSTBOX_RETURN_IF_ERROR(
        t.Del(t.t().conn_requests,
              ConnRequestKey(KeyFrom(std::string_view(k).substr(17)), kRequestIn, m)));
    POSTBOX_RETURN_IF_ERROR(t.Del(t.t().conn_requests, k));
  }
  return Status();
}

}  // namespace postbox::store
