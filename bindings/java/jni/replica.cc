// org.postbox.Native's replica methods (pbx_replica_*), and its callbacks
// handed to the Java side's executor.
//
// Threading: the replica calls Executor() on its own native thread (attached
// to the JVM as a daemon, detached when it exits), which only passes the task
// to the Java Replica.Dispatcher and returns. The Dispatcher runs it on the
// app's executor through runTask, which calls pbx_task_run: the callbacks
// below then run on that Java thread and copy the borrowed C data into Java
// objects there.
#include <atomic>
#include <cstdint>
#include <cstring>

#include "common.h"

using namespace pbx_jni;

namespace {

// The callbacks' context: the global reference to the Java Dispatcher. Held
// by the replica and by every task handed over and not yet run (tasks may be
// run after pbx_replica_close), so the last of them releases it.
struct Context {
  jobject dispatcher = nullptr;
  std::atomic<int64_t> refs{1};
};

void Unref(JNIEnv* env, Context* c) {
  if (c->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    env->DeleteGlobalRef(c->dispatcher);
    delete c;
  }
}

// What a Java Replica's handle points at.
struct JniReplica {
  pbx_replica* replica = nullptr;
  Context* context = nullptr;
};

pbx_replica* R(jlong h) { return FromHandle<JniReplica>(h)->replica; }

// Whether the task being run here should reach Java (runTask's deliver): a
// task the app's executor rejected is only released.
thread_local bool t_deliver = false;

// pbx_replica_options.executor, on the replica's thread.
void Executor(void* context, pbx_task* task) {
  auto* c = static_cast<Context*>(context);
  c->refs.fetch_add(1, std::memory_order_relaxed);
  JNIEnv* env = AttachedEnv();
  if (env == nullptr) {  // cannot reach Java: release the task without its callback
    pbx_task_run(task);
    c->refs.fetch_sub(1, std::memory_order_relaxed);  // the replica still holds one
    return;
  }
  if (env->PushLocalFrame(4) == JNI_OK) {
    env->CallVoidMethod(c->dispatcher, g.replica_execute, ToHandle(c), ToHandle(task));
    ClearPending(env);  // Dispatcher.execute catches everything; this is for an Error
    env->PopLocalFrame(nullptr);
  } else {
    ClearPending(env);
  }
}

// The three callbacks, inside pbx_task_run on the executor's (Java) thread.
// Each copies what it gets into a Java object and calls the Dispatcher; a
// local frame frees what it made.
template <typename F>
void Upcall(void* context, F make_and_call) {
  if (!t_deliver) return;
  JNIEnv* env = AttachedEnv();
  if (env == nullptr) return;
  if (env->PushLocalFrame(16) != JNI_OK) {
    ClearPending(env);
    return;
  }
  make_and_call(env, static_cast<Context*>(context)->dispatcher);
  ClearPending(env);
  env->PopLocalFrame(nullptr);
}

jbyteArray IdRun(JNIEnv* env, const pbx_id* ids, size_t n) {
  return NewBytes(env, n == 0 ? nullptr : ids, n * sizeof(pbx_id));
}

jobjectArray Keys(JNIEnv* env, const char* const* keys, size_t n) {
  jobjectArray a = env->NewObjectArray(static_cast<jsize>(n), g.object, nullptr);
  for (size_t i = 0; a != nullptr && i < n; ++i) {
    Local<jbyteArray> k(env, NewUtf8(env, keys[i]));
    if (k.get() == nullptr) return nullptr;
    env->SetObjectArrayElement(a, static_cast<jsize>(i), k.get());
  }
  return a;
}

void OnChange(void* context, const pbx_change* c) {
  Upcall(context, [c](JNIEnv* env, jobject d) {
    jbyteArray added = IdRun(env, c->messages, c->messages_count);
    jbyteArray removed = IdRun(env, c->messages_removed, c->messages_removed_count);
    jobjectArray entries = Keys(env, c->entries, c->entries_count);
    jobjectArray entries_removed = Keys(env, c->entries_removed, c->entries_removed_count);
    if (env->ExceptionCheck()) return;
    jobject change =
        env->NewObject(g.change, g.change_init, added, removed, entries, entries_removed,
                       static_cast<jboolean>(c->reset != 0), static_cast<jlong>(c->cursor));
    if (change != nullptr) env->CallVoidMethod(d, g.replica_on_change, change);
  });
}

void OnOutbox(void* context, const pbx_outbox_outcome* o) {
  Upcall(context, [o](JNIEnv* env, jobject d) {
    jbyteArray message = NewId(env, o->message);
    jbyteArray key = NewUtf8(env, o->key);
    jbyteArray text = NewUtf8(env, o->message_text);
    if (env->ExceptionCheck()) return;
    jobject outcome = env->NewObject(
        g.outbox_outcome, g.outbox_outcome_init, static_cast<jlong>(o->item),
        static_cast<jint>(o->kind), message, key, static_cast<jint>(o->code), text,
        static_cast<jboolean>(o->cancelled != 0), static_cast<jboolean>(o->applied != 0));
    if (outcome != nullptr) env->CallVoidMethod(d, g.replica_on_outbox, outcome);
  });
}

void OnError(void* context, const pbx_error* e) {
  Upcall(context, [e](JNIEnv* env, jobject d) {
    jbyteArray text = NewUtf8(env, e->message);
    if (text == nullptr) return;
    env->CallVoidMethod(d, g.replica_on_error, static_cast<jint>(e->code),
                        static_cast<jboolean>(e->retryable != 0), text);
  });
}

jobjectArray MessageList(JNIEnv* env, int rc, pbx_message_list* list, const pbx_error& err) {
  if (Failed(env, rc, err)) return nullptr;
  jobjectArray out = NewMessageArray(env, list->items, list->count);
  pbx_message_list_free(list);
  return out;
}

// Inbox or Sent (`list`, one of the two with the same signature).
jobjectArray Messages(JNIEnv* env,
                      int (*list)(pbx_replica*, const pbx_id*, size_t, pbx_message_list**,
                                  pbx_error*),
                      pbx_replica* r, jbyteArray start_after, jlong limit) {
  pbx_id s;
  bool has = false;
  if (!ReadOptionalId(env, start_after, &s, &has, "startAfter") ||
      !InRange(env, limit, SIZE_MAX, "limit")) {
    return nullptr;
  }
  pbx_message_list* out = nullptr;
  pbx_error err;
  const int rc = list(r, has ? &s : nullptr, static_cast<size_t>(limit), &out, &err);
  return MessageList(env, rc, out, err);
}

}  // namespace

