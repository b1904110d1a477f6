// Internals of postbox-load (bench/postbox_load.cc): the workload set up in the
// store before a run, the two drivers that run it against postbox-server, the
// probes around the measured window, and the same-run baselines. A benchmark,
// not API: nothing here is installed.
#ifndef POSTBOX_BENCH_LOAD_LOAD_H_
#define POSTBOX_BENCH_LOAD_LOAD_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "postbox/result.h"
#include "postbox/types.h"

struct MDB_env;      // lmdb.h, used by window.cc only
struct uv_stream_s;  // uv.h
typedef struct uv_stream_s uv_stream_t;
struct uv_loop_s;
typedef struct uv_loop_s uv_loop_t;
namespace postbox::wire {
class Encoder;  // postbox/wire/codec.h
}
namespace postbox::sync {
class Client;  // postbox/sync/client.h
}

namespace postbox::load {

// kPutGet: an EntryPut then an EntryGet of the same key, pipelined; one op
// ends at the get's reply (read-your-writes makes the get wait for the put).
enum class Op { kPut, kPoll, kPing, kEcho, kPush, kStatus, kHostile, kPutGet };

// --op hostile (hostile.cc): what a flood session sends as fast as it can.
enum class FloodOp { kPut, kPoll, kPing };

struct HostileOptions {
  unsigned idle = 10000;      // authenticated idle sessions
  unsigned sources = 8;       // source addresses 127.0.0.2 ... 127.0.0.(1 + sources)
  unsigned slow_readers = 0;  // sessions sending Polls, never reading
  unsigned floods = 0;        // sessions writing requests as fast as they can
  FloodOp flood_op = FloodOp::kPut;
  unsigned probe_interval_ms = 20;  // the well-behaved client's poll period
  unsigned ramp = 256;              // connects and Hellos in flight while opening
};

struct Config {
  uint16_t port = 7420;
  Op op = Op::kPut;
  std::string op_name = "put";
  unsigned connections = 64;
  // Requests in flight per connection (--depth); push always runs at 1.
  unsigned depth = 1;
  double duration = 5;
  double warmup = 0.5;
  std::string data;  // the server's store folder
  // --op status: the total ops/s the supply of rises is sized for, and how many
  // senders post into each connection's mailbox.
  double expect_rate = 60000;
  unsigned senders = 16;
  int server_pid = 0;  // sample this process's CPU time over the window (0: no)
  // --redis-port: run put or status against redis-server on 127.0.0.1 instead
  // (the same logical operations as Redis functions; redis.cc).
  uint16_t redis_port = 0;
  HostileOptions hostile;
};

// What the store holds for the run, per connection: the mailbox it says Hello
// as, and (push, status) the messages it advances, in order. For --op hostile
// the connections are the idle sessions, the slow readers, the floods and the
// probe, in that order.
struct Workload {
  std::vector<MailboxCredentials> creds;
  std::vector<std::vector<MessageId>> ids;
};

// Creates the connections' mailboxes in cfg.data and, for push and status, the
// messages they advance; for hostile, the entries the slow readers and the
// probe poll. Not timed. Errors name the step that failed.
Result<Workload> SetUp(const Config& cfg);

// --op status: the messages each connection gets, twice the ops expected
// from --expect-rate over warm-up and duration, in whole blocks of --depth.
size_t StatusMessagesPerConnection(const Config& cfg);

// --op status: op number `k` of a connection with `count` messages is a rise
// of message `*index` to `*status`. Messages go in blocks of `depth`:
// DOWNLOADED for each message of a block, then VIEWED for each, so every op is
// a rise and a message's VIEWED is sent `depth` ops after its DOWNLOADED.
// False when the supply is used up.
bool StatusOpIndex(size_t count, unsigned depth, uint64_t k, size_t* index, MessageStatus* status);
// The same over a connection's message ids.
bool StatusOpAt(const std::vector<MessageId>& ids, unsigned depth, uint64_t k, MessageId* id,
                MessageStatus* status);

// The figures around the measured window: wall time, the server's CPU time
// and (for a store) LMDB's transaction id, whose difference is the number of
// write transactions the server committed meanwhile: ops per commit is the
// group-commit factor.
class Window {
 public:
  // Opens the store read-only for the transaction id (empty `data`: none).
  // Call after the workload's own DB handle is closed: LMDB forbids one
  // process to open an environment twice.
  Window(const std::string& data, int server_pid);
  ~Window();
  Window(const Window&) = delete;
  Window& operator=(const Window&) = delete;

