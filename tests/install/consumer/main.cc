// A host server's smallest use of an installed postbox: open a store, create a
// mailbox, put an entry and read it back through the engine, then serve the
// store with the library's sync server on 127.0.0.1 and read the entry back
// through the client, then through a replica in a folder next to the store,
// then from a second store that relays the mailbox. Links every installed
// library (engine, wire, sync, client, replica, relay), so a missing link
// dependency fails the build.
#include <chrono>
#include <cstdio>
#include <string>

#include "postbox/db.h"
#include "postbox/sync/client.h"
#include "postbox/sync/relay.h"
#include "postbox/sync/replica.h"
#include "postbox/sync/server.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto db = postbox::DB::Open(argv[1], postbox::Options{});
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    return 1;
  }
  auto creds = (*db)->CreateMailbox();
  if (!creds) return 1;
  auto put = (*db)->PutEntry(creds->mkey, "greeting", "hello", 0);
  if (!put || !put->applied) return 1;
  auto got = (*db)->GetEntry(creds->mkey, "greeting");
  if (!got || got->value != "hello") return 1;

  postbox::sync::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = 0;
  so.threads = 1;
  auto server = postbox::sync::Server::Start(db->get(), so);
  if (!server) {
    std::fprintf(stderr, "server: %s\n", server.error().ToString().c_str());
    return 1;
  }
  postbox::sync::ClientOptions co;
  co.port = (*server)->port();
  co.mkey = creds->mkey;
  co.secret = creds->secret;
  auto client = postbox::sync::Client::Create(co);
  if (!client || !(*client)->Connect()) return 1;
  auto remote = (*client)->GetEntry("greeting");
  if (!remote || remote->value != "hello") {
    std::fprintf(stderr, "client: the entry did not come back\n");
    return 1;
  }
  client->reset();
  postbox::sync::ReplicaOptions ro;
  ro.folder = std::string(argv[1]) + "-replica";
  ro.client = co;
  auto replica = postbox::sync::Replica::Open(ro);
  if (!replica || !(*replica)->Sync(std::chrono::seconds(10)).ok()) return 1;
  auto mirrored = (*replica)->GetEntry("greeting");
  if (!mirrored || mirrored->value != "hello") {
    std::fprintf(stderr, "replica: the entry is not in the mirror\n");
    return 1;
  }
  replica->reset();

  auto relay_db = postbox::DB::Open(std::string(argv[1]) + "-relay", postbox::Options{});
  if (!relay_db) return 1;
  auto relay_server = postbox::sync::Server::Start(relay_db->get(), so);
  if (!relay_server) return 1;
  postbox::sync::RelayOptions rel;
  rel.upstream_port = (*server)->port();
  rel.mailboxes = {*creds};
  rel.folder = std::string(argv[1]) + "-relay-replicas";
  auto relay = postbox::sync::Relay::Start(relay_db->get(), relay_server->get(), rel);
  if (!relay || !(*relay)->Sync(std::chrono::seconds(10)).ok()) return 1;
  auto relayed = (*relay_db)->GetEntry(creds->mkey, "greeting");
  if (!relayed || relayed->value != "hello") {
    std::fprintf(stderr, "relay: the entry did not reach the relay's store\n");
    return 1;
  }
  relay->reset();
  (*relay_server)->Stop();
  (*server)->Stop();
  std::printf("consumer ok: %s\n", creds->mkey.ToHex().c_str());
  return 0;
}