PBX_JNI(jlong, replicaOpen)
(JNIEnv* env, jclass, jbyteArray folder, jbyteArray host, jint port, jbyteArray mkey,
 jbyteArray secret, jbyteArray app_version, jlong timeout_ms, jint durability, jlong poll_ms,
 jlong retry_initial, jlong retry_max, jint start, jobject dispatcher, jobjectArray tls,
 jobjectArray tls_pins, jint tls_min_version) {
  pbx_replica_options o;
  pbx_replica_options_init(&o);
  if (!InRange(env, port, UINT16_MAX, "port") || !ReadId(env, mkey, &o.client.mkey, "mkey")) {
    return 0;
  }
  TlsArgs t;
  if (!t.ReadClient(env, tls, tls_pins, tls_min_version, &o.client.tls)) return 0;
  struct {
    jlong v;
    uint32_t* field;
    const char* what;
  } const ms[] = {{timeout_ms, &o.client.request_timeout_ms, "requestTimeoutMs"},
                  {poll_ms, &o.poll_interval_ms, "pollIntervalMs"},
                  {retry_initial, &o.retry_initial_ms, "retryInitialMs"},
                  {retry_max, &o.retry_max_ms, "retryMaxMs"}};
  for (const auto& m : ms) {
    if (m.v == -1) continue;
    if (!InRange(env, m.v, UINT32_MAX, m.what)) return 0;
    *m.field = static_cast<uint32_t>(m.v);
  }
  Utf8 f(env, folder), h(env, host), s(env, secret), v(env, app_version);
  o.folder = f.c_str();
  o.client.host = h.c_str();
  o.client.port = static_cast<uint16_t>(port);
  o.client.secret = s.c_str();
  o.client.app_version = v.c_str();
  if (durability >= 0) o.durability = durability;
  if (start >= 0) o.start = start;
  auto* c = new Context;
  c->dispatcher = env->NewGlobalRef(dispatcher);
  o.on_change = OnChange;
  o.on_outbox = OnOutbox;
  o.on_error = OnError;
  o.callback_context = c;
  o.executor = Executor;
  o.executor_context = c;
  pbx_replica* r = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_open(&o, &r, &err), err)) {
    Unref(env, c);
    return 0;
  }
  auto* jr = new JniReplica;
  jr->replica = r;
  jr->context = c;
  return ToHandle(jr);
}

