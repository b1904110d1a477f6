// JNI_OnLoad, the cache, conversions and thread attachment (common.h).
#include "common.h"

#include <cstring>

namespace pbx_jni {

JavaVM* g_vm = nullptr;
Cache g{};

namespace {

// Detaches the thread it belongs to when that thread exits: a native thread of
// the library (the client's, the replica's) attached by AttachedEnv.
struct Detacher {
  bool attached = false;
  ~Detacher() {
    if (attached && g_vm != nullptr) g_vm->DetachCurrentThread();
  }
};

jclass Class(JNIEnv* env, const char* name) {
  jclass local = env->FindClass(name);
  if (local == nullptr) return nullptr;
  auto global = static_cast<jclass>(env->NewGlobalRef(local));
  env->DeleteLocalRef(local);
  return global;
}

// Looks everything up; false (an exception pending) if anything is missing:
// the jar and the library do not match.
bool Load(JNIEnv* env) {
#define PBX_CLASS(field, name) \
  if ((g.field = Class(env, name)) == nullptr) return false
#define PBX_METHOD(field, cls, name, sig) \
  if ((g.field = env->GetMethodID(g.cls, name, sig)) == nullptr) return false
#define PBX_STATIC(field, cls, name, sig) \
  if ((g.field = env->GetStaticMethodID(g.cls, name, sig)) == nullptr) return false
  PBX_CLASS(object, "java/lang/Object");
  PBX_CLASS(entry, "org/postbox/Entry");
  PBX_CLASS(message, "org/postbox/Message");
  PBX_CLASS(connection, "org/postbox/Connection");
  PBX_CLASS(tombstone, "org/postbox/Tombstone");
  PBX_CLASS(info, "org/postbox/Info");
  PBX_CLASS(change, "org/postbox/Change");
  PBX_CLASS(outbox_outcome, "org/postbox/OutboxOutcome");
  PBX_CLASS(outbox_item, "org/postbox/OutboxItem");
  PBX_CLASS(replica_state, "org/postbox/ReplicaState");
  PBX_CLASS(put_result, "org/postbox/PutResult");
  PBX_CLASS(status_result, "org/postbox/StatusResult");
  PBX_CLASS(page, "org/postbox/Page");
  PBX_CLASS(credentials, "org/postbox/Credentials");
  PBX_CLASS(exception, "org/postbox/PostboxException");
  PBX_CLASS(client_dispatcher, "org/postbox/Client$Dispatcher");
  PBX_CLASS(replica_dispatcher, "org/postbox/Replica$Dispatcher");
  PBX_CLASS(endpoint, "org/postbox/Endpoint");
  PBX_CLASS(push_notification, "org/postbox/PushNotification");
  PBX_METHOD(entry_init, entry, "<init>", "([B[BJJ)V");
  PBX_METHOD(message_init, message, "<init>", "([B[B[B[B[BJ[BIJJZIZ)V");
  PBX_METHOD(connection_init, connection, "<init>", "([BI)V");
  PBX_METHOD(tombstone_init, tombstone, "<init>", "(I[B[BJJ)V");
  PBX_METHOD(info_init, info, "<init>",
             "(JJZZ[Lorg/postbox/Message;[Lorg/postbox/Message;[Lorg/postbox/Entry;"
             "[Lorg/postbox/Tombstone;)V");
  PBX_METHOD(change_init, change, "<init>", "([B[B[Ljava/lang/Object;[Ljava/lang/Object;ZJ)V");
  PBX_METHOD(outbox_outcome_init, outbox_outcome, "<init>", "(JI[B[BI[BZZ)V");
  PBX_METHOD(outbox_item_init, outbox_item, "<init>", "(JIJI[BI[BJ[BIJ)V");
  PBX_METHOD(replica_state_init, replica_state, "<init>", "(ZJJJJI)V");
  PBX_METHOD(put_result_init, put_result, "<init>", "(ZJ)V");
  PBX_METHOD(status_result_init, status_result, "<init>", "(IZ)V");
  PBX_METHOD(page_init, page, "<init>", "([Ljava/lang/Object;Z)V");
  PBX_STATIC(credentials_from_native, credentials, "fromNative", "([B[B)Lorg/postbox/Credentials;");
  PBX_STATIC(exception_from_native, exception, "fromNative",
             "(IZ[B)Lorg/postbox/PostboxException;");
  PBX_METHOD(client_on_push, client_dispatcher, "onPush", "(Lorg/postbox/Info;)V");
  PBX_METHOD(replica_execute, replica_dispatcher, "execute", "(JJ)V");
  PBX_METHOD(replica_on_change, replica_dispatcher, "onChange", "(Lorg/postbox/Change;)V");
  PBX_METHOD(replica_on_outbox, replica_dispatcher, "onOutbox", "(Lorg/postbox/OutboxOutcome;)V");
  PBX_METHOD(replica_on_error, replica_dispatcher, "onError", "(IZ[B)V");
  PBX_METHOD(endpoint_init, endpoint, "<init>", "([B[B[BJ[B)V");
  PBX_METHOD(push_notification_init, push_notification, "<init>", "([B[B[BIJJ[B[B[BJ)V");
#undef PBX_CLASS
#undef PBX_METHOD
#undef PBX_STATIC
  return true;
}

void ThrowCode(JNIEnv* env, int code, bool retryable, const char* message) {
  if (env->ExceptionCheck()) return;  // an earlier failure (e.g. OutOfMemoryError) wins
  Local<jbyteArray> text(env, NewUtf8(env, message));
  if (text.get() == nullptr) return;
  Local<jobject> ex(env, env->CallStaticObjectMethod(g.exception, g.exception_from_native,
                                                     static_cast<jint>(code),
                                                     static_cast<jboolean>(retryable), text.get()));
  if (env->ExceptionCheck()) return;  // the factory itself failed: that exception stands
  if (ex.get() != nullptr) env->Throw(static_cast<jthrowable>(ex.get()));
}

}  // namespace

JNIEnv* AttachedEnv() {
  JNIEnv* env = nullptr;
  if (g_vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) == JNI_OK) return env;
  JavaVMAttachArgs args{JNI_VERSION_1_6, const_cast<char*>("postbox-native"), nullptr};
#ifdef __ANDROID__
  if (g_vm->AttachCurrentThreadAsDaemon(&env, &args) != JNI_OK) return nullptr;
#else
  if (g_vm->AttachCurrentThreadAsDaemon(reinterpret_cast<void**>(&env), &args) != JNI_OK) {
    return nullptr;
  }
#endif
  thread_local Detacher detacher;
  detacher.attached = true;
  return env;
}

