// org.postbox.Native's library, id, store (pbx_db_*) and embedded server
// (pbx_server_*) methods.
#include <cstdint>

#include "common.h"

using namespace pbx_jni;

namespace {

pbx_db* Db(jlong h) { return FromHandle<pbx_db>(h); }

}  // namespace

// ---- Library and ids --------------------------------------------------------

PBX_JNI(jlong, liveHandles)(JNIEnv*, jclass) { return static_cast<jlong>(pbx_live_handles()); }

PBX_JNI(jstring, version)(JNIEnv* env, jclass) { return env->NewStringUTF(pbx_version()); }

PBX_JNI(jint, versionNumber)(JNIEnv*, jclass) { return pbx_version_number(); }

// The names are ASCII, so JNI's modified UTF-8 is exact here.
PBX_JNI(jstring, strerror)(JNIEnv* env, jclass, jint code) {
  return env->NewStringUTF(pbx_strerror(code));
}

PBX_JNI(jboolean, codeRetryable)(JNIEnv*, jclass, jint code) {
  return pbx_code_retryable(code) != 0;
}

PBX_JNI(jbyteArray, idRandom)(JNIEnv* env, jclass) {
  pbx_id id;
  pbx_error err;
  if (Failed(env, pbx_id_random(&id, &err), err)) return nullptr;
  return NewId(env, id);
}

PBX_JNI(jbyteArray, idFromHex)(JNIEnv* env, jclass, jbyteArray hex) {
  Utf8 h(env, hex);
  pbx_id id;
  pbx_error err;
  if (Failed(env, pbx_id_from_hex(h.c_str(), &id, &err), err)) return nullptr;
  return NewId(env, id);
}

PBX_JNI(jstring, idToHex)(JNIEnv* env, jclass, jbyteArray raw) {
  pbx_id id;
  if (!ReadId(env, raw, &id, "id")) return nullptr;
  char out[33];
  pbx_error err;
  if (Failed(env, pbx_id_to_hex(&id, out, &err), err)) return nullptr;
  return env->NewStringUTF(out);
}

PBX_JNI(jstring, tlsPublicKeyPin)(JNIEnv* env, jclass, jbyteArray cert_file) {
  Utf8 f(env, cert_file);
  char out[PBX_TLS_PIN_MAX];
  pbx_error err;
  if (Failed(env, pbx_tls_public_key_pin(f.c_str(), out, &err), err)) return nullptr;
  return env->NewStringUTF(out);  // "sha256/" + base64: ASCII
}

// ---- Web Push notifications ---------------------------------------------------

PBX_JNI(jobject, pushNotificationParse)
(JNIEnv* env, jclass, jbyteArray key, jbyteArray value, jlong version) {
  Utf8 k(env, key);
  Bytes v(env, value);
  if (!v.ok()) return nullptr;
  pbx_push_notification* n = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_push_notification_parse(k.c_str(), v.data(), v.size(),
                                         static_cast<uint64_t>(version), &n, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewPushNotification(env, *n);
  pbx_push_notification_free(n);
  return out;
}

// ---- Store --------------------------------------------------------------------

PBX_JNI(jlong, dbOpen)
(JNIEnv* env, jclass, jbyteArray path, jint durability, jint policy, jlong max_map_size,
 jlong slot_depth, jboolean read_only) {
  Utf8 p(env, path);
  pbx_db_options o;
  pbx_db_options_init(&o);
  if (durability >= 0) o.durability = durability;
  if (policy >= 0) o.posting_policy = policy;
  if (max_map_size >= 0) o.max_map_size = static_cast<uint64_t>(max_map_size);
  if (slot_depth >= 0) {
    if (!InRange(env, slot_depth, UINT32_MAX, "slotDepth")) return 0;
    o.slot_depth = static_cast<uint32_t>(slot_depth);
  }
  o.read_only = read_only ? 1 : 0;
  pbx_db* db = nullptr;
  pbx_error err;
  if (Failed(env, pbx_db_open(p.c_str(), &o, &db, &err), err)) return 0;
  return ToHandle(db);
}

PBX_JNI(void, dbClose)(JNIEnv* env, jclass, jlong h) {
  pbx_error err;
  Failed(env, pbx_db_close(Db(h), &err), err);
}

PBX_JNI(jobject, dbCreateMailbox)(JNIEnv* env, jclass, jlong h) {
  pbx_credentials c;
  pbx_error err;
  if (Failed(env, pbx_db_create_mailbox(Db(h), &c, &err), err)) return nullptr;
  Local<jbyteArray> mkey(env, NewId(env, c.mkey)), secret(env, NewUtf8(env, c.secret));
  if (env->ExceptionCheck()) return nullptr;
  return env->CallStaticObjectMethod(g.credentials, g.credentials_from_native, mkey.get(),
                                     secret.get());
}

PBX_JNI(void, dbAuthenticate)(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jbyteArray secret) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey")) return;
  Utf8 s(env, secret);
  pbx_error err;
  Failed(env, pbx_db_authenticate(Db(h), &k, s.c_str(), &err), err);
}