PBX_JNI(void, replicaClose)(JNIEnv* env, jclass, jlong h) {
  auto* jr = FromHandle<JniReplica>(h);
  pbx_replica_close(jr->replica);
  Unref(env, jr->context);  // tasks not yet run keep it alive
  delete jr;
}

PBX_JNI(void, runTask)(JNIEnv* env, jclass, jlong context, jlong task, jboolean deliver) {
  const bool saved = t_deliver;
  t_deliver = deliver;
  pbx_task_run(FromHandle<pbx_task>(task));
  t_deliver = saved;
  Unref(env, FromHandle<Context>(context));
}

PBX_JNI(void, replicaStart)(JNIEnv* env, jclass, jlong h) {
  pbx_error err;
  Failed(env, pbx_replica_start(R(h), &err), err);
}

PBX_JNI(void, replicaSync)(JNIEnv* env, jclass, jlong h, jlong timeout_ms) {
  if (!InRange(env, timeout_ms, UINT32_MAX, "timeoutMs")) return;
  pbx_error err;
  Failed(env, pbx_replica_sync(R(h), static_cast<uint32_t>(timeout_ms), &err), err);
}

PBX_JNI(jlong, replicaPendingCount)(JNIEnv* env, jclass, jlong h) {
  uint64_t n = 0;
  pbx_error err;
  Failed(env, pbx_replica_pending_count(R(h), &n, &err), err);
  return static_cast<jlong>(n);
}

PBX_JNI(jobjectArray, replicaInbox)
(JNIEnv* env, jclass, jlong h, jbyteArray start_after, jlong limit) {
  return Messages(env, pbx_replica_inbox, R(h), start_after, limit);
}

PBX_JNI(jobjectArray, replicaSent)
(JNIEnv* env, jclass, jlong h, jbyteArray start_after, jlong limit) {
  return Messages(env, pbx_replica_sent, R(h), start_after, limit);
}

PBX_JNI(jobject, replicaGetMessage)(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return nullptr;
  pbx_message* m = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_get_message(R(h), &i, &m, &err), err)) return nullptr;
  jobject out = NewMessage(env, *m);
  pbx_message_free(m);
  return out;
}

// Returns the value and writes {version, seq} into `meta`: the Java side builds
// the Entry with the key it already has, which saves a call back into Java
// (NewObject) and a key copy per read (the hot path of JavaGetEntry).
PBX_JNI(jbyteArray, replicaGetEntry)
(JNIEnv* env, jclass, jlong h, jbyteArray key, jlongArray meta) {
  Utf8 k(env, key);
  pbx_entry* e = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_get_entry(R(h), k.c_str(), &e, &err), err)) return nullptr;
  jbyteArray value = NewBytes(env, e->value, e->value_len);
  const jlong vs[2] = {static_cast<jlong>(e->version), static_cast<jlong>(e->seq)};
  pbx_entry_free(e);
  if (value != nullptr) env->SetLongArrayRegion(meta, 0, 2, vs);
  return value;
}

PBX_JNI(jlong, replicaUpdateStatus)(JNIEnv* env, jclass, jlong h, jbyteArray id, jint status) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return 0;
  uint64_t item = 0;
  pbx_error err;
  Failed(env, pbx_replica_update_status(R(h), &i, status, &item, &err), err);
  return static_cast<jlong>(item);
}

PBX_JNI(jlong, replicaPutEntry)
(JNIEnv* env, jclass, jlong h, jbyteArray key, jbyteArray value, jlong version) {
  Utf8 k(env, key);
  Bytes v(env, value);
  if (!v.ok()) return 0;
  uint64_t item = 0;
  pbx_error err;
  Failed(env,
         pbx_replica_put_entry(R(h), k.c_str(), v.data(), v.size(), static_cast<uint64_t>(version),
                               &item, &err),
         err);
  return static_cast<jlong>(item);
}

