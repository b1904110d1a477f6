/* Two mailboxes, a blob sent, the sender sees VIEWED: bindings/README.md's C
 * example, run by ctest (c_api.example). Usage: two_mailboxes FOLDER */
#include <stdio.h>
#include <string.h>

#include "postbox.h"

/* Every call returns PBX_OK or a negative pbx_code and fills `err`. */
#define TRY(call)                                      \
  do {                                                 \
    if ((call) != PBX_OK) {                            \
      fprintf(stderr, "%s: %s\n", #call, err.message); \
      return 1;                                        \
    }                                                  \
  } while (0)

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  char path[512];
  pbx_error err;

  /* A server over a store, with two connected mailboxes. */
  pbx_db* db;
  snprintf(path, sizeof(path), "%s/server", argv[1]);
  TRY(pbx_db_open(path, NULL, &db, &err));
  pbx_credentials alice, bob;
  TRY(pbx_db_create_mailbox(db, &alice, &err));
  TRY(pbx_db_create_mailbox(db, &bob, &err));
  TRY(pbx_db_connect(db, &alice.mkey, &bob.mkey, &err));
  pbx_server_options so;
  pbx_server_options_init(&so);
  so.port = 0;
  pbx_server* server;
  TRY(pbx_server_start(db, &so, &server, &err));
  uint16_t port;
  TRY(pbx_server_port(server, &port, &err));

  /* Each app keeps its mailbox in a replica. */
  pbx_replica_options o;
  pbx_replica_options_init(&o);
  o.client.port = port;
  pbx_replica *a, *b;
  snprintf(path, sizeof(path), "%s/alice", argv[1]);
  o.folder = path;
  o.client.mkey = alice.mkey;
  o.client.secret = alice.secret;
  TRY(pbx_replica_open(&o, &a, &err));
  char bob_path[512];
  snprintf(bob_path, sizeof(bob_path), "%s/bob", argv[1]);
  o.folder = bob_path;
  o.client.mkey = bob.mkey;
  o.client.secret = bob.secret;
  TRY(pbx_replica_open(&o, &b, &err));

  /* Alice posts a blob; it is uploaded from her outbox. */
  pbx_id id;
  TRY(pbx_replica_post(a, &bob.mkey, "hello, bob", 10, "note", NULL, 0, NULL, &id, &err));
  TRY(pbx_replica_sync(a, 10000, &err));

  /* Bob finds it in his inbox, downloads it, views it. */
  TRY(pbx_replica_sync(b, 10000, &err));
  TRY(pbx_replica_request_blob(b, &id, &err));
  uint8_t* bytes = NULL;
  size_t len = 0;
  int rc;
  /* PBX_E_UNAVAILABLE until the download completes (the test polls; an app
   * would wait for on_change). */
  for (int i = 0;
       (rc = pbx_replica_read_blob(b, &id, &bytes, &len, &err)) == PBX_E_UNAVAILABLE && i < 1000;
       ++i) {
    (void)pbx_replica_sync(b, 10, NULL);
  }
  if (rc != PBX_OK) return fprintf(stderr, "download: %s\n", err.message), 1;
  printf("bob got: %.*s\n", (int)len, (const char*)bytes);
  pbx_free(bytes);
  TRY(pbx_replica_update_status(b, &id, PBX_STATUS_VIEWED, NULL, &err));
  TRY(pbx_replica_sync(b, 10000, &err));

  /* Alice sees VIEWED. */
  TRY(pbx_replica_sync(a, 10000, &err));
  pbx_message* m;
  TRY(pbx_replica_get_message(a, &id, &m, &err));
  int viewed = m->status == PBX_STATUS_VIEWED;
  printf("alice sees: %s\n", viewed ? "VIEWED" : "not viewed");
  pbx_message_free(m);

  pbx_replica_close(a);
  pbx_replica_close(b);
  pbx_server_stop(server);
  TRY(pbx_db_close(db, &err));
  return viewed && pbx_live_handles() == 0 ? 0 : 1;
}
