// The loop behind FaultProxy (tests/support/fault_proxy.h): its state and the
// per-connection structures. Not API: shared by fault_proxy.cc (set-up,
// accepting, closing, the public methods) and fault_relay.cc (the relay of
// one direction: framing, faults, writes, delays, cuts, half-close).
#ifndef POSTBOX_TESTS_SUPPORT_FAULT_PROXY_LOOP_H_
#define POSTBOX_TESTS_SUPPORT_FAULT_PROXY_LOOP_H_

#include <uv.h>

#include <atomic>
#include <cassert>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/support/fault_proxy.h"

namespace postbox::testing {

inline constexpr size_t kProxyReadSize = 64 * 1024;

struct AtomicDirectionStats {
  std::atomic<uint64_t> forwarded{0}, dropped{0}, duplicated{0}, delayed{0}, cut{0}, flipped{0},
      unframed{0};
  DirectionStats Load() const {
    return {forwarded.load(), dropped.load(), duplicated.load(), delayed.load(),
            cut.load(),       flipped.load(), unframed.load()};
  }
};

inline void Bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

class FaultProxy::Loop {
 public:
  Loop(uint16_t upstream_port, const FaultPolicy& policy)
      : upstream_port_(upstream_port), policy_(policy), flips_left_(policy.flip_frames) {}

  // Stops the loop thread (closing everything) if it runs.
  ~Loop();
  // Binds and listens on the calling thread, then starts the loop thread.
  Status Start(uint16_t* port);
  // Runs `fn` on the loop thread and returns once it has run.
  void RunOnLoop(std::function<void()> fn);

  // ---- loop thread only (every method below) ----
  void SetPolicy(const FaultPolicy& p) {
    assert(OnLoopThread());
    policy_ = p;
    flips_left_ = p.flip_frames;
  }
  const FaultPolicy& policy() const { return policy_; }
  void CutAll();
  void Pause(bool paused, PauseMode mode);

  struct Counters {
    std::atomic<uint64_t> accepted{0}, open{0}, refused{0}, upstream_failed{0}, connections_cut{0};
    AtomicDirectionStats dir[2];
  };
  Counters counters;

 private:
  struct Conn;
  struct Held {
    std::vector<uint8_t> bytes;
    uint64_t not_before = 0;  // uv_now() ms
    bool cut = false;         // close the connection once these bytes are written
  };
  // One direction of one connection.
  struct Lane {
    Conn* conn = nullptr;
    Direction dir = Direction::kToServer;
    uv_tcp_t* from = nullptr;
    uv_tcp_t* to = nullptr;
    uv_timer_t timer;          // releases held frames; the grace period of a cut
    std::vector<uint8_t> in;   // read, not yet a whole frame
    std::vector<uint8_t> out;  // to write at the end of this turn
    std::deque<Held> held;     // behind a delay, in order
    size_t held_bytes = 0;
    size_t queued = 0;   // bytes in uv_write requests not yet done
    bool framed = true;  // false: framing lost, bytes pass through
    bool reading = false;
    bool eof = false;  // `from` ended its stream
    bool shutdown_sent = false;
    bool shutdown_done = false;
    bool cut_pending = false;  // close once `queued` reaches 0
    uv_shutdown_t shutdown_req;
    std::optional<FaultDecider> decider;
  };
  struct Conn {
    Loop* loop = nullptr;
    uv_tcp_t client, server;
    uv_connect_t connect_req;
    Lane lanes[2];  // indexed by Direction
    int handles = 4;
    bool relaying = false;  // upstream connected
    bool cutting = false;   // a cut frame stopped both reads
    bool closing = false;
  };
  struct WriteReq {
    uv_write_t req;
    std::vector<uint8_t> data;
    Lane* lane;
  };

  bool OnLoopThread() const { return std::this_thread::get_id() == loop_thread_; }
  uint64_t Now() { return uv_now(&uv_); }

  static void OnWake(uv_async_t* a);
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnConnected(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static void OnClosed(uv_handle_t* h);

  void Shutdown();
  void AcceptOne();
  void Close(Conn* c);
  void Process(Lane& lane);
  void Emit(Lane& lane, const uint8_t* p, size_t n, uint64_t not_before, bool cut);
  void Flush(Lane& lane);
  void Write(Lane& lane, std::vector<uint8_t> data);
  void StartCut(Lane& lane);
  void ReleaseHeld(Lane& lane);
  void UpdateReading(Lane& lane);
  void MaybeHalfClose(Lane& lane);
  Lane& LaneOf(uv_stream_t* s) {
    Conn* c = static_cast<Conn*>(s->data);
    return s == reinterpret_cast<uv_stream_t*>(&c->client) ? c->lanes[0] : c->lanes[1];
  }
  AtomicDirectionStats& Stats(const Lane& l) { return counters.dir[static_cast<int>(l.dir)]; }

  const uint16_t upstream_port_;
  sockaddr_in upstream_{};
  uv_loop_t uv_;
  uv_tcp_t listener_;
  uv_async_t wake_;
  bool initialized_ = false;
  std::thread thread_;
  // Set by the loop thread itself, read by the debug assertions of others.
  std::atomic<std::thread::id> loop_thread_{};

  std::mutex mu_;
  std::vector<std::function<void()>> tasks_;  // guarded by mu_

  // Loop thread state.
  FaultPolicy policy_;
  uint32_t flips_left_;
  uint64_t next_index_ = 0;
  bool paused_ = false;
  PauseMode pause_mode_ = PauseMode::kRefuse;
  bool stalled_ = false;  // a connection waits in libuv, not accepted (kStall)
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  uint8_t read_buf_[kProxyReadSize];
};

}  // namespace postbox::testing

#endif  // POSTBOX_TESTS_SUPPORT_FAULT_PROXY_LOOP_H_