PBX_JNI(jbyteArray, replicaPost)
(JNIEnv* env, jclass, jlong h, jbyteArray to, jbyteArray bytes, jbyteArray topic, jbyteArray meta,
 jbyteArray id) {
  pbx_id t, i, out;
  bool has_id = false;
  if (!ReadId(env, to, &t, "to") || !ReadOptionalId(env, id, &i, &has_id, "id")) return nullptr;
  Utf8 tp(env, topic);
  Bytes b(env, bytes), m(env, meta);
  if (!b.ok() || !m.ok()) return nullptr;
  pbx_error err;
  if (Failed(env,
             pbx_replica_post(R(h), &t, b.data(), b.size(), tp.c_str(), m.data(), m.size(),
                              has_id ? &i : nullptr, &out, &err),
             err)) {
    return nullptr;
  }
  return NewId(env, out);
}

PBX_JNI(void, replicaRequestBlob)(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return;
  pbx_error err;
  Failed(env, pbx_replica_request_blob(R(h), &i, &err), err);
}

PBX_JNI(jbyteArray, replicaReadBlob)(JNIEnv* env, jclass, jlong h, jbyteArray id) {
  pbx_id i;
  if (!ReadId(env, id, &i, "id")) return nullptr;
  uint8_t* out = nullptr;
  size_t n = 0;
  pbx_error err;
  if (Failed(env, pbx_replica_read_blob(R(h), &i, &out, &n, &err), err)) return nullptr;
  jbyteArray bytes = NewBytes(env, out, n);
  pbx_free(out);
  return bytes;
}

PBX_JNI(jobject, replicaListEntries)
(JNIEnv* env, jclass, jlong h, jbyteArray prefix, jbyteArray start_after, jlong limit) {
  if (!InRange(env, limit, SIZE_MAX, "limit")) return nullptr;
  Utf8 p(env, prefix), s(env, start_after);
  pbx_entry_list* list = nullptr;
  pbx_error err;
  const int rc =
      pbx_replica_list_entries(R(h), p.c_str(), s.c_str(), static_cast<size_t>(limit), &list, &err);
  return TakeEntryPage(env, rc, list, err);
}

PBX_JNI(jobjectArray, replicaConnections)(JNIEnv* env, jclass, jlong h) {
  pbx_connection_list* list = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_connections(R(h), &list, &err), err)) return nullptr;
  jobjectArray out = NewConnectionArray(env, list->items, list->count);
  pbx_connection_list_free(list);
  return out;
}

PBX_JNI(jobject, replicaGetState)(JNIEnv* env, jclass, jlong h) {
  pbx_replica_state s;
  pbx_error err;
  if (Failed(env, pbx_replica_get_state(R(h), &s, &err), err)) return nullptr;
  return env->NewObject(g.replica_state, g.replica_state_init,
                        static_cast<jboolean>(s.connected != 0), static_cast<jlong>(s.cursor),
                        static_cast<jlong>(s.pending), static_cast<jlong>(s.packets_applied),
                        static_cast<jlong>(s.sessions), static_cast<jint>(s.last_error_code));
}

PBX_JNI(jlong, replicaDeleteEntry)(JNIEnv* env, jclass, jlong h, jbyteArray key, jlong version) {
  Utf8 k(env, key);
  uint64_t item = 0;
  pbx_error err;
  Failed(env,
         pbx_replica_delete_entry(R(h), k.c_str(), static_cast<uint64_t>(version), &item, &err),
         err);
  return static_cast<jlong>(item);
}

PBX_JNI(jlong, replicaAddConnection)(JNIEnv* env, jclass, jlong h, jbyteArray peer) {
  pbx_id p;
  if (!ReadId(env, peer, &p, "peer")) return 0;
  uint64_t item = 0;
  pbx_error err;
  Failed(env, pbx_replica_add_connection(R(h), &p, &item, &err), err);
  return static_cast<jlong>(item);
}