void ClearPending(JNIEnv* env) {
  if (env->ExceptionCheck()) {
    env->ExceptionDescribe();
    env->ExceptionClear();
  }
}

bool Failed(JNIEnv* env, int rc, const pbx_error& err) {
  if (rc == PBX_OK) return false;
  ThrowCode(env, rc, err.retryable != 0, err.code == rc ? err.message : pbx_strerror(rc));
  return true;
}

void ThrowInvalid(JNIEnv* env, const char* message) {
  ThrowCode(env, PBX_E_INVALID_ARGUMENT, false, message);
}

Utf8::Utf8(JNIEnv* env, jbyteArray a) {
  if (a == nullptr) return;
  null_ = false;
  const jsize n = env->GetArrayLength(a);
  s_.resize(static_cast<size_t>(n));
  env->GetByteArrayRegion(a, 0, n, reinterpret_cast<jbyte*>(s_.data()));
}

bool TlsArgs::ReadAll(JNIEnv* env, jobjectArray a, std::vector<Utf8>* out) {
  const jsize n = env->GetArrayLength(a);
  out->reserve(static_cast<size_t>(n));
  for (jsize i = 0; i < n; ++i) {
    Local<jbyteArray> e(env, static_cast<jbyteArray>(env->GetObjectArrayElement(a, i)));
    if (env->ExceptionCheck()) return false;
    out->emplace_back(env, e.get());
  }
  return true;
}

