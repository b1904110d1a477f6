// org.postbox.Native's client methods (pbx_client_*), with pushes delivered
// on the client's own thread.
#include <cstdint>

#include "common.h"

using namespace pbx_jni;

namespace {

// What a Java Client's handle points at: the C client, and the global
// reference to its push dispatcher (released after pbx_client_close has
// joined the thread that calls it).
struct JniClient {
  pbx_client* client = nullptr;
  jobject dispatcher = nullptr;
};

pbx_client* C(jlong h) { return FromHandle<JniClient>(h)->client; }

// pbx_client_options.on_push, on the client's native thread: attached to the
// JVM for the thread's life; the packet is borrowed, so it is copied into an
// org.postbox.Info before the listener sees it. A local frame keeps the
// thread (which never returns to Java) from piling up local references.
void OnPush(void* context, const pbx_info* info) {
  JNIEnv* env = AttachedEnv();
  if (env == nullptr || info == nullptr) return;
  if (env->PushLocalFrame(16) != JNI_OK) {
    ClearPending(env);
    return;
  }
  jobject packet = NewInfo(env, *info);
  if (packet != nullptr) {
    env->CallVoidMethod(static_cast<jobject>(context), g.client_on_push, packet);
  }
  ClearPending(env);
  env->PopLocalFrame(nullptr);
}

}  // namespace

PBX_JNI(jlong, clientCreate)
(JNIEnv* env, jclass, jbyteArray host, jint port, jbyteArray mkey, jbyteArray secret,
 jbyteArray app_version, jlong timeout_ms, jint reconnect, jobject dispatcher, jlong start_cursor,
 jobjectArray tls, jobjectArray tls_pins, jint tls_min_version) {
  pbx_client_options o;
  pbx_client_options_init(&o);
  if (!InRange(env, port, UINT16_MAX, "port") || !ReadId(env, mkey, &o.mkey, "mkey")) return 0;
  TlsArgs t;
  if (!t.ReadClient(env, tls, tls_pins, tls_min_version, &o.tls)) return 0;
  if (timeout_ms != -1 && !InRange(env, timeout_ms, UINT32_MAX, "requestTimeoutMs")) return 0;
  Utf8 h(env, host), s(env, secret), v(env, app_version);
  o.host = h.c_str();
  o.port = static_cast<uint16_t>(port);
  o.secret = s.c_str();
  o.app_version = v.c_str();
  if (timeout_ms != -1) o.request_timeout_ms = static_cast<uint32_t>(timeout_ms);
  if (reconnect >= 0) o.reconnect = reconnect;
  o.start_cursor = static_cast<uint64_t>(start_cursor);
  auto* jc = new JniClient;
  if (dispatcher != nullptr) {
    jc->dispatcher = env->NewGlobalRef(dispatcher);
    o.on_push = OnPush;
    o.push_context = jc->dispatcher;
  }
  pbx_error err;
  if (Failed(env, pbx_client_create(&o, &jc->client, &err), err)) {
    if (jc->dispatcher != nullptr) env->DeleteGlobalRef(jc->dispatcher);
    delete jc;
    return 0;
  }
  return ToHandle(jc);
}

PBX_JNI(void, clientClose)(JNIEnv* env, jclass, jlong h) {
  auto* jc = FromHandle<JniClient>(h);
  pbx_client_close(jc->client);  // joins the thread that calls OnPush
  if (jc->dispatcher != nullptr) env->DeleteGlobalRef(jc->dispatcher);
  delete jc;
}

PBX_JNI(jint, clientConnect)(JNIEnv* env, jclass, jlong h) {
  int verdict = 0;
  pbx_error err;
  if (Failed(env, pbx_client_connect(C(h), &verdict, &err), err)) return 0;
  return verdict;
}

PBX_JNI(jobject, clientPutEntry)
(JNIEnv* env, jclass, jlong h, jbyteArray key, jbyteArray value, jlong version) {
  Utf8 k(env, key);
  Bytes v(env, value);
  if (!v.ok()) return nullptr;
  pbx_put_result r;
  pbx_error err;
  if (Failed(env,
             pbx_client_put_entry(C(h), k.c_str(), v.data(), v.size(),
                                  static_cast<uint64_t>(version), &r, &err),
             err)) {
    return nullptr;
  }
  return NewPutResult(env, r);
}

PBX_JNI(jobject, clientGetEntry)(JNIEnv* env, jclass, jlong h, jbyteArray key) {
  Utf8 k(env, key);
  pbx_entry* e = nullptr;
  pbx_error err;
  if (Failed(env, pbx_client_get_entry(C(h), k.c_str(), &e, &err), err)) return nullptr;
  jobject out = NewEntry(env, *e);
  pbx_entry_free(e);
  return out;
}

PBX_JNI(jobject, clientUpdateStatus)(JNIEnv* env, jclass, jlong h, jbyteArray id, jint status) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return nullptr;
  int out = 0, applied = 0;
  pbx_error err;
  if (Failed(env, pbx_client_update_status(C(h), &i, status, &out, &applied, &err), err)) {
    return nullptr;
  }
  return env->NewObject(g.status_result, g.status_result_init, static_cast<jint>(out),
                        static_cast<jboolean>(applied != 0));
}