PBX_JNI(jlong, replicaRemoveConnection)(JNIEnv* env, jclass, jlong h, jbyteArray peer) {
  pbx_id p;
  if (!ReadId(env, peer, &p, "peer")) return 0;
  uint64_t item = 0;
  pbx_error err;
  Failed(env, pbx_replica_remove_connection(R(h), &p, &item, &err), err);
  return static_cast<jlong>(item);
}

PBX_JNI(jlong, replicaRegisterPush)(JNIEnv* env, jclass, jlong h, jint platform, jbyteArray token) {
  Utf8 t(env, token);
  uint64_t item = 0;
  pbx_error err;
  Failed(env, pbx_replica_register_push(R(h), platform, t.c_str(), &item, &err), err);
  return static_cast<jlong>(item);
}

PBX_JNI(jobjectArray, replicaPending)(JNIEnv* env, jclass, jlong h) {
  pbx_outbox_list* list = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_pending(R(h), &list, &err), err)) return nullptr;
  jobjectArray out = env->NewObjectArray(static_cast<jsize>(list->count), g.outbox_item, nullptr);
  for (size_t i = 0; out != nullptr && i < list->count; ++i) {
    const pbx_outbox_item& it = list->items[i];
    Local<jbyteArray> message(env, NewId(env, it.message)), key(env, NewUtf8(env, it.key)),
        peer(env, NewId(env, it.peer));
    if (env->ExceptionCheck()) {
      out = nullptr;
      break;
    }
    Local<jobject> o(
        env,
        env->NewObject(g.outbox_item, g.outbox_item_init, static_cast<jlong>(it.item),
                       static_cast<jint>(it.kind), static_cast<jlong>(it.created_ms),
                       static_cast<jint>(it.attempts), message.get(), static_cast<jint>(it.status),
                       key.get(), static_cast<jlong>(it.version), peer.get(),
                       static_cast<jint>(it.platform), static_cast<jlong>(it.length)));
    if (o.get() == nullptr) {
      out = nullptr;
      break;
    }
    env->SetObjectArrayElement(out, static_cast<jsize>(i), o.get());
  }
  pbx_outbox_list_free(list);
  return out;
}

PBX_JNI(void, replicaCancel)(JNIEnv* env, jclass, jlong h, jlong item) {
  pbx_error err;
  Failed(env, pbx_replica_cancel(R(h), static_cast<uint64_t>(item), &err), err);
}

PBX_JNI(jobject, replicaRegisterEndpoint)
(JNIEnv* env, jclass, jlong h, jbyteArray app_id, jbyteArray vapid_public_key) {
  return RegisterEndpoint(env, pbx_replica_register_endpoint, R(h), app_id, vapid_public_key);
}

PBX_JNI(jobject, replicaListEndpoints)
(JNIEnv* env, jclass, jlong h, jbyteArray start_after, jlong limit) {
  return ListEndpoints(env, pbx_replica_list_endpoints, R(h), start_after, limit);
}

PBX_JNI(void, replicaRevokeEndpoint)(JNIEnv* env, jclass, jlong h, jbyteArray token) {
  RevokeEndpoint(env, pbx_replica_revoke_endpoint, R(h), token);
}

PBX_JNI(jobjectArray, replicaPushNotifications)(JNIEnv* env, jclass, jlong h, jbyteArray token) {
  Utf8 t(env, token);
  pbx_push_notification_list* list = nullptr;
  pbx_error err;
  if (Failed(env, pbx_replica_push_notifications(R(h), t.c_str(), &list, &err), err)) {
    return nullptr;
  }
  jobjectArray out = NewPushNotificationArray(env, list->items, list->count);
  pbx_push_notification_list_free(list);
  return out;
}

PBX_JNI(jlong, replicaConsumePushNotification)
(JNIEnv* env, jclass, jlong h, jbyteArray key, jlong version) {
  Utf8 k(env, key);
  // Only the key and the version name the entry to delete.
  pbx_push_notification n{};
  n.key = const_cast<char*>(k.c_str());
  n.version = static_cast<uint64_t>(version);
  uint64_t item = 0;
  pbx_error err;
  Failed(env, pbx_replica_consume_push_notification(R(h), &n, &item, &err), err);
  return static_cast<jlong>(item);
}
