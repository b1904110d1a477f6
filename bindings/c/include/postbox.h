/*
 * postbox.h — the C API of postbox, an embeddable storage-and-sync engine.
 * This header is the manual: every function says what it does, what it
 * returns on each notable error, and who owns what comes back.
 *
 * The C API wraps the C++ library (postbox/db.h, postbox/sync/{server,client,
 * replica}.h). It is C99, and every symbol starts with pbx_ / PBX_.
 *
 * CONVENTIONS
 *
 * Return codes. Every call that can fail returns an int: PBX_OK (0), or one of
 * the negative pbx_code values below, whose magnitude is the protocol's
 * HTTP-like code (wire/PROTOCOL.md): -404 is "not found". Close functions
 * and pbx_free never fail.
 *
 * Errors. Every call that can fail takes a last argument `pbx_error* err`,
 * which may be NULL. On failure it is filled with the code, a message naming
 * what was wrong, and `retryable`; on success it is left untouched. Nothing
 * in it needs freeing.
 *
 * Handles. pbx_db, pbx_server, pbx_client and pbx_replica are opaque; each is
 * made by one function and released by one (pbx_db_open / pbx_db_close, ...).
 * A NULL handle or a NULL required argument gets PBX_E_INVALID_ARGUMENT and
 * changes nothing. Using a handle after its close function is undefined
 * behaviour (a handle of the wrong type is caught, best effort).
 *
 * Memory. What the library returns is owned by the caller and released with
 * the free function named at the call: pbx_entry_free, pbx_entry_list_free,
 * pbx_message_free, pbx_message_list_free, pbx_endpoint_free, ..., or
 * pbx_free for byte buffers. Out
 * parameters are written only on success (on failure, pointers are set to
 * NULL). Inputs are copied or used only during the call unless stated.
 * pbx_live_handles() counts every handle and every returned object not yet
 * released, so tests can check that nothing leaks.
 *
 * Strings. Paths, hosts, secrets, entry keys, prefixes and topics are
 * NUL-terminated UTF-8 (an entry key cannot contain NUL). Values, metadata and
 * blobs are byte buffers with a length; a NULL buffer is allowed with length 0.
 *
 * Threads. Every function may be called from any thread, on distinct or the
 * same handles, except that a handle must not be closed while another thread
 * uses it, and the rules for callbacks (pbx_replica_options) hold. No C++
 * exception ever leaves a pbx_ function: one caught is PBX_E_INTERNAL with
 * its message.
 */
#ifndef POSTBOX_C_POSTBOX_H_
#define POSTBOX_C_POSTBOX_H_

#include <stddef.h>
#include <stdint.h>

/* Marks the API's symbols: the only ones the shared library exports. */
#if defined(__GNUC__)
#define PBX_EXPORT __attribute__((visibility("default")))
#else
#define PBX_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ---------------------------------------------------------- */

#define PBX_VERSION_MAJOR 0
#define PBX_VERSION_MINOR 3
#define PBX_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, as the header was compiled. */
#define PBX_VERSION_NUMBER (PBX_VERSION_MAJOR * 10000 + PBX_VERSION_MINOR * 100 + PBX_VERSION_PATCH)
#define PBX_VERSION_STRING "0.3.0"

/* The library's version as linked: "0.3.0". Static storage.
 *   0.2 added Web Push: endpoints and notifications.
 *   0.3 added TLS: pbx_client_options.tls (and so pbx_replica_options.client.tls),
 *       pbx_server_options.tls, pbx_server_reload_tls, pbx_tls_public_key_pin.
 *       The new members are appended to pbx_client_options and
 *       pbx_server_options, which grow (and pbx_replica_options with them):
 *       an application built against an 0.2 header must be rebuilt; its
 *       source needs no change (the _init functions set TLS off). */
PBX_EXPORT const char* pbx_version(void);
/* The runtime twin of PBX_VERSION_NUMBER. */
PBX_EXPORT int pbx_version_number(void);

/* ---- Errors ----------------------------------------------------------- */

/* Error codes: the protocol's codes, negated. They reach applications and
 * other languages' bindings: do not renumber. */
typedef enum pbx_code {
  PBX_OK = 0,
  PBX_E_INVALID_ARGUMENT = -400,     /* malformed input, NULL argument, bad handle */
  PBX_E_UNAUTHENTICATED = -401,      /* unknown mailbox or wrong secret */
  PBX_E_PERMISSION_DENIED = -403,    /* not connected, not the recipient, not a party */
  PBX_E_NOT_FOUND = -404,            /* unknown id, key or mailbox */
  PBX_E_CONFLICT = -409,             /* id reused with other content; a handle still in use */
  PBX_E_GONE = -410,                 /* a superseded or deleted message */
  PBX_E_TOO_LARGE = -413,            /* a key, value, topic, meta or blob over its limit */
  PBX_E_DIGEST_MISMATCH = -422,      /* blob bytes do not match the digest */
  PBX_E_PROTOCOL_UNSUPPORTED = -426, /* the server speaks no protocol version we do */
  PBX_E_BACK_OFF = -429,             /* too many requests: retry later */
  PBX_E_INTERNAL = -500,             /* a bug, a corrupted store, a C++ exception */
  PBX_E_UNAVAILABLE = -503,          /* network down, timeout, shutting down, I/O error */
  PBX_E_RESOURCE_EXHAUSTED = -507    /* storage full: free space first */
} pbx_code;

/* The longest message pbx_error holds, its NUL included; longer ones are cut. */
#define PBX_ERROR_MESSAGE_MAX 512

typedef struct pbx_error {
  int code; /* a pbx_code */
  /* 1 if the same call may succeed when simply tried again later (transient:
   * PBX_E_UNAVAILABLE, PBX_E_BACK_OFF — the failures the replica's outbox
   * itself retries); 0 if it needs a different request or state (permanent). */
  int retryable;
  char message[PBX_ERROR_MESSAGE_MAX]; /* "NotFound: no entry \"a\"", NUL-terminated */
} pbx_error;

/* A short name for `code` ("NotFound"; "Unknown" for a value not in the
 * list). Static storage. */
PBX_EXPORT const char* pbx_strerror(int code);
/* 1 if `code` is transient (see pbx_error.retryable), else 0. */
PBX_EXPORT int pbx_code_retryable(int code);

/* ---- Memory and leak checking ----------------------------------------- */

/* Releases a byte buffer the library returned. NULL is ignored. */
PBX_EXPORT void pbx_free(void* p);
/* Handles and returned objects (buffers included) not yet released, over the
 * whole process. 0 once an application released everything. */
PBX_EXPORT uint64_t pbx_live_handles(void);

/* ---- Identifiers ------------------------------------------------------ */

/* A 16-byte identifier: a mailbox key (mkey) or a message id. */
typedef struct pbx_id {
  uint8_t bytes[16];
} pbx_id;

