// FaultProxy's relay of one direction of a connection (a "lane"): it cuts
// the byte stream into frames by their header, judges each by the policy
// (flip, drop, duplicate, delay, cut), writes what survives, holds frames
// behind a delay in a FIFO so the direction's order is kept, stops reading
// when too much waits, and relays end of stream as a half-close.
#include <cstring>
#include <utility>

#include "tests/support/fault_proxy_loop.h"

namespace postbox::testing {
namespace {

// A lane stops reading its source above kHighWater bytes waiting in the proxy
// (written but not yet taken by the kernel, or held by a delay) and resumes
// below kLowWater.
constexpr size_t kHighWater = 4u << 20;
constexpr size_t kLowWater = 1u << 20;
// A cut closes the connection once its prefix is written, or after this long
// if the receiver does not take it.
constexpr uint64_t kCutGraceMs = 1000;
constexpr uint32_t kFlipMinPayload = 4096;

// Whether `h` can be a frame: otherwise the proxy stops framing that stream.
bool Framable(const wire::FrameHeader& h) {
  const bool flags_ok = h.flags == 0 || h.flags == wire::kFlagZstd ||
                        h.flags == (wire::kFlagZstd | wire::kFlagDictionary);
  return wire::IsKnownMessageType(h.type) && flags_ok && h.reserved == 0 &&
         h.length <= wire::kMaxSupportedPayload;
}

}  // namespace

void FaultProxy::Loop::UpdateReading(Lane& lane) {
  Conn* c = lane.conn;
  if (c->closing || c->cutting || !c->relaying || lane.eof) return;
  const size_t waiting = lane.queued + lane.held_bytes;
  if (lane.reading && waiting > kHighWater) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(lane.from));
    lane.reading = false;
  } else if (!lane.reading && waiting < kLowWater) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(lane.from), OnAlloc, OnRead) != 0) {
      Close(c);
      return;
    }
    lane.reading = true;
  }
}

void FaultProxy::Loop::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // Reads are handled one at a time on the loop thread and copied out at once.
  Loop* self = static_cast<Conn*>(h->data)->loop;
  *buf = uv_buf_init(reinterpret_cast<char*>(self->read_buf_), kProxyReadSize);
}

void FaultProxy::Loop::OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  Loop* self = static_cast<Conn*>(s->data)->loop;
  Lane& lane = self->LaneOf(s);
  if (n == 0 || lane.conn->closing) return;
  if (n == UV_EOF) {
    uv_read_stop(s);
    lane.reading = false;
    lane.eof = true;
    // A partial frame the sender left behind goes on as it is.
    if (!lane.in.empty() && !lane.conn->cutting) {
      self->Emit(lane, lane.in.data(), lane.in.size(), self->Now(), false);
      lane.in.clear();
      self->Flush(lane);
    }
    self->MaybeHalfClose(lane);
    return;
  }
  if (n < 0) {
    self->Close(lane.conn);
    return;
  }
  const auto* p = reinterpret_cast<const uint8_t*>(buf->base);
  lane.in.insert(lane.in.end(), p, p + n);
  self->Process(lane);
  self->Flush(lane);
  self->UpdateReading(lane);
}

// Cuts lane.in into frames and judges each.
void FaultProxy::Loop::Process(Lane& lane) {
  AtomicDirectionStats& stats = Stats(lane);
  const DirectionFaults& faults = policy_.faults(lane.dir);
  const uint64_t now = Now();
  size_t off = 0;
  while (!lane.conn->cutting && !lane.conn->closing) {
    const size_t avail = lane.in.size() - off;
    if (!lane.framed) {
      if (avail > 0) Emit(lane, lane.in.data() + off, avail, now, false);
      off = lane.in.size();
      break;
    }
    if (avail < wire::kFrameHeaderSize) break;
    uint8_t* frame = lane.in.data() + off;
    const wire::FrameHeader h = wire::ReadFrameHeader(frame);
    if (!Framable(h)) {
      lane.framed = false;
      Bump(stats.unframed);
      continue;
    }
    const size_t size = wire::kFrameHeaderSize + h.length;
    if (avail < size) break;
    off += size;
    if (policy_.flip_type && h.type == static_cast<uint16_t>(*policy_.flip_type) &&
        h.length > kFlipMinPayload && flips_left_ > 0) {
      --flips_left_;
      frame[wire::kFrameHeaderSize + h.length / 2] ^= 0x5a;
      Bump(stats.flipped);
    }
    FaultDecision d;
    if (faults.Applies(h.type)) d = lane.decider->Next(faults, h);
    if (d.action == FaultDecision::Action::kDrop) d.delay = {};  // nothing to hold
    if (d.delay.count() > 0) Bump(stats.delayed);
    const uint64_t not_before = now + static_cast<uint64_t>(d.delay.count());
    switch (d.action) {
      case FaultDecision::Action::kForward:
        Emit(lane, frame, size, not_before, false);
        Bump(stats.forwarded);
        break;
      case FaultDecision::Action::kDrop:
        Bump(stats.dropped);
        break;
      case FaultDecision::Action::kDuplicate:
        Emit(lane, frame, size, not_before, false);
        Emit(lane, frame, size, not_before, false);
        Bump(stats.forwarded);
        Bump(stats.duplicated);
        break;
      case FaultDecision::Action::kCut:
        Bump(stats.cut);
        Bump(counters.connections_cut);
        // Nothing more is read from either side; what is buffered is lost.
        lane.conn->cutting = true;
        for (Lane& l : lane.conn->lanes) {
          if (l.reading) uv_read_stop(reinterpret_cast<uv_stream_t*>(l.from));
          l.reading = false;
        }
        Emit(lane, frame, d.cut_prefix, not_before, true);
        break;
    }
  }
  if (lane.conn->cutting) {
    lane.in.clear();
  } else {
    lane.in.erase(lane.in.begin(), lane.in.begin() + static_cast<ptrdiff_t>(off));
  }
}

