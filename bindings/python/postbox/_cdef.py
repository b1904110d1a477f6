"""The C declarations of postbox.h that cffi needs, kept by hand.

Why by hand and not parsed from postbox.h at import time: the installed
package must work where only libpostbox_c.so.0 is installed (the header is a
development file), and a change to the header's macros or comments should
fail our test suite (tests/test_cdef.py compares every pbx_ function, struct
and enum here with the header, parsed by cffi) rather than an application's
import. Integer macros used in declarations are written out: PBX_ERROR_MESSAGE_MAX
is 512, PBX_SECRET_MAX is 64, PBX_TLS_PIN_MAX is 64. Comments live in postbox.h, the manual.
"""

CDEF = r"""
const char* pbx_version(void);
int pbx_version_number(void);
typedef enum pbx_code {
  PBX_OK = 0,
  PBX_E_INVALID_ARGUMENT = -400,
  PBX_E_UNAUTHENTICATED = -401,
  PBX_E_PERMISSION_DENIED = -403,
  PBX_E_NOT_FOUND = -404,
  PBX_E_CONFLICT = -409,
  PBX_E_GONE = -410,
  PBX_E_TOO_LARGE = -413,
  PBX_E_DIGEST_MISMATCH = -422,
  PBX_E_PROTOCOL_UNSUPPORTED = -426,
  PBX_E_BACK_OFF = -429,
  PBX_E_INTERNAL = -500,
  PBX_E_UNAVAILABLE = -503,
  PBX_E_RESOURCE_EXHAUSTED = -507
} pbx_code;
typedef struct pbx_error {
  int code;
  int retryable;
  char message[512];
} pbx_error;
const char* pbx_strerror(int code);
int pbx_code_retryable(int code);
void pbx_free(void* p);
uint64_t pbx_live_handles(void);
typedef struct pbx_id {
  uint8_t bytes[16];
} pbx_id;
int pbx_id_to_hex(const pbx_id* id, char out[33], pbx_error* err);
int pbx_id_from_hex(const char* hex, pbx_id* out, pbx_error* err);
int pbx_id_random(pbx_id* out, pbx_error* err);
typedef enum pbx_status {
  PBX_STATUS_UPLOADED = 1,
  PBX_STATUS_DOWNLOADED = 2,
  PBX_STATUS_VIEWED = 3
} pbx_status;
typedef struct pbx_credentials {
  pbx_id mkey;
  char secret[64];
} pbx_credentials;
typedef struct pbx_entry {
  char* key;
  uint8_t* value;
  size_t value_len;
  uint64_t version;
  uint64_t seq;
} pbx_entry;
void pbx_entry_free(pbx_entry* entry);
typedef struct pbx_entry_list {
  pbx_entry* items;
  size_t count;
  int more;
} pbx_entry_list;
void pbx_entry_list_free(pbx_entry_list* list);
typedef struct pbx_put_result {
  int applied;
  uint64_t version;
} pbx_put_result;
typedef struct pbx_message {
  pbx_id id;
  pbx_id from;
  pbx_id to;
  char* topic;
  uint8_t* meta;
  size_t meta_len;
  uint64_t length;
  uint8_t digest[16];
  int status;
  uint64_t created_ms;
  uint64_t seq;
  int incoming;
  int synced_status;
  int pending;
} pbx_message;
void pbx_message_free(pbx_message* message);
typedef struct pbx_message_list {
  pbx_message* items;
  size_t count;
} pbx_message_list;
void pbx_message_list_free(pbx_message_list* list);
typedef enum pbx_platform {
  PBX_PLATFORM_NONE = 0,
  PBX_PLATFORM_IOS = 1,
  PBX_PLATFORM_ANDROID = 2,
  PBX_PLATFORM_WEB = 3
} pbx_platform;
typedef enum pbx_connection_state {
  PBX_CONNECTION_NONE = 0,
  PBX_CONNECTION_REQUESTED = 1,
  PBX_CONNECTION_CONNECTED = 2
} pbx_connection_state;
typedef enum pbx_connection_kind {
  PBX_CONNECTIONS_CONNECTED = 0,
  PBX_CONNECTIONS_REQUESTED = 1,
  PBX_CONNECTIONS_INCOMING = 2
} pbx_connection_kind;
typedef struct pbx_connection {
  pbx_id peer;
  int state;
} pbx_connection;
typedef struct pbx_connection_list {
  pbx_connection* items;
  size_t count;
  int more;
} pbx_connection_list;
void pbx_connection_list_free(pbx_connection_list* list);
typedef enum pbx_tombstone_kind {
  PBX_TOMBSTONE_MESSAGE = 1,
  PBX_TOMBSTONE_ENTRY = 2
} pbx_tombstone_kind;
typedef struct pbx_tombstone {
  int kind;
  pbx_id id;
  char* key;
  uint64_t version;
  uint64_t seq;
} pbx_tombstone;
typedef struct pbx_info {
  uint64_t cursor;
  uint64_t since;
  int reset;
  int more;
  pbx_message* incoming;
  size_t incoming_count;
  pbx_message* outgoing;
  size_t outgoing_count;
  pbx_entry* entries;
  size_t entries_count;
  pbx_tombstone* tombstones;
  size_t tombstones_count;
} pbx_info;
void pbx_info_free(pbx_info* info);
typedef struct pbx_endpoint {
  char* token;
  char* app_id;
  uint8_t* vapid_public_key;
  size_t vapid_public_key_len;
  uint64_t created_ms;
  char* url;
} pbx_endpoint;
void pbx_endpoint_free(pbx_endpoint* endpoint);
typedef struct pbx_endpoint_list {
  pbx_endpoint* items;
  size_t count;
  int more;
} pbx_endpoint_list;
void pbx_endpoint_list_free(pbx_endpoint_list* list);
typedef enum pbx_urgency {
  PBX_URGENCY_VERY_LOW = 0,
  PBX_URGENCY_LOW = 1,
  PBX_URGENCY_NORMAL = 2,
  PBX_URGENCY_HIGH = 3
} pbx_urgency;
typedef struct pbx_push_notification {
  char* token;
  char* id;
  char* topic;
  int urgency;
  uint32_t ttl_s;
  uint64_t received_ms;
  char* encoding;
  uint8_t* payload;
  size_t payload_len;
  char* key;
  uint64_t version;
} pbx_push_notification;
void pbx_push_notification_free(pbx_push_notification* notification);
typedef struct pbx_push_notification_list {
  pbx_push_notification* items;
  size_t count;
} pbx_push_notification_list;
void pbx_push_notification_list_free(pbx_push_notification_list* list);
int pbx_push_notification_parse(const char* key, const void* value, size_t value_len,
                                uint64_t version, pbx_push_notification** out, pbx_error* err);
typedef struct pbx_db pbx_db;
typedef enum pbx_durability {
  PBX_DURABLE = 0,
  PBX_RELAXED = 1
} pbx_durability;
typedef enum pbx_posting_policy {
  PBX_POST_CONNECTED = 0,
  PBX_POST_OPEN = 1
} pbx_posting_policy;
typedef struct pbx_db_options {
  int durability;
  int posting_policy;
  uint64_t max_map_size;
  uint32_t slot_depth;
  int read_only;
} pbx_db_options;
void pbx_db_options_init(pbx_db_options* options);
int pbx_db_open(const char* path, const pbx_db_options* options, pbx_db** out, pbx_error* err);
int pbx_db_close(pbx_db* db, pbx_error* err);
int pbx_db_create_mailbox(pbx_db* db, pbx_credentials* out, pbx_error* err);
int pbx_db_authenticate(pbx_db* db, const pbx_id* mkey, const char* secret, pbx_error* err);
int pbx_db_connect(pbx_db* db, const pbx_id* a, const pbx_id* b, pbx_error* err);
int pbx_db_disconnect(pbx_db* db, const pbx_id* actor, const pbx_id* peer, pbx_error* err);
int pbx_db_list_connections(pbx_db* db, const pbx_id* mkey, int kind, const pbx_id* start_after, size_t limit, pbx_connection_list** out, pbx_error* err);
int pbx_db_delete_mailbox(pbx_db* db, const pbx_id* mkey, pbx_error* err);
int pbx_db_changes(pbx_db* db, const pbx_id* mkey, uint64_t since, size_t limit, pbx_info** out, pbx_error* err);
int pbx_db_put_entry(pbx_db* db, const pbx_id* mkey, const char* key, const void* value, size_t value_len, uint64_t version, pbx_put_result* out, pbx_error* err);
int pbx_db_delete_entry(pbx_db* db, const pbx_id* mkey, const char* key, uint64_t version, pbx_put_result* out, pbx_error* err);
int pbx_db_get_entry(pbx_db* db, const pbx_id* mkey, const char* key, pbx_entry** out, pbx_error* err);
int pbx_db_list_entries(pbx_db* db, const pbx_id* mkey, const char* prefix, const char* start_after, size_t limit, pbx_entry_list** out, pbx_error* err);
int pbx_db_post_message(pbx_db* db, const pbx_id* from, const pbx_id* to, const pbx_id* id, const char* topic, const void* meta, size_t meta_len, const void* bytes, size_t len, pbx_message** out, pbx_error* err);
int pbx_db_get_message(pbx_db* db, const pbx_id* actor, const pbx_id* id, pbx_message** out, pbx_error* err);
int pbx_db_advance_status(pbx_db* db, const pbx_id* actor, const pbx_id* id, int status, int* status_out, pbx_error* err);
int pbx_db_read_blob(pbx_db* db, const pbx_id* actor, const pbx_id* id, uint64_t offset, uint64_t length, uint8_t** out, size_t* out_len, pbx_error* err);
typedef enum pbx_tls_version {
  PBX_TLS_1_2 = 12,
  PBX_TLS_1_3 = 13
} pbx_tls_version;
typedef struct pbx_tls_client_options {
  int enabled;
  const char* ca_file;
  const char* server_name;
  const char* const* pins;
  size_t pins_count;
  const char* cert_file;
  const char* key_file;
  int min_version;
} pbx_tls_client_options;
typedef struct pbx_tls_server_options {
  const char* cert_file;
  const char* key_file;
  const char* client_ca_file;
  int min_version;
  uint32_t handshake_timeout_ms;
} pbx_tls_server_options;
int pbx_tls_public_key_pin(const char* cert_file, char out[64], pbx_error* err);
typedef struct pbx_server pbx_server;
typedef struct pbx_server_options {
  const char* host;
  uint16_t port;
  unsigned threads;
  pbx_tls_server_options tls;
} pbx_server_options;
void pbx_server_options_init(pbx_server_options* options);
int pbx_server_start(pbx_db* db, const pbx_server_options* options, pbx_server** out, pbx_error* err);
int pbx_server_port(pbx_server* server, uint16_t* out, pbx_error* err);
int pbx_server_reload_tls(pbx_server* server, pbx_error* err);
void pbx_server_stop(pbx_server* server);
typedef struct pbx_client pbx_client;
typedef struct pbx_client_options {
  const char* host;
  uint16_t port;
  pbx_id mkey;
  const char* secret;
  const char* app_version;
  uint32_t request_timeout_ms;
  int reconnect;
  void (*on_push)(void* context, const pbx_info* info);
  void* push_context;
  uint64_t start_cursor;
  int manual_ack;
  pbx_tls_client_options tls;
} pbx_client_options;
void pbx_client_options_init(pbx_client_options* options);
typedef enum pbx_verdict {
  PBX_VERDICT_CURRENT = 0,
  PBX_VERDICT_UPDATE_OPTIONAL = 1,
  PBX_VERDICT_UPDATE_REQUIRED = 2,
  PBX_VERDICT_UPDATE_SCHEMA_REQUIRED = 3
} pbx_verdict;
int pbx_client_create(const pbx_client_options* options, pbx_client** out, pbx_error* err);
int pbx_client_connect(pbx_client* client, int* verdict, pbx_error* err);
void pbx_client_close(pbx_client* client);
int pbx_client_put_entry(pbx_client* client, const char* key, const void* value, size_t value_len, uint64_t version, pbx_put_result* out, pbx_error* err);
int pbx_client_get_entry(pbx_client* client, const char* key, pbx_entry** out, pbx_error* err);
int pbx_client_delete_entry(pbx_client* client, const char* key, uint64_t version, pbx_put_result* out, pbx_error* err);
int pbx_client_list_entries(pbx_client* client, const char* prefix, const char* start_after, size_t limit, pbx_entry_list** out, pbx_error* err);
int pbx_client_add_connection(pbx_client* client, const pbx_id* peer, int* state, pbx_error* err);
int pbx_client_remove_connection(pbx_client* client, const pbx_id* peer, pbx_error* err);
int pbx_client_list_connections(pbx_client* client, int kind, const pbx_id* start_after, size_t limit, pbx_connection_list** out, pbx_error* err);
int pbx_client_register_push(pbx_client* client, int platform, const char* token, pbx_error* err);
int pbx_client_register_endpoint(pbx_client* client, const char* app_id,
                                 const void* vapid_public_key, size_t key_len, pbx_endpoint** out,
                                 pbx_error* err);
int pbx_client_list_endpoints(pbx_client* client, const char* start_after, size_t limit,
                              pbx_endpoint_list** out, pbx_error* err);
int pbx_client_revoke_endpoint(pbx_client* client, const char* token, pbx_error* err);
int pbx_client_poll(pbx_client* client, uint64_t since, uint32_t limit, pbx_info** out, pbx_error* err);
int pbx_client_ack(pbx_client* client, uint64_t cursor, pbx_error* err);
int pbx_client_ping(pbx_client* client, pbx_error* err);
int pbx_client_update_status(pbx_client* client, const pbx_id* id, int status, int* status_out, int* applied, pbx_error* err);
int pbx_client_upload(pbx_client* client, const pbx_id* to, const pbx_id* id, const char* topic, const void* meta, size_t meta_len, const void* bytes, size_t len, pbx_error* err);
int pbx_client_download(pbx_client* client, const pbx_id* id, uint8_t** out, size_t* out_len, pbx_error* err);
typedef struct pbx_replica pbx_replica;
typedef struct pbx_change {
  const pbx_id* messages;
  size_t messages_count;
  const pbx_id* messages_removed;
  size_t messages_removed_count;
  const char* const* entries;
  size_t entries_count;
  const char* const* entries_removed;
  size_t entries_removed_count;
  int reset;
  uint64_t cursor;
} pbx_change;
typedef enum pbx_outbox_kind {
  PBX_OUTBOX_STATUS = 1,
  PBX_OUTBOX_PUT_ENTRY = 2,
  PBX_OUTBOX_DELETE_ENTRY = 3,
  PBX_OUTBOX_POST = 4,
  PBX_OUTBOX_ADD_CONNECTION = 5,
  PBX_OUTBOX_REMOVE_CONNECTION = 6,
  PBX_OUTBOX_REGISTER_PUSH = 7
} pbx_outbox_kind;
typedef struct pbx_outbox_outcome {
  uint64_t item;
  int kind;
  pbx_id message;
  const char* key;
  int code;
  const char* message_text;
  int cancelled;
  int applied;
} pbx_outbox_outcome;
typedef struct pbx_task pbx_task;
void pbx_task_run(pbx_task* task);
typedef void (*pbx_change_fn)(void* context, const pbx_change* change);
typedef void (*pbx_outbox_fn)(void* context, const pbx_outbox_outcome* outcome);
typedef void (*pbx_error_fn)(void* context, const pbx_error* error);
typedef void (*pbx_executor_fn)(void* context, pbx_task* task);
typedef struct pbx_replica_options {
  const char* folder;
  pbx_client_options client;
  int durability;
  uint32_t poll_interval_ms;
  uint32_t retry_initial_ms;
  uint32_t retry_max_ms;
  int start;
  pbx_change_fn on_change;
  pbx_outbox_fn on_outbox;
  pbx_error_fn on_error;
  void* callback_context;
  pbx_executor_fn executor;
  void* executor_context;
} pbx_replica_options;
void pbx_replica_options_init(pbx_replica_options* options);
int pbx_replica_open(const pbx_replica_options* options, pbx_replica** out, pbx_error* err);
int pbx_replica_start(pbx_replica* replica, pbx_error* err);
void pbx_replica_close(pbx_replica* replica);
int pbx_replica_sync(pbx_replica* replica, uint32_t timeout_ms, pbx_error* err);
int pbx_replica_pending_count(pbx_replica* replica, uint64_t* out, pbx_error* err);
int pbx_replica_inbox(pbx_replica* replica, const pbx_id* start_after, size_t limit, pbx_message_list** out, pbx_error* err);
int pbx_replica_sent(pbx_replica* replica, const pbx_id* start_after, size_t limit, pbx_message_list** out, pbx_error* err);
int pbx_replica_get_message(pbx_replica* replica, const pbx_id* id, pbx_message** out, pbx_error* err);
int pbx_replica_get_entry(pbx_replica* replica, const char* key, pbx_entry** out, pbx_error* err);
int pbx_replica_list_entries(pbx_replica* replica, const char* prefix, const char* start_after, size_t limit, pbx_entry_list** out, pbx_error* err);
int pbx_replica_connections(pbx_replica* replica, pbx_connection_list** out, pbx_error* err);
typedef struct pbx_replica_state {
  int connected;
  uint64_t cursor;
  uint64_t pending;
  uint64_t packets_applied;
  uint64_t sessions;
  int last_error_code;
} pbx_replica_state;
int pbx_replica_get_state(pbx_replica* replica, pbx_replica_state* out, pbx_error* err);
int pbx_replica_update_status(pbx_replica* replica, const pbx_id* id, int status, uint64_t* item, pbx_error* err);
int pbx_replica_put_entry(pbx_replica* replica, const char* key, const void* value, size_t value_len, uint64_t version, uint64_t* item, pbx_error* err);
int pbx_replica_delete_entry(pbx_replica* replica, const char* key, uint64_t version, uint64_t* item, pbx_error* err);
int pbx_replica_add_connection(pbx_replica* replica, const pbx_id* peer, uint64_t* item, pbx_error* err);
int pbx_replica_remove_connection(pbx_replica* replica, const pbx_id* peer, uint64_t* item, pbx_error* err);
int pbx_replica_register_push(pbx_replica* replica, int platform, const char* token, uint64_t* item, pbx_error* err);
int pbx_replica_post(pbx_replica* replica, const pbx_id* to, const void* bytes, size_t len, const char* topic, const void* meta, size_t meta_len, const pbx_id* id, pbx_id* id_out, pbx_error* err);
int pbx_replica_request_blob(pbx_replica* replica, const pbx_id* id, pbx_error* err);
int pbx_replica_read_blob(pbx_replica* replica, const pbx_id* id, uint8_t** out, size_t* out_len, pbx_error* err);
typedef struct pbx_outbox_item {
  uint64_t item;
  int kind;
  uint64_t created_ms;
  uint32_t attempts;
  pbx_id message;
  int status;
  char* key;
  uint64_t version;
  pbx_id peer;
  int platform;
  uint64_t length;
} pbx_outbox_item;
typedef struct pbx_outbox_list {
  pbx_outbox_item* items;
  size_t count;
} pbx_outbox_list;
void pbx_outbox_list_free(pbx_outbox_list* list);
int pbx_replica_pending(pbx_replica* replica, pbx_outbox_list** out, pbx_error* err);
int pbx_replica_cancel(pbx_replica* replica, uint64_t item, pbx_error* err);
int pbx_replica_register_endpoint(pbx_replica* replica, const char* app_id,
                                  const void* vapid_public_key, size_t key_len, pbx_endpoint** out,
                                  pbx_error* err);
int pbx_replica_list_endpoints(pbx_replica* replica, const char* start_after, size_t limit,
                               pbx_endpoint_list** out, pbx_error* err);
int pbx_replica_revoke_endpoint(pbx_replica* replica, const char* token, pbx_error* err);
int pbx_replica_push_notifications(pbx_replica* replica, const char* token,
                                   pbx_push_notification_list** out, pbx_error* err);
int pbx_replica_consume_push_notification(pbx_replica* replica,
                                          const pbx_push_notification* notification,
                                          uint64_t* item, pbx_error* err);

"""