/* Writes the 32 lowercase hex characters of `id` and a NUL into `out`. */
PBX_EXPORT int pbx_id_to_hex(const pbx_id* id, char out[33], pbx_error* err);
/* Parses exactly 32 hex characters (either case). PBX_E_INVALID_ARGUMENT otherwise. */
PBX_EXPORT int pbx_id_from_hex(const char* hex, pbx_id* out, pbx_error* err);
/* 16 bytes from a cryptographically secure generator (a new message id). */
PBX_EXPORT int pbx_id_random(pbx_id* out, pbx_error* err);

/* ---- Data model ------------------------------------------------------- */

/* Message status, a max-register: it only rises. Same numbers as the wire. */
typedef enum pbx_status {
  PBX_STATUS_UPLOADED = 1,
  PBX_STATUS_DOWNLOADED = 2,
  PBX_STATUS_VIEWED = 3
} pbx_status;

/* What pbx_db_create_mailbox returns. The secret is shown only once. */
#define PBX_SECRET_MAX 64
typedef struct pbx_credentials {
  pbx_id mkey;
  char secret[PBX_SECRET_MAX]; /* base64url, NUL-terminated (43 characters) */
} pbx_credentials;

/* A live entry of a mailbox's key-value store. Owned by the caller; release
 * with pbx_entry_free (or, inside a list, pbx_entry_list_free). */
typedef struct pbx_entry {
  char* key;      /* NUL-terminated */
  uint8_t* value; /* value_len bytes, followed by a NUL for convenience */
  size_t value_len;
  uint64_t version;
  uint64_t seq; /* position in the feed (0 outside a feed) */
} pbx_entry;
PBX_EXPORT void pbx_entry_free(pbx_entry* entry);

typedef struct pbx_entry_list {
  pbx_entry* items; /* count entries, in key order */
  size_t count;
  int more; /* 1: the limit cut the list short */
} pbx_entry_list;
PBX_EXPORT void pbx_entry_list_free(pbx_entry_list* list);

/* The outcome of an entry put or delete (a version max-merge). */
typedef struct pbx_put_result {
  int applied;      /* 0: the stored state won the merge and is unchanged */
  uint64_t version; /* the stored version after the call */
} pbx_put_result;

/* A message as one of its parties sees it. Owned by the caller; release with
 * pbx_message_free (or, inside a list, pbx_message_list_free). */
typedef struct pbx_message {
  pbx_id id;
  pbx_id from;
  pbx_id to;
  char* topic;   /* NUL-terminated */
  uint8_t* meta; /* meta_len bytes, followed by a NUL */
  size_t meta_len;
  uint64_t length;    /* the blob's length */
  uint8_t digest[16]; /* the blob's XXH3-128, big-endian */
  int status;         /* a pbx_status */
  uint64_t created_ms;
  uint64_t seq;
  /* Set only by the replica's reads (0 from the store and the client): */
  int incoming;      /* 1: this mailbox is the recipient */
  int synced_status; /* the status the server last confirmed; 0: post not yet acknowledged */
  int pending;       /* 1: a post or a status raise still in the outbox */
} pbx_message;
PBX_EXPORT void pbx_message_free(pbx_message* message);

typedef struct pbx_message_list {
  pbx_message* items;
  size_t count;
} pbx_message_list;
PBX_EXPORT void pbx_message_list_free(pbx_message_list* list);

/* Push platforms. Same numbers as the wire. */
typedef enum pbx_platform {
  PBX_PLATFORM_NONE = 0, /* registering it clears the registration */
  PBX_PLATFORM_IOS = 1,
  PBX_PLATFORM_ANDROID = 2,
  PBX_PLATFORM_WEB = 3
} pbx_platform;

/* Where a connection stands, as one of its mailboxes sees it (both must ask). */
typedef enum pbx_connection_state {
  PBX_CONNECTION_NONE = 0,
  PBX_CONNECTION_REQUESTED = 1, /* this mailbox asked; the peer has not asked back */
  PBX_CONNECTION_CONNECTED = 2
} pbx_connection_state;

/* Which connections a listing returns. Same numbers as the wire. */
typedef enum pbx_connection_kind {
  PBX_CONNECTIONS_CONNECTED = 0, /* mailboxes connected to this one */
  PBX_CONNECTIONS_REQUESTED = 1, /* this mailbox's requests not yet answered */
  PBX_CONNECTIONS_INCOMING = 2   /* requests other mailboxes made to this one */
} pbx_connection_kind;

typedef struct pbx_connection {
  pbx_id peer;
  int state; /* a pbx_connection_state */
} pbx_connection;

/* Release with pbx_connection_list_free. */
typedef struct pbx_connection_list {
  pbx_connection* items; /* count connections, in peer mkey order */
  size_t count;
  int more; /* 1: the limit cut the list short: list again after the last peer */
} pbx_connection_list;
PBX_EXPORT void pbx_connection_list_free(pbx_connection_list* list);

/* What a feed says of an item that is gone. */
typedef enum pbx_tombstone_kind {
  PBX_TOMBSTONE_MESSAGE = 1, /* a message superseded, deleted or expired */
  PBX_TOMBSTONE_ENTRY = 2    /* an entry deleted */
} pbx_tombstone_kind;

typedef struct pbx_tombstone {
  int kind;         /* a pbx_tombstone_kind */
  pbx_id id;        /* PBX_TOMBSTONE_MESSAGE: the message (zero otherwise) */
  char* key;        /* PBX_TOMBSTONE_ENTRY: the entry key ("" otherwise) */
  uint64_t version; /* PBX_TOMBSTONE_ENTRY: the delete's version */
  uint64_t seq;
} pbx_tombstone;

/* An info packet (wire/PROTOCOL.md, SPEC §3): the current state of every item
 * of a mailbox's feed that changed after `since`. The same thing is a poll
 * reply (pbx_db_changes, pbx_client_poll; owned by the caller, release with
 * pbx_info_free) and a push (pbx_client_options.on_push; borrowed). */
typedef struct pbx_info {
  uint64_t cursor;       /* pass as `since` next time; opaque */
  uint64_t since;        /* the cursor this packet continues from */
  int reset;             /* 1: a full snapshot: items not in it are gone */
  int more;              /* 1: the limit cut it short; poll again from cursor */
  pbx_message* incoming; /* messages to this mailbox, in seq order */
  size_t incoming_count;
  pbx_message* outgoing; /* messages from this mailbox */
  size_t outgoing_count;
  pbx_entry* entries;
  size_t entries_count;
  pbx_tombstone* tombstones;
  size_t tombstones_count;
} pbx_info;
PBX_EXPORT void pbx_info_free(pbx_info* info);

/* ---- Web Push: endpoints and notifications (postbox/push.h) ----------- */

/* A Web Push endpoint of a mailbox (protocol 3; docs/notifications.md): app
 * servers POST notifications to `url`, and the server stores each as an entry
 * of the mailbox (pbx_push_notification). Owned by the caller; release with
 * pbx_endpoint_free (or, inside a list, pbx_endpoint_list_free). */
