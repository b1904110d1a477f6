/* The C API's feed (pbx_info: pbx_db_changes, pbx_client_poll, ack and
 * on_push), connections, mailbox deletion, entry deletion and listing, push
 * registration and ping: the store directly and a client through an embedded
 * server on 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L /* pthread, nanosleep, mkdtemp: before any header */

#include <pthread.h>
#include <time.h>

#include "test_util.h"

static void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* What on_push saw, copied out of the borrowed packet on the client's thread. */
typedef struct Pushed {
  pthread_mutex_t mu;
  int packets;
  int incoming; /* messages to the mailbox seen in pushes */
  int entries;
  uint64_t last_cursor;
  char last_key[64];
} Pushed;

static void OnPush(void* ctx, const pbx_info* info) {
  Pushed* p = ctx;
  pthread_mutex_lock(&p->mu);
  ++p->packets;
  p->incoming += (int)info->incoming_count;
  p->entries += (int)info->entries_count;
  p->last_cursor = info->cursor;
  if (info->entries_count > 0) {
    snprintf(p->last_key, sizeof(p->last_key), "%s", info->entries[info->entries_count - 1].key);
  }
  pthread_mutex_unlock(&p->mu);
}

static int PushedIncoming(Pushed* p) {
  pthread_mutex_lock(&p->mu);
  int n = p->incoming;
  pthread_mutex_unlock(&p->mu);
  return n;
}

static int IdEq(const pbx_id* a, const pbx_id* b) { return memcmp(a->bytes, b->bytes, 16) == 0; }

