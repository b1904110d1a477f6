// The reply accounting of fuzz/session_fuzzer.cc: wire/PROTOCOL.md §3 says
// every request gets exactly one reply frame with its request id (Ack and Pong
// none, DownloadRequest a stream of chunks or an Error).
#ifndef POSTBOX_FUZZ_SESSION_REPLIES_H_
#define POSTBOX_FUZZ_SESSION_REPLIES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/session/peer.h"

namespace postbox::fuzz {

// Compares the requests in `sent` (the stream, decoded as the server decodes
// it, up to the first frame it cannot read) with the frames `received`.
// Meaningful for a session that was active (past Hello) throughout, either
// once the server has processed every request and answered all writes (the
// lingering sentinel, a write sent last, got its Ok: writes are answered in
// order, reads at once), or once the server has closed the session after an
// Error for a malformed frame. Download requests' ids are left out, since
// their chunks may still be streaming; so is request id 0, which the
// server's own frames use. Returns "" if every other request id got as many
// replies as it had requests, else a description of the first that did not.
std::string CheckReplies(std::string_view sent, const std::vector<Received>& received);

// The request id of the first frame in `sent` that the server cannot read (a
// session past a Hello that declared every compression, as the harness's
// does), whose Error carries that id; nothing if every frame is readable.
std::optional<uint64_t> UnreadableFrameId(std::string_view sent);

}  // namespace postbox::fuzz

#endif  // POSTBOX_FUZZ_SESSION_REPLIES_H_