typedef struct pbx_endpoint {
  char* token;               /* 22 characters of base64url, NUL-terminated */
  char* app_id;              /* NUL-terminated */
  uint8_t* vapid_public_key; /* vapid_public_key_len bytes (0 or 65), followed by a NUL */
  size_t vapid_public_key_len;
  uint64_t created_ms; /* ms since the Unix epoch */
  char* url;           /* where app servers send; "" if the server has no public URL set */
} pbx_endpoint;
PBX_EXPORT void pbx_endpoint_free(pbx_endpoint* endpoint);

typedef struct pbx_endpoint_list {
  pbx_endpoint* items; /* count endpoints, in token order */
  size_t count;
  int more; /* 1: the limit cut the list short: list again after the last token */
} pbx_endpoint_list;
PBX_EXPORT void pbx_endpoint_list_free(pbx_endpoint_list* list);

/* A notification's urgency (RFC 8030 section 5.3), lowest first. Do not renumber. */
typedef enum pbx_urgency {
  PBX_URGENCY_VERY_LOW = 0,
  PBX_URGENCY_LOW = 1,
  PBX_URGENCY_NORMAL = 2,
  PBX_URGENCY_HIGH = 3
} pbx_urgency;

/* A Web Push notification as the server stores it: an entry of the mailbox
 * under "postbox/push/<token>/<id>", or ".../t.<topic>" when it has a topic
 * (a newer one of the same topic replaces it). A client consumes one by
 * deleting its entry (pbx_replica_consume_push_notification). Owned by the
 * caller; release with pbx_push_notification_free (or, inside a list,
 * pbx_push_notification_list_free). */
typedef struct pbx_push_notification {
  char* token;          /* the endpoint's token, NUL-terminated */
  char* id;             /* 32 lowercase hex characters, unique per notification */
  char* topic;          /* "" or 1..32 characters of base64url */
  int urgency;          /* a pbx_urgency */
  uint32_t ttl_s;       /* seconds the app server asked it be kept */
  uint64_t received_ms; /* when the server stored it (ms since the Unix epoch) */
  char* encoding;       /* the Content-Encoding sent ("aes128gcm"), or "" */
  uint8_t* payload;     /* payload_len bytes as the app server sent them, followed by a NUL */
  size_t payload_len;
  char* key;        /* the entry key it is stored under */
  uint64_t version; /* the entry's version (what consuming deletes); 0 if not known */
} pbx_push_notification;
PBX_EXPORT void pbx_push_notification_free(pbx_push_notification* notification);

typedef struct pbx_push_notification_list {
  pbx_push_notification* items; /* oldest first: by received_ms, then key */
  size_t count;
} pbx_push_notification_list;
PBX_EXPORT void pbx_push_notification_list_free(pbx_push_notification_list* list);

/* Reads a notification from its entry: `key` and value[0, value_len) as any
 * entry read returns them (pbx_client_get_entry, an on_push packet's entries,
 * pbx_replica_list_entries, ...); `version` is the entry's and is copied into
 * (*out)->version (0 if unknown). *out: release with
 * pbx_push_notification_free. PBX_E_INVALID_ARGUMENT if the key is not under
 * "postbox/push/" or the value is not a notification's (the message says
 * what is wrong), or for a NULL key or out. Needs no handle; any thread. */
PBX_EXPORT int pbx_push_notification_parse(const char* key, const void* value, size_t value_len,
                                           uint64_t version, pbx_push_notification** out,
                                           pbx_error* err);

/* ---- The store (postbox/db.h) ------------------------------------------ */

typedef struct pbx_db pbx_db;

typedef enum pbx_durability {
  PBX_DURABLE = 0, /* every write synced before it returns */
  PBX_RELAXED = 1  /* a system crash may undo the last write; a process crash loses nothing */
} pbx_durability;

typedef enum pbx_posting_policy {
  PBX_POST_CONNECTED = 0, /* posting needs a connection (PBX_E_PERMISSION_DENIED otherwise) */
  PBX_POST_OPEN = 1       /* anyone who knows an mkey may post to it */
} pbx_posting_policy;

typedef struct pbx_db_options {
  int durability;        /* a pbx_durability; default PBX_DURABLE */
  int posting_policy;    /* a pbx_posting_policy; default PBX_POST_CONNECTED */
  uint64_t max_map_size; /* the most the store may hold; default 64 GiB, at least 1 MiB */
  uint32_t slot_depth;   /* live messages per (from, to, topic); default 1 */
  int read_only;         /* default 0 */
} pbx_db_options;

/* Fills `options` with the defaults. */
PBX_EXPORT void pbx_db_options_init(pbx_db_options* options);

/* Opens (creating if needed, unless read_only) the store in folder `path`;
 * `options` may be NULL for the defaults. On success *out is a handle to
 * release with pbx_db_close. PBX_E_INVALID_ARGUMENT for bad options,
 * PBX_E_UNAVAILABLE if the folder cannot be opened, PBX_E_INTERNAL for a
 * store of an unknown format. Thread-safe handle. */
PBX_EXPORT int pbx_db_open(const char* path, const pbx_db_options* options, pbx_db** out,
                           pbx_error* err);
/* Closes the store. PBX_E_CONFLICT, and nothing is closed, while a server
 * started on it (pbx_server_start) is still running. NULL is PBX_OK. */
PBX_EXPORT int pbx_db_close(pbx_db* db, pbx_error* err);

/* Creates a mailbox with a random mkey and secret, written to *out. */
PBX_EXPORT int pbx_db_create_mailbox(pbx_db* db, pbx_credentials* out, pbx_error* err);
/* PBX_OK if `secret` is the mailbox's; PBX_E_UNAUTHENTICATED otherwise. */
PBX_EXPORT int pbx_db_authenticate(pbx_db* db, const pbx_id* mkey, const char* secret,
                                   pbx_error* err);
/* The operator's override: connects a and b at once (idempotent).
 * PBX_E_NOT_FOUND if either is unknown; PBX_E_INVALID_ARGUMENT if a == b. */
PBX_EXPORT int pbx_db_connect(pbx_db* db, const pbx_id* a, const pbx_id* b, pbx_error* err);
/* `actor` ends its connection with `peer`, withdraws its request to `peer`
 * and declines `peer`'s request (idempotent). PBX_E_NOT_FOUND if `actor` is
 * unknown. */
PBX_EXPORT int pbx_db_disconnect(pbx_db* db, const pbx_id* actor, const pbx_id* peer,
                                 pbx_error* err);
/* The connections of `mkey` of one `kind` (a pbx_connection_kind), in mkey
 * order after `start_after` (NULL: from the first), at most `limit` (0: no
 * limit).
 * *out: release with pbx_connection_list_free. PBX_E_NOT_FOUND for an unknown
 * mailbox. */
PBX_EXPORT int pbx_db_list_connections(pbx_db* db, const pbx_id* mkey, int kind,
                                       const pbx_id* start_after, size_t limit,
                                       pbx_connection_list** out, pbx_error* err);
/* Deletes the mailbox with its entries, and its messages as their parties
 * see them (they learn it as tombstones). PBX_E_NOT_FOUND if unknown. */
