// The admin API's mailbox and connection routes (admin_routes.h): reads in a
// read transaction on the loop thread, changes as one op each in the
// sessions' group commit, answered once it is durable.
#include <charconv>
#include <ctime>
#include <memory>
#include <optional>

#include "sync/server/admin_routes.h"
#include "sync/server/server_impl.h"
#include "sync/server/session.h"

namespace postbox::sync::internal {
namespace {

using Op = WriteBatch::Op;

// The value of `name` in a query string ("a=1&b=2"; nothing is decoded:
// every value these routes take is hex, digits or a word).
std::optional<std::string_view> Param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    }
  }
  return std::nullopt;
}

http::HttpResponse StatusReply(const Status& s) {
  const int code = static_cast<int>(s.code());
  return http::HttpResponse::JsonError(code >= 400 && code <= 599 ? code : 500, s.message());
}

std::string IsoTime(uint64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03uZ", static_cast<unsigned>(ms % 1000));
  return buf;
}

// As `postbox-admin --json mailbox show` prints it (docs/admin.md): the push
// token as "token" when it is UTF-8, else as hex under "token_hex".
Json MailboxJson(const MailboxInfo& m) {
  Json push = {{"platform", std::string(PlatformName(m.platform))}};
  try {
    (void)Json(m.push_token).dump();
    push["token"] = m.push_token;
  } catch (const Json::type_error&) {
    std::string hex;
    for (unsigned char c : m.push_token) {
      hex += "0123456789abcdef"[c >> 4];
      hex += "0123456789abcdef"[c & 15];
    }
    push["token_hex"] = std::move(hex);
  }
  return {{"mkey", m.mkey.ToHex()},           {"created_ms", m.created_ms},
          {"created", IsoTime(m.created_ms)}, {"seq", m.seq},
          {"purged_seq", m.purged_seq},       {"push", std::move(push)}};
}

// A page of a list: `limit` (default 100, 1..1000) and `after` (a key,
// exclusive) from the query.
struct PageParams {
  size_t limit = 100;
  std::optional<MailboxKey> after;
};
// The page the query asks for, or why it is malformed.
Result<PageParams> PageOf(std::string_view query) {
  PageParams page;
  if (const auto text = Param(query, "limit")) {
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), page.limit);
    if (ec != std::errc() || end != text->data() + text->size() || page.limit == 0 ||
        page.limit > 1000) {
      return Status::InvalidArgument("limit must be a number from 1 to 1000");
    }
  }
  if (const auto text = Param(query, "after"); text && !text->empty()) {
    auto key = MailboxKey::FromHex(*text);
    if (!key.ok())
      return Status::InvalidArgument("after must be a mailbox key (32 hex characters)");
    page.after = *key;
  }
  return page;
}

// The mailbox right before every key starting with the hex `prefix` (nullopt
// when that is the first key there is), and whether `prefix` is hex at all.
std::optional<std::optional<MailboxKey>> BeforePrefix(std::string_view prefix) {
  if (prefix.size() > 32) return std::nullopt;
  std::string low(prefix);
  low.resize(32, '0');
  auto key = MailboxKey::FromHex(low);
  if (!key.ok()) return std::nullopt;
  // The key one below `low`: lists start after it.
  for (size_t i = key->bytes.size(); i-- > 0;) {
    if (key->bytes[i]-- != 0) return std::optional<MailboxKey>(*key);
  }
  return std::optional<MailboxKey>();  // `low` is all zeros: start at the beginning
}

}  // namespace

