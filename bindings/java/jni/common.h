// The JNI library's shared pieces: the JavaVM, the classes and methods cached by
// JNI_OnLoad, exceptions from pbx_error, argument and result conversions, and
// attaching native threads. Not API: the Java API is org.postbox (../src/main/java).
#ifndef POSTBOX_BINDINGS_JAVA_JNI_COMMON_H_
#define POSTBOX_BINDINGS_JAVA_JNI_COMMON_H_

#include <jni.h>

#include <cstdint>
#include <string>
#include <vector>

#include "postbox.h"

namespace pbx_jni {

// Cached in JNI_OnLoad as global references; valid for the library's life.
struct Cache {
  jclass object, entry, message, connection, tombstone, info, change, outbox_outcome, outbox_item,
      replica_state, put_result, status_result, page, credentials, exception, client_dispatcher,
      replica_dispatcher, endpoint, push_notification;
  jmethodID entry_init, message_init, connection_init, tombstone_init, info_init, change_init,
      outbox_outcome_init, outbox_item_init, replica_state_init, put_result_init,
      status_result_init, page_init, credentials_from_native, exception_from_native, client_on_push,
      replica_execute, replica_on_change, replica_on_outbox, replica_on_error, endpoint_init,
      push_notification_init;
};
extern JavaVM* g_vm;
extern Cache g;

// The calling thread's JNIEnv, attaching it as a daemon thread first if it is a
// native thread of the library (detached again when that thread exits). NULL
// if the JVM refuses.
JNIEnv* AttachedEnv();

// A pending Java exception raised by a callback's upcall: printed and cleared
// (the Java side catches the app's own exceptions; this is for errors such as
// OutOfMemoryError while copying), so the native thread can go on.
void ClearPending(JNIEnv* env);

// Throws the PostboxException subclass for a failed call and returns true if
// rc is not PBX_OK; returns false (and throws nothing) otherwise.
bool Failed(JNIEnv* env, int rc, const pbx_error& err);
// Throws InvalidArgumentException(-400) with `message`.
void ThrowInvalid(JNIEnv* env, const char* message);

// A handle passed from Java as a long.
template <typename T>
T* FromHandle(jlong h) {
  return reinterpret_cast<T*>(static_cast<intptr_t>(h));
}
template <typename T>
jlong ToHandle(T* p) {
  return static_cast<jlong>(reinterpret_cast<intptr_t>(p));
}

// A Java byte[] holding a UTF-8 string (no NUL: the Java side checks), as a
// NUL-terminated copy; a null array gives c_str() == nullptr.
class Utf8 {
 public:
  Utf8(JNIEnv* env, jbyteArray a);
  const char* c_str() const { return null_ ? nullptr : s_.c_str(); }

 private:
  std::string s_;
  bool null_ = true;
};

// A Java byte[]'s contents for the duration of a call (null: data() NULL, size 0).
class Bytes {
 public:
  Bytes(JNIEnv* env, jbyteArray a);
  ~Bytes();
  Bytes(const Bytes&) = delete;
  Bytes& operator=(const Bytes&) = delete;
  const void* data() const { return p_; }
  size_t size() const { return n_; }
  bool ok() const { return ok_; }  // false: the JVM could not provide them (exception pending)

 private:
  JNIEnv* env_;
  jbyteArray a_;
  jbyte* p_ = nullptr;
  size_t n_ = 0;
  bool ok_ = true;
};

// Reads a 16-byte id; throws InvalidArgumentException and returns false for
// null (unless optional) or another length. *present says whether one was given.
bool ReadId(JNIEnv* env, jbyteArray a, pbx_id* out, const char* what);
bool ReadOptionalId(JNIEnv* env, jbyteArray a, pbx_id* out, bool* present, const char* what);

// TLS options as Java passes them (ClientTls.nativeStrings / nativePins,
// ServerTls.nativeStrings): arrays of UTF-8 byte[] whose elements may be null.
// The strings are copied into the object, which must outlive the C call that
// takes the options. Read* return false with a Java exception pending.
class TlsArgs {
 public:
  // strings = {ca_file, server_name, cert_file, key_file}; null: TLS off
  // (*out untouched).
  bool ReadClient(JNIEnv* env, jobjectArray strings, jobjectArray pins, jint min_version,
                  pbx_tls_client_options* out);
  // strings = {cert_file, key_file, client_ca_file}; null: no TLS.
  // handshake_timeout_ms -1: the default.
  bool ReadServer(JNIEnv* env, jobjectArray strings, jint min_version, jlong handshake_timeout_ms,
                  pbx_tls_server_options* out);

