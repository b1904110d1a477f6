#include "store/upload_bytes.h"

#include <algorithm>
#include <string>

#include "store/codec.h"

namespace postbox::store {
namespace {

// Visits the upload's staged rows in offset order as fn(offset, bytes) until
// fn returns false, checking that they tile [PiecesEnd(u), u.offset) (when
// the walk is not stopped early). Views are valid during the call only.
Status ScanStaged(Txn& t, const MessageId& id, const UploadRecord& u,
                  const std::function<bool(uint64_t, std::string_view)>& fn) {
  uint64_t next = PiecesEnd(u);
  bool gap = false, stopped = false;
  POSTBOX_RETURN_IF_ERROR(
      t.Scan(t.t().upload_tail, MessageKey(id), "", [&](std::string_view k, std::string_view v) {
        if (k.size() != 24 || ReadBE64(k.substr(16)) != next || v.empty()) {
          gap = true;
          return false;
        }
        const uint64_t at = next;
        next += v.size();
        stopped = !fn(at, v);
        return !stopped;
      }));
  if (gap || (!stopped && next != u.offset)) {
    return Status::Internal("the staged bytes of upload " + id.ToHex() + " do not end at offset " +
                            std::to_string(u.offset));
  }
  return Status();
}

}  // namespace

uint64_t PiecesEnd(const UploadRecord& u) {
  if (u.offset == u.length) return u.length;
  return u.offset - u.offset % kBlobPieceSize;
}

Status AppendUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u,
                         std::string_view bytes) {
  uint64_t pos = u.offset;
  std::string_view rest = bytes;
  if (rest.empty()) return Status();
  if (const uint64_t within = pos % kBlobPieceSize; within != 0) {
    // The incomplete last piece: stage the bytes, or complete it.
    const uint64_t piece_start = pos - within;
    const uint64_t piece_end = std::min(piece_start + kBlobPieceSize, u.length);
    const uint64_t n = std::min<uint64_t>(rest.size(), piece_end - pos);
    if (pos + n < piece_end) return t.Put(t.t().upload_tail, UploadTailKey(id, pos), rest);
    // Copied out of the map before writing: a write may move the pages the
    // staged rows' views point into.
    std::string piece;
    piece.reserve(piece_end - piece_start);
    POSTBOX_RETURN_IF_ERROR(ScanStaged(t, id, u, [&](uint64_t, std::string_view staged) {
      piece.append(staged);
      return true;
    }));
    piece.append(rest.substr(0, n));
    POSTBOX_RETURN_IF_ERROR(s.AppendPieces(t, id, piece_start, piece));
    POSTBOX_RETURN_IF_ERROR(t.DelPrefix(t.t().upload_tail, MessageKey(id)).status());
    pos += n;
    rest.remove_prefix(n);
  }
  // From a piece boundary: whole pieces (and a short one that ends the blob)
  // go straight to `blobs`, the rest is staged.
  const uint64_t direct =
      pos + rest.size() == u.length ? rest.size() : rest.size() - rest.size() % kBlobPieceSize;
  POSTBOX_RETURN_IF_ERROR(s.AppendPieces(t, id, pos, rest.substr(0, direct)));
  if (direct == rest.size()) return Status();
  return t.Put(t.t().upload_tail, UploadTailKey(id, pos + direct), rest.substr(direct));
}

Status VisitUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u,
                        uint64_t from, uint64_t to,
                        const std::function<bool(uint64_t, std::string_view)>& fn) {
  if (from >= to) return Status();
  const uint64_t pieces_end = PiecesEnd(u);
  if (from < pieces_end) {
    POSTBOX_ASSIGN_OR_RETURN(
        auto pieces, s.PieceViews(t, id, pieces_end, from, std::min(to, pieces_end) - from, false));
    for (const BlobChunk& c : pieces) {
      if (!fn(c.offset, c.bytes)) return Status();
    }
  }
  if (to <= pieces_end) return Status();
  return ScanStaged(t, id, u, [&](uint64_t at, std::string_view row) {
    const uint64_t lo = std::max(at, from);
    const uint64_t hi = std::min(at + row.size(), to);
    if (lo < hi && !fn(lo, row.substr(lo - at, hi - lo))) return false;
    return at + row.size() < to;
  });
}

Status DeleteUploadBytes(const Store& s, Txn& t, const MessageId& id, const UploadRecord& u) {
  POSTBOX_RETURN_IF_ERROR(s.DeletePieces(t, id, PiecesEnd(u)));
  return t.DelPrefix(t.t().upload_tail, MessageKey(id)).status();
}

}  // namespace postbox::store