bool AdminRoutes::StoreRoute(const http::HttpRequest& request, std::string_view rest,
                             const Shared& shared) {
  const bool get = request.method == "GET" || request.method == "HEAD";
  DB* db = core_->db();
  // Queues `op` in the group commit; `ok` makes the answer from its result.
  const auto write = [this, &shared](Op op, std::function<http::HttpResponse(const OpResult&)> ok) {
    const bool queued = core_->Enqueue(std::move(op), [shared, ok](const OpResult& result) {
      (*shared)(result.status.ok() ? ok(result) : StatusReply(result.status));
    });
    if (!queued) (*shared)(http::HttpResponse::JsonError(503, "server stopping"));
  };
  const auto bad = [&shared](std::string_view why) {
    (*shared)(http::HttpResponse::JsonError(400, why));
    return true;
  };
  std::string_view query = request.query;

  if (rest == "mailboxes") {
    if (request.method == "POST") {
      write(Op{.kind = Op::Kind::kCreateMailbox}, [](const OpResult& r) {
        return JsonReply(
            201, {{"mkey", r.credentials->mkey.ToHex()}, {"secret", r.credentials->secret}});
      });
      return true;
    }
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD, POST")), true;
    auto page = PageOf(query);
    if (!page.ok()) return bad(page.status().message());
    const size_t limit = page->limit;
    std::optional<MailboxKey> after = page->after;
    std::string prefix(Param(query, "prefix").value_or(""));
    for (char& c : prefix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const auto before = BeforePrefix(prefix);
    if (!before) return bad("prefix must be up to 32 hex characters");
    if (*before && (!after || *after < **before)) after = *before;
    auto list = db->ListMailboxes(after, limit + 1);
    if (!list.ok()) return (*shared)(StatusReply(list.status())), true;
    Json mailboxes = Json::array();
    bool more = false;
    for (const MailboxInfo& m : *list) {
      if (!m.mkey.ToHex().starts_with(prefix)) break;  // in key order: none after match
      if (mailboxes.size() == limit) {
        more = true;
        break;
      }
      mailboxes.push_back(MailboxJson(m));
    }
    (*shared)(JsonReply(200, {{"mailboxes", std::move(mailboxes)}, {"more", more}}));
    return true;
  }

  if (rest.starts_with("mailboxes/")) {
    std::string_view tail = rest.substr(std::string_view("mailboxes/").size());
    const size_t slash = tail.find('/');
    const std::string_view hex = tail.substr(0, slash);
    const std::string_view sub =
        slash == std::string_view::npos ? std::string_view() : tail.substr(slash + 1);
    auto mkey = MailboxKey::FromHex(hex);
    if (!mkey.ok()) return bad("not a mailbox key (32 hex characters)");
    if (sub.empty()) {
      if (request.method == "DELETE") {
        write(Op{.kind = Op::Kind::kDeleteMailbox, .a = *mkey}, [m = *mkey](const OpResult&) {
          return JsonReply(200, {{"deleted", m.ToHex()}});
        });
        return true;
      }
      if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD, DELETE")), true;
      auto info = db->GetMailbox(*mkey);
      if (!info.ok()) return (*shared)(StatusReply(info.status())), true;
      // With its viewers: the sessions of it that said Hello, on any loop.
      GatherSessions(
          core_,
          [shared, doc = MailboxJson(*info), m = *mkey](std::vector<SessionInfo> sessions) mutable {
            size_t viewers = 0;
            for (const SessionInfo& s : sessions) viewers += s.mkey == m && s.state == "active";
            doc["viewers"] = viewers;
            (*shared)(JsonReply(200, doc));
          },
          shared.get());
      return true;
    }
    if (sub != "connections") return false;
    if (!get) return (*shared)(http::HttpResponse::MethodNotAllowed("GET, HEAD")), true;
    const std::string kind(Param(query, "kind").value_or("connected"));
    ConnectionListKind k;
    if (kind == "connected") {
      k = ConnectionListKind::kConnected;
    } else if (kind == "requested") {
      k = ConnectionListKind::kRequested;
    } else if (kind == "incoming") {
      k = ConnectionListKind::kIncoming;
    } else {
      return bad("kind must be connected, requested or incoming");
    }
    auto page = PageOf(query);
    if (!page.ok()) return bad(page.status().message());
    const size_t limit = page->limit;
    std::optional<MailboxKey> after = page->after;
    if (auto info = db->GetMailbox(*mkey); !info.ok()) {
      return (*shared)(StatusReply(info.status())), true;
    }
    auto list = db->ListConnections(*mkey, after, limit + 1, k);
    if (!list.ok()) return (*shared)(StatusReply(list.status())), true;
    const bool more = list->size() > limit;
    if (more) list->resize(limit);
    Json keys = Json::array();
    for (const MailboxKey& peer : *list) keys.push_back(peer.ToHex());
    (*shared)(JsonReply(200, {{"mkey", mkey->ToHex()},
                              {"kind", kind},
                              {"connections", std::move(keys)},
                              {"more", more}}));
    return true;
  }

  if (rest.starts_with("connections/")) {
    const std::string_view pair = rest.substr(std::string_view("connections/").size());
    const size_t slash = pair.find('/');
    if (slash == std::string_view::npos) return false;
    auto a = MailboxKey::FromHex(pair.substr(0, slash));
    auto b = MailboxKey::FromHex(pair.substr(slash + 1));
    if (!a.ok() || !b.ok()) return bad("not a mailbox key (32 hex characters)");
    const bool connect = request.method == "PUT";
    if (!connect && request.method != "DELETE")
      return (*shared)(http::HttpResponse::MethodNotAllowed("PUT, DELETE")), true;
    const auto reply = [a = *a, b = *b, connect](const OpResult&) {
      return JsonReply(200, {{"a", a.ToHex()}, {"b", b.ToHex()}, {"connected", connect}});
    };
    if (connect) {
      write(Op{.kind = Op::Kind::kConnect, .a = *a, .b = *b}, reply);
      return true;
    }
    // Severed from both sides, as `postbox-admin disconnect`: each side ends
    // the connection and withdraws its requests (404 if either is unknown).
    // Both ops are queued at once; the answer waits for the second, which
    // the writer applies after the first.
    auto first = std::make_shared<Status>();
    const bool queued = core_->Enqueue(Op{.kind = Op::Kind::kDisconnect, .a = *a, .b = *b},
                                       [first](const OpResult& r) { *first = r.status; }) &&
                        core_->Enqueue(Op{.kind = Op::Kind::kDisconnect, .a = *b, .b = *a},
                                       [shared, first, reply](const OpResult& r) {
                                         const Status& s = first->ok() ? r.status : *first;
                                         (*shared)(s.ok() ? reply(r) : StatusReply(s));
                                       });
    if (!queued) (*shared)(http::HttpResponse::JsonError(503, "server stopping"));
    return true;
  }
  return false;
}

}  // namespace postbox::sync::internal
