// Relay benchmarks (docs/benchmarks.md "Relay"; issue 12's goal), each against
// a baseline measured in the same run. Two in-process durable servers on
// 127.0.0.1: "upstream" and the relay's node, whose store a
// postbox::sync::Relay keeps in sync with upstream (its replicas relaxed, the default: relay.h).
//
//   BM_StatusUpdates_Relay/depth:{1,16}  16 recipients, each with its own
//       Client (16 connections), raise the statuses of messages their senders
//       posted up front (UPLOADED -> DOWNLOADED, later -> VIEWED; every raise
//       of one iteration on a distinct message), `depth` UpdateStatusAsync in
//       flight per connection. Direct: 16 pairs whose recipients connect to
//       upstream; timed until every raise is acknowledged. Through the relay:
//       16 other pairs whose recipients are relayed and connect to the relay's
//       node; timed until every raise is acknowledged there AND upstream
//       holds it (the relay's outbox has forwarded and ended every raise,
//       checked against the upstream store). The same number of raises per
//       iteration, connections, depth and durability on both sides; the
//       sides alternate which goes first. `ratio` = relay_per_s / direct_per_s
//       (target >= 0.5); ack_per_s is the rate the relay's clients saw.
//
//   BM_PushLatency_Relay  one raise at a time, timed from the recipient's
//       UpdateStatus call to the sender's Client receiving the push that
//       carries the new status. direct: both on upstream; relay: the
//       recipient on the relay, the sender on upstream; reverse: the sender
//       on the relay, the recipient on upstream. Samples interleaved, each
//       after a random pause of up to one relay scan interval (so the relay's
//       scan timer is met at a random phase, as by a real app). Counters in
//       ms: p50/p99 of each, and the p99 the relay adds.
//
// Stores go in fresh folders on a disk-backed filesystem (bench_util.h
// BenchRoot: $POSTBOX_BENCH_DIR, /var/tmp, "."), removed at exit.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "bench/bench_util.h"
#include "bench/summary_reporter.h"
#include "postbox/db.h"
#include "postbox/options.h"
#include "postbox/sync/client.h"
#include "postbox/sync/relay.h"
#include "postbox/sync/server.h"
#include "postbox/write_batch.h"

namespace {

using postbox::MailboxCredentials;
using postbox::MessageId;
using postbox::MessageStatus;
using postbox::sync::Client;
using postbox::sync::Relay;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- The workload ----
constexpr size_t kPairs = 16;  // per side; one connection per recipient
// Raises per connection per iteration, by depth; iterations per depth.
constexpr size_t kPerConnDepth1 = 32;
constexpr size_t kPerConnDepth16 = 128;
constexpr int kIterations = 4;
// Each message takes two raises: enough for every iteration above.
constexpr size_t kPoolMessages = (kPerConnDepth1 + kPerConnDepth16) * kIterations / 2;
constexpr size_t kBlobSize = 256;
// Push latency: samples per path.
constexpr size_t kLatencySamples = 160;
constexpr size_t kLatencyMessages = kLatencySamples / 2 + 1;
// The relay's defaults, except what the benchmark must set.
const postbox::sync::RelayOptions kRelayDefaults{};

// ---- Failures and folders ----

using postbox::bench::Check;
using postbox::bench::Fail;
using postbox::bench::Unwrap;
// A fresh folder under BenchRoot() (never tmpfs), removed with its contents.
using TempDir = postbox::bench::Folder;

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// ---- The fixture ----

// A durable store served by the library server on 127.0.0.1 (ephemeral port).
struct Node {
  explicit Node(const std::string& tag) : dir(tag) {
    postbox::Options o;
    o.durability = postbox::Durability::kDurable;
    db = Unwrap(postbox::DB::Open(dir.path(), o), "DB::Open");
  }
  void Serve() {
    postbox::sync::ServerOptions so;
    so.host = "127.0.0.1";
    so.port = 0;
    server = Unwrap(postbox::sync::Server::Start(db.get(), so), "Server::Start");
  }
  ~Node() {
    if (server) server->Stop();
    server.reset();
    db.reset();
  }
  uint16_t port() const { return server->port(); }

