// The live server's admin API (docs/operations.md "Admin API" and the admin
// routes beside it), reached over HTTP(S) with libcurl: the one way
// postbox-admin talks to a running server. The live commands (sessions,
// viewers, transfers, kick) and, under --server, the mailbox and connection
// commands (mailbox_ops.h) go through Request. Not thread-safe; the tool is
// one thread.
#ifndef POSTBOX_SERVER_SHIM_ADMIN_SERVER_API_H_
#define POSTBOX_SERVER_SHIM_ADMIN_SERVER_API_H_

#include <string>
#include <string_view>

#include "admin/cli.h"
#include "admin/format.h"
#include "postbox/result.h"

namespace postbox::admin {

// Sends `method` `target` (the path and query, "/admin/mailboxes?limit=10") to
// --server with `Authorization: Bearer TOKEN`, the token read from --token-file
// or POSTBOX_ADMIN_TOKEN; POST and PUT carry an empty body.
//
// On the status `expected`: the answer's JSON document (null when the body is
// empty, as for 204). Any other status becomes the server's refusal as a
// Status: its code from the HTTP status (400 InvalidArgument, 401
// Unauthenticated, 403 PermissionDenied, 404 NotFound, 409 Conflict, 410 Gone,
// 413 TooLarge, 503 Unavailable, ...; one the engine has no code for is
// Internal, naming it), its message the server's {"error": "..."}.
// InvalidArgument without a token; NotFound when --token-file cannot be read;
// Unavailable when the server cannot be reached (curl's reason in the
// message); Internal when the answer is not JSON.
// Precondition: ctx.remote().
Result<Json> Request(const Context& ctx, std::string_view method, const std::string& target,
                     long expected = 200);

}  // namespace postbox::admin

#endif  // POSTBOX_SERVER_SHIM_ADMIN_SERVER_API_H_
