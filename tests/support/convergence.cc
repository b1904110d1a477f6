// The convergence simulation (convergence.h): the driver thread makes the
// writes and the faults; the apps' replicas sync on their own threads.
#include "tests/support/convergence.h"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "postbox/db.h"
#include "postbox/sync/replica.h"
#include "tests/integration/sync/server_process.h"
#include "tests/support/fault_proxy.h"

namespace postbox::testing {
namespace {

using namespace std::chrono_literals;
using sync::OutboxKind;
using sync::OutboxOutcome;
using sync::Replica;
using sync::ReplicaOptions;
using sync::testing::ServerProcess;
using Clock = std::chrono::steady_clock;

struct App {
  int index = 0;
  MailboxCredentials creds;
  std::vector<int> peers;
  std::string folder;
  int proxy = 0;
  int relay = -1;  // the relay it talks to (-1: the server, through proxy)
  std::unique_ptr<Replica> replica;
  std::map<MessageId, MessageStatus> seen;  // the highest status observed
  std::set<MessageId> requested;            // blobs asked for
  std::mutex mu;                            // guards acked (callbacks)
  std::vector<OutboxOutcome> acked;
  std::map<std::string, uint64_t> outcomes;
};

// A relay: postbox-server --upstream on a store of its own, reaching the
// server through one of the server's fault proxies; its apps reach it through
// a fault proxy of its own.
struct RelayNode {
  int index = 0;
  std::string data;
  std::string config;  // TOML: the upstream and the relayed mailboxes
  std::unique_ptr<ServerProcess> process;
  uint16_t port = 0;
  std::unique_ptr<FaultProxy> proxy;
  std::unique_ptr<DB> db;  // the relay's store, read by the checks
  std::vector<int> apps;
};

// What a store holds for a mailbox: live messages with their statuses, live
// entries.
struct MailboxState {
  std::map<MessageId, MessageStatus> incoming, outgoing;
  std::map<std::string, std::pair<std::string, uint64_t>> entries;
  bool operator==(const MailboxState&) const = default;
};

Result<MailboxState> StateOf(DB* db, const MailboxKey& mkey) {
  POSTBOX_ASSIGN_OR_RETURN(auto snap, db->Changes(mkey, 0, 0));
  MailboxState st;
  for (const auto& m : snap.incoming) st.incoming[m.id] = m.status;
  for (const auto& m : snap.outgoing) st.outgoing[m.id] = m.status;
  for (const auto& e : snap.entries) st.entries[e.key] = {e.value, e.version};
  return st;
}

class Sim {
 public:
  explicit Sim(const ConvergenceOptions& o) : o_(o), rng_(o.seed) {}

  Result<ConvergenceReport> Run() {
    POSTBOX_RETURN_IF_ERROR(Setup());
    const auto start = Clock::now();
    Drive();
    report_.write_seconds = Seconds(Clock::now() - start);
    Log("writes done; faults stop");
    const auto sync_start = Clock::now();
    FinalSync();
    report_.final_sync_seconds = Seconds(Clock::now() - sync_start);
    Verify();
    Teardown();
    return report_;
  }

 private:
  static double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

  void Log(const std::string& line) {
    if (o_.verbose) std::fprintf(stderr, "[convergence] %s\n", line.c_str());
  }
  void Violation(const std::string& v) {
    std::lock_guard lock(violations_mu_);
    if (report_.violations.size() < 200) report_.violations.push_back(v);
  }