static void TestStore(void) {
  pbx_error err;
  char* dir = MakeTempDir();
  pbx_db* db = OpenTestDb(dir);
  pbx_credentials alice, bob, carol;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &carol, NULL));
  pbx_id unknown;
  pbx_id_random(&unknown, NULL);

  /* Connections: an operator's connect, then listed from both sides. */
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &bob.mkey, NULL));
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &carol.mkey, NULL));
  pbx_connection_list* cl = NULL;
  CHECK_ERR(PBX_OK,
            pbx_db_list_connections(db, &alice.mkey, PBX_CONNECTIONS_CONNECTED, NULL, 0, &cl, &err),
            err);
  CHECK(cl != NULL && cl->count == 2 && cl->more == 0);
  if (cl != NULL && cl->count == 2) {
    CHECK(cl->items[0].state == PBX_CONNECTION_CONNECTED);
    CHECK((IdEq(&cl->items[0].peer, &bob.mkey) && IdEq(&cl->items[1].peer, &carol.mkey)) ||
          (IdEq(&cl->items[0].peer, &carol.mkey) && IdEq(&cl->items[1].peer, &bob.mkey)));
    /* Pages: one at a time, continuing after the last peer. */
    pbx_connection_list* page = NULL;
    CHECK_ERR(
        PBX_OK,
        pbx_db_list_connections(db, &alice.mkey, PBX_CONNECTIONS_CONNECTED, NULL, 1, &page, &err),
        err);
    CHECK(page != NULL && page->count == 1 && page->more == 1);
    pbx_connection_list* rest = NULL;
    if (page != NULL && page->count == 1) {
      CHECK_ERR(PBX_OK,
                pbx_db_list_connections(db, &alice.mkey, PBX_CONNECTIONS_CONNECTED,
                                        &page->items[0].peer, 5, &rest, &err),
                err);
      CHECK(rest != NULL && rest->count == 1 && rest->more == 0 &&
            IdEq(&rest->items[0].peer, &cl->items[1].peer));
    }
    pbx_connection_list_free(page);
    pbx_connection_list_free(rest);
  }
  pbx_connection_list_free(cl);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_list_connections(db, &alice.mkey, 7, NULL, 0, &cl, &err),
            err);
  CHECK(cl == NULL);
  CHECK_ERR(PBX_E_NOT_FOUND,
            pbx_db_list_connections(db, &unknown, PBX_CONNECTIONS_CONNECTED, NULL, 0, &cl, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_db_list_connections(db, NULL, PBX_CONNECTIONS_CONNECTED, NULL, 0, &cl, &err), err);

  /* Disconnect: carol is gone from alice's list and may no longer receive. */
  CHECK_ERR(PBX_OK, pbx_db_disconnect(db, &alice.mkey, &carol.mkey, &err), err);
  CHECK_ERR(PBX_OK, pbx_db_disconnect(db, &alice.mkey, &carol.mkey, &err), err); /* idempotent */
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_disconnect(db, &unknown, &carol.mkey, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_disconnect(db, &alice.mkey, NULL, &err), err);
  REQUIRE_OK(
      pbx_db_list_connections(db, &carol.mkey, PBX_CONNECTIONS_CONNECTED, NULL, 0, &cl, NULL));
  CHECK(cl->count == 0);
  pbx_connection_list_free(cl);
  CHECK_ERR(
      PBX_E_PERMISSION_DENIED,
      pbx_db_post_message(db, &alice.mkey, &carol.mkey, NULL, "t", NULL, 0, "x", 1, NULL, &err),
      err);

  /* The feed: a message, an entry, and a deleted entry as a tombstone. */
  pbx_message* m = NULL;
  REQUIRE_OK(pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, "photo", "meta", 4, "blob", 4,
                                 &m, NULL));
  REQUIRE_OK(pbx_db_put_entry(db, &bob.mkey, "a", "1", 1, 0, NULL, NULL));
  REQUIRE_OK(pbx_db_put_entry(db, &bob.mkey, "b", "2", 1, 0, NULL, NULL));
  pbx_put_result put;
  CHECK_ERR(PBX_OK, pbx_db_delete_entry(db, &bob.mkey, "b", 0, &put, &err), err);
  CHECK(put.applied == 1 && put.version == 2);
  pbx_info* info = NULL;
  CHECK_ERR(PBX_OK, pbx_db_changes(db, &bob.mkey, 0, 0, &info, &err), err);
  CHECK(info != NULL && info->cursor != 0 && info->more == 0);
  if (info != NULL) {
    CHECK(info->incoming_count == 1 && info->outgoing_count == 0);
    if (info->incoming_count == 1) {
      CHECK(IdEq(&info->incoming[0].id, &m->id));
      CHECK(strcmp(info->incoming[0].topic, "photo") == 0);
      CHECK(info->incoming[0].meta_len == 4 && memcmp(info->incoming[0].meta, "meta", 4) == 0);
    }
    CHECK(info->entries_count == 1 && strcmp(info->entries[0].key, "a") == 0);
    CHECK(info->tombstones_count == 1);
    if (info->tombstones_count == 1) {
      CHECK(info->tombstones[0].kind == PBX_TOMBSTONE_ENTRY);
      CHECK(strcmp(info->tombstones[0].key, "b") == 0 && info->tombstones[0].version == 2);
    }
    /* Nothing new after the cursor; then one status rise is all that follows. */
    uint64_t cursor = info->cursor;
    pbx_info_free(info);
    REQUIRE_OK(pbx_db_changes(db, &bob.mkey, cursor, 0, &info, NULL));
    CHECK(info->incoming_count + info->entries_count + info->tombstones_count == 0);
    CHECK(info->since == cursor);
    pbx_info_free(info);
    REQUIRE_OK(pbx_db_advance_status(db, &bob.mkey, &m->id, PBX_STATUS_VIEWED, NULL, NULL));
    REQUIRE_OK(pbx_db_changes(db, &alice.mkey, 0, 0, &info, NULL));
    CHECK(info->outgoing_count == 1 && info->outgoing[0].status == PBX_STATUS_VIEWED);
    pbx_info_free(info);
    /* A limit cuts the packet short. */
    REQUIRE_OK(pbx_db_changes(db, &bob.mkey, 0, 1, &info, NULL));
    CHECK(info->more == 1);
    pbx_info_free(info);
  }
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_changes(db, &bob.mkey, 0, 0, NULL, &err), err);

  /* A superseded message is a message tombstone in the recipient's feed. */
  REQUIRE_OK(pbx_db_changes(db, &bob.mkey, 0, 0, &info, NULL));
  uint64_t before = info->cursor;
  pbx_info_free(info);
  REQUIRE_OK(pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, "photo", NULL, 0, "new", 3, NULL,
                                 NULL));
  REQUIRE_OK(pbx_db_changes(db, &bob.mkey, before, 0, &info, NULL));
  CHECK(info->incoming_count == 1 && info->tombstones_count == 1);
  if (info->tombstones_count == 1) {
    CHECK(info->tombstones[0].kind == PBX_TOMBSTONE_MESSAGE);
    CHECK(IdEq(&info->tombstones[0].id, &m->id) && info->tombstones[0].key[0] == '\0');
  }
  pbx_info_free(info);
  pbx_message_free(m);

  /* Deleting a mailbox: it no longer authenticates, its feed is NotFound. */
  CHECK_ERR(PBX_OK, pbx_db_delete_mailbox(db, &carol.mkey, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_delete_mailbox(db, &carol.mkey, &err), err);
  CHECK_ERR(PBX_E_UNAUTHENTICATED, pbx_db_authenticate(db, &carol.mkey, carol.secret, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_changes(db, &carol.mkey, 0, 0, &info, &err), err);
  CHECK(info == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_delete_mailbox(NULL, &carol.mkey, &err), err);

  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
}

static void TestClient(void) {
  pbx_error err;
  char* dir = MakeTempDir();
  pbx_db* db = OpenTestDb(dir);
  pbx_credentials alice, bob, carol;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &carol, NULL));
  uint16_t port = 0;
  pbx_server* server = StartTestServer(db, &port);

  pbx_client_options co;
  pbx_client_options_init(&co);
  CHECK(co.on_push == NULL && co.start_cursor == 0);
  co.port = port;
  co.mkey = alice.mkey;
  co.secret = alice.secret;
  pbx_client* a = NULL;
  REQUIRE_OK(pbx_client_create(&co, &a, NULL));
  REQUIRE_OK(pbx_client_connect(a, NULL, NULL));
  /* Bob's client hears pushes. */
  Pushed pushed;
  memset(&pushed, 0, sizeof(pushed));
  pthread_mutex_init(&pushed.mu, NULL);
  pbx_client_options bco = co;
  bco.mkey = bob.mkey;
  bco.secret = bob.secret;
  bco.on_push = OnPush;
  bco.push_context = &pushed;
  pbx_client* b = NULL;
  REQUIRE_OK(pbx_client_create(&bco, &b, NULL));
  REQUIRE_OK(pbx_client_connect(b, NULL, NULL));

  CHECK_ERR(PBX_OK, pbx_client_ping(a, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_ping(NULL, &err), err);

  /* Connections both must agree to. */
  int state = -1;
  CHECK_ERR(PBX_OK, pbx_client_add_connection(a, &bob.mkey, &state, &err), err);
  CHECK(state == PBX_CONNECTION_REQUESTED);
  pbx_connection_list* cl = NULL;
  CHECK_ERR(PBX_OK, pbx_client_list_connections(b, PBX_CONNECTIONS_INCOMING, NULL, 0, &cl, &err),
            err);
  CHECK(cl != NULL && cl->count == 1 && IdEq(&cl->items[0].peer, &alice.mkey));
  pbx_connection_list_free(cl);
  REQUIRE_OK(pbx_client_list_connections(a, PBX_CONNECTIONS_REQUESTED, NULL, 0, &cl, NULL));
  CHECK(cl->count == 1 && cl->items[0].state == PBX_CONNECTION_REQUESTED);
  pbx_connection_list_free(cl);
  CHECK_ERR(PBX_OK, pbx_client_add_connection(b, &alice.mkey, &state, &err), err);
  CHECK(state == PBX_CONNECTION_CONNECTED);
  REQUIRE_OK(pbx_client_list_connections(a, PBX_CONNECTIONS_CONNECTED, NULL, 0, &cl, NULL));
  CHECK(cl->count == 1 && cl->items[0].state == PBX_CONNECTION_CONNECTED &&
        IdEq(&cl->items[0].peer, &bob.mkey));
  pbx_connection_list_free(cl);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_add_connection(a, &alice.mkey, &state, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_list_connections(a, -1, NULL, 0, &cl, &err), err);
  /* Carol: asked, then withdrawn. */
  REQUIRE_OK(pbx_client_add_connection(a, &carol.mkey, NULL, NULL));
  CHECK_ERR(PBX_OK, pbx_client_remove_connection(a, &carol.mkey, &err), err);
  REQUIRE_OK(pbx_client_list_connections(a, PBX_CONNECTIONS_REQUESTED, NULL, 0, &cl, NULL));
  CHECK(cl->count == 0);
  pbx_connection_list_free(cl);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_remove_connection(a, NULL, &err), err);

  /* Entries: list in pages, delete. */
  char key[16];
  for (int i = 0; i < 5; ++i) {
    snprintf(key, sizeof(key), "list/%d", i);
    REQUIRE_OK(pbx_client_put_entry(a, key, "v", 1, 0, NULL, NULL));
  }
  REQUIRE_OK(pbx_client_put_entry(a, "other", "v", 1, 0, NULL, NULL));
  pbx_entry_list* el = NULL;
  CHECK_ERR(PBX_OK, pbx_client_list_entries(a, "list/", NULL, 2, &el, &err), err);
  CHECK(el != NULL && el->count == 2 && el->more == 1 && strcmp(el->items[0].key, "list/0") == 0);
  int total = el != NULL ? (int)el->count : 0;
  while (el != NULL && el->more) {
    snprintf(key, sizeof(key), "%s", el->items[el->count - 1].key);
    pbx_entry_list_free(el);
    el = NULL;
    REQUIRE_OK(pbx_client_list_entries(a, "list/", key, 2, &el, NULL));
    total += (int)el->count;
  }
  pbx_entry_list_free(el);
  CHECK(total == 5);
  pbx_put_result put;
  CHECK_ERR(PBX_OK, pbx_client_delete_entry(a, "list/3", 0, &put, &err), err);
  CHECK(put.applied == 1 && put.version == 2);
  CHECK_ERR(PBX_OK, pbx_client_delete_entry(a, "list/3", 1, &put, &err), err);
  CHECK(put.applied == 0 && put.version == 2);
  pbx_entry* e = NULL;
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_client_get_entry(a, "list/3", &e, &err), err);
  REQUIRE_OK(pbx_client_list_entries(a, NULL, NULL, 0, &el, NULL));
  CHECK(el->count == 5 && el->more == 0); /* list/0..4 without 3, and other */
  pbx_entry_list_free(el);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_delete_entry(a, NULL, 0, &put, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_list_entries(a, NULL, NULL, 0, NULL, &err), err);

  /* Push registration. */
  CHECK_ERR(PBX_OK, pbx_client_register_push(a, PBX_PLATFORM_ANDROID, "token-1", &err), err);
  CHECK_ERR(PBX_OK, pbx_client_register_push(a, PBX_PLATFORM_NONE, "", &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_push(a, 9, "t", &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_push(a, PBX_PLATFORM_IOS, NULL, &err), err);

  /* The feed: alice's upload reaches bob as a push and as a poll. */
  pbx_id id;
  pbx_id_random(&id, NULL);
  REQUIRE_OK(pbx_client_upload(a, &bob.mkey, &id, "photo", NULL, 0, "hello", 5, NULL));
  for (int i = 0; i < 500 && PushedIncoming(&pushed) < 1; ++i) SleepMs(10);
  CHECK(PushedIncoming(&pushed) >= 1);
  pbx_info* info = NULL;
  CHECK_ERR(PBX_OK, pbx_client_poll(b, 0, 0, &info, &err), err);
  CHECK(info != NULL && info->incoming_count == 1 && IdEq(&info->incoming[0].id, &id));
  uint64_t cursor = info != NULL ? info->cursor : 0;
  pbx_info_free(info);
  CHECK_ERR(PBX_OK, pbx_client_ack(b, cursor, &err), err);
  REQUIRE_OK(pbx_client_poll(b, cursor, 0, &info, NULL));
  CHECK(info->incoming_count == 0 && info->since == cursor);
  pbx_info_free(info);
  /* An entry bob puts through another session is pushed to his client too
   * (the server pushes what it commits; a write straight into its store is
   * seen at the next poll). */
  {
    pbx_client_options b2o = bco;
    b2o.on_push = NULL;
    pbx_client* b2 = NULL;
    REQUIRE_OK(pbx_client_create(&b2o, &b2, NULL));
    REQUIRE_OK(pbx_client_connect(b2, NULL, NULL));
    REQUIRE_OK(pbx_client_put_entry(b2, "pushed/key", "v", 1, 0, NULL, NULL));
    pbx_client_close(b2);
  }
  for (int i = 0; i < 500; ++i) {
    pthread_mutex_lock(&pushed.mu);
    int done = strcmp(pushed.last_key, "pushed/key") == 0;
    pthread_mutex_unlock(&pushed.mu);
    if (done) break;
    SleepMs(10);
  }
  pthread_mutex_lock(&pushed.mu);
  CHECK(strcmp(pushed.last_key, "pushed/key") == 0);
  pthread_mutex_unlock(&pushed.mu);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_poll(b, 0, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_ack(NULL, 0, &err), err);

  pbx_client_close(a);
  pbx_client_close(b);
  pthread_mutex_destroy(&pushed.mu);
  pbx_server_stop(server);
  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
}

/* Counts the pushes of one message id (manual_ack: nothing acked). */
typedef struct Deliveries {
  pthread_mutex_t mu;
  pbx_id id;
  int times;
} Deliveries;

static void CountDeliveries(void* ctx, const pbx_info* info) {
  Deliveries* d = ctx;
  pthread_mutex_lock(&d->mu);
  for (size_t i = 0; i < info->incoming_count; ++i) {
    if (IdEq(&info->incoming[i].id, &d->id)) ++d->times;
  }
  pthread_mutex_unlock(&d->mu);
}

/* Waits up to max_ms for at_least deliveries; returns how many there were. */
static int WaitTimes(Deliveries* d, int at_least, int max_ms) {
  int times = 0;
  for (int i = 0; i < max_ms / 10; ++i) {
    pthread_mutex_lock(&d->mu);
    times = d->times;
    pthread_mutex_unlock(&d->mu);
    if (times >= at_least) break;
    SleepMs(10);
  }
  return times;
}

/* manual_ack: a packet not acknowledged is delivered again after the session
 * is lost (at least once); auto ack (the default) does not repeat it. */
static void TestManualAck(void) {
  char* dir = MakeTempDir();
  pbx_db* db = NULL;
  REQUIRE_OK(pbx_db_open(dir, NULL, &db, NULL));
  pbx_credentials alice, bob;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &bob.mkey, NULL));
  pbx_server_options so;
  pbx_server_options_init(&so);
  so.port = 0;
  pbx_server* server = NULL;
  REQUIRE_OK(pbx_server_start(db, &so, &server, NULL));
  REQUIRE_OK(pbx_server_port(server, &so.port, NULL));

  Deliveries manual, automatic;
  memset(&manual, 0, sizeof(manual));
  memset(&automatic, 0, sizeof(automatic));
  pthread_mutex_init(&manual.mu, NULL);
  pthread_mutex_init(&automatic.mu, NULL);
  pbx_id_random(&manual.id, NULL);
  automatic.id = manual.id;
  pbx_client_options co;
  pbx_client_options_init(&co);
  CHECK(co.manual_ack == 0);
  co.port = so.port;
  co.mkey = bob.mkey;
  co.secret = bob.secret;
  co.on_push = CountDeliveries;
  co.push_context = &manual;
  co.manual_ack = 1;
  pbx_client *m = NULL, *au = NULL, *a = NULL;
  REQUIRE_OK(pbx_client_create(&co, &m, NULL));
  REQUIRE_OK(pbx_client_connect(m, NULL, NULL));
  co.push_context = &automatic;
  co.manual_ack = 0;
  REQUIRE_OK(pbx_client_create(&co, &au, NULL));
  REQUIRE_OK(pbx_client_connect(au, NULL, NULL));
  co.on_push = NULL;
  co.mkey = alice.mkey;
  co.secret = alice.secret;
  REQUIRE_OK(pbx_client_create(&co, &a, NULL));
  REQUIRE_OK(pbx_client_connect(a, NULL, NULL));
  REQUIRE_OK(pbx_client_upload(a, &bob.mkey, &manual.id, "t", NULL, 0, "x", 1, NULL));
  CHECK(WaitTimes(&manual, 1, 10000) == 1 && WaitTimes(&automatic, 1, 10000) == 1);

  /* The server goes and comes back on the same port: both clients reconnect
   * and resume from the cursor they acknowledged. */
  pbx_client_close(a);
  pbx_server_stop(server);
  REQUIRE_OK(pbx_server_start(db, &so, &server, NULL));
  CHECK(WaitTimes(&manual, 2, 10000) == 2);
  pbx_error err;
  CHECK_ERR(PBX_OK, pbx_client_ping(au, &err), err); /* reconnected and resumed */
  CHECK(WaitTimes(&automatic, 2, 1000) == 1);        /* no repeat within a second */

  pbx_client_close(m);
  pbx_client_close(au);
  pbx_server_stop(server);
  pthread_mutex_destroy(&manual.mu);
  pthread_mutex_destroy(&automatic.mu);
  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
}

int main(void) {
  TestStore();
  TestClient();
  TestManualAck();
  return Finish("feed_connections_test");
}