  TempDir dir;
  std::unique_ptr<postbox::DB> db;
  std::unique_ptr<postbox::sync::Server> server;
};

// One status raise.
struct Update {
  MailboxCredentials* recipient;
  MessageId id;
  MessageStatus status;
};

// A sender and a recipient, connected upstream, and the messages the sender
// posted to the recipient; each message takes two raises, handed out in order
// (first every message to DOWNLOADED, then every one to VIEWED).
struct Pair {
  MailboxCredentials sender, recipient;
  std::vector<MessageId> messages;
  size_t raised = 0;

  Update Next() {
    if (raised >= 2 * messages.size()) Fail("a pair ran out of messages to raise");
    const size_t k = raised++;
    return {&recipient, messages[k % messages.size()],
            k < messages.size() ? MessageStatus::kDownloaded : MessageStatus::kViewed};
  }
};

const std::string& Blob() {
  static const std::string b = postbox::bench::RandomBlob(kBlobSize, 7);
  return b;
}

// A topic of its own for each message of a pair: a slot is (from, to, topic)
// and holds one live message, so none supersedes another.
std::string Topic(size_t i) { return "t" + std::to_string(i); }

// Posts `n` new messages from p->sender to p->recipient into each of `dbs`
// (the same ids and bytes in each) and appends their ids to p->messages.
void Seed(Pair* p, size_t n, const std::vector<postbox::DB*>& dbs) {
  std::vector<MessageId> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back(MessageId::Random());
  for (postbox::DB* db : dbs) {
    for (size_t at = 0; at < n; at += 256) {
      postbox::WriteBatch batch;
      for (size_t i = at; i < std::min(n, at + 256); ++i) {
        postbox::PostRequest r;
        r.from = p->sender.mkey;
        r.to = p->recipient.mkey;
        r.id = ids[i];
        r.topic = Topic(p->messages.size() + i);
        r.bytes = Blob();
        batch.PostMessage(std::move(r));
      }
      Check(db->Write(&batch), "seed Write");
      for (const auto& r : batch.results()) Check(r.status, "seed PostMessage");
    }
  }
  p->messages.insert(p->messages.end(), ids.begin(), ids.end());
}

// Posts `n` messages of `p` through `server` (so its sessions get pushes),
// appending their ids to p->messages.
void PostThrough(postbox::sync::Server* server, Pair* p, size_t n) {
  postbox::WriteBatch batch;
  for (size_t i = 0; i < n; ++i) {
    postbox::PostRequest r;
    r.from = p->sender.mkey;
    r.to = p->recipient.mkey;
    r.id = MessageId::Random();
    r.topic = Topic(p->messages.size());
    r.bytes = Blob();
    p->messages.push_back(r.id);
    batch.PostMessage(std::move(r));
  }
  Check(server->Write(&batch), "Server::Write");
  for (const auto& r : batch.results()) Check(r.status, "PostMessage");
}

std::unique_ptr<Client> Connected(uint16_t port, const MailboxCredentials& c,
                                  std::function<void(const postbox::InfoPacket&)> on_push = {}) {
  postbox::sync::ClientOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.mkey = c.mkey;
  o.secret = c.secret;
  o.request_timeout = 30s;
  o.on_push = std::move(on_push);
  auto client = Unwrap(Client::Create(o), "Client::Create");
  Unwrap(client->Connect(), "Client::Connect");
  return client;
}

// Upstream and the relay's node with their mailboxes and messages:
//   direct[i]: a pair whose recipient works against upstream;
//   relayed[i]: a pair whose recipient is relayed (works against the relay);
//   lat_direct, lat_forward (recipient relayed), lat_reverse (sender relayed):
//     the pairs of the latency benchmark.
// The throughput pools are seeded into upstream and, for the relayed pairs,
// into the relay's store with the same ids before the relay starts, so that
// the relay finds both sides equal (as after an import) instead of importing
// 5,000 messages first; the latency pairs' messages go the real way (posted
// upstream and imported by the relay; posted at the relay and forwarded).
struct Fixture {
  Fixture() {
    auto create = [&](Pair* p) {
      p->sender = Unwrap(up.db->CreateMailbox(), "CreateMailbox");
      p->recipient = Unwrap(up.db->CreateMailbox(), "CreateMailbox");
      Check(up.db->Connect(p->sender.mkey, p->recipient.mkey), "Connect");
    };
    direct.resize(kPairs);
    relayed.resize(kPairs);
    for (auto& p : direct) create(&p);
    for (auto& p : relayed) create(&p);
    for (Pair* p : {&lat_direct, &lat_forward, &lat_reverse}) create(p);

    // The relayed recipients exist at the relay with their secrets, their
    // senders without one, connected as upstream has them.
    {
      postbox::WriteBatch batch;
      for (const auto& p : relayed) {
        batch.EnsureMailbox(p.recipient.mkey, p.recipient.secret);
        batch.EnsureMailbox(p.sender.mkey, "");
        batch.Connect(p.sender.mkey, p.recipient.mkey);
      }
      Check(relay_node.db->Write(&batch), "relay store Write");
      for (const auto& r : batch.results()) Check(r.status, "relay store mailboxes");
    }
    for (auto& p : direct) Seed(&p, kPoolMessages, {up.db.get()});
    for (auto& p : relayed) Seed(&p, kPoolMessages, {up.db.get(), relay_node.db.get()});
    Seed(&lat_direct, kLatencyMessages, {up.db.get()});

    up.Serve();
    relay_node.Serve();
    postbox::sync::RelayOptions ro;
    ro.upstream_host = "127.0.0.1";
    ro.upstream_port = up.port();
    for (const auto& p : relayed) ro.mailboxes.push_back(p.recipient);
    ro.mailboxes.push_back(lat_forward.recipient);
    ro.mailboxes.push_back(lat_reverse.sender);
    ro.folder = relay_state.path();
    // The default (relaxed replica stores: the relay's durable store is the
    // record, relay.h); every acknowledgement is durable on both sides.
    ro.replica_durability = postbox::Durability::kRelaxed;
    ro.on_error = [](const postbox::Status& s) {
      std::fprintf(stderr, "relay_bench: relay error: %s\n", s.ToString().c_str());
    };
    auto t0 = Clock::now();
    relay = Unwrap(Relay::Start(relay_node.db.get(), relay_node.server.get(), std::move(ro)),
                   "Relay::Start");
    Check(relay->Sync(180s), "first Relay::Sync");
    start_seconds = SecondsSince(t0);
    auto st = relay->stats();
    if (st.imported != 0 || st.posted_upstream != 0 || st.statuses_up != 0 ||
        st.statuses_down != 0) {
      Fail("the relay copied seeded messages: the two stores did not agree at start");
    }

    // The latency pairs' messages, the real way (timed, for information).
    PostThrough(up.server.get(), &lat_forward, kLatencyMessages);
    t0 = Clock::now();
    Check(relay->Sync(180s), "Relay::Sync after upstream posts");
    import_seconds = SecondsSince(t0);
    if (auto n = relay->stats().imported; n != kLatencyMessages) {
      Fail("the relay imported " + std::to_string(n) + " of " + std::to_string(kLatencyMessages) +
           " upstream posts");
    }
    PostThrough(relay_node.server.get(), &lat_reverse, kLatencyMessages);
    t0 = Clock::now();
    Check(relay->Sync(180s), "Relay::Sync after posts at the relay");
    forward_seconds = SecondsSince(t0);
    if (relay->stats().posted_upstream != kLatencyMessages) {
      Fail("the relay did not forward every post");
    }
    for (const auto& id : lat_reverse.messages) {
      Unwrap(up.db->GetMessage(lat_reverse.recipient.mkey, id), "a forwarded post upstream");
    }

    for (const auto& p : direct) direct_clients.push_back(Connected(up.port(), p.recipient));
    for (const auto& p : relayed) {
      relayed_clients.push_back(Connected(relay_node.port(), p.recipient));
    }
  }