  Status Setup() {
    // Every app holds a few descriptors (its store, its socket, a proxy pair).
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
      lim.rlim_cur = lim.rlim_max;
      setrlimit(RLIMIT_NOFILE, &lim);
    }
    std::error_code ec;
    std::filesystem::remove_all(o_.folder, ec);
    std::filesystem::create_directories(o_.folder + "/apps", ec);
    if (ec) return Status::Unavailable("cannot create " + o_.folder + ": " + ec.message());
    data_ = o_.folder + "/server";
    POSTBOX_ASSIGN_OR_RETURN(db_, DB::Open(data_, Options{}));
    apps_.resize(static_cast<size_t>(o_.apps));
    for (int i = 0; i < o_.apps; ++i) {
      auto& a = apps_[static_cast<size_t>(i)];
      a = std::make_unique<App>();
      a->index = i;
      POSTBOX_ASSIGN_OR_RETURN(a->creds, db_->CreateMailbox());
      a->folder = o_.folder + "/apps/" + std::to_string(i);
      a->proxy = i % o_.proxies;
      if (o_.relays > 0 && i % 4 == 3) {
        a->relay = (i / 4) % o_.relays;
        ++report_.relayed_apps;
      }
    }
    // Each app is connected with the next two (a ring), so posts have peers.
    for (int i = 0; i < o_.apps; ++i) {
      for (int d = 1; d <= 2 && d < o_.apps; ++d) {
        const int j = (i + d) % o_.apps;
        if (i == j) continue;
        POSTBOX_RETURN_IF_ERROR(db_->Connect(apps_[static_cast<size_t>(i)]->creds.mkey,
                                             apps_[static_cast<size_t>(j)]->creds.mkey));
        apps_[static_cast<size_t>(i)]->peers.push_back(j);
        apps_[static_cast<size_t>(j)]->peers.push_back(i);
      }
    }
    POSTBOX_RETURN_IF_ERROR(StartServer(0));
    for (int p = 0; p < o_.proxies; ++p) {
      POSTBOX_ASSIGN_OR_RETURN(auto proxy, FaultProxy::Start(port_));
      proxies_.push_back(std::move(proxy));
    }
    for (int r = 0; r < o_.relays; ++r) POSTBOX_RETURN_IF_ERROR(SetupRelay(r));
    for (auto& a : apps_) POSTBOX_RETURN_IF_ERROR(OpenApp(*a));
    Log("set up " + std::to_string(o_.apps) + " apps over " + std::to_string(o_.proxies) +
        " proxies and " + std::to_string(o_.relays) + " relays; server on port " +
        std::to_string(port_));
    return Status::Ok();
  }

