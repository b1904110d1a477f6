// Where an upload's bytes [0, offset) live while it is in progress
// (KEY_LAYOUT.md, `blobs` and `upload_tail`): the whole pieces, and the last
// piece once the upload reached its declared length, in `blobs` under the
// message id, exactly as a committed message keeps them (committing moves no
// data); the bytes of an incomplete last piece staged in `upload_tail`, one
// row per chunk part (id ‖ BE64 offset → bytes), until a chunk completes the
// piece. So a chunk writes about its own bytes, not the whole 256 KiB piece
// again: a piece is written once, from its staged rows and the completing
// chunk, and its rows are deleted in the same transaction.
#ifndef POSTBOX_STORE_UPLOAD_BYTES_H_
#define POSTBOX_STORE_UPLOAD_BYTES_H_

#include <cstdint>
#include <functional>
#include <string_view>

#include "postbox/status.h"
#include "postbox/types.h"
#include "store/env.h"
#include "store/records.h"
#include "store/store.h"

namespace postbox::store {

// Where the upload's bytes in `blobs` end: at the last piece boundary at or
// below its offset, or at its length once every byte arrived. Its bytes from
// there to the offset are staged.
uint64_t PiecesEnd(const UploadRecord& u);

// Stores `bytes` at [u.offset, u.offset + size) of the upload `id`: a piece
// the bytes complete (or end at the declared length) goes to `blobs` with the
// piece's staged bytes, whose rows are deleted; whole pieces go straight to
// `blobs`; what is left of an incomplete piece is staged. Does not touch the
// record. Precondition: u.offset + bytes.size() <= u.length. Internal when
// the staged rows do not tile [PiecesEnd(u), u.offset).
Status AppendUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u,
                         std::string_view bytes);

// Calls fn(offset, bytes) over the stored bytes [from, to) of the upload in
// order, in parts (a piece's range, a staged row's range), until fn returns
// false. The views are valid during the call only. Precondition: to <= u.offset.
Status VisitUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u,
                        uint64_t from, uint64_t to,
                        const std::function<bool(uint64_t, std::string_view)>& fn);

// Deletes the upload's pieces and staged rows (not its record).
Status DeleteUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u);

}  // namespace postbox::store

#endif  // POSTBOX_STORE_UPLOAD_BYTES_H_
