/* The C API's replica beyond messages: entry deletion and listing,
 * connections, push registration, the outbox's pending items and cancel, and
 * the replica's state; offline first, then against an embedded server on
 * 127.0.0.1. Callbacks run on the replica's own thread. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, nanosleep: before any header */

#include <pthread.h>
#include <time.h>

#include "test_util.h"

static void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Outcomes as the callbacks saw them; pbx_replica_sync returns after the
 * callbacks of what it waited for ran, and close joins the thread. */
typedef struct Seen {
  pthread_mutex_t mu;
  int ok;
  int cancelled;
  int failed;
  uint64_t cancelled_item;
  char cancelled_key[32];
} Seen;

static void OnOutbox(void* ctx, const pbx_outbox_outcome* o) {
  Seen* s = ctx;
  pthread_mutex_lock(&s->mu);
  if (o->cancelled) {
    ++s->cancelled;
    s->cancelled_item = o->item;
    snprintf(s->cancelled_key, sizeof(s->cancelled_key), "%s", o->key);
  } else if (o->code == PBX_OK) {
    ++s->ok;
  } else {
    ++s->failed;
  }
  pthread_mutex_unlock(&s->mu);
}

static int IdEq(const pbx_id* a, const pbx_id* b) { return memcmp(a->bytes, b->bytes, 16) == 0; }