  TempDir relay_state{"relay-state"};
  Node up{"upstream"};
  Node relay_node{"relay"};
  std::vector<Pair> direct, relayed;
  Pair lat_direct, lat_forward, lat_reverse;
  std::unique_ptr<Relay> relay;
  std::vector<std::unique_ptr<Client>> direct_clients, relayed_clients;
  double start_seconds = 0, import_seconds = 0, forward_seconds = 0;
};

std::unique_ptr<Fixture> g_fixture;

Fixture& Fix() {
  if (!g_fixture) g_fixture = std::make_unique<Fixture>();
  return *g_fixture;
}

// ---- BM_StatusUpdates_Relay ----

// Issues work[i] on clients[i], `depth` raises in flight per client, each
// completion issuing that client's next. Returns the seconds from the first
// send to the last acknowledgement; every raise must be acknowledged and
// applied (else *error). Ends the run if they are not all answered in 120 s.
double RunUpdates(const std::vector<std::unique_ptr<Client>>& clients,
                  const std::vector<std::vector<Update>>& work, uint32_t depth,
                  std::string* error) {
  struct Conn {
    Client* client;
    const std::vector<Update>* work;
    size_t next = 0;
  };
  std::vector<Conn> conns;
  size_t total = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    conns.push_back({clients[i].get(), &work[i]});
    total += work[i].size();
  }
  std::mutex mu;
  std::condition_variable cv;
  size_t done = 0;
  std::function<void(Conn*)> issue = [&](Conn* c) {
    size_t i;
    {
      std::lock_guard lock(mu);
      if (c->next >= c->work->size()) return;
      i = c->next++;
    }
    const Update& u = (*c->work)[i];
    c->client->UpdateStatusAsync(u.id, u.status,
                                 [&, c](postbox::Result<postbox::StatusUpdateResult> r) {
                                   bool last;
                                   {
                                     std::lock_guard lock(mu);
                                     if (error->empty()) {
                                       if (!r.ok()) {
                                         *error = "UpdateStatus: " + r.error().ToString();
                                       } else if (!r->applied) {
                                         *error = "a raise to a higher status did not apply";
                                       }
                                     }
                                     last = ++done == total;
                                   }
                                   if (last) {
                                     cv.notify_all();
                                   } else {
                                     issue(c);
                                   }
                                 });
  };
  const auto t0 = Clock::now();
  for (auto& c : conns) {
    for (uint32_t d = 0; d < depth; ++d) issue(&c);
  }
  std::unique_lock lock(mu);
  // Not a skip: the completions still to come use this frame.
  if (!cv.wait_for(lock, 120s, [&] { return done == total; })) {
    Fail("raises not all acknowledged within 120 s");
  }
  return SecondsSince(t0);
}