 private:
  bool ReadAll(JNIEnv* env, jobjectArray a, std::vector<Utf8>* out);
  std::vector<Utf8> strings_, pins_;
  std::vector<const char*> pin_ptrs_;
};

// A limit, count or timeout from Java: in [0, max]; else throws and returns false.
bool InRange(JNIEnv* env, jlong v, uint64_t max, const char* what);

// Deletes a local reference when it goes out of scope (for loops on attached threads).
template <typename T>
class Local {
 public:
  Local(JNIEnv* env, T ref) : env_(env), ref_(ref) {}
  ~Local() {
    if (ref_ != nullptr) env_->DeleteLocalRef(ref_);
  }
  Local(const Local&) = delete;
  Local& operator=(const Local&) = delete;
  T get() const { return ref_; }

 private:
  JNIEnv* env_;
  T ref_;
};

// Java objects from C data (copied). NULL with an exception pending on failure.
jbyteArray NewBytes(JNIEnv* env, const void* p, size_t n);
jbyteArray NewUtf8(JNIEnv* env, const char* s);  // NULL s: empty
jbyteArray NewId(JNIEnv* env, const pbx_id& id);
jobject NewEntry(JNIEnv* env, const pbx_entry& e);
jobject NewMessage(JNIEnv* env, const pbx_message& m);
jobject NewConnection(JNIEnv* env, const pbx_connection& c);
jobject NewTombstone(JNIEnv* env, const pbx_tombstone& t);
jobject NewInfo(JNIEnv* env, const pbx_info& info);
jobject NewPutResult(JNIEnv* env, const pbx_put_result& r);
// Arrays of the objects above (element class `cls`), built one element at a time.
jobjectArray NewEntryArray(JNIEnv* env, const pbx_entry* items, size_t n);
jobjectArray NewMessageArray(JNIEnv* env, const pbx_message* items, size_t n);
jobjectArray NewConnectionArray(JNIEnv* env, const pbx_connection* items, size_t n);
// org.postbox.Page over an array.
jobject NewPage(JNIEnv* env, jobjectArray items, bool more);
// The Page<Entry> of a pbx_*_list_entries call that returned `rc`, which
// releases `list`; null with the Java exception thrown on failure.
jobject TakeEntryPage(JNIEnv* env, int rc, pbx_entry_list* list, const pbx_error& err);

// Web Push: the Endpoint and Page<Endpoint> of a pbx_*_register_endpoint / list_endpoints
// call that returned `rc`, releasing what it returned; null with the Java exception thrown on
// failure.
jobject TakeEndpoint(JNIEnv* env, int rc, pbx_endpoint* e, const pbx_error& err);
jobject TakeEndpointPage(JNIEnv* env, int rc, pbx_endpoint_list* list, const pbx_error& err);
// The endpoint natives, the same for a client and a replica: `fn` is the C function
// (pbx_client_... or pbx_replica_...), `h` its handle. Null / nothing with the Java exception
// thrown on failure.
template <typename H>
jobject RegisterEndpoint(JNIEnv* env,
                         int (*fn)(H*, const char*, const void*, size_t, pbx_endpoint**,
                                   pbx_error*),
                         H* h, jbyteArray app_id, jbyteArray vapid_public_key) {
  Utf8 a(env, app_id);
  Bytes k(env, vapid_public_key);
  if (!k.ok()) return nullptr;
  pbx_endpoint* e = nullptr;
  pbx_error err;
  const int rc = fn(h, a.c_str(), k.data(), k.size(), &e, &err);
  return TakeEndpoint(env, rc, e, err);
}
template <typename H>
jobject ListEndpoints(JNIEnv* env,
                      int (*fn)(H*, const char*, size_t, pbx_endpoint_list**, pbx_error*), H* h,
                      jbyteArray start_after, jlong limit) {
  if (!InRange(env, limit, UINT32_MAX, "limit")) return nullptr;
  Utf8 s(env, start_after);
  pbx_endpoint_list* list = nullptr;
  pbx_error err;
  const int rc = fn(h, s.c_str(), static_cast<size_t>(limit), &list, &err);
  return TakeEndpointPage(env, rc, list, err);
}
template <typename H>
void RevokeEndpoint(JNIEnv* env, int (*fn)(H*, const char*, pbx_error*), H* h, jbyteArray token) {
  Utf8 t(env, token);
  pbx_error err;
  Failed(env, fn(h, t.c_str(), &err), err);
}
// org.postbox.PushNotification objects (copied).
jobject NewPushNotification(JNIEnv* env, const pbx_push_notification& n);
jobjectArray NewPushNotificationArray(JNIEnv* env, const pbx_push_notification* items, size_t n);

}  // namespace pbx_jni

// Defines the native method org.postbox.Native.name.
#define PBX_JNI(ret, name) extern "C" JNIEXPORT ret JNICALL Java_org_postbox_Native_##name

#endif  // POSTBOX_BINDINGS_JAVA_JNI_COMMON_H_
