/* The C API's replica: two apps' replicas against an embedded server, one
 * running callbacks on the replica's own thread, one on a host executor. */
#define _POSIX_C_SOURCE 200809L /* pthread, nanosleep, mkdtemp: before any header */

#include <pthread.h>
#include <time.h>

#include "test_util.h"

/* Counters the callbacks of the replica's own thread fill; pbx_replica_sync
 * returns after those callbacks ran, so the main thread reads them then. */
typedef struct Seen {
  int changes;
  int outbox_ok;
  int outbox_failed;
  int errors;
  int last_kind;
} Seen;

static void OnChange(void* ctx, const pbx_change* c) {
  Seen* s = ctx;
  CHECK(c != NULL);
  ++s->changes;
}
static void OnOutbox(void* ctx, const pbx_outbox_outcome* o) {
  Seen* s = ctx;
  if (o->code == PBX_OK) {
    ++s->outbox_ok;
  } else {
    ++s->outbox_failed;
  }
  s->last_kind = o->kind;
}
static void OnError(void* ctx, const pbx_error* e) {
  Seen* s = ctx;
  CHECK(e->code != PBX_OK);
  ++s->errors;
}

/* A host executor: a queue the main thread drains with pbx_task_run. */
#define kQueueMax 4096
typedef struct Queue {
  pthread_mutex_t mu;
  pbx_task* tasks[kQueueMax];
  size_t head, tail;
} Queue;

static void Enqueue(void* ctx, pbx_task* task) {
  Queue* q = ctx;
  pthread_mutex_lock(&q->mu);
  if (q->tail - q->head < kQueueMax) {
    q->tasks[q->tail++ % kQueueMax] = task;
    task = NULL;
  }
  pthread_mutex_unlock(&q->mu);
  CHECK(task == NULL);
}

static int Drain(Queue* q) {
  int ran = 0;
  for (;;) {
    pbx_task* t = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->head != q->tail) t = q->tasks[q->head++ % kQueueMax];
    pthread_mutex_unlock(&q->mu);
    if (t == NULL) return ran;
    pbx_task_run(t);
    ++ran;
  }
}