  // Starts postbox-server on `data` at `port` (0: ephemeral) with `extra` flags.
  Result<std::unique_ptr<ServerProcess>> StartProcess(const std::string& data, uint16_t port,
                                                      std::vector<std::string> extra = {}) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto p = std::make_unique<ServerProcess>(o_.server_binary, data, port, extra);
      if (p->port() != 0) return p;
      p.reset();
      std::this_thread::sleep_for(100ms);  // the port may still be held for a moment
    }
    return Status::Unavailable("postbox-server did not start (" + o_.server_binary + ")");
  }

  Status StartServer(uint16_t port) {
    POSTBOX_ASSIGN_OR_RETURN(server_, StartProcess(data_, port));
    port_ = server_->port();
    return Status::Ok();
  }

  Status StartRelay(RelayNode& n) {
    POSTBOX_ASSIGN_OR_RETURN(n.process, StartProcess(n.data, n.port, {"--config", n.config}));
    n.port = n.process->port();
    return Status::Ok();
  }

  // Writes relay r's configuration, starts it, and waits until it learned the
  // connections of its mailboxes (before that it refuses their posts, as any
  // server refuses posts between mailboxes it does not know connected).
  Status SetupRelay(int r) {
    auto node = std::make_unique<RelayNode>();
    RelayNode& n = *node;
    n.index = r;
    n.data = o_.folder + "/relays/" + std::to_string(r);
    n.config = o_.folder + "/relays/" + std::to_string(r) + ".toml";
    std::filesystem::create_directories(n.data);
    std::ofstream config(n.config);
    config << "upstream = \"127.0.0.1:"
           << proxies_[static_cast<size_t>(r) % proxies_.size()]->port()
           << "\"\ndurability = \"relaxed\"\nupstream-timeout = \"1500ms\"\n"
           << "upstream-retry-max = \"500ms\"\nupstream-poll-interval = \"1s\"\n"
           << "relay-scan-interval = \"20ms\"\nrelay = [";
    // The array opens on the key's line and has no trailing comma (what
    // CLI11's TOML reader takes; docs/relay.md).
    for (const auto& a : apps_) {
      if (a->relay != r) continue;
      config << (n.apps.empty() ? "" : ",\n  ") << "\"" << a->creds.mkey.ToHex() << ":"
             << a->creds.secret << "\"";
      n.apps.push_back(a->index);
    }
    config << "]\n";
    config.close();
    if (n.apps.empty())
      return Status::InvalidArgument("relay " + std::to_string(r) + " has no apps");
    POSTBOX_RETURN_IF_ERROR(StartRelay(n));
    POSTBOX_ASSIGN_OR_RETURN(n.proxy, FaultProxy::Start(n.port));
    POSTBOX_ASSIGN_OR_RETURN(n.db, DB::Open(n.data, Options{}));
    const auto deadline = Clock::now() + o_.sync_timeout;
    for (int i : n.apps) {
      const App& a = *apps_[static_cast<size_t>(i)];
      for (int peer : a.peers) {
        for (;;) {
          auto c = n.db->IsConnected(a.creds.mkey, apps_[static_cast<size_t>(peer)]->creds.mkey);
          if (c.ok() && *c) break;
          if (Clock::now() > deadline) {
            return Status::Unavailable("relay " + std::to_string(r) +
                                       " did not learn the connections of app " +
                                       std::to_string(i));
          }
          std::this_thread::sleep_for(20ms);
        }
      }
    }
    relays_.push_back(std::move(node));
    return Status::Ok();
  }

  Status OpenApp(App& a) {
    ReplicaOptions r;
    r.folder = a.folder;
    r.client.host = "127.0.0.1";
    r.client.port = a.relay >= 0 ? relays_[static_cast<size_t>(a.relay)]->proxy->port()
                                 : proxies_[static_cast<size_t>(a.proxy)]->port();
    r.client.mkey = a.creds.mkey;
    r.client.secret = a.creds.secret;
    r.client.request_timeout = 1500ms;
    r.durability = Durability::kRelaxed;
    r.max_map_size = uint64_t{64} << 20;
    r.retry_initial = 20ms;
    r.retry_max = 500ms;
    r.poll_interval = 1000ms;
    App* app = &a;
    r.on_outbox = [app](const OutboxOutcome& out) {
      std::lock_guard lock(app->mu);
      app->outcomes[std::string(CodeName(out.status.code()))]++;
      if (out.status.ok()) app->acked.push_back(out);
    };
    POSTBOX_ASSIGN_OR_RETURN(a.replica, Replica::Open(std::move(r)));
    return Status::Ok();
  }

  // Reads what the app shows and checks no status went backwards.
  void Observe(App& a) {
    for (bool incoming : {true, false}) {
      auto list = incoming ? a.replica->Inbox() : a.replica->Sent();
      if (!list.ok()) {
        Violation("app " + std::to_string(a.index) +
                  " cannot read its mirror: " + list.status().ToString());
        continue;
      }
      for (const auto& m : *list) {
        auto [it, fresh] = a.seen.emplace(m.info.id, m.info.status);
        if (!fresh && m.info.status < it->second) {
          Violation("app " + std::to_string(a.index) + " saw message " + m.info.id.ToHex() +
                    " go from " + std::string(MessageStatusName(it->second)) + " to " +
                    std::string(MessageStatusName(m.info.status)));
        }
        if (!fresh) it->second = std::max(it->second, m.info.status);
      }
    }
  }

  template <class T>
  T Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng_)];
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Write(App& a) {
    const int roll = std::uniform_int_distribution<int>(0, 99)(rng_);
    Replica* r = a.replica.get();
    if (roll < 30) {
      auto inbox = r->Inbox();
      if (!inbox.ok() || inbox->empty()) return;
      const auto m = Pick(*inbox);
      if (m.info.status == MessageStatus::kViewed) return;
      const auto next = static_cast<MessageStatus>(static_cast<int>(m.info.status) + 1);
      auto id = r->UpdateStatus(m.info.id, next);
      report_.writes[id.ok() ? "status" : "status_refused_locally"]++;
    } else if (roll < 50) {
      const int peer = Pick(a.peers);
      std::string bytes(std::uniform_int_distribution<size_t>(1024, 4096)(rng_), '\0');
      for (auto& c : bytes) c = static_cast<char>(rng_());
      auto id = r->Post(apps_[static_cast<size_t>(peer)]->creds.mkey, std::move(bytes),
                        "t" + std::to_string(rng_() % 2));
      report_.writes[id.ok() ? "post" : "post_refused_locally"]++;
    } else if (roll < 70) {
      auto id = r->PutEntry("k" + std::to_string(rng_() % 5), "v" + std::to_string(rng_() % 1000));
      report_.writes[id.ok() ? "put" : "put_refused_locally"]++;
    } else if (roll < 78) {
      auto id = r->DeleteEntry("k" + std::to_string(rng_() % 5));
      report_.writes[id.ok() ? "delete" : "delete_refused_locally"]++;
    } else if (roll < 90) {
      auto inbox = r->Inbox();
      if (!inbox.ok() || inbox->empty()) return;
      const auto m = Pick(*inbox);
      if (r->RequestBlob(m.info.id).ok()) {
        a.requested.insert(m.info.id);
        report_.writes["blob_request"]++;
      }
    } else if (roll < 93) {
      r->DropConnection();
      report_.writes["drop_connection"]++;
    }
  }

  FaultPolicy Faulty(uint64_t phase) {
    FaultPolicy p;
    p.seed = o_.seed * 1000003 + phase;
    for (auto* d : {&p.to_server, &p.to_client}) {
      d->drop = o_.drop;
      d->duplicate = o_.duplicate;
      d->delay = o_.delay;
      d->delay_min = 1ms;
      d->delay_max = 30ms;
      d->cut = o_.cut;
    }
    return p;
  }

  void Drive() {
    const auto start = Clock::now();
    const auto end = start + o_.duration;
    const auto tick = std::chrono::microseconds(1'000'000 / std::max(1, o_.ops_per_second));
    auto next_op = start;
    auto next_phase = start + 2s;
    auto next_kill = o_.kill_every.count() > 0 ? start + o_.kill_every : Clock::time_point::max();
    auto next_cut = start + 3s;
    auto next_relay_kill = o_.relays > 0 && o_.relay_kill_every.count() > 0
                               ? start + o_.relay_kill_every
                               : Clock::time_point::max();
    uint64_t phase = 0;
    while (Clock::now() < end) {
      const auto now = Clock::now();
      if (now >= next_phase) {
        ++phase;
        for (auto& p : proxies_)
          (void)p->SetPolicy(phase % 2 ? Faulty(phase) : FaultPolicy::None());
        for (auto& n : relays_)
          (void)n->proxy->SetPolicy(phase % 2 ? Faulty(phase + 7919) : FaultPolicy::None());
        next_phase = now + 2s;
      }
      if (now >= next_cut) {
        proxies_[rng_() % proxies_.size()]->CutAll();
        next_cut = now + 3s;
      }
      if (now >= next_kill) {
        server_->Kill(SIGKILL);
        ++report_.server_kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng_() % 300));
        if (Status s = StartServer(port_); !s.ok()) {
          Violation("the server did not restart: " + s.ToString());
          return;
        }
        Log("server killed and restarted (" + std::to_string(report_.server_kills) + ")");
        next_kill = Clock::now() + o_.kill_every;
      }
      if (now >= next_relay_kill) {
        RelayNode& n = *relays_[rng_() % relays_.size()];
        n.process->Kill(SIGKILL);
        ++report_.relay_kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng_() % 300));
        if (Status s = StartRelay(n); !s.ok()) {
          Violation("relay " + std::to_string(n.index) + " did not restart: " + s.ToString());
          return;
        }
        Log("relay " + std::to_string(n.index) + " killed and restarted");
        next_relay_kill = Clock::now() + o_.relay_kill_every;
      }
      App& a = *apps_[std::uniform_int_distribution<size_t>(0, apps_.size() - 1)(rng_)];
      if (Chance(o_.restart_probability)) {
        a.replica.reset();  // the app is killed; its writes are in its outbox
        if (Status s = OpenApp(a); !s.ok()) {
          Violation("app " + std::to_string(a.index) + " did not reopen: " + s.ToString());
          return;
        }
        ++report_.app_restarts;
      }
      Write(a);
      Observe(a);
      next_op += tick;
      std::this_thread::sleep_until(std::min(next_op, end));
    }
  }

  // Waits until every relay's store agrees with the server for every mailbox
  // it relays (its outboxes drained, upstream's changes imported).
  void SettleRelays() {
    const auto deadline = Clock::now() + o_.sync_timeout;
    for (auto& n : relays_) {
      for (int i : n->apps) {
        const MailboxKey& m = apps_[static_cast<size_t>(i)]->creds.mkey;
        for (;;) {
          auto here = StateOf(n->db.get(), m);
          auto there = StateOf(db_.get(), m);
          if (here.ok() && there.ok() && *here == *there) break;
          if (Clock::now() > deadline) {
            Violation("relay " + std::to_string(n->index) + " and the server disagree on app " +
                      std::to_string(i) + "'s mailbox after the faults stopped");
            break;
          }
          std::this_thread::sleep_for(20ms);
        }
      }
    }
  }

  void FinalSync() {
    for (auto& p : proxies_) (void)p->SetPolicy(FaultPolicy::None());
    for (auto& n : relays_) (void)n->proxy->SetPolicy(FaultPolicy::None());
    // Every app syncs, all at the same time, as after an outage: its outbox
    // drains (into the server, or into its relay, which then agrees with the
    // server). What the last outboxes wrote (a status another app raised, say)
    // reaches the others by push meanwhile; a second round, with nothing left
    // to write anywhere, makes sure it has arrived before the comparison.
    const auto begin = Clock::now();
    auto since = [&] { return std::to_string(Seconds(Clock::now() - begin)) + " s"; };
    for (int round = 1; round <= 2; ++round) {
      if (round == 2 && !relays_.empty()) {
        SettleRelays();
        Log("relays settled at " + since());
      }
      std::vector<std::thread> threads;
      const size_t workers = std::min<size_t>(16, apps_.size());
      std::atomic<size_t> next{0};
      for (size_t w = 0; w < workers; ++w) {
        threads.emplace_back([&] {
          for (size_t i = next++; i < apps_.size(); i = next++) {
            App& a = *apps_[i];
            Status s = a.replica->Sync(o_.sync_timeout);
            if (!s.ok()) {
              Violation("app " + std::to_string(a.index) + " did not sync (round " +
                        std::to_string(round) + "): " + s.ToString() + " (pending " +
                        std::to_string(a.replica->state().pending) + ")");
            }
          }
        });
      }
      for (auto& t : threads) t.join();
      Log("sync round " + std::to_string(round) + " done at " + since());
    }
    SettleRelays();  // nothing moved meanwhile: a check
    // Blobs download on their own after the sync: wait for the ones asked for.
    const auto deadline = Clock::now() + o_.sync_timeout;
    for (auto& a : apps_) {
      for (const auto& id : a->requested) {
        while (Clock::now() < deadline) {
          auto b = a->replica->Blob(id);
          if (!b.ok() || b->state == sync::BlobState::kDownloaded) break;
          std::this_thread::sleep_for(10ms);
        }
      }
    }
    Log("final sync done");
  }

  void Verify() {
    std::vector<FaultProxy*> all(proxies_.size());
    std::transform(proxies_.begin(), proxies_.end(), all.begin(), [](auto& p) { return p.get(); });
    for (auto& n : relays_) all.push_back(n->proxy.get());
    for (FaultProxy* p : all) {
      const auto st = p->stats();
      report_.frames_dropped += st.to_server.dropped + st.to_client.dropped;
      report_.frames_duplicated += st.to_server.duplicated + st.to_client.duplicated;
      report_.frames_delayed += st.to_server.delayed + st.to_client.delayed;
      report_.connections_cut += st.connections_cut;
    }
    for (auto& ap : apps_) {
      App& a = *ap;
      Replica* r = a.replica.get();
      const std::string who = "app " + std::to_string(a.index);
      Observe(a);
      report_.packets_skipped += r->state().packets_skipped;
      if (auto pending = r->Pending(); !pending.ok() || !pending->empty()) {
        Violation(who + " has " + std::to_string(pending.ok() ? pending->size() : 0) +
                  " outbox items left");
      }
      auto snap = db_->Changes(a.creds.mkey, 0, 0);
      if (!snap.ok()) {
        Violation(who + ": cannot read the server: " + snap.status().ToString());
        continue;
      }
      // Messages, with their statuses.
      for (bool incoming : {true, false}) {
        std::map<MessageId, MessageStatus> server, mirror;
        for (const auto& m : incoming ? snap->incoming : snap->outgoing) server[m.id] = m.status;
        auto list = incoming ? r->Inbox() : r->Sent();
        if (list.ok()) {
          for (const auto& m : *list) mirror[m.info.id] = m.info.status;
        }
        report_.messages_checked += server.size();
        if (server != mirror) {
          std::string diff;
          for (const auto& [id, st] : server) {
            auto it = mirror.find(id);
            if (it == mirror.end()) {
              diff += " missing " + id.ToHex();
            } else if (it->second != st) {
              diff += " " + id.ToHex() + " " + std::string(MessageStatusName(it->second)) +
                      " (server " + std::string(MessageStatusName(st)) + ")";
            }
          }
          for (const auto& [id, st] : mirror) {
            if (!server.count(id)) diff += " extra " + id.ToHex();
          }
          Violation(who + (incoming ? " inbox" : " sent") + " differs from the server:" + diff);
        }
      }
      // Entries.
      std::map<std::string, std::pair<std::string, uint64_t>> server_entries, mirror_entries;
      std::map<std::string, uint64_t> server_versions;  // tombstones included
      for (const auto& e : snap->entries) {
        server_entries[e.key] = {e.value, e.version};
        server_versions[e.key] = e.version;
      }
      for (const auto& t : snap->tombstones) {
        if (t.kind == TombstoneKind::kEntry) server_versions[t.key] = t.version;
      }
      if (auto list = r->ListEntries(""); list.ok()) {
        for (const auto& e : *list) mirror_entries[e.key] = {e.value, e.version};
      }
      report_.entries_checked += server_entries.size();
      if (server_entries != mirror_entries) {
        Violation(who + " entries differ from the server's");
      }
      // Nothing acknowledged was lost.
      std::vector<OutboxOutcome> acked;
      {
        std::lock_guard lock(a.mu);
        acked = a.acked;
        for (const auto& [code, n] : a.outcomes) report_.outcomes[code] += n;
      }
      for (const auto& o : acked) {
        const auto& item = o.item;
        switch (item.kind) {
          case OutboxKind::kStatus:
          case OutboxKind::kPost: {
            auto m = db_->GetMessage(a.creds.mkey, item.message);
            if (m.ok()) {
              if (item.kind == OutboxKind::kStatus && m->status < item.status) {
                Violation(who + ": acknowledged raise of " + item.message.ToHex() + " to " +
                          std::string(MessageStatusName(item.status)) + " is lost");
              }
            } else if (!m.status().Is(Code::kGone) && !SupersededAtRelay(a, item.message)) {
              Violation(who + ": acknowledged " + std::string(sync::OutboxKindName(item.kind)) +
                        " of " + item.message.ToHex() + " is lost: " + m.status().ToString());
            }
            break;
          }
          case OutboxKind::kPutEntry:
          case OutboxKind::kDeleteEntry: {
            auto it = server_versions.find(item.key);
            if (o.applied && (it == server_versions.end() || it->second < item.version)) {
              Violation(who + ": acknowledged write of entry " + item.key + " version " +
                        std::to_string(item.version) + " is lost");
            }
            break;
          }
          default:
            break;
        }
      }
      // Blobs: downloaded and right for live messages, dropped for replaced ones.
      for (const auto& id : a.requested) {
        auto server = db_->ReadBlob(a.creds.mkey, id);
        auto blob = r->Blob(id);
        if (server.ok()) {
          auto bytes = r->ReadBlob(id);
          if (!bytes.ok() || *bytes != *server) {
            Violation(who + ": the blob of live message " + id.ToHex() +
                      " is not downloaded right: " +
                      (bytes.ok() ? "bytes differ" : bytes.status().ToString()));
          } else {
            ++report_.blobs_downloaded;
          }
        } else if (blob.ok()) {
          Violation(who + " still holds or waits on the blob of replaced message " + id.ToHex());
        }
      }
    }
  }

  // A relayed app's post replaced at its relay by the app's next one in the
  // slot before the relay forwarded it: upstream never sees it (the relay
  // forwards what is live; docs/relay.md), which is not a loss.
  bool SupersededAtRelay(const App& a, const MessageId& id) {
    if (a.relay < 0) return false;
    auto m = relays_[static_cast<size_t>(a.relay)]->db->GetMessage(a.creds.mkey, id);
    return !m.ok() && m.status().Is(Code::kGone);
  }

  void Teardown() {
    for (auto& a : apps_) a->replica.reset();
    for (auto& n : relays_) {
      n->proxy.reset();
      if (n->process) n->process->Kill(SIGTERM);
      n->db.reset();
    }
    relays_.clear();
    proxies_.clear();
    if (server_) server_->Kill(SIGTERM);
    server_.reset();
    db_.reset();
  }

  ConvergenceOptions o_;
  std::mt19937_64 rng_;
  std::string data_;
  std::unique_ptr<DB> db_;
  std::unique_ptr<ServerProcess> server_;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<FaultProxy>> proxies_;
  std::vector<std::unique_ptr<RelayNode>> relays_;
  std::vector<std::unique_ptr<App>> apps_;
  std::mutex violations_mu_;
  ConvergenceReport report_;
};

}  // namespace

