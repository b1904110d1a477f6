// The mailbox and connection operations of postbox-admin, on either side of one
// contract: the store folder (--data, through the engine) or the live server's
// admin API (--server, server_api.h), whose routes answer with the documents
// `postbox-admin --json` prints. The commands (mailbox_commands.cc) print what
// these return with format.h, so their output is the same either way.
// Not thread-safe; the tool is one thread.
#ifndef POSTBOX_SERVER_SHIM_ADMIN_MAILBOX_OPS_H_
#define POSTBOX_SERVER_SHIM_ADMIN_MAILBOX_OPS_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "admin/cli.h"
#include "postbox/result.h"
#include "postbox/types.h"

namespace postbox::admin {

// One page of a list in mkey order.
template <typename T>
struct Page {
  std::vector<T> items;
  bool more = false;  // more follow the last item
};

class MailboxOps {
 public:
  virtual ~MailboxOps() = default;

  // A new mailbox with a random mkey and secret; the secret is returned only now.
  virtual Result<MailboxCredentials> Create() = 0;
  // Mailboxes after `after` (exclusive), at most `limit`. Precondition: limit >= 1.
  virtual Result<Page<MailboxInfo>> List(const std::optional<MailboxKey>& after, size_t limit) = 0;
  // NotFound when there is no such mailbox.
  virtual Result<MailboxInfo> Get(const MailboxKey& mkey) = 0;
  // Deletes the mailbox with everything it owns. NotFound when unknown.
  virtual Status Delete(const MailboxKey& mkey) = 0;
  // The operator's override of consent: `connected` joins a and b at once
  // (NotFound if either is unknown, InvalidArgument if a == b); otherwise
  // severs them from both sides, the connection and any request between them.
  virtual Status SetConnected(const MailboxKey& a, const MailboxKey& b, bool connected) = 0;
  // The peers of `mkey` of `kind` ("connected", "requested" or "incoming"),
  // after `after`, at most `limit`. NotFound when `mkey` is unknown.
  // Preconditions: kind is one of the three, limit >= 1.
  virtual Result<Page<MailboxKey>> ListConnections(const MailboxKey& mkey, std::string_view kind,
                                                   const std::optional<MailboxKey>& after,
                                                   size_t limit) = 0;
};

// With --server, the operations through the live server's admin API;
// otherwise on the store in --data, opened for `access` (Context::OpenStore's
// errors).
Result<std::unique_ptr<MailboxOps>> OpenMailboxOps(const Context& ctx, Access access);

}  // namespace postbox::admin

#endif  // POSTBOX_SERVER_SHIM_ADMIN_MAILBOX_OPS_H_