std::vector<std::vector<Update>> TakeWork(std::vector<Pair>& pairs, size_t per_conn) {
  std::vector<std::vector<Update>> work(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    for (size_t k = 0; k < per_conn; ++k) work[i].push_back(pairs[i].Next());
  }
  return work;
}

// True when upstream's store holds every raise of `work`.
bool UpstreamHolds(postbox::DB* up, const std::vector<std::vector<Update>>& work) {
  for (const auto& list : work) {
    for (const Update& u : list) {
      auto m = up->GetMessage(u.recipient->mkey, u.id);
      if (!m.ok() || m->status < u.status) return false;
    }
  }
  return true;
}

// CPU time of the whole process (every thread: servers, relay, replicas,
// clients) so far.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

struct SideResult {
  double seconds = 0;  // the side's time (relay: until upstream holds every raise)
  double cpu = 0;      // the process's CPU seconds meanwhile
  double ack_seconds = 0;
  uint64_t commits = 0, ops = 0;              // upstream's group commits during the side
  uint64_t local_commits = 0, local_ops = 0;  // the relay node's
};

SideResult DirectSide(Fixture& f, size_t per_conn, uint32_t depth, std::string* error) {
  auto work = TakeWork(f.direct, per_conn);
  const auto s0 = f.up.server->stats();
  SideResult r;
  const double c0 = ProcessCpuSeconds();
  r.seconds = r.ack_seconds = RunUpdates(f.direct_clients, work, depth, error);
  r.cpu = ProcessCpuSeconds() - c0;
  const auto s1 = f.up.server->stats();
  r.commits = s1.commits - s0.commits;
  r.ops = s1.committed_ops - s0.committed_ops;
  if (error->empty() && !UpstreamHolds(f.up.db.get(), work)) {
    *error = "direct: an acknowledged raise is not in the store";
  }
  return r;
}

