// The blob side of a session: download streams and upload queries. Upload
// writes are ordinary batch ops (dispatch.cc); wire/PROTOCOL.md "Blob
// transfer" is the contract.
#include <algorithm>
#include <string>

#include "sync/convert.h"
#include "sync/server/session.h"

namespace postbox::sync::internal {
namespace {

// Download chunks are sent only while the session's unsent output is below
// this (wire/PROTOCOL.md "Blob transfer"): two 256 KiB pieces, enough to keep
// a loopback socket busy between write completions, little enough that 100
// concurrent downloads hold ~100 MiB at most.
constexpr size_t kDownloadHighWater = 512 * 1024;
// Room a DownloadChunk's fields take besides its data.
constexpr size_t kChunkFrameOverhead = 256;

}  // namespace

void Session::HandleUploadQuery(uint64_t rid, const wire::UploadQueryOffset& m) {
  auto state = core_->db()->UploadOffset(mkey_, MessageIdFromWire(m.id));
  if (!state) return SendError(rid, state.error());
  Send(rid,
       wire::UploadOffset{m.id, state->committed ? state->length : state->offset, state->length});
}

void Session::HandleDownload(uint64_t rid, const wire::DownloadRequest& m) {
  const MessageId id = MessageIdFromWire(m.id);
  // A new request for an id being streamed replaces that stream, which ends
  // with a 409 so that nobody waits on it (there is at most one per id).
  auto same = std::find_if(downloads_.begin(), downloads_.end(),
                           [&](const Download& d) { return d.id == id; });
  if (same != downloads_.end()) {
    RecordDownload(*same, 409);  // event log
    SendError(same->rid, 409, "replaced by a newer DownloadRequest for the same id");
    downloads_.erase(same);
  } else if (downloads_.size() >= core_->options().max_downloads) {
    return SendError(rid, 429,
                     "this session already streams " + std::to_string(downloads_.size()) +
                         " downloads (max_downloads); wait for one to end");
  }
  const bool to_end = m.length == 0 || m.offset > UINT64_MAX - m.length;
  downloads_.push_back(Download{.rid = rid,
                                .id = id,
                                .next = m.offset,
                                .end = to_end ? UINT64_MAX : m.offset + m.length,
                                .first = m.offset,
                                .started_ms = uv_now(&loop_->uv)});
  ServeDownloads();
}

void Session::ServeDownloads() {
  const size_t high_water = std::min(kDownloadHighWater, core_->options().max_outbound_bytes / 4);
  while (!downloads_.empty() && !closing_ && !closed_ && Unsent() < high_water) {
    if (next_download_ >= downloads_.size()) next_download_ = 0;
    if (ServeOne(&downloads_[next_download_])) {
      ++next_download_;  // round robin: the next stream sends the next chunk
    } else {
      downloads_.erase(downloads_.begin() + static_cast<ptrdiff_t>(next_download_));
    }
  }
  if (downloads_.empty()) {
    downloads_.shrink_to_fit();
    next_download_ = 0;
  }
}

bool Session::ServeOne(Download* d) {
  const auto& o = core_->options();
  // One stored piece per turn, smaller if the frame or output limits say so
  // (then the view hashes the part it returns).
  const uint64_t max_data = std::min<uint64_t>({core_->db()->options().max_chunk_size,
                                                o.max_frame_payload - kChunkFrameOverhead,
                                                std::max<size_t>(o.max_outbound_bytes / 4, 1)});
  // A fresh snapshot per piece: a message superseded meanwhile answers 410 now.
  auto view = core_->db()->ViewBlob(mkey_, d->id, d->next, std::min(max_data, d->end - d->next));
  if (!view) {
    RecordDownload(*d, static_cast<uint16_t>(HttpCode(view.error().code())));  // event log
    SendError(d->rid, view.error());
    return false;
  }
  const MessageInfo& message = (*view)->message();
  wire::DownloadChunk chunk;
  chunk.id = ToWire(d->id);
  chunk.total_length = message.length;
  chunk.digest = DigestToWire(message.digest);
  const auto& pieces = (*view)->chunks();
  if (pieces.empty()) {  // an empty range: one empty chunk ends the stream
    chunk.offset = d->next;
    chunk.xxh3_64 = wire::ChunkDigest({});
    Send(d->rid, chunk);
    RecordDownload(*d);  // event log
    return false;
  }
  for (const BlobChunk& piece : pieces) {
    chunk.offset = piece.offset;
    chunk.data = piece.bytes;
    chunk.xxh3_64 = piece.xxh3_64;
    Send(d->rid, chunk);
    d->next = piece.offset + piece.bytes.size();
  }
  const bool more = d->next < std::min(d->end, message.length);
  if (!more) RecordDownload(*d);  // event log
  return more && !closed_;
}

}  // namespace postbox::sync::internal