PBX_JNI(void, clientUpload)
(JNIEnv* env, jclass, jlong h, jbyteArray to, jbyteArray id, jbyteArray topic, jbyteArray meta,
 jbyteArray bytes) {
  pbx_id t, i;
  if (!ReadId(env, to, &t, "to") || !ReadId(env, id, &i, "id")) return;
  Utf8 tp(env, topic);
  Bytes m(env, meta), b(env, bytes);
  if (!m.ok() || !b.ok()) return;
  pbx_error err;
  Failed(env,
         pbx_client_upload(C(h), &t, &i, tp.c_str(), m.data(), m.size(), b.data(), b.size(), &err),
         err);
}

PBX_JNI(jbyteArray, clientDownload)(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return nullptr;
  uint8_t* out = nullptr;
  size_t n = 0;
  pbx_error err;
  if (Failed(env, pbx_client_download(C(h), &i, &out, &n, &err), err)) return nullptr;
  jbyteArray bytes = NewBytes(env, out, n);
  pbx_free(out);
  return bytes;
}

PBX_JNI(jobject, clientDeleteEntry)(JNIEnv* env, jclass, jlong h, jbyteArray key, jlong version) {
  Utf8 k(env, key);
  pbx_put_result r;
  pbx_error err;
  if (Failed(env,
             pbx_client_delete_entry(C(h), k.c_str(), static_cast<uint64_t>(version), &r, &err),
             err)) {
    return nullptr;
  }
  return NewPutResult(env, r);
}

PBX_JNI(jobject, clientListEntries)
(JNIEnv* env, jclass, jlong h, jbyteArray prefix, jbyteArray start_after, jlong limit) {
  if (!InRange(env, limit, SIZE_MAX, "limit")) return nullptr;
  Utf8 p(env, prefix), s(env, start_after);
  pbx_entry_list* list = nullptr;
  pbx_error err;
  const int rc =
      pbx_client_list_entries(C(h), p.c_str(), s.c_str(), static_cast<size_t>(limit), &list, &err);
  return TakeEntryPage(env, rc, list, err);
}

PBX_JNI(jint, clientAddConnection)(JNIEnv* env, jclass, jlong h, jbyteArray peer) {
  pbx_id p;
  if (!ReadId(env, peer, &p, "peer")) return 0;
  int state = 0;
  pbx_error err;
  if (Failed(env, pbx_client_add_connection(C(h), &p, &state, &err), err)) return 0;
  return state;
}

PBX_JNI(void, clientRemoveConnection)(JNIEnv* env, jclass, jlong h, jbyteArray peer) {
  pbx_id p;
  if (!ReadId(env, peer, &p, "peer")) return;
  pbx_error err;
  Failed(env, pbx_client_remove_connection(C(h), &p, &err), err);
}

PBX_JNI(jobject, clientListConnections)
(JNIEnv* env, jclass, jlong h, jint kind, jbyteArray start_after, jlong limit) {
  pbx_id s;
  bool has = false;
  if (!ReadOptionalId(env, start_after, &s, &has, "startAfter") ||
      !InRange(env, limit, SIZE_MAX, "limit")) {
    return nullptr;
  }
  pbx_connection_list* list = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_client_list_connections(C(h), kind, has ? &s : nullptr, static_cast<size_t>(limit),
                                         &list, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewPage(env, NewConnectionArray(env, list->items, list->count), list->more != 0);
  pbx_connection_list_free(list);
  return out;
}

PBX_JNI(void, clientRegisterPush)(JNIEnv* env, jclass, jlong h, jint platform, jbyteArray token) {
  Utf8 t(env, token);
  pbx_error err;
  Failed(env, pbx_client_register_push(C(h), platform, t.c_str(), &err), err);
}

PBX_JNI(jobject, clientRegisterEndpoint)
(JNIEnv* env, jclass, jlong h, jbyteArray app_id, jbyteArray vapid_public_key) {
  return RegisterEndpoint(env, pbx_client_register_endpoint, C(h), app_id, vapid_public_key);
}

PBX_JNI(jobject, clientListEndpoints)
(JNIEnv* env, jclass, jlong h, jbyteArray start_after, jlong limit) {
  return ListEndpoints(env, pbx_client_list_endpoints, C(h), start_after, limit);
}

PBX_JNI(void, clientRevokeEndpoint)(JNIEnv* env, jclass, jlong h, jbyteArray token) {
  RevokeEndpoint(env, pbx_client_revoke_endpoint, C(h), token);
}

PBX_JNI(jobject, clientPoll)(JNIEnv* env, jclass, jlong h, jlong since, jlong limit) {
  if (!InRange(env, limit, UINT32_MAX, "limit")) return nullptr;
  pbx_info* info = nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_client_poll(C(h), static_cast<uint64_t>(since), static_cast<uint32_t>(limit),
                             &info, &err),
             err)) {
    return nullptr;
  }
  jobject out = NewInfo(env, *info);
  pbx_info_free(info);
  return out;
}

PBX_JNI(void, clientAck)(JNIEnv* env, jclass, jlong h, jlong cursor) {
  pbx_error err;
  Failed(env, pbx_client_ack(C(h), static_cast<uint64_t>(cursor), &err), err);
}

PBX_JNI(void, clientPing)(JNIEnv* env, jclass, jlong h) {
  pbx_error err;
  Failed(env, pbx_client_ping(C(h), &err), err);
}