PBX_EXPORT int pbx_db_delete_mailbox(pbx_db* db, const pbx_id* mkey, pbx_error* err);
/* The mailbox's feed after cursor `since` (0: everything), at most `limit`
 * items (0: no limit). *out: release with pbx_info_free.
 * PBX_E_NOT_FOUND for an unknown mailbox. */
PBX_EXPORT int pbx_db_changes(pbx_db* db, const pbx_id* mkey, uint64_t since, size_t limit,
                              pbx_info** out, pbx_error* err);

/* Puts value[0, value_len) at `key` in mailbox `mkey` if (version, value)
 * wins the merge; version 0 means the stored version + 1. `out` may be NULL.
 * PBX_E_TOO_LARGE for a key or value over its limit. */
PBX_EXPORT int pbx_db_put_entry(pbx_db* db, const pbx_id* mkey, const char* key, const void* value,
                                size_t value_len, uint64_t version, pbx_put_result* out,
                                pbx_error* err);
/* A versioned tombstone, merged like a put. `out` may be NULL. */
PBX_EXPORT int pbx_db_delete_entry(pbx_db* db, const pbx_id* mkey, const char* key,
                                   uint64_t version, pbx_put_result* out, pbx_error* err);
/* *out: the entry (release with pbx_entry_free). PBX_E_NOT_FOUND if absent or deleted. */
PBX_EXPORT int pbx_db_get_entry(pbx_db* db, const pbx_id* mkey, const char* key, pbx_entry** out,
                                pbx_error* err);
/* Live entries whose key starts with `prefix` (NULL: all), in key order after
 * `start_after` (NULL: from the first), at most `limit` (0: no limit). *out: release with
 * pbx_entry_list_free. `more` is 1 when exactly `limit` were returned and more
 * may follow. */
PBX_EXPORT int pbx_db_list_entries(pbx_db* db, const pbx_id* mkey, const char* prefix,
                                   const char* start_after, size_t limit, pbx_entry_list** out,
                                   pbx_error* err);

/* Commits a message from `from` to `to` with its whole blob bytes[0, len).
 * `id` NULL: a random id. *out (may be NULL): the message (release with
 * pbx_message_free). PBX_E_PERMISSION_DENIED if not connected (policy
 * PBX_POST_CONNECTED), PBX_E_CONFLICT for an id reused with other content,
 * PBX_E_GONE for a superseded id, PBX_E_TOO_LARGE. */
PBX_EXPORT int pbx_db_post_message(pbx_db* db, const pbx_id* from, const pbx_id* to,
                                   const pbx_id* id, const char* topic, const void* meta,
                                   size_t meta_len, const void* bytes, size_t len,
                                   pbx_message** out, pbx_error* err);
/* The message as `actor` (a party) sees it (release with pbx_message_free).
 * PBX_E_PERMISSION_DENIED for anyone else, PBX_E_NOT_FOUND, PBX_E_GONE. */
PBX_EXPORT int pbx_db_get_message(pbx_db* db, const pbx_id* actor, const pbx_id* id,
                                  pbx_message** out, pbx_error* err);
/* Max-merges `status` (a pbx_status) into the message; *status_out (may be
 * NULL) gets the status after the call. Only the recipient may
 * (PBX_E_PERMISSION_DENIED); PBX_E_NOT_FOUND, PBX_E_GONE. */
PBX_EXPORT int pbx_db_advance_status(pbx_db* db, const pbx_id* actor, const pbx_id* id, int status,
                                     int* status_out, pbx_error* err);
/* Copies bytes [offset, offset + length) of the blob, clipped to its end
 * (length UINT64_MAX: to the end), into *out (release with pbx_free; never
 * NULL on success, also for 0 bytes), *out_len bytes. Errors as
 * pbx_db_get_message; PBX_E_INVALID_ARGUMENT for an offset past the end. */
PBX_EXPORT int pbx_db_read_blob(pbx_db* db, const pbx_id* actor, const pbx_id* id, uint64_t offset,
                                uint64_t length, uint8_t** out, size_t* out_len, pbx_error* err);

/* ---- TLS (postbox/sync/tls.h; docs/tls.md) ------------------------------ */

/* The oldest TLS version a side accepts. Same numbers as the C++ API: do not
 * renumber. */
typedef enum pbx_tls_version { PBX_TLS_1_2 = 12, PBX_TLS_1_3 = 13 } pbx_tls_version;

/* The client's TLS (pbx_client_options.tls, and so a replica's). Every string
 * is NUL-terminated, copied by the call that takes the options; NULL and ""
 * both mean "not set". */
typedef struct pbx_tls_client_options {
  int enabled; /* 1: TLS; 0 (the default): plain TCP (loopback, tests), the rest ignored */
  /* PEM CA certificates the server's chain must lead to; not set: the
   * system's store (OpenSSL's default paths). */
  const char* ca_file;
  /* The name the server's certificate must carry (a DNS name, also sent as
   * SNI, or an IP literal); not set: pbx_client_options.host. */
  const char* server_name;
  /* pins_count public-key pins, each "sha256/" + base64 of the SHA-256 of a
   * certificate's DER SubjectPublicKeyInfo (what pbx_tls_public_key_pin
   * gives). With any: besides the chain and name checks, some certificate of
   * the verified chain must have one of these keys. NULL with 0. */
  const char* const* pins;
  size_t pins_count;
  /* A client certificate chain and its key (PEM), for a server that asks for
   * one (mutual TLS): both or neither. */
  const char* cert_file;
  const char* key_file;
  int min_version; /* a pbx_tls_version; default PBX_TLS_1_3 (0 is taken as the default) */
} pbx_tls_client_options;

/* A listener's TLS (pbx_server_options.tls). Strings as above. */
typedef struct pbx_tls_server_options {
  /* PEM files: the certificate chain (the server's certificate first) and its
   * unencrypted key. cert_file not set (the default): plain TCP, the rest
   * ignored; set: TLS only, and key_file is required. Read at
   * pbx_server_start and at each pbx_server_reload_tls. */
  const char* cert_file;
  const char* key_file;
  /* Set: mutual TLS: every client must present a certificate that chains to
   * a CA in this PEM file, or its handshake fails. */
  const char* client_ca_file;
  int min_version; /* a pbx_tls_version; default PBX_TLS_1_3 (0 is taken as the default) */
  /* A connection whose handshake has not finished this long after it was
   * accepted is closed; default 10000 (0 is taken as the default). */
  uint32_t handshake_timeout_ms;
} pbx_tls_server_options;

/* The longest pin pbx_tls_public_key_pin writes, its NUL included
 * ("sha256/" + 44 base64 characters + NUL is 52). */
#define PBX_TLS_PIN_MAX 64

/* Writes the pin (see pbx_tls_client_options.pins) of the public key of the
 * first certificate in the PEM file `cert_file` into `out`, NUL-terminated.
 * PBX_E_NOT_FOUND if the file cannot be read; PBX_E_INVALID_ARGUMENT if it
 * holds no certificate. */