bool TlsArgs::ReadClient(JNIEnv* env, jobjectArray strings, jobjectArray pins, jint min_version,
                         pbx_tls_client_options* out) {
  if (strings == nullptr) return true;
  if (!ReadAll(env, strings, &strings_)) return false;
  if (strings_.size() != 4) {
    ThrowInvalid(env, "ClientTls: expected 4 strings from the Java side");
    return false;
  }
  if (pins != nullptr) {
    if (!ReadAll(env, pins, &pins_)) return false;
    for (const Utf8& p : pins_) pin_ptrs_.push_back(p.c_str());
  }
  out->enabled = 1;
  out->ca_file = strings_[0].c_str();
  out->server_name = strings_[1].c_str();
  out->cert_file = strings_[2].c_str();
  out->key_file = strings_[3].c_str();
  out->pins = pin_ptrs_.empty() ? nullptr : pin_ptrs_.data();
  out->pins_count = pin_ptrs_.size();
  out->min_version = min_version;
  return true;
}

bool TlsArgs::ReadServer(JNIEnv* env, jobjectArray strings, jint min_version,
                         jlong handshake_timeout_ms, pbx_tls_server_options* out) {
  if (strings == nullptr) return true;
  if (handshake_timeout_ms != -1 &&
      !InRange(env, handshake_timeout_ms, UINT32_MAX, "ServerTls.handshakeTimeoutMs")) {
    return false;
  }
  if (!ReadAll(env, strings, &strings_)) return false;
  if (strings_.size() != 3) {
    ThrowInvalid(env, "ServerTls: expected 3 strings from the Java side");
    return false;
  }
  out->cert_file = strings_[0].c_str();
  out->key_file = strings_[1].c_str();
  out->client_ca_file = strings_[2].c_str();
  out->min_version = min_version;
  if (handshake_timeout_ms != -1) {
    out->handshake_timeout_ms = static_cast<uint32_t>(handshake_timeout_ms);
  }
  return true;
}

Bytes::Bytes(JNIEnv* env, jbyteArray a) : env_(env), a_(a) {
  if (a == nullptr) return;
  n_ = static_cast<size_t>(env->GetArrayLength(a));
  p_ = env->GetByteArrayElements(a, nullptr);
  ok_ = p_ != nullptr;
}

Bytes::~Bytes() {
  if (p_ != nullptr) env_->ReleaseByteArrayElements(a_, p_, JNI_ABORT);  // read only
}

bool ReadOptionalId(JNIEnv* env, jbyteArray a, pbx_id* out, bool* present, const char* what) {
  *present = a != nullptr;
  if (a == nullptr) return true;
  if (env->GetArrayLength(a) != 16) {
    ThrowInvalid(env, (std::string(what) + ": an id is 16 bytes").c_str());
    return false;
  }
  env->GetByteArrayRegion(a, 0, 16, reinterpret_cast<jbyte*>(out->bytes));
  return true;
}

bool ReadId(JNIEnv* env, jbyteArray a, pbx_id* out, const char* what) {
  bool present = false;
  if (!ReadOptionalId(env, a, out, &present, what)) return false;
  if (!present) ThrowInvalid(env, (std::string(what) + " must not be null").c_str());
  return present;
}

bool InRange(JNIEnv* env, jlong v, uint64_t max, const char* what) {
  if (v >= 0 && static_cast<uint64_t>(v) <= max) return true;
  ThrowInvalid(env, (std::string(what) + ": expected 0.." + std::to_string(max) + ", got " +
                     std::to_string(v))
                        .c_str());
  return false;
}

jbyteArray NewBytes(JNIEnv* env, const void* p, size_t n) {
  if (n > 0x7fffffff) {
    ThrowCode(env, PBX_E_TOO_LARGE, false, "over 2 GiB does not fit a Java array");
    return nullptr;
  }
  jbyteArray a = env->NewByteArray(static_cast<jsize>(n));
  if (a != nullptr && n > 0) {
    env->SetByteArrayRegion(a, 0, static_cast<jsize>(n), static_cast<const jbyte*>(p));
  }
  return a;
}

jbyteArray NewUtf8(JNIEnv* env, const char* s) {
  return s == nullptr ? NewBytes(env, "", 0) : NewBytes(env, s, std::strlen(s));
}

jbyteArray NewId(JNIEnv* env, const pbx_id& id) { return NewBytes(env, id.bytes, 16); }