PBX_JNI(void, dbConnect)(JNIEnv* env, jclass, jlong h, jbyteArray a, jbyteArray b) {
  pbx_id x, y;
  if (!ReadId(env, a, &x, "a") || !ReadId(env, b, &y, "b")) return;
  pbx_error err;
  Failed(env, pbx_db_connect(Db(h), &x, &y, &err), err);
}

PBX_JNI(jobject, dbPutEntry)
(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jbyteArray key, jbyteArray value, jlong version) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey")) return nullptr;
  Utf8 kk(env, key);
  Bytes v(env, value);
  if (!v.ok()) return nullptr;
  pbx_put_result r;
  pbx_error err;
  if (Failed(env,
             pbx_db_put_entry(Db(h), &k, kk.c_str(), v.data(), v.size(),
                              static_cast<uint64_t>(version), &r, &err),
             err)) {
    return nullptr;
  }
  return NewPutResult(env, r);
}

PBX_JNI(jobject, dbGetEntry)(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jbyteArray key) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey")) return nullptr;
  Utf8 kk(env, key);
  pbx_entry* e = nullptr;
  pbx_error err;
  if (Failed(env, pbx_db_get_entry(Db(h), &k, kk.c_str(), &e, &err), err)) return nullptr;
  jobject out = NewEntry(env, *e);
  pbx_entry_free(e);
  return out;
}

PBX_JNI(jobject, dbListEntries)
(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jbyteArray prefix, jbyteArray start_after,
 jlong limit) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey") || !InRange(env, limit, SIZE_MAX, "limit")) return nullptr;
  Utf8 p(env, prefix), s(env, start_after);
  pbx_entry_list* list = nullptr;
  pbx_error err;
  const int rc =
      pbx_db_list_entries(Db(h), &k, p.c_str(), s.c_str(), static_cast<size_t>(limit), &list, &err);
  return TakeEntryPage(env, rc, list, err);
}

