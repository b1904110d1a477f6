// FaultProxy: a TCP relay on 127.0.0.1 between sync clients and a sync server
// that injects network faults frame by frame, for tests and benchmarks.
//
// It listens on an ephemeral port of 127.0.0.1 and relays each accepted
// connection to 127.0.0.1:upstream_port. Each direction's byte stream is cut
// into whole frames by their 16-byte header (wire/PROTOCOL.md §1), and every
// frame is judged on its own: forwarded, dropped, duplicated, delayed, or cut
// (a prefix forwarded, then the connection closed), as a FaultPolicy's rates
// say, drawn from a seeded std::mt19937_64. Frames of one chosen type can also
// have a byte flipped in their payload (the frame still decodes, only digests
// notice). A header that cannot be a frame (unknown type, unknown flags, a
// non-zero reserved byte, a length over 2 GiB) ends the framing of that
// direction: its bytes from there on pass through unchanged. The proxy is not
// a validator.
//
// Reproducibility: each direction of each connection has its own generator,
// seeded from (policy.seed, connection index, direction); connections are
// numbered 0, 1, ... in the order the proxy accepts them. So for one seed the
// same frames in the same order on the n-th connection get the same decisions,
// however the two directions and other connections interleave. FaultDecider
// below is that decision function, usable on its own.
//
// All I/O runs on one libuv loop thread owned by the proxy; hundreds of
// connections are fine, each holding two file descriptors of this process
// (a simulation of ~1000 clients needs RLIMIT_NOFILE well above 1024). A
// direction whose destination does not keep up (or whose stream is held by a
// delay) stops being read once 4 MiB wait in the proxy, so memory stays
// bounded and backpressure reaches the sender as TCP would carry it. End of
// stream is relayed as a half-close; a read error or a reset on one side
// closes both.
//
// Thread-safety: FaultProxy is thread-safe: every method may be called from
// any thread (not from inside the proxy's own loop, which never calls out).
// FaultDecider is not: one per stream, as the proxy uses it.
#ifndef POSTBOX_TESTS_SUPPORT_FAULT_PROXY_H_
#define POSTBOX_TESTS_SUPPORT_FAULT_PROXY_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "postbox/result.h"
#include "postbox/status.h"
#include "postbox/wire/frame.h"
#include "postbox/wire/messages.h"

namespace postbox::testing {

// Which way a frame travels through the proxy.
enum class Direction : uint8_t {
  kToServer = 0,  // client -> server (requests)
  kToClient = 1,  // server -> client (replies and pushes)
};

// The faults of one direction. The rates are probabilities per frame:
// `cut`, `drop` and `duplicate` are exclusive shares of the eligible frames
// (their sum must not exceed 1; the rest is forwarded), `delay` is drawn
// independently and may hold a frame that is then forwarded, duplicated or cut.
struct DirectionFaults {
  // The frame never arrives; the stream goes on with the next frame.
  double drop = 0;
  // The frame is sent twice, back to back.
  double duplicate = 0;
  // The direction's stream is held for a time in [delay_min, delay_max]
  // (uniform, whole milliseconds) before this frame. Frames after it wait
  // behind it: order within a direction is kept, as TCP keeps it.
  double delay = 0;
  std::chrono::milliseconds delay_min{0};
  std::chrono::milliseconds delay_max{0};
  // Only a prefix of the frame (0 to size - 1 bytes, uniform; it may end inside
  // the header) is forwarded after everything before it, then both sides of
  // the connection are closed. Frames behind it in either direction are lost.
  double cut = 0;
  // The message types these faults apply to; empty: every type. Other frames
  // are forwarded and draw nothing from the generator.
  std::vector<wire::MessageType> types;

  bool Applies(uint16_t type) const;
};

struct FaultPolicy {
  // Seeds every connection's generators (see the file comment). Changing it in
  // SetPolicy affects connections accepted afterwards only.
  uint64_t seed = 0;
  DirectionFaults to_server;  // client -> server
  DirectionFaults to_client;  // server -> client

  // Byte flips, in either direction and besides the faults above: the first
  // `flip_frames` frames of type `flip_type` whose payload is over 4 KiB
  // (blob chunks) have the byte in the middle of their payload XORed with
  // 0x5a. Counted over all connections from the time the policy was set.
  std::optional<wire::MessageType> flip_type;
  uint32_t flip_frames = 0;

  const DirectionFaults& faults(Direction d) const {
    return d == Direction::kToServer ? to_server : to_client;
  }
  // Every rate within [0, 1], cut + drop + duplicate ≤ 1, delay_min ≤
  // delay_max, both ≥ 0; else InvalidArgument naming the field.
  Status Validate() const;