jobject NewEntry(JNIEnv* env, const pbx_entry& e) {
  Local<jbyteArray> key(env, NewUtf8(env, e.key));
  if (key.get() == nullptr) return nullptr;
  Local<jbyteArray> value(env, NewBytes(env, e.value, e.value_len));
  if (value.get() == nullptr) return nullptr;
  return env->NewObject(g.entry, g.entry_init, key.get(), value.get(),
                        static_cast<jlong>(e.version), static_cast<jlong>(e.seq));
}

jobject NewMessage(JNIEnv* env, const pbx_message& m) {
  Local<jbyteArray> id(env, NewId(env, m.id)), from(env, NewId(env, m.from)),
      to(env, NewId(env, m.to)), topic(env, NewUtf8(env, m.topic)),
      meta(env, NewBytes(env, m.meta, m.meta_len)), digest(env, NewBytes(env, m.digest, 16));
  if (env->ExceptionCheck()) return nullptr;
  return env->NewObject(g.message, g.message_init, id.get(), from.get(), to.get(), topic.get(),
                        meta.get(), static_cast<jlong>(m.length), digest.get(),
                        static_cast<jint>(m.status), static_cast<jlong>(m.created_ms),
                        static_cast<jlong>(m.seq), static_cast<jboolean>(m.incoming != 0),
                        static_cast<jint>(m.synced_status), static_cast<jboolean>(m.pending != 0));
}

jobject NewConnection(JNIEnv* env, const pbx_connection& c) {
  Local<jbyteArray> peer(env, NewId(env, c.peer));
  if (peer.get() == nullptr) return nullptr;
  return env->NewObject(g.connection, g.connection_init, peer.get(), static_cast<jint>(c.state));
}

jobject NewTombstone(JNIEnv* env, const pbx_tombstone& t) {
  Local<jbyteArray> id(env, NewId(env, t.id)), key(env, NewUtf8(env, t.key));
  if (env->ExceptionCheck()) return nullptr;
  return env->NewObject(g.tombstone, g.tombstone_init, static_cast<jint>(t.kind), id.get(),
                        key.get(), static_cast<jlong>(t.version), static_cast<jlong>(t.seq));
}

jobject NewPutResult(JNIEnv* env, const pbx_put_result& r) {
  return env->NewObject(g.put_result, g.put_result_init, static_cast<jboolean>(r.applied != 0),
                        static_cast<jlong>(r.version));
}

namespace {

// An array of `n` objects made by make(env, items[i]); each element's local
// reference is dropped once stored, so long lists do not pile them up.
template <typename T, typename F>
jobjectArray NewArray(JNIEnv* env, jclass cls, const T* items, size_t n, F make) {
  if (n > 0x7fffffff) {
    ThrowCode(env, PBX_E_TOO_LARGE, false, "too many items for a Java array");
    return nullptr;
  }
  jobjectArray a = env->NewObjectArray(static_cast<jsize>(n), cls, nullptr);
  if (a == nullptr) return nullptr;
  for (size_t i = 0; i < n; ++i) {
    Local<jobject> o(env, make(env, items[i]));
    if (o.get() == nullptr) {
      env->DeleteLocalRef(a);
      return nullptr;
    }
    env->SetObjectArrayElement(a, static_cast<jsize>(i), o.get());
  }
  return a;
}

}  // namespace

jobjectArray NewEntryArray(JNIEnv* env, const pbx_entry* items, size_t n) {
  return NewArray(env, g.entry, items, n, NewEntry);
}

jobjectArray NewMessageArray(JNIEnv* env, const pbx_message* items, size_t n) {
  return NewArray(env, g.message, items, n, NewMessage);
}

jobjectArray NewConnectionArray(JNIEnv* env, const pbx_connection* items, size_t n) {
  return NewArray(env, g.connection, items, n, NewConnection);
}