static void SleepMs(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(void) {
  pbx_error err;
  char* dir = MakeTempDir();
  char server_dir[128], alice_dir[128], bob_dir[128];
  snprintf(server_dir, sizeof(server_dir), "%s/server", dir);
  snprintf(alice_dir, sizeof(alice_dir), "%s/alice", dir);
  snprintf(bob_dir, sizeof(bob_dir), "%s/bob", dir);

  pbx_db* db = OpenTestDb(server_dir);
  pbx_credentials alice, bob;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &bob.mkey, NULL));
  uint16_t port = 0;
  pbx_server* server = StartTestServer(db, &port);

  /* Options and their errors. */
  Seen seen_a;
  memset(&seen_a, 0, sizeof(seen_a));
  pbx_replica_options ra;
  pbx_replica_options_init(&ra);
  CHECK(ra.start == 1 && ra.durability == PBX_DURABLE && ra.poll_interval_ms == 30000);
  pbx_replica* a = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_open(NULL, &a, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_open(&ra, &a, &err), err); /* no folder */
  ra.folder = alice_dir;
  ra.client.port = port;
  ra.client.mkey = alice.mkey;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_open(&ra, &a, &err), err); /* no secret */
  ra.client.secret = alice.secret;
  ra.durability = 5;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_open(&ra, &a, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_open(&ra, NULL, &err), err);
  CHECK(a == NULL);
  ra.durability = PBX_RELAXED;
  ra.retry_initial_ms = 20;
  ra.retry_max_ms = 200;
  ra.on_change = OnChange;
  ra.on_outbox = OnOutbox;
  ra.on_error = OnError;
  ra.callback_context = &seen_a;
  CHECK_ERR(PBX_OK, pbx_replica_open(&ra, &a, &err), err);

  /* Writes go to the outbox; the server acknowledges them. */
  uint64_t item = 0, pending = 99;
  CHECK_ERR(PBX_OK, pbx_replica_put_entry(a, "profile/name", "Alice", 5, 0, &item, &err), err);
  CHECK(item != 0);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_put_entry(a, NULL, "x", 1, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_put_entry(a, "k", NULL, 1, 0, NULL, &err), err);
  {
    static char big[70000];
    CHECK_ERR(PBX_E_TOO_LARGE, pbx_replica_put_entry(a, "k", big, sizeof(big), 0, NULL, &err), err);
  }
  pbx_entry* e = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_get_entry(a, "profile/name", &e, &err),
            err); /* at once, optimistic */
  CHECK(e != NULL && e->value_len == 5 && memcmp(e->value, "Alice", 5) == 0);
  pbx_entry_free(e);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_get_entry(a, "absent", &e, &err), err);
  CHECK(e == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_get_entry(a, "k", NULL, &err), err);

  pbx_id sent_id;
  CHECK_ERR(PBX_OK,
            pbx_replica_post(a, &bob.mkey, "the video", 9, "video", "m", 1, NULL, &sent_id, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_replica_post(a, &bob.mkey, "x", 1, NULL, NULL, 0, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_replica_post(a, NULL, "x", 1, "t", NULL, 0, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_replica_post(a, &bob.mkey, NULL, 3, "t", NULL, 0, NULL, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_pending_count(a, &pending, &err), err);
  CHECK(pending <= 2);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_pending_count(a, NULL, &err), err);

  CHECK_ERR(PBX_OK, pbx_replica_sync(a, 20000, &err), err);
  REQUIRE_OK(pbx_replica_pending_count(a, &pending, NULL));
  CHECK(pending == 0);
  CHECK(seen_a.outbox_ok == 2 && seen_a.outbox_failed == 0 && seen_a.changes >= 1);
  CHECK(seen_a.last_kind == PBX_OUTBOX_POST || seen_a.last_kind == PBX_OUTBOX_PUT_ENTRY);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_sync(NULL, 10, &err), err);

  pbx_message_list* list = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_sent(a, NULL, 0, &list, &err), err);
  CHECK(list->count == 1 && memcmp(&list->items[0].id, &sent_id, sizeof(pbx_id)) == 0);
  CHECK(list->items[0].incoming == 0 && list->items[0].pending == 0);
  CHECK(list->items[0].synced_status == PBX_STATUS_UPLOADED);
  pbx_message_list_free(list);
  CHECK_ERR(PBX_OK, pbx_replica_inbox(a, NULL, 0, &list, &err), err);
  CHECK(list->count == 0);
  pbx_message_list_free(list);
  pbx_message_list_free(NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_inbox(a, NULL, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_sent(NULL, NULL, 0, &list, &err), err);
  /* Only the recipient raises a status. */
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_replica_update_status(a, &sent_id, PBX_STATUS_VIEWED, NULL, &err), err);

  /* Bob, with callbacks on a host executor. */
  Seen seen_b;
  memset(&seen_b, 0, sizeof(seen_b));
  static Queue q;
  pthread_mutex_init(&q.mu, NULL);
  pbx_replica_options rb = ra;
  rb.folder = bob_dir;
  rb.client.mkey = bob.mkey;
  rb.client.secret = bob.secret;
  rb.callback_context = &seen_b;
  rb.executor = Enqueue;
  rb.executor_context = &q;
  pbx_replica* b = NULL;
  REQUIRE_OK(pbx_replica_open(&rb, &b, NULL));
  CHECK_ERR(PBX_OK, pbx_replica_sync(b, 20000, &err), err);
  CHECK(Drain(&q) >= 1 && seen_b.changes >= 1);
  CHECK_ERR(PBX_OK, pbx_replica_inbox(b, NULL, 10, &list, &err), err);
  CHECK(list->count == 1 && list->items[0].incoming == 1 && list->items[0].length == 9);
  CHECK(strcmp(list->items[0].topic, "video") == 0);
  pbx_message_list_free(list);
  CHECK_ERR(PBX_OK, pbx_replica_inbox(b, &sent_id, 10, &list, &err), err); /* after the last */
  CHECK(list->count == 0);
  pbx_message_list_free(list);

  pbx_message* m = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_get_message(b, &sent_id, &m, &err), err);
  CHECK(m->incoming == 1 && m->status == PBX_STATUS_UPLOADED);
  pbx_message_free(m);
  pbx_id unknown;
  pbx_id_random(&unknown, NULL);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_get_message(b, &unknown, &m, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_get_message(b, NULL, &m, &err), err);

  /* The blob: not requested yet, then downloaded in the background. */
  uint8_t* blob = NULL;
  size_t blob_len = 0;
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_read_blob(b, &sent_id, &blob, &blob_len, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_request_blob(b, &unknown, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_request_blob(b, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_request_blob(b, &sent_id, &err), err);
  int rc = PBX_E_UNAVAILABLE;
  for (int i = 0; i < 400 && rc == PBX_E_UNAVAILABLE; ++i) {
    rc = pbx_replica_read_blob(b, &sent_id, &blob, &blob_len, &err);
    if (rc == PBX_E_UNAVAILABLE) SleepMs(25);
  }
  CHECK(rc == PBX_OK && blob_len == 9 && memcmp(blob, "the video", 9) == 0);
  pbx_free(blob);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_read_blob(b, &sent_id, NULL, &blob_len, &err), err);

  /* Bob views it; Alice sees VIEWED. */
  CHECK_ERR(PBX_OK, pbx_replica_update_status(b, &sent_id, PBX_STATUS_VIEWED, &item, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_update_status(b, &sent_id, 0, &item, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_update_status(b, &unknown, 2, &item, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_sync(b, 20000, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_sync(a, 20000, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_get_message(a, &sent_id, &m, &err), err);
  CHECK(m->status == PBX_STATUS_VIEWED && m->synced_status == PBX_STATUS_VIEWED);
  pbx_message_free(m);
  Drain(&q);
  CHECK(seen_b.outbox_ok == 1);

  /* The server gone: writes still return, Sync times out (transient). */
  pbx_server_stop(server);
  CHECK_ERR(PBX_OK, pbx_replica_put_entry(a, "offline", "1", 1, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_replica_sync(a, 300, &err), err);
  CHECK(err.retryable == 1);
  REQUIRE_OK(pbx_replica_pending_count(a, &pending, NULL));
  CHECK(pending == 1);

  pbx_replica_close(a);
  pbx_replica_close(b);
  pbx_replica_close(NULL);
  Drain(&q); /* tasks handed over before close must still be run */

  /* A folder holds one mailbox's replica. */
  rb.folder = alice_dir;
  rb.start = 0;
  CHECK_ERR(PBX_E_CONFLICT, pbx_replica_open(&rb, &b, &err), err);
  CHECK(b == NULL);

  REQUIRE_OK(pbx_db_close(db, NULL));
  pthread_mutex_destroy(&q.mu);
  RemoveDir(dir);
  return Finish("replica_test");
}