PBX_EXPORT int pbx_tls_public_key_pin(const char* cert_file, char out[PBX_TLS_PIN_MAX],
                                      pbx_error* err);

/* ---- The embedded sync server (postbox/sync/server.h) ------------------ */

typedef struct pbx_server pbx_server;

typedef struct pbx_server_options {
  const char* host; /* an IPv4 or IPv6 literal; default "127.0.0.1" */
  uint16_t port;    /* 0: an ephemeral port (pbx_server_port); default 7420 */
  unsigned threads; /* loop threads; 0: one per core; default 1 */
  /* TLS on the listener (0.3); default: none (plain TCP). With it the
   * listener speaks TLS only (ALPN "postbox"), and clients need
   * pbx_client_options.tls.enabled. */
  pbx_tls_server_options tls;
} pbx_server_options;
PBX_EXPORT void pbx_server_options_init(pbx_server_options* options);

/* Starts a sync server over `db` (which stays open until the server is
 * stopped: pbx_db_close refuses before). `options` may be NULL for the
 * defaults. PBX_E_INVALID_ARGUMENT for bad options or host, or TLS files that
 * cannot be loaded (the message names the file and OpenSSL's reason: a
 * missing file, no certificate in it, a key that does not match);
 * PBX_E_UNAVAILABLE when the address cannot be bound. Thread-safe handle. Writes made with the
 * pbx_db_ functions while it runs go straight into the store: sessions see
 * them at their next poll, not as pushes (write through a client to push). */
PBX_EXPORT int pbx_server_start(pbx_db* db, const pbx_server_options* options, pbx_server** out,
                                pbx_error* err);
/* The port listened on (the ephemeral one when options.port was 0). */
PBX_EXPORT int pbx_server_port(pbx_server* server, uint16_t* out, pbx_error* err);
/* Reads the TLS certificate, key and client CA files again (what
 * postbox-server does on SIGHUP, say after a certificate was renewed in
 * place): connections accepted from now on use them; open sessions keep
 * theirs and are not interrupted. On any error nothing changes and
 * PBX_E_INVALID_ARGUMENT names the file and OpenSSL's reason. PBX_OK, and
 * nothing done, for a server without TLS. */
PBX_EXPORT int pbx_server_reload_tls(pbx_server* server, pbx_error* err);
/* Stops gracefully (queued writes are committed and answered; sessions get
 * 503) and releases the handle. Returns within about 2 s. NULL is ignored. */
PBX_EXPORT void pbx_server_stop(pbx_server* server);

/* ---- The client (postbox/sync/client.h) -------------------------------- */

typedef struct pbx_client pbx_client;

typedef struct pbx_client_options {
  const char* host;            /* default "127.0.0.1" */
  uint16_t port;               /* default 7420 */
  pbx_id mkey;                 /* the mailbox (required) */
  const char* secret;          /* its secret (required) */
  const char* app_version;     /* sent in Hello; NULL: "" */
  uint32_t request_timeout_ms; /* every request fails PBX_E_UNAVAILABLE after it; default 5000 */
  int reconnect;               /* reconnect after a lost session; default 1 */
  /* Pushed info packets, on the client's thread, in order; NULL: none. After
   * every (re)connect the client first polls from the last acknowledged
   * cursor (start_cursor the first time) and hands those packets here too;
   * each packet is acknowledged when the callback returns. The packet is
   * borrowed for the call. The callback must return quickly and must not call
   * the blocking pbx_client_ functions (they fail PBX_E_INVALID_ARGUMENT
   * there) nor close the client. Ignored by the replica (it has its own). */
  void (*on_push)(void* context, const pbx_info* info);
  void* push_context;
  uint64_t start_cursor; /* default 0 */
  /* 1: packets given to on_push are not acknowledged when it returns; the app
   * calls pbx_client_ack with a packet's cursor once it has processed it (on
   * any thread), so a packet handed off and lost before then is delivered
   * again after a reconnect (at least once). The server pushes only a window
   * of packets past the last ack. Default 0. */
  int manual_ack;
  /* TLS to the server (0.3); default: off (plain TCP). A handshake that fails
   * (a certificate that does not verify, is expired or names another host, a
   * pin that matches no key, no TLS version in common) fails
   * pbx_client_connect with PBX_E_UNAVAILABLE naming OpenSSL's reason; the
   * client (and a replica) keeps retrying with backoff as after any lost
   * connection. Without TLS, a listener that speaks only TLS answers
   * PBX_E_PROTOCOL_UNSUPPORTED (final), saying so. */
  pbx_tls_client_options tls;
} pbx_client_options;
PBX_EXPORT void pbx_client_options_init(pbx_client_options* options);

/* Verdicts of a Hello about the app's version. Same numbers as the wire. */
typedef enum pbx_verdict {
  PBX_VERDICT_CURRENT = 0,
  PBX_VERDICT_UPDATE_OPTIONAL = 1,
  PBX_VERDICT_UPDATE_REQUIRED = 2,       /* the server ended the session */
  PBX_VERDICT_UPDATE_SCHEMA_REQUIRED = 3 /* likewise */
} pbx_verdict;

/* Creates a client (its own thread; does not connect). PBX_E_INVALID_ARGUMENT
 * for bad options (with TLS: a CA, certificate or key file that cannot be
 * loaded, a malformed pin). Every call blocks at most about request_timeout_ms (a
 * transfer: since its last progress). Thread-safe handle. */
PBX_EXPORT int pbx_client_create(const pbx_client_options* options, pbx_client** out,
                                 pbx_error* err);
/* Connects and says Hello; *verdict (may be NULL) gets a pbx_verdict.
 * PBX_E_UNAUTHENTICATED, PBX_E_PROTOCOL_UNSUPPORTED (final) or
 * PBX_E_UNAVAILABLE (cannot connect, timeout). */
PBX_EXPORT int pbx_client_connect(pbx_client* client, int* verdict, pbx_error* err);
/* Ends the session, joins the client's thread and releases the handle. Calls
 * in progress on other threads fail PBX_E_UNAVAILABLE at once, and close
 * returns only after they have returned; calls made after close has begun
 * are undefined behaviour (as for every closed handle). NULL is ignored. */
PBX_EXPORT void pbx_client_close(pbx_client* client);

/* As pbx_db_put_entry, on the client's mailbox through the server. */
PBX_EXPORT int pbx_client_put_entry(pbx_client* client, const char* key, const void* value,
                                    size_t value_len, uint64_t version, pbx_put_result* out,
                                    pbx_error* err);
/* As pbx_db_get_entry; PBX_E_NOT_FOUND if absent. */
PBX_EXPORT int pbx_client_get_entry(pbx_client* client, const char* key, pbx_entry** out,
                                    pbx_error* err);
/* As pbx_db_delete_entry, through the server. */
PBX_EXPORT int pbx_client_delete_entry(pbx_client* client, const char* key, uint64_t version,
                                       pbx_put_result* out, pbx_error* err);