int main(void) {
  pbx_error err;
  char* dir = MakeTempDir();
  char server_dir[128], alice_dir[128];
  snprintf(server_dir, sizeof(server_dir), "%s/server", dir);
  snprintf(alice_dir, sizeof(alice_dir), "%s/alice", dir);
  pbx_db* db = OpenTestDb(server_dir);
  pbx_credentials alice, bob, carol;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &carol, NULL));
  REQUIRE_OK(pbx_db_put_entry(db, &alice.mkey, "server/kept", "s", 1, 0, NULL, NULL));
  REQUIRE_OK(pbx_db_connect(db, &bob.mkey, &carol.mkey, NULL));

  /* Offline: start = 0, so every write stays pending. */
  Seen seen;
  memset(&seen, 0, sizeof(seen));
  pthread_mutex_init(&seen.mu, NULL);
  pbx_replica_options ro;
  pbx_replica_options_init(&ro);
  ro.folder = alice_dir;
  ro.client.mkey = alice.mkey;
  ro.client.secret = alice.secret;
  ro.durability = PBX_RELAXED;
  ro.retry_initial_ms = 20;
  ro.retry_max_ms = 200;
  ro.start = 0;
  ro.on_outbox = OnOutbox;
  ro.callback_context = &seen;
  pbx_replica* a = NULL;
  REQUIRE_OK(pbx_replica_open(&ro, &a, NULL));

  pbx_replica_state st;
  CHECK_ERR(PBX_OK, pbx_replica_get_state(a, &st, &err), err);
  CHECK(st.connected == 0 && st.pending == 0 && st.sessions == 0 && st.last_error_code == 0);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_get_state(a, NULL, &err), err);

  uint64_t put_a = 0, put_b = 0, del_b = 0, add_bob = 0, add_carol = 0, push = 0, cancel_me = 0;
  REQUIRE_OK(pbx_replica_put_entry(a, "e/a", "1", 1, 0, &put_a, NULL));
  REQUIRE_OK(pbx_replica_put_entry(a, "e/b", "2", 1, 0, &put_b, NULL));
  REQUIRE_OK(pbx_replica_put_entry(a, "e/c", "3", 1, 0, NULL, NULL));
  CHECK_ERR(PBX_OK, pbx_replica_delete_entry(a, "e/b", 0, &del_b, &err), err);
  CHECK(del_b > put_b && put_b > put_a);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_delete_entry(a, NULL, 0, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_add_connection(a, &bob.mkey, &add_bob, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_add_connection(a, &carol.mkey, &add_carol, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_add_connection(a, &alice.mkey, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_add_connection(a, NULL, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_register_push(a, PBX_PLATFORM_IOS, "apns-token", &push, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_register_push(a, 42, "t", NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_replica_register_push(a, PBX_PLATFORM_IOS, NULL, NULL, &err), err);
  REQUIRE_OK(pbx_replica_put_entry(a, "e/cancelled", "x", 1, 0, &cancel_me, NULL));

  /* What the app sees at once: e/a, e/c, e/cancelled, and the server's
   * e/... nothing yet (never synced). */
  pbx_entry_list* el = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_list_entries(a, "e/", NULL, 0, &el, &err), err);
  CHECK(el != NULL && el->count == 3 && el->more == 0);
  if (el != NULL && el->count == 3) {
    CHECK(strcmp(el->items[0].key, "e/a") == 0 && strcmp(el->items[1].key, "e/c") == 0 &&
          strcmp(el->items[2].key, "e/cancelled") == 0);
  }
  pbx_entry_list_free(el);
  REQUIRE_OK(pbx_replica_list_entries(a, "e/", "e/a", 1, &el, NULL));
  CHECK(el->count == 1 && el->more == 1 && strcmp(el->items[0].key, "e/c") == 0);
  pbx_entry_list_free(el);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_list_entries(a, NULL, NULL, 0, NULL, &err), err);

  pbx_connection_list* cl = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_connections(a, &cl, &err), err);
  CHECK(cl != NULL && cl->count == 2 && cl->more == 0);
  if (cl != NULL) {
    for (size_t i = 0; i < cl->count; ++i) CHECK(cl->items[i].state == PBX_CONNECTION_REQUESTED);
  }
  pbx_connection_list_free(cl);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_connections(a, NULL, &err), err);

  /* The outbox lists each write in order with what it carries. */
  pbx_outbox_list* ol = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_pending(a, &ol, &err), err);
  CHECK(ol != NULL && ol->count == 8);
  if (ol != NULL && ol->count == 8) {
    for (size_t i = 1; i < ol->count; ++i) CHECK(ol->items[i].item > ol->items[i - 1].item);
    CHECK(ol->items[0].item == put_a && ol->items[0].kind == PBX_OUTBOX_PUT_ENTRY &&
          strcmp(ol->items[0].key, "e/a") == 0 && ol->items[0].version == 1);
    CHECK(ol->items[3].item == del_b && ol->items[3].kind == PBX_OUTBOX_DELETE_ENTRY &&
          ol->items[3].version == 2);
    CHECK(ol->items[4].item == add_bob && ol->items[4].kind == PBX_OUTBOX_ADD_CONNECTION &&
          IdEq(&ol->items[4].peer, &bob.mkey));
    CHECK(ol->items[6].item == push && ol->items[6].kind == PBX_OUTBOX_REGISTER_PUSH &&
          ol->items[6].platform == PBX_PLATFORM_IOS);
    CHECK(ol->items[0].created_ms > 0 && ol->items[0].attempts == 0);
  }
  pbx_outbox_list_free(ol);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_pending(a, NULL, &err), err);

  /* Cancel rolls the write back and reports it; a second cancel: NotFound. */
  CHECK_ERR(PBX_OK, pbx_replica_cancel(a, cancel_me, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_cancel(a, cancel_me, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_cancel(NULL, cancel_me, &err), err);
  pbx_entry* e = NULL;
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_get_entry(a, "e/cancelled", &e, &err), err);
  REQUIRE_OK(pbx_replica_get_state(a, &st, NULL));
  CHECK(st.pending == 7);
  /* The cancel is reported on the replica's thread (close would drop a
   * callback not yet run: wait for it). */
  int reported = 0;
  for (int i = 0; i < 1000 && !reported; ++i) {
    pthread_mutex_lock(&seen.mu);
    reported = seen.cancelled;
    pthread_mutex_unlock(&seen.mu);
    if (!reported) SleepMs(10);
  }
  pthread_mutex_lock(&seen.mu);
  CHECK(seen.cancelled == 1 && seen.cancelled_item == cancel_me &&
        strcmp(seen.cancelled_key, "e/cancelled") == 0);
  pthread_mutex_unlock(&seen.mu);
  pbx_replica_close(a);

  /* Online: the outbox drains against a server; the mirror catches up. */
  pbx_server_options so;
  pbx_server_options_init(&so);
  so.port = 0;
  pbx_server* server = NULL;
  REQUIRE_OK(pbx_server_start(db, &so, &server, NULL));
  REQUIRE_OK(pbx_server_port(server, &ro.client.port, NULL));
  REQUIRE_OK(pbx_replica_open(&ro, &a, NULL)); /* start = 0 still: no network */
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_replica_sync(a, 200, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_start(a, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_start(a, &err), err); /* idempotent */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_start(NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_sync(a, 20000, &err), err);
  REQUIRE_OK(pbx_replica_get_state(a, &st, NULL));
  CHECK(st.pending == 0 && st.connected == 1 && st.sessions >= 1 && st.cursor != 0 &&
        st.packets_applied >= 1);
  pthread_mutex_lock(&seen.mu);
  CHECK(seen.ok == 7 && seen.failed == 0);
  pthread_mutex_unlock(&seen.mu);
  REQUIRE_OK(pbx_replica_list_entries(a, NULL, NULL, 0, &el, NULL));
  CHECK(el->count == 3); /* e/a, e/c and the server's server/kept */
  pbx_entry_list_free(el);
  /* The server holds the writes: the delete, the requests, the token. */
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_get_entry(db, &alice.mkey, "e/b", &e, &err), err);
  REQUIRE_OK(pbx_db_get_entry(db, &alice.mkey, "e/c", &e, NULL));
  pbx_entry_free(e);
  REQUIRE_OK(pbx_db_list_connections(db, &bob.mkey, PBX_CONNECTIONS_INCOMING, NULL, 0, &cl, NULL));
  CHECK(cl->count == 1 && IdEq(&cl->items[0].peer, &alice.mkey));
  pbx_connection_list_free(cl);

  /* Removing a connection request is an outbox write too. */
  uint64_t removed = 0;
  CHECK_ERR(PBX_OK, pbx_replica_remove_connection(a, &carol.mkey, &removed, &err), err);
  CHECK(removed > cancel_me);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_remove_connection(a, NULL, NULL, &err), err);
  REQUIRE_OK(pbx_replica_sync(a, 20000, NULL));
  REQUIRE_OK(pbx_replica_connections(a, &cl, NULL));
  CHECK(cl->count == 1 && IdEq(&cl->items[0].peer, &bob.mkey));
  pbx_connection_list_free(cl);
  REQUIRE_OK(
      pbx_db_list_connections(db, &carol.mkey, PBX_CONNECTIONS_INCOMING, NULL, 0, &cl, NULL));
  CHECK(cl->count == 0);
  pbx_connection_list_free(cl);

  pbx_replica_close(a);
  pbx_server_stop(server);
  REQUIRE_OK(pbx_db_close(db, NULL));
  pthread_mutex_destroy(&seen.mu);
  RemoveDir(dir);
  return Finish("replica_outbox_test");
}