PBX_JNI(jobject, dbPostMessage)
(JNIEnv* env, jclass, jlong h, jbyteArray from, jbyteArray to, jbyteArray id, jbyteArray topic,
 jbyteArray meta, jbyteArray bytes) {
  pbx_id f, t, i;
  bool has_id = false;
  if (!ReadId(env, from, &f, "from") || !ReadId(env, to, &t, "to") ||
      !ReadOptionalId(env, id, &i, &has_id, "id")) {
    return nullptr;
  }
  Utf8 tp(env, topic);
  Bytes m(env, meta), b(env, bytes);
  if (!m.ok() || !b.ok()) return nullptr;
  pbx_message* msg = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_db_post_message(Db(h), &f, &t, has_id ? &i : nullptr, tp.c_str(), m.data(),
                                 m.size(), b.data(), b.size(), &msg, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewMessage(env, *msg);
  pbx_message_free(msg);
  return out;
}

PBX_JNI(jobject, dbGetMessage)(JNIEnv* env, jclass, jlong h, jbyteArray actor, jbyteArray id) {
  pbx_id a, i;
  if (!ReadId(env, actor, &a, "actor") || !ReadId(env, id, &i, "id")) return nullptr;
  pbx_message* msg = nullptr;
  pbx_error err;
  if (Failed(env, pbx_db_get_message(Db(h), &a, &i, &msg, &err), err)) return nullptr;
  jobject out = NewMessage(env, *msg);
  pbx_message_free(msg);
  return out;
}

PBX_JNI(jint, dbAdvanceStatus)
(JNIEnv* env, jclass, jlong h, jbyteArray actor, jbyteArray id, jint status) {
  pbx_id a, i;
  if (!ReadId(env, actor, &a, "actor") || !ReadId(env, id, &i, "id")) return 0;
  int out = 0;
  pbx_error err;
  if (Failed(env, pbx_db_advance_status(Db(h), &a, &i, status, &out, &err), err)) return 0;
  return out;
}

PBX_JNI(jbyteArray, dbReadBlob)
(JNIEnv* env, jclass, jlong h, jbyteArray actor, jbyteArray id, jlong offset, jlong length) {
  pbx_id a, i;
  if (!ReadId(env, actor, &a, "actor") || !ReadId(env, id, &i, "id")) return nullptr;
  if (!InRange(env, offset, INT64_MAX, "offset")) return nullptr;
  if (length != -1 && !InRange(env, length, INT64_MAX, "length")) return nullptr;
  uint8_t* out = nullptr;
  size_t n = 0;
  pbx_error err;
  if (Failed(env,
             pbx_db_read_blob(Db(h), &a, &i, static_cast<uint64_t>(offset),
                              length == -1 ? UINT64_MAX : static_cast<uint64_t>(length), &out, &n,
                              &err),
             err)) {
    return nullptr;
  }
  jbyteArray bytes = NewBytes(env, out, n);
  pbx_free(out);
  return bytes;
}

// ---- Embedded server -------------------------------------------------------------

PBX_JNI(jlong, serverStart)
(JNIEnv* env, jclass, jlong db, jbyteArray host, jint port, jint threads, jobjectArray tls,
 jint tls_min_version, jlong tls_handshake_timeout_ms) {
  if (!InRange(env, port, UINT16_MAX, "port") || !InRange(env, threads, UINT32_MAX, "threads")) {
    return 0;
  }
  Utf8 hh(env, host);
  pbx_server_options o;
  pbx_server_options_init(&o);
  TlsArgs t;
  if (!t.ReadServer(env, tls, tls_min_version, tls_handshake_timeout_ms, &o.tls)) return 0;
  o.host = hh.c_str();
  o.port = static_cast<uint16_t>(port);
  o.threads = static_cast<unsigned>(threads);
  pbx_server* s = nullptr;
  pbx_error err;
  if (Failed(env, pbx_server_start(Db(db), &o, &s, &err), err)) return 0;
  return ToHandle(s);
}

PBX_JNI(jint, serverPort)(JNIEnv* env, jclass, jlong h) {
  uint16_t port = 0;
  pbx_error err;
  if (Failed(env, pbx_server_port(FromHandle<pbx_server>(h), &port, &err), err)) return 0;
  return port;
}

PBX_JNI(void, serverReloadTls)(JNIEnv* env, jclass, jlong h) {
  pbx_error err;
  Failed(env, pbx_server_reload_tls(FromHandle<pbx_server>(h), &err), err);
}

PBX_JNI(void, serverStop)(JNIEnv*, jclass, jlong h) { pbx_server_stop(FromHandle<pbx_server>(h)); }

// ---- Store: connections, mailbox deletion, the feed, entry deletion ---------------

PBX_JNI(void, dbDisconnect)(JNIEnv* env, jclass, jlong h, jbyteArray actor, jbyteArray peer) {
  pbx_id a, p;
  if (!ReadId(env, actor, &a, "actor") || !ReadId(env, peer, &p, "peer")) return;
  pbx_error err;
  Failed(env, pbx_db_disconnect(Db(h), &a, &p, &err), err);
}

PBX_JNI(jobject, dbListConnections)
(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jint kind, jbyteArray start_after, jlong limit) {
  pbx_id k, s;
  bool has = false;
  if (!ReadId(env, mkey, &k, "mkey") || !ReadOptionalId(env, start_after, &s, &has, "startAfter") ||
      !InRange(env, limit, SIZE_MAX, "limit")) {
    return nullptr;
  }
  pbx_connection_list* list = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_db_list_connections(Db(h), &k, kind, has ? &s : nullptr,
                                     static_cast<size_t>(limit), &list, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewPage(env, NewConnectionArray(env, list->items, list->count), list->more != 0);
  pbx_connection_list_free(list);
  return out;
}

PBX_JNI(void, dbDeleteMailbox)(JNIEnv* env, jclass, jlong h, jbyteArray mkey) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey")) return;
  pbx_error err;
  Failed(env, pbx_db_delete_mailbox(Db(h), &k, &err), err);
}

PBX_JNI(jobject, dbChanges)
(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jlong since, jlong limit) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey") || !InRange(env, limit, SIZE_MAX, "limit")) return nullptr;
  pbx_info* info = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_db_changes(Db(h), &k, static_cast<uint64_t>(since), static_cast<size_t>(limit),
                            &info, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewInfo(env, *info);
  pbx_info_free(info);
  return out;
}

PBX_JNI(jobject, dbDeleteEntry)
(JNIEnv* env, jclass, jlong h, jbyteArray mkey, jbyteArray key, jlong version) {
  pbx_id k;
  if (!ReadId(env, mkey, &k, "mkey")) return nullptr;
  Utf8 kk(env, key);
  pbx_put_result r;
  pbx_error err;
  if (Failed(env,
             pbx_db_delete_entry(Db(h), &k, kk.c_str(), static_cast<uint64_t>(version), &r, &err),
             err)) {
    return nullptr;
  }
  return NewPutResult(env, r);
}
