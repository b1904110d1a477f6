// postbox::sync::Relay — serves mailboxes downstream from a store of its own
// and keeps each of them in sync with an upstream server (docs/relay.md).
//
// Downstream the relay is a normal postbox server (a Server over the relay's
// DB, which the host runs and hands in): clients of a relayed mailbox
// connect, authenticate with the mailbox's credentials and work against the
// relay's store, also while upstream is unreachable. Upstream, each relayed
// mailbox is a Replica (replica.h) with its outbox. The relay
// reconciles the two, item by item, with the merge rules both sides use:
//   - a message only one side has is copied to the other: a post made at the
//     relay is posted upstream (its blob from the relay's store); a message
//     upstream has is imported once its blob is downloaded from upstream;
//   - a status is raised on the side where it is lower (max-merge);
//   - an entry is written where it ranks lower (version max-merge);
//   - the connections upstream reports are made at the relay (the peers
//     become mailboxes of the relay's store, without usable secrets), so posts
//     between connected mailboxes are accepted at the relay as upstream would.
// A post the relay accepted and upstream refused for good (403, 404, 410, 413,
// 422, any permanent answer) is retracted at the relay (its tombstone reaches
// the client, 410 afterwards) and the refusal is written to the mailbox's
// entry "postbox/relay/refused/<id hex>" = "<code> <message>". A status or
// entry write upstream refuses for good is reported through on_error and not
// sent again (the relay's store keeps it until a newer write wins). A message
// upstream removes (superseded, deleted, refused further up a chain of relays)
// is removed at the relay too, at once; its successor, if any, appears once
// its blob is downloaded.
//
// Relays chain: the upstream may itself be a relay.
//
// Thread-safety: Start, Sync, stats and the destructor may be called from any
// thread; the relay works on a thread of its own (with up to 7 helpers while
// several mailboxes changed at once) and its replicas' threads.
#ifndef POSTBOX_SYNC_RELAY_H_
#define POSTBOX_SYNC_RELAY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "postbox/db.h"
#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/sync/server.h"
#include "postbox/types.h"

namespace postbox::sync {

struct RelayOptions {
  // The upstream server.
  std::string upstream_host = "127.0.0.1";
  uint16_t upstream_port = 7420;
  // TLS to upstream (docs/tls.md), with a client certificate for an
  // upstream that requires one (mutual TLS).
  TlsClientOptions upstream_tls;
  // The relayed mailboxes, with the credentials upstream knows them by; the
  // relay's store gets the same credentials, so clients use them unchanged.
  std::vector<MailboxCredentials> mailboxes;
  // Where the upstream replicas live (one folder per mailbox).
  std::string folder;
  // The replicas' local stores. Relaxed by default, and safely so: what a
  // client wrote is durable in the relay's own store (the record) before the
  // client hears OK, and at start the relay compares that store with each
  // replica again, so a replica's last transaction undone by a system crash
  // (an outbox item, an answer) is made or sent again, and resends merge as
  // one write.
  Durability replica_durability = Durability::kRelaxed;
  // Upstream requests fail (and are retried) after this.
  std::chrono::milliseconds request_timeout{5000};
  // Retries of upstream writes back off up to this.
  std::chrono::milliseconds retry_max{5000};
  // While connected, each replica polls upstream at least this often (a safety
  // net: pushes carry everything, and a new session catches up at once).
  std::chrono::milliseconds poll_interval{30000};
  // How often the relay looks at every mailbox even if nothing woke it (its
  // server's commits and upstream changes wake it at once; a blob being
  // downloaded is looked at again on the next wake).
  std::chrono::milliseconds scan_interval{50};
  // Errors no retry will fix (a refused credential, a failing store, a status
  // or entry write upstream refused); called from the relay's threads.
  std::function<void(const Status&)> on_error;
};

struct RelayStats {
  uint64_t posted_upstream = 0;  // posts forwarded upstream
  uint64_t imported = 0;         // messages imported from upstream
  uint64_t statuses_up = 0;      // status raises sent upstream
  uint64_t statuses_down = 0;    // status raises applied at the relay
  uint64_t entries_up = 0;       // entry writes sent upstream
  uint64_t entries_down = 0;     // entry writes applied at the relay
  uint64_t refused = 0;          // posts upstream refused, retracted at the relay
  // Messages removed here because upstream removed them (refused posts too).
  uint64_t retracted = 0;
  uint64_t pending_upstream = 0;  // outbox items not yet acknowledged upstream
};

class Relay {
 public:
  // Creates the relayed mailboxes in `db` (or sets their secrets) and starts
  // relaying. `db` is the store `server` serves; both must outlive the relay,
  // and the relay writes through `server` so that its sessions get pushes.
  // InvalidArgument for bad options; a store error as is.
  static Result<std::unique_ptr<Relay>> Start(DB* db, Server* server, RelayOptions options);
  ~Relay();
  Relay(const Relay&) = delete;
  Relay& operator=(const Relay&) = delete;

  // Waits until the relay's store and upstream agree for every relayed
  // mailbox as far as the relay can tell (outboxes drained, caught up with
  // upstream, nothing left to copy either way), or `timeout` passes
  // (Unavailable). For tests and orderly shutdowns.
  Status Sync(std::chrono::milliseconds timeout);
  RelayStats stats() const;

  class Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_RELAY_H_
