#include "admin/mailbox_ops.h"

#include <algorithm>
#include <string>
#include <utility>

#include "admin/format.h"
#include "admin/server_api.h"
#include "postbox/db.h"

namespace postbox::admin {
namespace {

// The store in --data, through the engine.
class StoreOps final : public MailboxOps {
 public:
  explicit StoreOps(std::unique_ptr<DB> db) : db_(std::move(db)) {}

  Result<MailboxCredentials> Create() override { return db_->CreateMailbox(); }

  Result<Page<MailboxInfo>> List(const std::optional<MailboxKey>& after, size_t limit) override {
    Page<MailboxInfo> page;
    // One more than asked tells whether more follow.
    POSTBOX_ASSIGN_OR_RETURN(page.items, db_->ListMailboxes(after, limit + 1));
    page.more = TrimPage(&page.items, limit);
    return page;
  }

  Result<MailboxInfo> Get(const MailboxKey& mkey) override { return db_->GetMailbox(mkey); }

  Status Delete(const MailboxKey& mkey) override { return db_->DeleteMailbox(mkey); }

  Status SetConnected(const MailboxKey& a, const MailboxKey& b, bool connected) override {
    if (connected) return db_->Connect(a, b);
    // Both sides in one transaction.
    WriteBatch batch;
    batch.Disconnect(a, b);
    batch.Disconnect(b, a);
    POSTBOX_RETURN_IF_ERROR(db_->Write(&batch));
    for (const OpResult& r : batch.results()) POSTBOX_RETURN_IF_ERROR(r.status);
    return Status::Ok();
  }

  Result<Page<MailboxKey>> ListConnections(const MailboxKey& mkey, std::string_view kind,
                                           const std::optional<MailboxKey>& after,
                                           size_t limit) override {
    const ConnectionListKind list = kind == "requested"  ? ConnectionListKind::kRequested
                                    : kind == "incoming" ? ConnectionListKind::kIncoming
                                                         : ConnectionListKind::kConnected;
    Page<MailboxKey> page;
    POSTBOX_ASSIGN_OR_RETURN(page.items, db_->ListConnections(mkey, after, limit + 1, list));
    page.more = TrimPage(&page.items, limit);
    return page;
  }

 private:
  std::unique_ptr<DB> db_;
};

// The admin API's largest page (limit 1..1000); longer lists take several.
constexpr size_t kMaxPage = 1000;

MailboxKey KeyOf(const MailboxInfo& mailbox) { return mailbox.mkey; }
MailboxKey KeyOf(const MailboxKey& mkey) { return mkey; }

// The live server's admin API (docs/operations.md, the admin routes).
class ServerOps final : public MailboxOps {
 public:
  explicit ServerOps(const Context& ctx) : ctx_(ctx) {}

  Result<MailboxCredentials> Create() override {
    POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx_, "POST", "/admin/mailboxes", 201));
    MailboxCredentials credentials;
    POSTBOX_ASSIGN_OR_RETURN(credentials.mkey, MailboxKeyFromJson(Field(doc, "mkey")));
    POSTBOX_ASSIGN_OR_RETURN(credentials.secret, GetBytes(doc, "secret"));
    return credentials;
  }

  Result<Page<MailboxInfo>> List(const std::optional<MailboxKey>& after, size_t limit) override {
    return Fetch("/admin/mailboxes?", "mailboxes", MailboxFromJson, after, limit);
  }

  Result<MailboxInfo> Get(const MailboxKey& mkey) override {
    POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx_, "GET", "/admin/mailboxes/" + mkey.ToHex()));
    return MailboxFromJson(doc);
  }

  Status Delete(const MailboxKey& mkey) override {
    return Request(ctx_, "DELETE", "/admin/mailboxes/" + mkey.ToHex()).status();
  }

  Status SetConnected(const MailboxKey& a, const MailboxKey& b, bool connected) override {
    return Request(ctx_, connected ? "PUT" : "DELETE",
                   "/admin/connections/" + a.ToHex() + "/" + b.ToHex())
        .status();
  }

  Result<Page<MailboxKey>> ListConnections(const MailboxKey& mkey, std::string_view kind,
                                           const std::optional<MailboxKey>& after,
                                           size_t limit) override {
    const std::string target =
        "/admin/mailboxes/" + mkey.ToHex() + "/connections?kind=" + std::string(kind) + "&";
    return Fetch(target, "connections", MailboxKeyFromJson, after, limit);
  }

 private:
  // Up to `limit` items of the list route `target` (which ends in '?' or '&')
  // after `after`, in pages of at most kMaxPage, each item read by `parse`.
  template <typename T>
  Result<Page<T>> Fetch(const std::string& target, const std::string& field,
                        Result<T> (*parse)(const Json&), std::optional<MailboxKey> after,
                        size_t limit) {
    Page<T> page;
    do {
      std::string query =
          target + "limit=" + std::to_string(std::min(limit - page.items.size(), kMaxPage));
      if (after) query += "&after=" + after->ToHex();
      POSTBOX_ASSIGN_OR_RETURN(Json doc, Request(ctx_, "GET", query));
      const Json& items = Field(doc, field);
      const Json& more = Field(doc, "more");
      if (!items.is_array()) return MalformedAnswer(field, doc);
      // A page that is empty yet says more follow would never end.
      if (!more.is_boolean() || (more.get<bool>() && items.empty())) {
        return MalformedAnswer("more", doc);
      }
      for (const Json& item : items) {
        POSTBOX_ASSIGN_OR_RETURN(T value, parse(item));
        page.items.push_back(std::move(value));
      }
      page.more = more.get<bool>();
      if (!page.items.empty()) after = KeyOf(page.items.back());
    } while (page.more && page.items.size() < limit);
    if (TrimPage(&page.items, limit)) page.more = true;
    return page;
  }

  const Context& ctx_;
};

}  // namespace

Result<std::unique_ptr<MailboxOps>> OpenMailboxOps(const Context& ctx, Access access) {
  if (ctx.remote()) return std::unique_ptr<MailboxOps>(std::make_unique<ServerOps>(ctx));
  POSTBOX_ASSIGN_OR_RETURN(std::unique_ptr<DB> db, ctx.OpenStore(access));
  return std::unique_ptr<MailboxOps>(std::make_unique<StoreOps>(std::move(db)));
}

}  // namespace postbox::admin