SideResult RelaySide(Fixture& f, size_t per_conn, uint32_t depth, std::string* error) {
  auto work = TakeWork(f.relayed, per_conn);
  const uint64_t total = kPairs * per_conn;
  const auto s0 = f.up.server->stats();
  const auto l0 = f.relay_node.server->stats();
  const uint64_t up0 = f.relay->stats().statuses_up;
  SideResult r;
  const double c0 = ProcessCpuSeconds();
  const auto t0 = Clock::now();
  r.ack_seconds = RunUpdates(f.relayed_clients, work, depth, error);
  if (!error->empty()) return r;
  // Every raise forwarded (counted when it enters a replica's outbox) and no
  // outbox item pending: each has been acknowledged by upstream, i.e.
  // committed there. Then the upstream store must hold them all; if it does
  // not (an item ended in an error, say), wait on the store itself.
  const auto deadline = Clock::now() + 120s;
  for (;;) {
    const auto st = f.relay->stats();
    if (st.statuses_up - up0 >= total && st.pending_upstream == 0) break;
    if (Clock::now() > deadline) {
      *error = "the relay did not forward every raise within 120 s";
      return r;
    }
    std::this_thread::sleep_for(1ms);
  }
  r.seconds = SecondsSince(t0);
  if (!UpstreamHolds(f.up.db.get(), work)) {
    std::fprintf(stderr, "relay_bench: the relay's outbox drained before upstream held all\n");
    while (!UpstreamHolds(f.up.db.get(), work)) {
      if (Clock::now() > deadline) {
        *error = "upstream did not get every raise within 120 s";
        return r;
      }
      std::this_thread::sleep_for(1ms);
    }
    r.seconds = SecondsSince(t0);
  }
  r.cpu = ProcessCpuSeconds() - c0;
  const auto s1 = f.up.server->stats();
  const auto l1 = f.relay_node.server->stats();
  r.commits = s1.commits - s0.commits;
  r.ops = s1.committed_ops - s0.committed_ops;
  r.local_commits = l1.commits - l0.commits;
  r.local_ops = l1.committed_ops - l0.committed_ops;
  // Untimed: let the echoes settle before the next side runs.
  if (auto s = f.relay->Sync(60s); !s.ok()) *error = "Relay::Sync: " + s.ToString();
  return r;
}

void BM_StatusUpdates_Relay(benchmark::State& state) {
  Fixture& f = Fix();
  const auto depth = static_cast<uint32_t>(state.range(0));
  const size_t per_conn = depth == 1 ? kPerConnDepth1 : kPerConnDepth16;
  const double per_iter = static_cast<double>(kPairs * per_conn);
  SideResult relay_sum, direct_sum;
  std::vector<double> relay_units, direct_units;
  uint64_t rounds = 0;
  std::string error;
  for (auto _ : state) {
    SideResult rel, dir;
    if (rounds % 2 == 0) {
      dir = DirectSide(f, per_conn, depth, &error);
      if (error.empty()) rel = RelaySide(f, per_conn, depth, &error);
    } else {
      rel = RelaySide(f, per_conn, depth, &error);
      if (error.empty()) dir = DirectSide(f, per_conn, depth, &error);
    }
    if (!error.empty()) return state.SkipWithError(error.c_str());
    for (auto [sum, one] : {std::pair{&relay_sum, &rel}, std::pair{&direct_sum, &dir}}) {
      sum->seconds += one->seconds;
      sum->cpu += one->cpu;
      sum->ack_seconds += one->ack_seconds;
      sum->commits += one->commits;
      sum->ops += one->ops;
      sum->local_commits += one->local_commits;
      sum->local_ops += one->local_ops;
    }
    relay_units.push_back(rel.seconds);
    direct_units.push_back(dir.seconds);
    state.SetIterationTime(rel.seconds);
    ++rounds;
  }
  if (rounds == 0) return;
  const double updates = per_iter * static_cast<double>(rounds);
  auto per_commit = [](uint64_t ops, uint64_t commits) {
    return commits == 0 ? 0.0 : static_cast<double>(ops) / static_cast<double>(commits);
  };
  state.SetItemsProcessed(static_cast<int64_t>(updates));
  state.counters["relay_per_s"] = updates / relay_sum.seconds;
  state.counters["direct_per_s"] = updates / direct_sum.seconds;
  state.counters["ack_per_s"] = updates / relay_sum.ack_seconds;
  // CPU per raise, all threads: the relayed path's work against the direct one's.
  state.counters["relay_cpu_us"] = relay_sum.cpu * 1e6 / updates;
  state.counters["direct_cpu_us"] = direct_sum.cpu * 1e6 / updates;
  state.counters["ratio"] = direct_sum.seconds / relay_sum.seconds;
  state.counters["ratio_median"] =
      postbox::bench::Median(direct_units) / postbox::bench::Median(relay_units);
  state.counters["target"] = 0.5;
  state.counters["connections"] = static_cast<double>(kPairs);
  state.counters["updates_iter"] = per_iter;
  // Ops per group commit: upstream's in each side, the relay node's.
  state.counters["direct_ops_commit"] = per_commit(direct_sum.ops, direct_sum.commits);
  state.counters["relay_up_ops_commit"] = per_commit(relay_sum.ops, relay_sum.commits);
  state.counters["relay_node_ops_commit"] =
      per_commit(relay_sum.local_ops, relay_sum.local_commits);
}
BENCHMARK(BM_StatusUpdates_Relay)
    ->ArgName("depth")
    ->Arg(1)
    ->Arg(16)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---- BM_PushLatency_Relay ----