  void Begin();
  void End();
  bool ended() const { return end_ns_ != 0; }
  double seconds() const { return static_cast<double>(end_ns_ - begin_ns_) / 1e9; }
  // Write transactions committed in the window; -1 if unknown.
  int64_t commits() const;
  // CPU seconds per wall second (1.0 = one core busy); -1 if unknown.
  double server_cpu() const;
  double load_cpu() const;
  // Bytes the server wrote (its socket replies and its LMDB pages); -1 if unknown.
  double server_written() const;

 private:
  uint64_t TxnId() const;

  MDB_env* env_ = nullptr;
  int server_pid_ = 0;
  uint64_t begin_ns_ = 0, end_ns_ = 0;
  uint64_t txn_begin_ = 0, txn_end_ = 0;
  double server_cpu_begin_ = -1, server_cpu_end_ = -1;
  double server_written_begin_ = -1, server_written_end_ = -1;
  double load_cpu_begin_ = 0, load_cpu_end_ = 0;
};

// What a driver measured. Latencies are per request, in microseconds.
struct Outcome {
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0;
  // --op status: replies whose status was not the one asked for (not a rise).
  uint64_t not_rises = 0;
  // --op status: a connection used up its messages, so the window ended early.
  bool supply_ran_out = false;
  // --op putget: gets that did not answer the value of the put before them.
  uint64_t stale_reads = 0;
};

// One libuv loop drives every connection with raw frames (like
// redis-benchmark: one thread, epoll): every op.
Outcome RunFrames(const Config& cfg, const Workload& work, Window* window);
// One postbox::sync::Client per connection (its own loop thread each), using
// the *Async methods: put and status.
Outcome RunClients(const Config& cfg, const Workload& work, Window* window);

// The Redis baseline (redis.cc): loads the functions, sets up the status
// supply in Redis (untimed), then drives put or status through FCALL like
// RunFrames drives postbox-server. The store is Redis, so no Workload.
Outcome RunRedis(const Config& cfg, Window* window);

// --op hostile's well-behaved client (probe.cc): connects (Hello) in the
// constructor, then polls its mailbox every hostile.probe_interval_ms on its
// own thread through postbox::sync::Client until Stop(); every call must
// complete. Not copyable; the counters are valid after Stop().
class Probe {
 public:
  Probe(const Config& cfg, const MailboxCredentials& creds);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;
  void Stop();

  uint64_t calls = 0, completed = 0, errors = 0;
  std::vector<uint32_t> latencies_us;

 private:
  void Run(std::chrono::milliseconds interval);

  std::unique_ptr<sync::Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

// --op hostile: opens cfg.hostile.idle idle sessions, reports the server's
// RSS per idle session, then runs slow readers, floods and the probe for
// cfg.duration (hostile.cc). Returns the exit status.
int RunHostile(const Config& cfg, const Workload& work);
// Raises this process's descriptor limit to its hard limit; false (and a
// message naming the limit) if that is fewer than `needed`.
bool RaiseFileLimit(size_t needed);

// Appends an EntryPut of key "k<rid % 1024>" at version 0 (always applies):
// the put of every driver (raw frames, floods; redis.cc mirrors it).
void EncodePut(wire::Encoder* encoder, uint64_t rid, std::vector<uint8_t>* out);
// Closes every handle of `loop` (pending writes are cancelled and freed), runs
// it until they are closed, and closes the loop.
void CloseLoop(uv_loop_t* loop);

// Writes *bytes in one uv_write that owns them (*bytes is left empty); `done`
// (if any) runs with libuv's status when the write completes or is cancelled.
// Returns uv_write's error (the bytes are dropped then).
int WriteBytes(uv_stream_t* stream, std::vector<uint8_t>* bytes,
               void (*done)(uv_stream_t* stream, int status) = nullptr);

// The raw libuv echo server: every byte read is written back. Runs until killed.
int ServeEcho(uint16_t port);
// One 16-byte-key/100-byte-value put per durable LMDB transaction, in a fresh
// environment under `dir` opened with the engine's flags, for `seconds`;
// prints txn/s. The environment is removed afterwards.
int RawLmdbTxn(const std::string& dir, double seconds);

uint64_t NowNs();

}  // namespace postbox::load

#endif  // POSTBOX_BENCH_LOAD_LOAD_H_