  // No faults: a plain relay.
  static FaultPolicy None() { return {}; }
  // Only flips: the first `frames` frames of `type` over 4 KiB.
  static FaultPolicy Flip(wire::MessageType type, uint32_t frames);
};

// What happens to one frame.
struct FaultDecision {
  enum class Action : uint8_t { kForward, kDrop, kDuplicate, kCut };
  Action action = Action::kForward;
  // How long the stream is held before the frame; 0: not delayed.
  std::chrono::milliseconds delay{0};
  // kCut: how many bytes of the frame (header included) are forwarded; less
  // than the frame's size.
  size_t cut_prefix = 0;

  bool operator==(const FaultDecision&) const = default;
};

// The per-frame decision function of one direction of one connection. Each
// eligible frame draws exactly four values from the generator, whatever the
// outcome, and the draws are mapped to decisions by integer arithmetic (not
// std:: distributions, whose results differ between standard libraries): the
// sequence is the same on every platform for a seed.
class FaultDecider {
 public:
  FaultDecider(uint64_t seed, uint64_t connection_index, Direction direction);

  // Judges the next frame of the stream, whose header is `header`, by
  // `faults` (which may change between calls).
  FaultDecision Next(const DirectionFaults& faults, const wire::FrameHeader& header);

 private:
  std::mt19937_64 rng_;
};

// Frame counts of one direction. A duplicated, delayed or flipped frame that
// arrived whole also counts as forwarded.
struct DirectionStats {
  uint64_t forwarded = 0;   // frames that arrived whole (at least once)
  uint64_t dropped = 0;     // frames dropped
  uint64_t duplicated = 0;  // frames sent twice
  uint64_t delayed = 0;     // frames that held their stream
  uint64_t cut = 0;         // frames cut short (each closed its connection)
  uint64_t flipped = 0;     // frames with a byte flipped
  uint64_t unframed = 0;    // streams whose framing was lost (passed through)
};

struct FaultProxyStats {
  uint64_t accepted = 0;         // connections accepted from clients (not refused)
  uint64_t open = 0;             // relayed connections open now
  uint64_t refused = 0;          // connections closed at once while paused (kRefuse)
  uint64_t upstream_failed = 0;  // connections closed because the server was unreachable
  uint64_t connections_cut = 0;  // closed by a cut frame or CutAll
  DirectionStats to_server;
  DirectionStats to_client;
};

class FaultProxy {
 public:
  // How a paused proxy treats new connections.
  enum class PauseMode : uint8_t {
    // Accept, then close at once: the client sees its connection end.
    kRefuse,
    // Do not accept: the kernel completes the handshake into the listen
    // backlog, and nothing more happens until the proxy resumes (a black hole;
    // the client's Hello times out).
    kStall,
  };

  // Listens on 127.0.0.1 (ephemeral port), relays to 127.0.0.1:upstream_port
  // and starts the loop thread. InvalidArgument for a bad policy; Unavailable
  // when the socket cannot be set up (naming the libuv error).
  static Result<std::unique_ptr<FaultProxy>> Start(uint16_t upstream_port,
                                                   const FaultPolicy& policy = {});

  // Closes the listener and every connection (abruptly) and joins the loop thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // The port clients connect to.
  uint16_t port() const { return port_; }

  // Replaces the policy. On return every frame the proxy judges from then on,
  // on old and new connections, is judged by it (the flip budget starts again;
  // old connections keep their generators). InvalidArgument, changing nothing,
  // for a bad policy.
  Status SetPolicy(const FaultPolicy& policy);
  FaultPolicy policy() const;

  // Closes every open connection abruptly (bytes waiting in the proxy are
  // lost); on return they are closing. New connections are unaffected.
  void CutAll();

  // Pauses (or resumes) accepting new connections, as `mode` says; open
  // connections are unaffected. On resuming, a connection stalled by kStall
  // is accepted and relayed.
  void Pause(bool paused, PauseMode mode = PauseMode::kRefuse);

  // A snapshot of the counters (each read atomically; not one instant).
  FaultProxyStats stats() const;
  // Frames flipped so far in both directions (the old relay's accessor).
  uint64_t flipped() const;

 private:
  class Loop;
  explicit FaultProxy(std::unique_ptr<Loop> loop, uint16_t port);

  std::unique_ptr<Loop> loop_;
  uint16_t port_ = 0;
};

}  // namespace postbox::testing

#endif  // POSTBOX_TESTS_SUPPORT_FAULT_PROXY_H_