// Records when each (message, status) first arrives in a pushed packet's
// outgoing items (the sender's view).
class PushWatch {
 public:
  std::function<void(const postbox::InfoPacket&)> Callback() {
    return [this](const postbox::InfoPacket& p) {
      const auto now = Clock::now();
      std::lock_guard lock(mu_);
      for (const auto& m : p.outgoing) seen_.try_emplace({m.id, m.status}, now);
      cv_.notify_all();
    };
  }
  // When (id, status) arrived; nullopt if not within `timeout`.
  std::optional<Clock::time_point> Wait(const MessageId& id, MessageStatus status,
                                        std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    std::optional<Clock::time_point> at;
    cv_.wait_for(lock, timeout, [&] {
      auto it = seen_.find({id, status});
      if (it != seen_.end()) at = it->second;
      return at.has_value();
    });
    return at;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<MessageId, MessageStatus>, Clock::time_point> seen_;
};

// One path: the recipient's client raises, the sender's client watches.
struct Path {
  Pair* pair;
  uint16_t recipient_port, sender_port;
  PushWatch watch;
  std::unique_ptr<Client> sender, recipient;
  std::vector<double> ms;
};

void BM_PushLatency_Relay(benchmark::State& state) {
  Fixture& f = Fix();
  Path paths[3] = {
      {&f.lat_direct, f.up.port(), f.up.port(), {}, nullptr, nullptr, {}},
      {&f.lat_forward, f.relay_node.port(), f.up.port(), {}, nullptr, nullptr, {}},
      {&f.lat_reverse, f.up.port(), f.relay_node.port(), {}, nullptr, nullptr, {}},
  };
  for (auto& p : paths) {
    p.sender = Connected(p.sender_port, p.pair->sender, p.watch.Callback());
    p.recipient = Connected(p.recipient_port, p.pair->recipient);
  }
  std::mt19937_64 rng(11);
  const auto scan_us =
      std::chrono::duration_cast<std::chrono::microseconds>(kRelayDefaults.scan_interval).count();
  std::string error;
  for (auto _ : state) {
    for (size_t n = 0; n < kLatencySamples && error.empty(); ++n) {
      for (size_t k = 0; k < 3 && error.empty(); ++k) {
        Path& p = paths[(n + k) % 3];  // rotate which path goes first
        std::this_thread::sleep_for(
            std::chrono::microseconds(rng() % static_cast<uint64_t>(scan_us)));
        const Update u = p.pair->Next();
        const auto t0 = Clock::now();
        auto r = p.recipient->UpdateStatus(u.id, u.status);
        if (!r.ok() || !r->applied) {
          error = "latency UpdateStatus: " + (r.ok() ? "not applied" : r.error().ToString());
          break;
        }
        auto at = p.watch.Wait(u.id, u.status, 30s);
        if (!at) {
          error = "the sender got no push of the raise within 30 s";
          break;
        }
        p.ms.push_back(std::chrono::duration<double, std::milli>(*at - t0).count());
      }
    }
    if (!error.empty()) return state.SkipWithError(error.c_str());
    // Untimed: the relay settles before the clients go.
    if (auto s = f.relay->Sync(60s); !s.ok()) return state.SkipWithError("Relay::Sync failed");
  }
  const char* names[3] = {"direct", "relay", "reverse"};
  double p99[3];
  for (int i = 0; i < 3; ++i) {
    p99[i] = Percentile(paths[i].ms, 0.99);
    state.counters[std::string(names[i]) + "_p50_ms"] = Percentile(paths[i].ms, 0.5);
    state.counters[std::string(names[i]) + "_p99_ms"] = p99[i];
  }
  state.counters["added_p99_ms"] = p99[1] - p99[0];
  state.counters["added_p99_reverse_ms"] = p99[2] - p99[0];
  state.counters["samples"] = static_cast<double>(paths[0].ms.size());
  state.counters["scan_interval_ms"] = static_cast<double>(kRelayDefaults.scan_interval.count());
  // Set-up figures of the real paths, for information.
  state.counters["import_per_s"] = static_cast<double>(kLatencyMessages) / f.import_seconds;
  state.counters["forward_post_per_s"] = static_cast<double>(kLatencyMessages) / f.forward_seconds;
}
BENCHMARK(BM_PushLatency_Relay)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---- Summary ----

// The usual reporter, and the table main() prints at the end.
class SummaryReporter : public postbox::bench::SummaryReporterBase {
 public:
  using SummaryReporterBase::SummaryReporterBase;

