/* The C API's Web Push: notifications parsed from their entries, endpoints of
 * a client and of a replica against an embedded server, and notifications
 * the server stored (written here straight into its store, as its HTTP route
 * does) listed and consumed from a replica's mirror. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp: before any header */

#include <stdint.h>

#include "test_util.h"

#define kToken "AAAAAAAAAAAAAAAAAAAAAA" /* 22 characters of base64url */

/* The entry value the server stores for a notification (postbox/push.h),
 * written by hand: the C API reads the documented format. */
static size_t Value(char* out, size_t cap, const char* id, const char* topic,
                    unsigned long long received_ms, const char* payload) {
  int n = snprintf(out, cap,
                   "{\"id\":\"%s\",\"topic\":\"%s\",\"urgency\":\"high\",\"ttl\":60,"
                   "\"received_ms\":%llu,\"encoding\":\"aes128gcm\"}\n%s",
                   id, topic, received_ms, payload);
  REQUIRE_OK(n > 0 && (size_t)n < cap ? PBX_OK : PBX_E_INTERNAL);
  return (size_t)n;
}

static const char kId1[] = "0123456789abcdef0123456789abcdef";
static const char kId2[] = "fedcba9876543210fedcba9876543210";

static void TestParse(void) {
  pbx_error err;
  char value[512];
  size_t len = Value(value, sizeof(value), kId1, "", 1767225600000ull, "pay\nload");
  pbx_push_notification* n = NULL;
  CHECK_ERR(PBX_OK,
            pbx_push_notification_parse("postbox/push/" kToken "/0123456789abcdef0123456789abcdef",
                                        value, len, 7, &n, &err),
            err);
  if (n != NULL) {
    CHECK(strcmp(n->token, kToken) == 0);
    CHECK(strcmp(n->id, kId1) == 0);
    CHECK(strcmp(n->topic, "") == 0);
    CHECK(n->urgency == PBX_URGENCY_HIGH);
    CHECK(n->ttl_s == 60);
    CHECK(n->received_ms == 1767225600000ull);
    CHECK(strcmp(n->encoding, "aes128gcm") == 0);
    CHECK(n->payload_len == 8 && memcmp(n->payload, "pay\nload", 8) == 0);
    CHECK(n->payload[n->payload_len] == 0);
    CHECK(strcmp(n->key, "postbox/push/" kToken "/0123456789abcdef0123456789abcdef") == 0);
    CHECK(n->version == 7);
  }
  pbx_push_notification_free(n);

  len = Value(value, sizeof(value), kId2, "weather", 5, "");
  CHECK_ERR(
      PBX_OK,
      pbx_push_notification_parse("postbox/push/" kToken "/t.weather", value, len, 0, &n, &err),
      err);
  if (n != NULL) CHECK(strcmp(n->topic, "weather") == 0 && n->payload_len == 0);
  pbx_push_notification_free(n);

  /* The key must be a notification's, and the one this value is stored under. */
  static pbx_push_notification placeholder;
  n = &placeholder; /* set to NULL on failure */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_push_notification_parse("other/" kToken "/t.weather", value, len, 0, &n, &err),
            err);
  CHECK(n == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_push_notification_parse("postbox/push/" kToken "/t.rain", value, len, 0, &n, &err),
            err);
  CHECK_ERR(
      PBX_E_INVALID_ARGUMENT,
      pbx_push_notification_parse("postbox/push/" kToken "/t.weather", "no header", 9, 0, &n, &err),
      err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_push_notification_parse(NULL, value, len, 0, &n, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_push_notification_parse("postbox/push/" kToken "/t.weather", NULL, 3, 0, &n, &err),
            err);
  CHECK_ERR(
      PBX_E_INVALID_ARGUMENT,
      pbx_push_notification_parse("postbox/push/" kToken "/t.weather", value, len, 0, NULL, &err),
      err);
  pbx_push_notification_free(NULL);
  pbx_push_notification_list_free(NULL);
  pbx_endpoint_free(NULL);
  pbx_endpoint_list_free(NULL);
}