/* As pbx_db_list_entries, through the server (limit 0: the server's page). */
PBX_EXPORT int pbx_client_list_entries(pbx_client* client, const char* prefix,
                                       const char* start_after, size_t limit, pbx_entry_list** out,
                                       pbx_error* err);
/* Asks to connect to `peer`; *state (may be NULL) gets
 * PBX_CONNECTION_CONNECTED once the peer asked too, else
 * PBX_CONNECTION_REQUESTED (also for a mailbox that does not exist: the
 * server never tells). PBX_E_BACK_OFF past the server's cap on requests. */
PBX_EXPORT int pbx_client_add_connection(pbx_client* client, const pbx_id* peer, int* state,
                                         pbx_error* err);
/* Ends the connection, withdraws the request or declines the peer's (PBX_OK
 * whether or not there was one). */
PBX_EXPORT int pbx_client_remove_connection(pbx_client* client, const pbx_id* peer, pbx_error* err);
/* As pbx_db_list_connections, for the client's mailbox (limit 0: the server's
 * page). */
PBX_EXPORT int pbx_client_list_connections(pbx_client* client, int kind, const pbx_id* start_after,
                                           size_t limit, pbx_connection_list** out, pbx_error* err);
/* Registers the device's push token (platform PBX_PLATFORM_NONE clears it). */
PBX_EXPORT int pbx_client_register_push(pbx_client* client, int platform, const char* token,
                                        pbx_error* err);
/* Web Push endpoints, on the server (protocol 3 or later; an older server:
 * PBX_E_PROTOCOL_UNSUPPORTED). Registers the mailbox's endpoint for `app_id`
 * (NUL-terminated; 1..256 bytes on a default server) with the VAPID public key
 * vapid_public_key[0, key_len) (empty, or a 65-byte uncompressed P-256
 * point; NULL allowed with 0): the same endpoint again when registered again
 * with the same key, a new one (the app's old one revoked) for a new key.
 * *out: release with pbx_endpoint_free. PBX_E_INVALID_ARGUMENT for a bad app
 * id or key, PBX_E_BACK_OFF past the server's cap on live endpoints per
 * mailbox (64 by default), PBX_E_UNAVAILABLE (not connected, timeout). */
PBX_EXPORT int pbx_client_register_endpoint(pbx_client* client, const char* app_id,
                                            const void* vapid_public_key, size_t key_len,
                                            pbx_endpoint** out, pbx_error* err);
/* The mailbox's live endpoints in token order after `start_after` (NULL: from
 * the first), at most `limit` (0: the server's page). *out: release with
 * pbx_endpoint_list_free. PBX_E_INVALID_ARGUMENT for a limit over 2^32 - 1;
 * PBX_E_PROTOCOL_UNSUPPORTED, PBX_E_UNAVAILABLE as above. */
PBX_EXPORT int pbx_client_list_endpoints(pbx_client* client, const char* start_after, size_t limit,
                                         pbx_endpoint_list** out, pbx_error* err);
/* Revokes endpoint `token`: app servers get 410 from it afterwards.
 * PBX_E_NOT_FOUND unless it is a live endpoint of this mailbox;
 * PBX_E_PROTOCOL_UNSUPPORTED, PBX_E_UNAVAILABLE as above. */
PBX_EXPORT int pbx_client_revoke_endpoint(pbx_client* client, const char* token, pbx_error* err);
/* Polls the mailbox's feed after cursor `since`, at most `limit` items (0: the
 * server's page). *out: release with pbx_info_free. */
PBX_EXPORT int pbx_client_poll(pbx_client* client, uint64_t since, uint32_t limit, pbx_info** out,
                               pbx_error* err);
/* Acknowledges the feed up to `cursor` (a packet's cursor): the server may
 * push what follows. Returns once queued on the session. */
PBX_EXPORT int pbx_client_ack(pbx_client* client, uint64_t cursor, pbx_error* err);
/* A round trip to the server (PBX_E_UNAVAILABLE if none within the timeout). */
PBX_EXPORT int pbx_client_ping(pbx_client* client, pbx_error* err);
/* Raises message `id`'s status; *status_out and *applied (may be NULL) get
 * the status after the update and whether this call raised it.
 * PBX_E_NOT_FOUND, PBX_E_GONE, PBX_E_PERMISSION_DENIED (not the recipient). */
PBX_EXPORT int pbx_client_update_status(pbx_client* client, const pbx_id* id, int status,
                                        int* status_out, int* applied, pbx_error* err);
/* Uploads bytes[0, len) (copied) as message `id` to `to`, resumably; returns
 * once the message is committed. Resending an identical committed upload is
 * PBX_OK. PBX_E_PERMISSION_DENIED (not connected to `to`), PBX_E_CONFLICT,
 * PBX_E_GONE, PBX_E_TOO_LARGE, PBX_E_UNAVAILABLE (not connected, or retries
 * without progress ran out). */
PBX_EXPORT int pbx_client_upload(pbx_client* client, const pbx_id* to, const pbx_id* id,
                                 const char* topic, const void* meta, size_t meta_len,
                                 const void* bytes, size_t len, pbx_error* err);
/* Downloads message `id`'s whole blob, verified, into *out (release with
 * pbx_free; never NULL on success), *out_len bytes. PBX_E_GONE,
 * PBX_E_NOT_FOUND, PBX_E_PERMISSION_DENIED (not a party),
 * PBX_E_DIGEST_MISMATCH, PBX_E_UNAVAILABLE. */
PBX_EXPORT int pbx_client_download(pbx_client* client, const pbx_id* id, uint8_t** out,
                                   size_t* out_len, pbx_error* err);

/* ---- The replica: an app's mailbox, offline-first (postbox/sync/replica.h) */

typedef struct pbx_replica pbx_replica;

/* What one local transaction changed in what the app sees. Borrowed: valid
 * only during the callback that receives it. */
typedef struct pbx_change {
  const pbx_id* messages; /* added or changed */
  size_t messages_count;
  const pbx_id* messages_removed; /* superseded, deleted, rolled back */
  size_t messages_removed_count;
  const char* const* entries; /* keys put */
  size_t entries_count;
  const char* const* entries_removed;
  size_t entries_removed_count;
  int reset; /* a full snapshot rebuilt the mirror */
  uint64_t cursor;
} pbx_change;

/* Kinds of outbox items. Same numbers as the replica's: do not renumber. */
typedef enum pbx_outbox_kind {
  PBX_OUTBOX_STATUS = 1,
  PBX_OUTBOX_PUT_ENTRY = 2,
  PBX_OUTBOX_DELETE_ENTRY = 3,
  PBX_OUTBOX_POST = 4,
  PBX_OUTBOX_ADD_CONNECTION = 5,
  PBX_OUTBOX_REMOVE_CONNECTION = 6,
  PBX_OUTBOX_REGISTER_PUSH = 7
} pbx_outbox_kind;

