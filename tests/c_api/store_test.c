/* The C API over the store: version, errors, identifiers, pbx_db_*. */
#include "test_util.h"

static void TestVersionErrorsIds(void) {
  pbx_error err;
  CHECK(pbx_version_number() == PBX_VERSION_NUMBER);
  CHECK(strcmp(pbx_version(), PBX_VERSION_STRING) == 0);
  CHECK(strcmp(pbx_strerror(PBX_E_NOT_FOUND), "NotFound") == 0);
  CHECK(strcmp(pbx_strerror(PBX_OK), "OK") == 0);
  CHECK(strcmp(pbx_strerror(-12345), "Unknown") == 0);
  CHECK(pbx_code_retryable(PBX_E_UNAVAILABLE) == 1);
  CHECK(pbx_code_retryable(PBX_E_BACK_OFF) == 1);
  CHECK(pbx_code_retryable(PBX_E_NOT_FOUND) == 0);
  CHECK(pbx_code_retryable(PBX_E_RESOURCE_EXHAUSTED) == 0);

  pbx_id id, back;
  char hex[33];
  CHECK_ERR(PBX_OK, pbx_id_random(&id, &err), err);
  CHECK_ERR(PBX_OK, pbx_id_to_hex(&id, hex, &err), err);
  CHECK(strlen(hex) == 32);
  CHECK_ERR(PBX_OK, pbx_id_from_hex(hex, &back, &err), err);
  CHECK(memcmp(&id, &back, sizeof(id)) == 0);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_id_from_hex("abc", &back, &err), err);
  CHECK(strstr(err.message, "InvalidArgument") != NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_id_from_hex(NULL, &back, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_id_to_hex(NULL, hex, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_id_random(NULL, &err), err);
  /* err may be NULL. */
  CHECK(pbx_id_random(NULL, NULL) == PBX_E_INVALID_ARGUMENT);
  pbx_free(NULL);
}

static void TestOpenClose(void) {
  pbx_error err;
  pbx_db* db = (pbx_db*)1;
  char* dir = MakeTempDir();
  pbx_db_options o;
  pbx_db_options_init(&o);
  CHECK(o.durability == PBX_DURABLE && o.posting_policy == PBX_POST_CONNECTED);
  CHECK(o.slot_depth == 1 && o.max_map_size > 0);

  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_open(NULL, &o, &db, &err), err);
  CHECK(db == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_open(dir, &o, NULL, &err), err);
  o.durability = 7;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_open(dir, &o, &db, &err), err);
  pbx_db_options_init(&o);
  o.posting_policy = 9;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_open(dir, &o, &db, &err), err);
  pbx_db_options_init(&o);
  o.max_map_size = 1000; /* below 1 MiB */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_open(dir, &o, &db, &err), err);
  CHECK(pbx_live_handles() == 0);

  pbx_db_options_init(&o);
  o.durability = PBX_RELAXED;
  o.max_map_size = 64u << 20;
  CHECK_ERR(PBX_OK, pbx_db_open(dir, &o, &db, &err), err);
  CHECK(pbx_live_handles() == 1);
  CHECK_ERR(PBX_OK, pbx_db_close(db, &err), err);
  CHECK_ERR(PBX_OK, pbx_db_open(dir, NULL, &db, &err), err); /* defaults */
  CHECK_ERR(PBX_OK, pbx_db_close(db, &err), err);
  CHECK_ERR(PBX_OK, pbx_db_close(NULL, &err), err);
  RemoveDir(dir);
}