jobject NewEndpoint(JNIEnv* env, const pbx_endpoint& e) {
  Local<jbyteArray> token(env, NewUtf8(env, e.token)), app_id(env, NewUtf8(env, e.app_id)),
      key(env, NewBytes(env, e.vapid_public_key, e.vapid_public_key_len)),
      url(env, NewUtf8(env, e.url));
  if (env->ExceptionCheck()) return nullptr;
  return env->NewObject(g.endpoint, g.endpoint_init, token.get(), app_id.get(), key.get(),
                        static_cast<jlong>(e.created_ms), url.get());
}

jobject NewPushNotification(JNIEnv* env, const pbx_push_notification& n) {
  Local<jbyteArray> token(env, NewUtf8(env, n.token)), id(env, NewUtf8(env, n.id)),
      topic(env, NewUtf8(env, n.topic)), encoding(env, NewUtf8(env, n.encoding)),
      payload(env, NewBytes(env, n.payload, n.payload_len)), key(env, NewUtf8(env, n.key));
  if (env->ExceptionCheck()) return nullptr;
  return env->NewObject(g.push_notification, g.push_notification_init, token.get(), id.get(),
                        topic.get(), static_cast<jint>(n.urgency), static_cast<jlong>(n.ttl_s),
                        static_cast<jlong>(n.received_ms), encoding.get(), payload.get(), key.get(),
                        static_cast<jlong>(n.version));
}

jobjectArray NewPushNotificationArray(JNIEnv* env, const pbx_push_notification* items, size_t n) {
  return NewArray(env, g.push_notification, items, n, NewPushNotification);
}

jobject TakeEndpoint(JNIEnv* env, int rc, pbx_endpoint* e, const pbx_error& err) {
  if (Failed(env, rc, err)) return nullptr;
  jobject out = NewEndpoint(env, *e);
  pbx_endpoint_free(e);
  return out;
}

jobject TakeEndpointPage(JNIEnv* env, int rc, pbx_endpoint_list* list, const pbx_error& err) {
  if (Failed(env, rc, err)) return nullptr;
  jobject out = NewPage(env, NewArray(env, g.endpoint, list->items, list->count, NewEndpoint),
                        list->more != 0);
  pbx_endpoint_list_free(list);
  return out;
}

jobject NewInfo(JNIEnv* env, const pbx_info& info) {
  Local<jobjectArray> in(env, NewMessageArray(env, info.incoming, info.incoming_count));
  if (in.get() == nullptr) return nullptr;
  Local<jobjectArray> out(env, NewMessageArray(env, info.outgoing, info.outgoing_count));
  if (out.get() == nullptr) return nullptr;
  Local<jobjectArray> entries(env, NewEntryArray(env, info.entries, info.entries_count));
  if (entries.get() == nullptr) return nullptr;
  Local<jobjectArray> tombs(
      env, NewArray(env, g.tombstone, info.tombstones, info.tombstones_count, NewTombstone));
  if (tombs.get() == nullptr) return nullptr;
  return env->NewObject(g.info, g.info_init, static_cast<jlong>(info.cursor),
                        static_cast<jlong>(info.since), static_cast<jboolean>(info.reset != 0),
                        static_cast<jboolean>(info.more != 0), in.get(), out.get(), entries.get(),
                        tombs.get());
}

jobject NewPage(JNIEnv* env, jobjectArray items, bool more) {
  if (items == nullptr) return nullptr;
  Local<jobjectArray> owned(env, items);
  return env->NewObject(g.page, g.page_init, owned.get(), static_cast<jboolean>(more));
}

jobject TakeEntryPage(JNIEnv* env, int rc, pbx_entry_list* list, const pbx_error& err) {
  if (Failed(env, rc, err)) return nullptr;
  jobject out = NewPage(env, NewEntryArray(env, list->items, list->count), list->more != 0);
  pbx_entry_list_free(list);
  return out;
}

}  // namespace pbx_jni

using namespace pbx_jni;

extern "C" JNIEXPORT jint JNI_OnLoad(JavaVM* vm, void*) {
  JNIEnv* env = nullptr;
  if (vm->GetEnv(reinterpret_cast<void**>(&env), JNI_VERSION_1_6) != JNI_OK) return JNI_ERR;
  g_vm = vm;
  if (!Load(env)) return JNI_ERR;  // the pending NoClassDefFoundError/NoSuchMethodError says what
  return JNI_VERSION_1_6;
}