  void PrintSummary(std::FILE* out) const {
    std::fprintf(out,
                 "\nSummary: through the relay vs directly to the server in this run (ratio = "
                 "relay throughput / direct; median = from median iteration times)\n"
                 "%-30s %18s %18s %7s %7s %7s  %s\n",
                 "benchmark", "relay", "direct", "ratio", "median", "target", "verdict");
    for (const Run& run : rows()) {
      std::string name = run.run_name.function_name;
      if (!run.run_name.args.empty()) name += "/" + run.run_name.args;
      if (run.error_occurred) {
        std::fprintf(out, "%-30s ERROR: %s\n", name.c_str(), run.error_message.c_str());
        continue;
      }
      auto counter = [&](const std::string& key) {
        auto it = run.counters.find(key);
        return it == run.counters.end() ? 0.0 : it->second.value;
      };
      if (run.counters.count("relay_per_s") != 0) {
        char relay[40], direct[40], target[16];
        std::snprintf(relay, sizeof(relay), "%.0f /s", counter("relay_per_s"));
        std::snprintf(direct, sizeof(direct), "%.0f /s", counter("direct_per_s"));
        std::snprintf(target, sizeof(target), ">=%.2f", counter("target"));
        const double ratio = counter("ratio"), want = counter("target");
        const char* verdict = ratio >= want                     ? "met"
                              : counter("ratio_median") >= want ? "MISSED (median met: rerun)"
                                                                : "MISSED";
        std::fprintf(out, "%-30s %18s %18s %7.2f %7.2f %7s  %s\n", name.c_str(), relay, direct,
                     ratio, counter("ratio_median"), target, verdict);
        std::fprintf(out,
                     "  (acknowledged at the relay: %.0f /s; CPU per raise, all threads: %.0f us "
                     "relayed, %.0f us direct)\n",
                     counter("ack_per_s"), counter("relay_cpu_us"), counter("direct_cpu_us"));
      } else {
        std::fprintf(out,
                     "%-30s push latency, ms (%0.f samples each; relay scan interval %.0f ms)\n",
                     name.c_str(), counter("samples"), counter("scan_interval_ms"));
        for (const char* path : {"direct", "relay", "reverse"}) {
          std::fprintf(out, "  %-8s p50 %7.2f  p99 %7.2f\n", path,
                       counter(std::string(path) + "_p50_ms"),
                       counter(std::string(path) + "_p99_ms"));
        }
        std::fprintf(out,
                     "  the relay adds to p99: %.2f ms (recipient on the relay), %.2f ms "
                     "(sender on the relay)  report only\n",
                     counter("added_p99_ms"), counter("added_p99_reverse_ms"));
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string format = "console";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--benchmark_format=")) format = std::string(arg.substr(19));
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("postbox_bench_dir", postbox::bench::BenchRoot());

  std::unique_ptr<benchmark::BenchmarkReporter> inner;
  if (format == "json") {
    inner = std::make_unique<benchmark::JSONReporter>();
  } else {
    inner = std::make_unique<benchmark::ConsoleReporter>(isatty(STDOUT_FILENO)
                                                             ? benchmark::ConsoleReporter::OO_Color
                                                             : benchmark::ConsoleReporter::OO_None);
  }
  SummaryReporter reporter(std::move(inner));
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintSummary(format == "json" ? stderr : stdout);
  if (g_fixture) {
    std::fprintf(format == "json" ? stderr : stdout,
                 "set-up (for information): relay start and first sync %.2f s; %zu upstream posts "
                 "imported in %.2f s; %zu posts at the relay forwarded in %.2f s\n",
                 g_fixture->start_seconds, kLatencyMessages, g_fixture->import_seconds,
                 kLatencyMessages, g_fixture->forward_seconds);
  }
  g_fixture.reset();
  benchmark::Shutdown();
  return 0;
}