std::string ConvergenceReport::Summary() const {
  std::ostringstream s;
  s << "writes:";
  for (const auto& [k, n] : writes) s << " " << k << "=" << n;
  s << "\noutcomes:";
  for (const auto& [k, n] : outcomes) s << " " << k << "=" << n;
  s << "\nrelays: relayed_apps=" << relayed_apps << " relay_kills=" << relay_kills;
  s << "\nfaults: server_kills=" << server_kills << " app_restarts=" << app_restarts
    << " frames_dropped=" << frames_dropped << " frames_duplicated=" << frames_duplicated
    << " frames_delayed=" << frames_delayed << " connections_cut=" << connections_cut
    << "\nrepairs: packets_skipped=" << packets_skipped
    << "\nchecked: messages=" << messages_checked << " entries=" << entries_checked
    << " blobs=" << blobs_downloaded << "\ntime: writing=" << write_seconds
    << "s final_sync=" << final_sync_seconds << "s"
    << "\nviolations: " << violations.size();
  for (const auto& v : violations) s << "\n  " << v;
  return s.str();
}

Result<ConvergenceReport> RunConvergence(const ConvergenceOptions& options) {
  if (options.apps < 3 || options.proxies < 1 || options.server_binary.empty() ||
      options.folder.empty()) {
    return Status::InvalidArgument("need at least 3 apps, 1 proxy, a server binary and a folder");
  }
  if (options.relays < 0 || options.relays * 4 > options.apps) {
    return Status::InvalidArgument("every relay needs an app: at most apps / 4 relays");
  }
  Sim sim(options);
  return sim.Run();
}

}  // namespace postbox::testing