static void TestStore(void) {
  pbx_error err;
  char* dir = MakeTempDir();
  pbx_db_options o;
  pbx_db_options_init(&o);
  o.max_map_size = 64u << 20;
  pbx_db* db = NULL;
  REQUIRE_OK(pbx_db_open(dir, &o, &db, NULL));

  /* Mailboxes. */
  pbx_credentials alice, bob, carol;
  CHECK_ERR(PBX_OK, pbx_db_create_mailbox(db, &alice, &err), err);
  CHECK(strlen(alice.secret) == 43);
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &carol, NULL));
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_create_mailbox(NULL, &alice, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_create_mailbox(db, NULL, &err), err);
  /* A handle of another type is refused. */
  pbx_id some;
  pbx_id_random(&some, NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_create_mailbox((pbx_db*)&some, &carol, &err), err);

  CHECK_ERR(PBX_OK, pbx_db_authenticate(db, &alice.mkey, alice.secret, &err), err);
  CHECK_ERR(PBX_E_UNAUTHENTICATED, pbx_db_authenticate(db, &alice.mkey, bob.secret, &err), err);
  CHECK_ERR(PBX_E_UNAUTHENTICATED, pbx_db_authenticate(db, &some, alice.secret, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_authenticate(db, &alice.mkey, NULL, &err), err);

  CHECK_ERR(PBX_OK, pbx_db_connect(db, &alice.mkey, &bob.mkey, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_connect(db, &alice.mkey, &alice.mkey, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_connect(db, &alice.mkey, &some, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_connect(db, NULL, &bob.mkey, &err), err);

  /* Entries. */
  pbx_put_result put;
  CHECK_ERR(PBX_OK, pbx_db_put_entry(db, &alice.mkey, "profile/name", "Alice", 5, 0, &put, &err),
            err);
  CHECK(put.applied == 1 && put.version == 1);
  CHECK_ERR(PBX_OK,
            pbx_db_put_entry(db, &alice.mkey, "profile/age",
                             "3\0"
                             "0",
                             3, 0, NULL, &err),
            err);
  CHECK_ERR(PBX_OK, pbx_db_put_entry(db, &alice.mkey, "zzz", NULL, 0, 5, &put, &err), err);
  CHECK(put.version == 5);
  CHECK_ERR(PBX_OK, pbx_db_put_entry(db, &alice.mkey, "zzz", "old", 3, 4, &put, &err), err);
  CHECK(put.applied == 0 && put.version == 5);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_put_entry(db, &alice.mkey, "k", NULL, 3, 0, &put, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_put_entry(db, &alice.mkey, NULL, "v", 1, 0, &put, &err),
            err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_put_entry(NULL, &alice.mkey, "k", "v", 1, 0, &put, &err),
            err);
  {
    static char big[70000];
    CHECK_ERR(PBX_E_TOO_LARGE,
              pbx_db_put_entry(db, &alice.mkey, "k", big, sizeof(big), 0, NULL, &err), err);
  }
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_put_entry(db, &some, "k", "v", 1, 0, NULL, &err), err);

  pbx_entry* e = (pbx_entry*)1;
  CHECK_ERR(PBX_OK, pbx_db_get_entry(db, &alice.mkey, "profile/age", &e, &err), err);
  CHECK(e != NULL && strcmp(e->key, "profile/age") == 0 && e->value_len == 3);
  CHECK(e->value[0] == '3' && e->value[1] == 0 && e->value[2] == '0' && e->version == 1);
  pbx_entry_free(e);
  pbx_entry_free(NULL);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_get_entry(db, &alice.mkey, "nope", &e, &err), err);
  CHECK(e == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_get_entry(db, &alice.mkey, "nope", NULL, &err), err);

  pbx_entry_list* list = NULL;
  CHECK_ERR(PBX_OK, pbx_db_list_entries(db, &alice.mkey, "profile/", NULL, 10, &list, &err), err);
  CHECK(list->count == 2 && list->more == 0);
  CHECK(strcmp(list->items[0].key, "profile/age") == 0);
  CHECK(strcmp((const char*)list->items[1].value, "Alice") == 0);
  pbx_entry_list_free(list);
  CHECK_ERR(PBX_OK, pbx_db_list_entries(db, &alice.mkey, NULL, "profile/age", 1, &list, &err), err);
  CHECK(list->count == 1 && list->more == 1 && strcmp(list->items[0].key, "profile/name") == 0);
  pbx_entry_list_free(list);
  /* limit 0: no limit. */
  CHECK_ERR(PBX_OK, pbx_db_list_entries(db, &alice.mkey, NULL, NULL, 0, &list, &err), err);
  CHECK(list->count == 3 && list->more == 0 && strcmp(list->items[2].key, "zzz") == 0);
  pbx_entry_list_free(list);
  CHECK_ERR(PBX_OK, pbx_db_list_entries(db, &bob.mkey, NULL, NULL, 0, &list, &err), err);
  CHECK(list->count == 0 && list->items == NULL);
  pbx_entry_list_free(list);
  pbx_entry_list_free(NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_list_entries(db, NULL, NULL, NULL, 0, &list, &err), err);

  CHECK_ERR(PBX_OK, pbx_db_delete_entry(db, &alice.mkey, "profile/age", 0, &put, &err), err);
  CHECK(put.applied == 1 && put.version == 2);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_get_entry(db, &alice.mkey, "profile/age", &e, &err), err);
  CHECK_ERR(PBX_OK, pbx_db_delete_entry(db, &alice.mkey, "never", 0, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_delete_entry(db, &alice.mkey, NULL, 0, NULL, &err), err);

  /* Messages. */
  pbx_id id1;
  pbx_id_random(&id1, NULL);
  pbx_message* m = NULL;
  CHECK_ERR(PBX_OK,
            pbx_db_post_message(db, &alice.mkey, &bob.mkey, &id1, "video", "m", 1, "hello blob", 10,
                                &m, &err),
            err);
  CHECK(m != NULL && memcmp(&m->id, &id1, sizeof(id1)) == 0 && m->length == 10);
  CHECK(m->status == PBX_STATUS_UPLOADED && strcmp(m->topic, "video") == 0 && m->meta_len == 1);
  CHECK(memcmp(&m->from, &alice.mkey, sizeof(pbx_id)) == 0 && m->incoming == 0);
  pbx_message_free(m);
  pbx_message_free(NULL);
  /* The same again is an idempotent retry; other content is Conflict. */
  CHECK_ERR(PBX_OK,
            pbx_db_post_message(db, &alice.mkey, &bob.mkey, &id1, "video", "m", 1, "hello blob", 10,
                                NULL, &err),
            err);
  CHECK_ERR(PBX_E_CONFLICT,
            pbx_db_post_message(db, &alice.mkey, &bob.mkey, &id1, "video", "m", 1, "other", 5, NULL,
                                &err),
            err);
  CHECK_ERR(
      PBX_E_PERMISSION_DENIED,
      pbx_db_post_message(db, &alice.mkey, &carol.mkey, NULL, "t", NULL, 0, "x", 1, NULL, &err),
      err);
  CHECK_ERR(
      PBX_E_INVALID_ARGUMENT,
      pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, NULL, NULL, 0, "x", 1, NULL, &err),
      err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, "t", NULL, 2, "x", 1, NULL, &err),
            err);
  {
    char topic[100];
    memset(topic, 'a', sizeof(topic) - 1);
    topic[99] = 0;
    CHECK_ERR(
        PBX_E_TOO_LARGE,
        pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, topic, NULL, 0, "x", 1, NULL, &err),
        err);
  }

  CHECK_ERR(PBX_OK, pbx_db_get_message(db, &bob.mkey, &id1, &m, &err), err);
  CHECK(m->length == 10);
  pbx_message_free(m);
  CHECK_ERR(PBX_E_PERMISSION_DENIED, pbx_db_get_message(db, &carol.mkey, &id1, &m, &err), err);
  CHECK(m == NULL);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_get_message(db, &bob.mkey, &some, &m, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_get_message(db, &bob.mkey, &id1, NULL, &err), err);

  uint8_t* blob = NULL;
  size_t blob_len = 0;
  CHECK_ERR(PBX_OK, pbx_db_read_blob(db, &bob.mkey, &id1, 0, UINT64_MAX, &blob, &blob_len, &err),
            err);
  CHECK(blob_len == 10 && memcmp(blob, "hello blob", 10) == 0);
  pbx_free(blob);
  CHECK_ERR(PBX_OK, pbx_db_read_blob(db, &alice.mkey, &id1, 6, 2, &blob, &blob_len, &err), err);
  CHECK(blob_len == 2 && memcmp(blob, "bl", 2) == 0);
  pbx_free(blob);
  CHECK_ERR(PBX_OK, pbx_db_read_blob(db, &alice.mkey, &id1, 10, 5, &blob, &blob_len, &err), err);
  CHECK(blob != NULL && blob_len == 0);
  pbx_free(blob);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_db_read_blob(db, &bob.mkey, &id1, 11, 1, &blob, &blob_len, &err), err);
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_db_read_blob(db, &carol.mkey, &id1, 0, 1, &blob, &blob_len, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_read_blob(db, &bob.mkey, &id1, 0, 1, &blob, NULL, &err),
            err);

  int status = 0;
  CHECK_ERR(PBX_OK, pbx_db_advance_status(db, &bob.mkey, &id1, PBX_STATUS_VIEWED, &status, &err),
            err);
  CHECK(status == PBX_STATUS_VIEWED);
  CHECK_ERR(PBX_OK,
            pbx_db_advance_status(db, &bob.mkey, &id1, PBX_STATUS_DOWNLOADED, &status, &err), err);
  CHECK(status == PBX_STATUS_VIEWED); /* never goes back */
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_db_advance_status(db, &alice.mkey, &id1, PBX_STATUS_VIEWED, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_advance_status(db, &bob.mkey, &id1, 4, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_db_advance_status(db, &bob.mkey, &id1, 0, NULL, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_db_advance_status(db, &bob.mkey, &some, 2, NULL, &err), err);

  /* A new message in the same slot supersedes id1: Gone. */
  CHECK_ERR(
      PBX_OK,
      pbx_db_post_message(db, &alice.mkey, &bob.mkey, NULL, "video", NULL, 0, "v2", 2, NULL, &err),
      err);
  CHECK_ERR(PBX_E_GONE, pbx_db_get_message(db, &bob.mkey, &id1, &m, &err), err);
  CHECK_ERR(PBX_E_GONE, pbx_db_read_blob(db, &bob.mkey, &id1, 0, 1, &blob, &blob_len, &err), err);
  CHECK_ERR(PBX_E_GONE, pbx_db_advance_status(db, &bob.mkey, &id1, 3, NULL, &err), err);
  CHECK_ERR(PBX_E_GONE,
            pbx_db_post_message(db, &alice.mkey, &bob.mkey, &id1, "video", "m", 1, "hello blob", 10,
                                NULL, &err),
            err);

  CHECK(pbx_live_handles() == 1);
  CHECK_ERR(PBX_OK, pbx_db_close(db, &err), err);

  /* Read-only: writes are refused by the store. */
  pbx_db_options_init(&o);
  o.read_only = 1;
  REQUIRE_OK(pbx_db_open(dir, &o, &db, NULL));
  CHECK(pbx_db_create_mailbox(db, &carol, &err) != PBX_OK);
  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
}

int main(void) {
  TestVersionErrorsIds();
  TestOpenClose();
  TestStore();
  return Finish("store_test");
}