static void TestClient(uint16_t port, const pbx_credentials* alice) {
  pbx_error err;
  pbx_client_options co;
  pbx_client_options_init(&co);
  co.port = port;
  co.mkey = alice->mkey;
  co.secret = alice->secret;
  pbx_client* c = NULL;
  REQUIRE_OK(pbx_client_create(&co, &c, NULL));
  pbx_endpoint* e = NULL;
  pbx_endpoint_list* list = NULL;
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_register_endpoint(c, "app", NULL, 0, &e, &err), err);
  CHECK(e == NULL);
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_list_endpoints(c, NULL, 0, &list, &err), err);
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_revoke_endpoint(c, kToken, &err), err);
  REQUIRE_OK(pbx_client_connect(c, NULL, NULL));

  uint8_t key[65];
  memset(key, 'v', sizeof(key));
  key[0] = 4;
  CHECK_ERR(PBX_OK, pbx_client_register_endpoint(c, "org.example.chat", key, 65, &e, &err), err);
  if (e == NULL) exit(1);
  CHECK(strlen(e->token) == 22);
  CHECK(strcmp(e->app_id, "org.example.chat") == 0);
  CHECK(e->vapid_public_key_len == 65 && memcmp(e->vapid_public_key, key, 65) == 0);
  CHECK(e->created_ms > 0);
  CHECK(strcmp(e->url, "") == 0); /* no public URL configured */
  pbx_endpoint* again = NULL;
  CHECK_ERR(PBX_OK, pbx_client_register_endpoint(c, "org.example.chat", key, 65, &again, &err),
            err);
  if (again != NULL) CHECK(strcmp(again->token, e->token) == 0);
  pbx_endpoint_free(again);

  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_endpoint(c, "", NULL, 0, &again, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_endpoint(c, "app", key, 3, &again, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_endpoint(c, NULL, NULL, 0, &again, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_endpoint(c, "app", NULL, 5, &again, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_register_endpoint(c, "app", NULL, 0, NULL, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_client_register_endpoint(NULL, "app", NULL, 0, &again, &err), err);
  CHECK(again == NULL);

  /* The server caps live endpoints per mailbox (64 by default). */
  int registered = 1;
  char app[32];
  for (int i = 0; i < 63; ++i) {
    snprintf(app, sizeof(app), "app-%d", i);
    CHECK_ERR(PBX_OK, pbx_client_register_endpoint(c, app, NULL, 0, &again, &err), err);
    pbx_endpoint_free(again);
    ++registered;
  }
  CHECK_ERR(PBX_E_BACK_OFF, pbx_client_register_endpoint(c, "one-more", NULL, 0, &again, &err),
            err);
  CHECK(err.retryable == 1);

  CHECK_ERR(PBX_OK, pbx_client_list_endpoints(c, NULL, 10, &list, &err), err);
  if (list != NULL) {
    CHECK(list->count == 10 && list->more == 1);
    for (size_t i = 1; i < list->count; ++i)
      CHECK(strcmp(list->items[i - 1].token, list->items[i].token) < 0);
    pbx_endpoint_list* rest = NULL;
    CHECK_ERR(PBX_OK,
              pbx_client_list_endpoints(c, list->items[list->count - 1].token, 0, &rest, &err),
              err);
    if (rest != NULL) CHECK(rest->count == (size_t)registered - 10 && rest->more == 0);
    pbx_endpoint_list_free(rest);
  }
  pbx_endpoint_list_free(list);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_list_endpoints(c, NULL, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_client_list_endpoints(c, NULL, (size_t)UINT32_MAX + 1, &list, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_list_endpoints(NULL, NULL, 0, &list, &err), err);

  CHECK_ERR(PBX_OK, pbx_client_revoke_endpoint(c, e->token, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_client_revoke_endpoint(c, e->token, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_revoke_endpoint(c, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_revoke_endpoint(NULL, e->token, &err), err);
  pbx_endpoint_free(e);
  pbx_client_close(c);
}

static void TestReplica(pbx_db* db, uint16_t port, const pbx_credentials* bob, const char* folder) {
  pbx_error err;
  pbx_replica_options ro;
  pbx_replica_options_init(&ro);
  ro.folder = folder;
  ro.client.port = port;
  ro.client.mkey = bob->mkey;
  ro.client.secret = bob->secret;
  ro.durability = PBX_RELAXED;
  ro.retry_initial_ms = 20;
  ro.retry_max_ms = 200;
  ro.start = 0;
  pbx_replica* r = NULL;
  REQUIRE_OK(pbx_replica_open(&ro, &r, NULL));

  /* Endpoints need a session. */
  pbx_endpoint* e = NULL;
  pbx_endpoint_list* list = NULL;
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_replica_register_endpoint(r, "app", NULL, 0, &e, &err), err);
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_replica_list_endpoints(r, NULL, 0, &list, &err), err);
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_replica_revoke_endpoint(r, kToken, &err), err);
  REQUIRE_OK(pbx_replica_start(r, NULL));
  REQUIRE_OK(pbx_replica_sync(r, 10000, NULL));
  CHECK_ERR(PBX_OK, pbx_replica_register_endpoint(r, "org.example.mail", NULL, 0, &e, &err), err);
  if (e == NULL) exit(1);
  CHECK(strlen(e->token) == 22 && e->vapid_public_key_len == 0);
  pbx_endpoint* other = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_register_endpoint(r, "org.example.other", NULL, 0, &other, &err),
            err);
  if (other == NULL) exit(1);
  pbx_endpoint* refused = other; /* set to NULL on failure */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_register_endpoint(r, "", NULL, 0, &refused, &err),
            err);
  CHECK(refused == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_replica_register_endpoint(NULL, "app", NULL, 0, &refused, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_list_endpoints(r, NULL, 0, &list, &err), err);
  if (list != NULL) CHECK(list->count == 2 && list->more == 0);
  pbx_endpoint_list_free(list);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_list_endpoints(r, NULL, 0, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_replica_revoke_endpoint(r, other->token, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_replica_revoke_endpoint(r, other->token, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_revoke_endpoint(r, NULL, &err), err);
  pbx_endpoint_free(other);

  /* Two notifications stored by the server (one with a topic), and an entry
   * under the prefix that is not one. */
  char key1[128], key2[128], odd[128], value[512];
  snprintf(key1, sizeof(key1), "postbox/push/%s/%s", e->token, kId1);
  snprintf(key2, sizeof(key2), "postbox/push/%s/t.news", e->token);
  snprintf(odd, sizeof(odd), "postbox/push/%s/not-one", e->token);
  size_t len = Value(value, sizeof(value), kId1, "", 2000, "second");
  REQUIRE_OK(pbx_db_put_entry(db, &bob->mkey, key1, value, len, 1, NULL, NULL));
  len = Value(value, sizeof(value), kId2, "news", 1000, "first");
  REQUIRE_OK(pbx_db_put_entry(db, &bob->mkey, key2, value, len, 4, NULL, NULL));
  REQUIRE_OK(pbx_db_put_entry(db, &bob->mkey, odd, "{}\n", 3, 1, NULL, NULL));
  REQUIRE_OK(pbx_replica_sync(r, 10000, NULL));

  pbx_push_notification_list* ns = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_push_notifications(r, NULL, &ns, &err), err);
  if (ns == NULL) exit(1);
  CHECK(ns->count == 2);
  if (ns->count == 2) {
    CHECK(strcmp(ns->items[0].key, key2) == 0 && ns->items[0].version == 4); /* oldest first */
    CHECK(strcmp(ns->items[0].topic, "news") == 0);
    CHECK(ns->items[0].payload_len == 5 && memcmp(ns->items[0].payload, "first", 5) == 0);
    CHECK(strcmp(ns->items[1].key, key1) == 0 && ns->items[1].version == 1);
    CHECK(strcmp(ns->items[1].id, kId1) == 0 && ns->items[1].received_ms == 2000);
  }
  pbx_push_notification_list* mine = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_push_notifications(r, e->token, &mine, &err), err);
  if (mine != NULL) CHECK(mine->count == 2);
  pbx_push_notification_list_free(mine);
  CHECK_ERR(PBX_OK, pbx_replica_push_notifications(r, kToken, &mine, &err), err);
  if (mine != NULL) CHECK(mine->count == 0 && mine->items == NULL);
  pbx_push_notification_list_free(mine);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_push_notifications(r, "a/b", &mine, &err), err);
  CHECK(mine == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_push_notifications(r, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_push_notifications(NULL, NULL, &mine, &err), err);
  pbx_entry* entry = NULL;
  CHECK_ERR(PBX_OK, pbx_replica_get_entry(r, odd, &entry, &err), err); /* skipped, still there */
  pbx_entry_free(entry);

  /* Consuming deletes the entry on the server. */
  uint64_t item = 0;
  if (ns->count == 2) {
    CHECK_ERR(PBX_OK, pbx_replica_consume_push_notification(r, &ns->items[0], &item, &err), err);
    CHECK(item > 0);
    pbx_push_notification wrong = ns->items[1];
    wrong.version = 0;
    CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_consume_push_notification(r, &wrong, &item, &err),
              err);
    wrong = ns->items[1];
    wrong.key = "elsewhere";
    CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_consume_push_notification(r, &wrong, &item, &err),
              err);
    wrong.key = NULL;
    CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_consume_push_notification(r, &wrong, &item, &err),
              err);
    CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_replica_consume_push_notification(r, NULL, &item, &err),
              err);
    CHECK_ERR(PBX_E_INVALID_ARGUMENT,
              pbx_replica_consume_push_notification(NULL, &ns->items[1], &item, &err), err);
  }
  pbx_push_notification_list_free(ns);
  CHECK_ERR(PBX_OK, pbx_replica_push_notifications(r, NULL, &ns, &err), err);
  if (ns != NULL) CHECK(ns->count == 1 && strcmp(ns->items[0].key, key1) == 0); /* at once */
  pbx_push_notification_list_free(ns);
  REQUIRE_OK(pbx_replica_sync(r, 10000, NULL));
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_get_entry(db, &bob->mkey, key2, &entry, &err), err);
  CHECK_ERR(PBX_OK, pbx_db_get_entry(db, &bob->mkey, key1, &entry, &err), err);
  pbx_entry_free(entry);

  /* Only the server writes under the push prefixes. */
  CHECK_ERR(PBX_E_PERMISSION_DENIED, pbx_replica_put_entry(r, key1, "x", 1, 0, &item, &err), err);
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_replica_put_entry(r, "postbox/simplepush/" kToken, "3", 1, 0, &item, &err), err);
  pbx_endpoint_free(e);
  pbx_replica_close(r);
}

int main(void) {
  TestParse();
  char* dir = MakeTempDir();
  char server_dir[128], bob_dir[128];
  snprintf(server_dir, sizeof(server_dir), "%s/server", dir);
  snprintf(bob_dir, sizeof(bob_dir), "%s/bob", dir);
  pbx_db* db = OpenTestDb(server_dir);
  pbx_credentials alice, bob;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  uint16_t port = 0;
  pbx_server* server = StartTestServer(db, &port);

  TestClient(port, &alice);
  TestReplica(db, port, &bob, bob_dir);

  pbx_server_stop(server);
  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
  return Finish("push_test");
}