// Sends bytes now (at the end of the turn) unless the lane is held or they
// must wait; then they queue behind what is held.
void FaultProxy::Loop::Emit(Lane& lane, const uint8_t* p, size_t n, uint64_t not_before, bool cut) {
  if (lane.held.empty() && not_before <= Now()) {
    lane.out.insert(lane.out.end(), p, p + n);
    if (cut) StartCut(lane);
    return;
  }
  lane.held.push_back({std::vector<uint8_t>(p, p + n), not_before, cut});
  lane.held_bytes += n;
  if (lane.held.size() == 1) {
    uv_timer_start(&lane.timer, OnTimer, not_before > Now() ? not_before - Now() : 0, 0);
  }
}

void FaultProxy::Loop::Flush(Lane& lane) {
  if (lane.out.empty() || lane.conn->closing) return;
  Write(lane, std::move(lane.out));
  lane.out = {};
}

void FaultProxy::Loop::Write(Lane& lane, std::vector<uint8_t> data) {
  auto* w = new WriteReq{{}, std::move(data), &lane};
  const uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->data.data()), w->data.size());
  w->req.data = w;
  lane.queued += w->data.size();
  if (uv_write(&w->req, reinterpret_cast<uv_stream_t*>(lane.to), &b, 1, OnWritten) != 0) {
    lane.queued -= w->data.size();
    delete w;
    Close(lane.conn);
  }
}

void FaultProxy::Loop::OnWritten(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Lane& lane = *w->lane;
  lane.queued -= w->data.size();
  delete w;
  Loop* self = lane.conn->loop;
  if (lane.conn->closing) return;
  if (status < 0 || (lane.cut_pending && lane.queued == 0)) {
    self->Close(lane.conn);
    return;
  }
  self->UpdateReading(lane);
}

// The cut frame's prefix is in lane.out: write it after all before it, then
// close the connection once the kernel has taken it (or after a grace period).
void FaultProxy::Loop::StartCut(Lane& lane) {
  Flush(lane);
  lane.held.clear();
  lane.held_bytes = 0;
  lane.cut_pending = true;
  if (lane.queued == 0) {
    Close(lane.conn);
    return;
  }
  uv_timer_start(
      &lane.timer,
      [](uv_timer_t* t) {
        Conn* c = static_cast<Lane*>(t->data)->conn;
        c->loop->Close(c);
      },
      kCutGraceMs, 0);
}

void FaultProxy::Loop::OnTimer(uv_timer_t* t) {
  Lane& lane = *static_cast<Lane*>(t->data);
  lane.conn->loop->ReleaseHeld(lane);
}

void FaultProxy::Loop::ReleaseHeld(Lane& lane) {
  const uint64_t now = Now();
  while (!lane.held.empty() && lane.held.front().not_before <= now && !lane.conn->closing) {
    Held h = std::move(lane.held.front());
    lane.held.pop_front();
    lane.held_bytes -= h.bytes.size();
    lane.out.insert(lane.out.end(), h.bytes.begin(), h.bytes.end());
    if (h.cut) {
      StartCut(lane);
      return;
    }
  }
  Flush(lane);
  if (lane.conn->closing) return;
  if (!lane.held.empty()) {
    const uint64_t due = lane.held.front().not_before;
    uv_timer_start(&lane.timer, OnTimer, due > now ? due - now : 0, 0);
  }
  UpdateReading(lane);
  MaybeHalfClose(lane);
}

// After EOF from a lane's source and once its held frames are out, the
// destination gets EOF too; when both directions have ended, the connection
// closes.
void FaultProxy::Loop::MaybeHalfClose(Lane& lane) {
  if (!lane.eof || !lane.held.empty() || lane.shutdown_sent || lane.conn->cutting ||
      lane.conn->closing) {
    return;
  }
  lane.shutdown_sent = true;
  lane.shutdown_req.data = &lane;
  if (uv_shutdown(&lane.shutdown_req, reinterpret_cast<uv_stream_t*>(lane.to), OnShutdown) != 0) {
    Close(lane.conn);
  }
}

void FaultProxy::Loop::OnShutdown(uv_shutdown_t* req, int status) {
  Lane& lane = *static_cast<Lane*>(req->data);
  Conn* c = lane.conn;
  lane.shutdown_done = true;
  if (c->closing) return;
  if (status < 0 || (c->lanes[0].shutdown_done && c->lanes[1].shutdown_done)) c->loop->Close(c);
}

}  // namespace postbox::testing