/* How an outbox item ended. Borrowed: valid only during the callback. */
typedef struct pbx_outbox_outcome {
  uint64_t item;            /* the id the write returned */
  int kind;                 /* a pbx_outbox_kind */
  pbx_id message;           /* PBX_OUTBOX_STATUS, PBX_OUTBOX_POST */
  const char* key;          /* PBX_OUTBOX_PUT_ENTRY, _DELETE_ENTRY; PBX_OUTBOX_POST: the topic */
  int code;                 /* PBX_OK: acknowledged; else the permanent error, effect rolled back */
  const char* message_text; /* the error's message ("" for PBX_OK) */
  int cancelled;            /* ended by a cancel */
  int applied;              /* 0: acknowledged but the server's state already won the merge */
} pbx_outbox_outcome;

/* A task the replica hands to the host's executor (pbx_replica_options). */
typedef struct pbx_task pbx_task;
/* Runs `task` (a callback of the replica) and releases it. The host must call
 * it exactly once per task, on the thread of its choice, one task at a time,
 * in the order the tasks were handed over. */
PBX_EXPORT void pbx_task_run(pbx_task* task);

typedef void (*pbx_change_fn)(void* context, const pbx_change* change);
typedef void (*pbx_outbox_fn)(void* context, const pbx_outbox_outcome* outcome);
typedef void (*pbx_error_fn)(void* context, const pbx_error* error);
/* Called on a thread of the replica, or on the app's own thread inside a
 * pbx_replica_ write call (a write's optimistic change is handed over at
 * once); must hand `task` over (to a queue, a UI thread) and return quickly,
 * without running it or calling the replica. */
typedef void (*pbx_executor_fn)(void* context, pbx_task* task);

typedef struct pbx_replica_options {
  const char* folder;        /* the replica's folder (created if missing); required */
  pbx_client_options client; /* the server, the mailbox and its secret */
  int durability;            /* the local store's; a pbx_durability; default PBX_DURABLE */
  uint32_t poll_interval_ms; /* safety-net poll while connected; default 30000 */
  uint32_t retry_initial_ms; /* transient-failure backoff; default 100 */
  uint32_t retry_max_ms;     /* default 30000 */
  int start; /* start syncing at once; default 1 (else no network until pbx_replica_start) */
  /* Callbacks, each optional (NULL). They get `callback_context`. They run one
   * at a time and in order: on a thread of the replica's own if `executor` is
   * NULL, else wherever the executor runs the tasks. They may call any
   * pbx_replica_ function except pbx_replica_close (and pbx_replica_sync when
   * on the replica's own thread). */
  pbx_change_fn on_change; /* after a local transaction changed what the app sees */
  pbx_outbox_fn on_outbox; /* an outbox item ended (at least once: tell repeats by item) */
  pbx_error_fn on_error;   /* syncing hit an error a retry will not fix (401, 426, store) */
  void* callback_context;
  pbx_executor_fn executor; /* NULL: the replica's own thread runs callbacks */
  void* executor_context;
} pbx_replica_options;
PBX_EXPORT void pbx_replica_options_init(pbx_replica_options* options);

/* Opens (creating) the replica in options->folder and, with options->start,
 * syncs in the background; never blocks on the network. PBX_E_INVALID_ARGUMENT
 * for bad options; PBX_E_CONFLICT if the folder holds another mailbox's
 * replica; the local store's errors. Thread-safe handle. */
PBX_EXPORT int pbx_replica_open(const pbx_replica_options* options, pbx_replica** out,
                                pbx_error* err);
/* Starts syncing a replica opened with options.start = 0 (idempotent: PBX_OK
 * if it is syncing already). Never blocks on the network. */
PBX_EXPORT int pbx_replica_start(pbx_replica* replica, pbx_error* err);
/* Stops syncing and releases the handle; writes already returned stay in the
 * outbox for the next open. Callbacks the replica's own thread has not run yet
 * are dropped (an outbox item that ended is not reported again: its outcome
 * may be lost at close). Tasks given to a host executor and not yet run
 * must still be run (pbx_task_run releases them); they still call the
 * callbacks, which must then not use the closed replica. NULL is ignored. */
PBX_EXPORT void pbx_replica_close(pbx_replica* replica);

/* Waits until the outbox is empty and the mirror has caught up with the
 * server, or timeout_ms passes (PBX_E_UNAVAILABLE). With the replica's own
 * executor, the callbacks of what it waited for have run when it returns.
 * PBX_E_INVALID_ARGUMENT from a callback on the replica's own thread. */
PBX_EXPORT int pbx_replica_sync(pbx_replica* replica, uint32_t timeout_ms, pbx_error* err);
/* Outbox items not yet ended. */
PBX_EXPORT int pbx_replica_pending_count(pbx_replica* replica, uint64_t* out, pbx_error* err);

/* Messages received / sent, oldest first, after `start_after` (NULL: from the
 * first), at most `limit` (0: all). From the mirror: work offline. *out:
 * release with pbx_message_list_free. */
PBX_EXPORT int pbx_replica_inbox(pbx_replica* replica, const pbx_id* start_after, size_t limit,
                                 pbx_message_list** out, pbx_error* err);
PBX_EXPORT int pbx_replica_sent(pbx_replica* replica, const pbx_id* start_after, size_t limit,
                                pbx_message_list** out, pbx_error* err);
/* One message of the mirror (release with pbx_message_free); PBX_E_NOT_FOUND. */
PBX_EXPORT int pbx_replica_get_message(pbx_replica* replica, const pbx_id* id, pbx_message** out,
                                       pbx_error* err);
/* One entry as the app sees it (release with pbx_entry_free); PBX_E_NOT_FOUND. */
PBX_EXPORT int pbx_replica_get_entry(pbx_replica* replica, const char* key, pbx_entry** out,
                                     pbx_error* err);
/* Entries as the app sees them, as pbx_db_list_entries (limit 0: all). */
PBX_EXPORT int pbx_replica_list_entries(pbx_replica* replica, const char* prefix,
                                        const char* start_after, size_t limit, pbx_entry_list** out,
                                        pbx_error* err);
/* The connections as last synced with the pending changes applied: peers
 * connected or asked by this mailbox. *out: release with
 * pbx_connection_list_free (more is 0). */
PBX_EXPORT int pbx_replica_connections(pbx_replica* replica, pbx_connection_list** out,
                                       pbx_error* err);

/* The replica's state now. */
typedef struct pbx_replica_state {
  int connected;            /* 1: a session with the server is up */
  uint64_t cursor;          /* the cursor of the last applied packet */
  uint64_t pending;         /* outbox items not yet ended */
  uint64_t packets_applied; /* since opened */
  uint64_t sessions;        /* sessions established since opened */
  int last_error_code;      /* the last final error (401, 426, store) as a pbx_code; 0: none */
} pbx_replica_state;
PBX_EXPORT int pbx_replica_get_state(pbx_replica* replica, pbx_replica_state* out, pbx_error* err);

/* Writes: each is durable in the outbox when it returns, and *item (may be
 * NULL) gets the outbox item's id; the server's verdict comes later through
 * on_outbox. Checks that need no server are made now. */
