// The convergence simulation (convergence.h): the driver thread makes the
// writes and the faults; the apps' replicas sync on their own threads.
#include "tests/support/convergence.h"

#include <sys/resource.h>

#include <algorithm>
#include <filesystem>
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
  std::unique_ptr<Replica> replica;
  std::map<MessageId, MessageStatus> seen;  // the highest status observed
  std::set<MessageId> requested;            // blobs asked for
  std::mutex mu;                            // guards acked (callbacks)
  std::vector<OutboxOutcome> acked;
  std::map<std::string, uint64_t> outcomes;
};

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
    for (auto& a : apps_) POSTBOX_RETURN_IF_ERROR(OpenApp(*a));
    Log("set up " + std::to_string(o_.apps) + " apps over " + std::to_string(o_.proxies) +
        " proxies; server on port " + std::to_string(port_));
    return Status::Ok();
  }

  Status StartServer(uint16_t port) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      server_ = std::make_unique<ServerProcess>(o_.server_binary, data_, port);
      if (server_->port() != 0) {
        port_ = server_->port();
        return Status::Ok();
      }
      server_.reset();
      std::this_thread::sleep_for(100ms);  // the port may still be held for a moment
    }
    return Status::Unavailable("postbox-server did not start (" + o_.server_binary + ")");
  }

  Status OpenApp(App& a) {
    ReplicaOptions r;
    r.folder = a.folder;
    r.client.host = "127.0.0.1";
    r.client.port = proxies_[static_cast<size_t>(a.proxy)]->port();
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
    uint64_t phase = 0;
    while (Clock::now() < end) {
      const auto now = Clock::now();
      if (now >= next_phase) {
        ++phase;
        for (auto& p : proxies_)
          (void)p->SetPolicy(phase % 2 ? Faulty(phase) : FaultPolicy::None());
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

  void FinalSync() {
    for (auto& p : proxies_) (void)p->SetPolicy(FaultPolicy::None());
    // Every app syncs, all at the same time, as after an outage: its outbox
    // drains. What the last outboxes wrote (a status another app raised, say)
    // reaches the others by push meanwhile; a second round, with nothing left
    // to write anywhere, makes sure it has arrived before the comparison.
    for (int round = 1; round <= 2; ++round) {
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
    }
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
    for (auto& p : proxies_) {
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
            } else if (!m.status().Is(Code::kGone)) {
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

  void Teardown() {
    for (auto& a : apps_) a->replica.reset();
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
  Sim sim(options);
  return sim.Run();
}

}  // namespace postbox::testing
