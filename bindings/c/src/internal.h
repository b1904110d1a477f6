// Shared pieces of the C API's implementation: the handle structs, the
// live-object counter, error filling and the exception barrier every entry
// point goes through. Not API.
#ifndef POSTBOX_BINDINGS_C_INTERNAL_H_
#define POSTBOX_BINDINGS_C_INTERNAL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "postbox.h"
#include "postbox/db.h"
#include "postbox/status.h"
#include "postbox/sync/client.h"
#include "postbox/sync/replica.h"
#include "postbox/sync/server.h"
#include "postbox/sync/tls.h"
#include "postbox/types.h"

namespace pbx_internal {

// Tags that tell handles apart, so a handle passed as another type (a C cast
// gone wrong) is refused instead of misused.
inline constexpr uint32_t kDbMagic = 0x70626462;       // "pbdb"
inline constexpr uint32_t kServerMagic = 0x70627376;   // "pbsv"
inline constexpr uint32_t kClientMagic = 0x7062636c;   // "pbcl"
inline constexpr uint32_t kReplicaMagic = 0x70627270;  // "pbrp"

// Every handle and every object the library returned and the caller has not
// released: pbx_live_handles().
extern std::atomic<uint64_t> g_live;
inline void Track() { g_live.fetch_add(1, std::memory_order_relaxed); }
inline void Untrack() { g_live.fetch_sub(1, std::memory_order_relaxed); }

// Writes `s` into `err` (if any) and returns its pbx code; OK leaves `err` alone.
int Fill(pbx_error* err, const postbox::Status& s);

inline postbox::Status Bad(std::string_view what) { return postbox::Status::InvalidArgument(what); }

// Runs `f` (returning a Status) so that no exception escapes: one caught
// becomes PBX_E_INTERNAL with its what().
template <typename F>
int Guard(pbx_error* err, F&& f) noexcept {
  try {
    return Fill(err, f());
  } catch (const std::exception& e) {
    return Fill(err, postbox::Status::Internal(std::string("C++ exception: ") + e.what()));
  } catch (...) {
    return Fill(err, postbox::Status::Internal("unknown C++ exception"));
  }
}

postbox::MailboxKey ToKey(const pbx_id* id);
postbox::MessageId ToMsgId(const pbx_id* id);
template <typename T>
pbx_id ToC(const T& id) {
  pbx_id out;
  static_assert(sizeof(out.bytes) == sizeof(id.bytes));
  for (size_t i = 0; i < sizeof(out.bytes); ++i) out.bytes[i] = id.bytes[i];
  return out;
}

// NULL with length 0 is an empty view; NULL with a length is refused by callers.
inline std::string_view Bytes(const void* p, size_t len) {
  return p ? std::string_view(static_cast<const char*>(p), len) : std::string_view();
}
inline bool BytesOk(const void* p, size_t len) { return p != nullptr || len == 0; }

// Status values in range 1..3.
bool ValidStatus(int status);
// pbx_platform values.
bool ValidPlatform(int platform);

// Library-owned copies handed to C (malloc'd; released by the pbx_*_free
// functions). Throw std::bad_alloc on allocation failure.
uint8_t* CopyBytes(std::string_view bytes);  // NUL-terminated, never NULL
void FillEntry(pbx_entry* out, const postbox::EntryInfo& e);
void ClearEntry(pbx_entry* e);
void FillMessage(pbx_message* out, const postbox::MessageInfo& m);
void ClearMessage(pbx_message* m);
// New tracked objects.
pbx_entry* NewEntry(const postbox::EntryInfo& e);
pbx_message* NewMessage(const postbox::MessageInfo& m);
// A tracked buffer for pbx_free.
uint8_t* NewBuffer(std::string_view bytes);
// An info packet's copy: filled (its arrays malloc'd) and cleared in place for
// a borrowed one (on_push), or a new tracked one for pbx_info_free.
void FillInfo(pbx_info* out, const postbox::InfoPacket& p);
void ClearInfo(pbx_info* info);
pbx_info* NewInfo(const postbox::InfoPacket& p);

// A new tracked C list (a struct with `items` and `count`, released by
// `free_list`) with one item per element of `v`, each written by
// fill(&item, element). On failure what was filled is released and the
// exception goes on.
template <typename List, typename Vec, typename F>
List* NewList(const Vec& v, F&& fill, void (*free_list)(List*)) {
  using Item = std::remove_pointer_t<decltype(List::items)>;
  auto* list = static_cast<List*>(std::calloc(1, sizeof(List)));
  if (list == nullptr) throw std::bad_alloc();
  if (!v.empty()) {
    list->items = static_cast<Item*>(std::calloc(v.size(), sizeof(Item)));
    if (list->items == nullptr) {
      std::free(list);
      throw std::bad_alloc();
    }
  }
  Track();  // from here free_list releases what is filled
  try {
    for (const auto& e : v) {
      fill(&list->items[list->count], e);
      ++list->count;
    }
  } catch (...) {
    free_list(list);
    throw;
  }
  return list;
}
// A connection list (peers with their states).
pbx_connection_list* NewConnectionList(
    const std::vector<std::pair<postbox::MailboxKey, postbox::ConnectionState>>& v, bool more);

// The Web Push endpoint calls (push.cc), the same for a client and a
// replica (`Api` is postbox::sync::Client or Replica); `fn` names the C
// function in error messages. Arguments are checked here; the handle by the
// caller.
template <typename Api>
postbox::Status RegisterEndpoint(Api& api, const char* fn, const char* app_id, const void* key,
                                 size_t key_len, pbx_endpoint** out);
template <typename Api>
postbox::Status ListEndpoints(Api& api, const char* fn, const char* start_after, size_t limit,
                              pbx_endpoint_list** out);
template <typename Api>
postbox::Status RevokeEndpoint(Api& api, const char* fn, const char* token);

postbox::sync::ClientOptions ToClientOptions(const pbx_client_options& o);
postbox::Status CheckClientOptions(const pbx_client_options& o);

// TLS options (tls.cc). A client's are checked by CheckTlsClientOptions (a
// pin NULL, a certificate without its key, an unknown version) before
// ToTlsClientOptions converts them; a server's are checked and converted in
// one step (nullopt: no TLS). The files themselves are loaded, and their
// errors reported, by the C++ layer.
postbox::Status CheckTlsClientOptions(const pbx_tls_client_options& t);
postbox::sync::TlsClientOptions ToTlsClientOptions(const pbx_tls_client_options& t);
postbox::Result<std::optional<postbox::sync::TlsServerOptions>> ToTlsServerOptions(
    const pbx_tls_server_options& t);

}  // namespace pbx_internal

struct pbx_db {
  uint32_t magic = pbx_internal::kDbMagic;
  std::unique_ptr<postbox::DB> db;
  std::atomic<int> servers{0};  // running servers over it: close waits for none
};

struct pbx_server {
  uint32_t magic = pbx_internal::kServerMagic;
  std::unique_ptr<postbox::sync::Server> server;
  pbx_db* db = nullptr;
};

struct pbx_client {
  uint32_t magic = pbx_internal::kClientMagic;
  std::unique_ptr<postbox::sync::Client> client;
  // Calls in progress (client.cc InUse), so close releases nothing under them.
  std::mutex mu;
  std::condition_variable idle;
  int calls = 0;
  bool closing = false;
};

struct pbx_replica {
  uint32_t magic = pbx_internal::kReplicaMagic;
  std::unique_ptr<postbox::sync::Replica> replica;
};

namespace pbx_internal {
inline bool Valid(const pbx_replica* r) { return r != nullptr && r->magic == kReplicaMagic; }
}  // namespace pbx_internal

#endif  // POSTBOX_BINDINGS_C_INTERNAL_H_