/* PBX_E_NOT_FOUND for a message the mirror lacks, PBX_E_PERMISSION_DENIED for
 * one this mailbox did not receive, PBX_E_INVALID_ARGUMENT for a bad status. */
PBX_EXPORT int pbx_replica_update_status(pbx_replica* replica, const pbx_id* id, int status,
                                         uint64_t* item, pbx_error* err);
/* version 0: one above what the mirror shows. PBX_E_TOO_LARGE;
 * PBX_E_PERMISSION_DENIED for a key under "postbox/push/" or
 * "postbox/simplepush/" (only the server writes there). */
PBX_EXPORT int pbx_replica_put_entry(pbx_replica* replica, const char* key, const void* value,
                                     size_t value_len, uint64_t version, uint64_t* item,
                                     pbx_error* err);
/* A versioned tombstone (version 0: one above what the mirror shows). */
PBX_EXPORT int pbx_replica_delete_entry(pbx_replica* replica, const char* key, uint64_t version,
                                        uint64_t* item, pbx_error* err);
/* Asks to connect to / disconnects from `peer`. PBX_E_INVALID_ARGUMENT for
 * this mailbox itself. */
PBX_EXPORT int pbx_replica_add_connection(pbx_replica* replica, const pbx_id* peer, uint64_t* item,
                                          pbx_error* err);
PBX_EXPORT int pbx_replica_remove_connection(pbx_replica* replica, const pbx_id* peer,
                                             uint64_t* item, pbx_error* err);
/* Registers the device's push token (PBX_PLATFORM_NONE clears it). */
PBX_EXPORT int pbx_replica_register_push(pbx_replica* replica, int platform, const char* token,
                                         uint64_t* item, pbx_error* err);
/* Posts bytes[0, len) (copied into the replica's folder until acknowledged)
 * as message `id` (NULL: a random one) to `to`; *id_out (may be NULL) gets
 * the id. PBX_E_INVALID_ARGUMENT (posting to itself), PBX_E_TOO_LARGE. */
PBX_EXPORT int pbx_replica_post(pbx_replica* replica, const pbx_id* to, const void* bytes,
                                size_t len, const char* topic, const void* meta, size_t meta_len,
                                const pbx_id* id, pbx_id* id_out, pbx_error* err);
/* Asks for message `id`'s blob to be downloaded into the replica's folder
 * (resumably, when connected). PBX_E_NOT_FOUND, PBX_E_GONE. */
PBX_EXPORT int pbx_replica_request_blob(pbx_replica* replica, const pbx_id* id, pbx_error* err);
/* The whole blob once downloaded, into *out (release with pbx_free), *out_len
 * bytes. PBX_E_UNAVAILABLE before it is complete; PBX_E_NOT_FOUND if never
 * requested. */
PBX_EXPORT int pbx_replica_read_blob(pbx_replica* replica, const pbx_id* id, uint8_t** out,
                                     size_t* out_len, pbx_error* err);

/* Web Push endpoints through the replica's session: as the pbx_client_
 * functions above (same arguments, results and errors), sent at once, never
 * through the outbox (endpoints are the server's, not mirrored), blocking up
 * to client.request_timeout_ms. PBX_E_UNAVAILABLE while the replica has no
 * session (offline, not started, reconnecting): register at each start once
 * pbx_replica_sync succeeded, say (registering again is harmless). */
PBX_EXPORT int pbx_replica_register_endpoint(pbx_replica* replica, const char* app_id,
                                             const void* vapid_public_key, size_t key_len,
                                             pbx_endpoint** out, pbx_error* err);
PBX_EXPORT int pbx_replica_list_endpoints(pbx_replica* replica, const char* start_after,
                                          size_t limit, pbx_endpoint_list** out, pbx_error* err);
PBX_EXPORT int pbx_replica_revoke_endpoint(pbx_replica* replica, const char* token, pbx_error* err);
/* The notifications in the mirror (works offline; consumptions still in the
 * outbox already applied) of endpoint `token`, or of every endpoint (NULL or
 * ""), oldest first (received_ms, then key). Entries under "postbox/push/"
 * that do not parse (a later server's format) are skipped; they stay visible
 * to pbx_replica_list_entries. *out: release with
 * pbx_push_notification_list_free. PBX_E_INVALID_ARGUMENT for a token that is
 * not base64url. */
PBX_EXPORT int pbx_replica_push_notifications(pbx_replica* replica, const char* token,
                                              pbx_push_notification_list** out, pbx_error* err);
/* Consumes a notification: deletes its entry (notification->key) at its
 * version (notification->version) through the outbox, as
 * pbx_replica_delete_entry, *item (may be NULL) getting the outbox item. At
 * that version the delete removes exactly this notification: a newer one of
 * the same topic that replaced it survives (on_outbox then says applied = 0).
 * PBX_E_INVALID_ARGUMENT for a key not under "postbox/push/" or version 0. */
PBX_EXPORT int pbx_replica_consume_push_notification(pbx_replica* replica,
                                                     const pbx_push_notification* notification,
                                                     uint64_t* item, pbx_error* err);

/* An outbox item not yet ended (pbx_replica_pending). */
typedef struct pbx_outbox_item {
  uint64_t item;       /* the id its write returned; increasing in write order */
  int kind;            /* a pbx_outbox_kind */
  uint64_t created_ms; /* when it was written (ms since the Unix epoch) */
  uint32_t attempts;   /* sends that got no final answer so far */
  pbx_id message;      /* PBX_OUTBOX_STATUS, PBX_OUTBOX_POST */
  int status;          /* PBX_OUTBOX_STATUS: the status asked */
  char* key;           /* PUT_ENTRY, DELETE_ENTRY: the key; POST: the topic; else "" */
  uint64_t version;    /* PUT_ENTRY, DELETE_ENTRY */
  pbx_id peer;         /* POST: the recipient; ADD_/REMOVE_CONNECTION: the peer */
  int platform;        /* REGISTER_PUSH: a pbx_platform */
  uint64_t length;     /* POST: the blob's length */
} pbx_outbox_item;

/* Release with pbx_outbox_list_free. */
typedef struct pbx_outbox_list {
  pbx_outbox_item* items; /* in item order */
  size_t count;
} pbx_outbox_list;
PBX_EXPORT void pbx_outbox_list_free(pbx_outbox_list* list);

/* The outbox items not yet ended. */
PBX_EXPORT int pbx_replica_pending(pbx_replica* replica, pbx_outbox_list** out, pbx_error* err);
/* Removes a pending item and rolls its effect back; on_outbox reports it with
 * `cancelled` set. PBX_E_NOT_FOUND if it has ended; PBX_E_CONFLICT while it is
 * being sent (its outcome will follow). */
PBX_EXPORT int pbx_replica_cancel(pbx_replica* replica, uint64_t item, pbx_error* err);

#ifdef __cplusplus
}
#endif

#endif /* POSTBOX_C_POSTBOX_H_ */
