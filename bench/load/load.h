// Internals of postbox-load (bench/postbox_load.cc): the workload set up in the
// store before a run, the two drivers that run it against postbox-server, the
// probes around the measured window, and the same-run baselines. A benchmark,
// not API: nothing here is installed.
#ifndef POSTBOX_BENCH_LOAD_LOAD_H_
#define POSTBOX_BENCH_LOAD_LOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "postbox/result.h"
#include "postbox/types.h"

struct MDB_env;  // lmdb.h, used by window.cc only

namespace postbox::load {

enum class Op { kPut, kPoll, kPing, kEcho, kIdle, kPush, kStatus };

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
};

// What the store holds for the run, per connection: the mailbox it says Hello
// as, and (push, status) the messages it advances, in order.
struct Workload {
  std::vector<MailboxCredentials> creds;
  std::vector<std::vector<MessageId>> ids;
};

// Creates the connections' mailboxes in cfg.data and, for push and status, the
// messages they advance. Not timed. Errors name the step that failed.
Result<Workload> SetUp(const Config& cfg);

// --op status: op number `k` of a connection whose messages are `ids`.
// Messages go in blocks of `depth`: DOWNLOADED for each message of a block,
// then VIEWED for each, so every op is a rise and a message's VIEWED is sent
// `depth` ops after its DOWNLOADED. False when the supply is used up.
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
};

// One libuv loop drives every connection with raw frames (like
// redis-benchmark: one thread, epoll): every op.
Outcome RunFrames(const Config& cfg, const Workload& work, Window* window);
// One postbox::sync::Client per connection (its own loop thread each), using
// the *Async methods: put and status.
Outcome RunClients(const Config& cfg, const Workload& work, Window* window);

// The raw libuv echo server: every byte read is written back. Runs until killed.
int ServeEcho(uint16_t port);
// One 16-byte-key/100-byte-value put per durable LMDB transaction, in a fresh
// environment under `dir` opened with the engine's flags, for `seconds`;
// prints txn/s. The environment is removed afterwards.
int RawLmdbTxn(const std::string& dir, double seconds);

uint64_t NowNs();

}  // namespace postbox::load

#endif  // POSTBOX_BENCH_LOAD_LOAD_H_
