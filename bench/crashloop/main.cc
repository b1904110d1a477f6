// postbox-crashloop: SIGKILLs the real postbox-server again and again while
// concurrent writers make durable writes through postbox::sync::Client, and
// after each restart audits every write acknowledged so far (ledger.h).
//
//   postbox-crashloop --server PATH [--kills 200] [--writers 4] [--seed 1]
//                     [--min-ms 50] [--max-ms 300] [--data DIR] [--port P] [--json]
//
// Each round: the writers run for a random time in [min-ms, max-ms]; once a
// call is in flight the server is SIGKILLed; the writers finish their calls
// (those in flight fail: their outcome is unknown and they are not audited)
// and wait; the server is started again on the same folder and port, and
// once it listens (its store is open) the store is opened read-only here and
// every acknowledged write is checked; then the writers go on. Exit status 0
// only if no acknowledged write was lost and every restart and open worked.
// docs/durability.md describes the tool and its figures.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "crashloop/ledger.h"
#include "crashloop/server_child.h"
#include "crashloop/writers.h"
#include "postbox/db.h"

namespace {

using postbox::crashloop::AuditResult;
using postbox::crashloop::Ledger;
using postbox::crashloop::ServerChild;
using postbox::crashloop::Writers;

struct Flags {
  std::string server;
  std::string data;
  unsigned kills = 200;
  unsigned writers = 4;
  uint64_t seed = 1;
  unsigned min_ms = 50, max_ms = 300;
  uint16_t port = 0;
  bool json = false;
  bool sabotage = false;
};

struct Totals {
  unsigned kills = 0;
  uint64_t audit_checks = 0;  // records checked, summed over the audits
  uint64_t lost = 0;          // distinct records any audit found missing or wrong
  uint64_t blobs_hashed = 0;
  unsigned failed_restarts = 0;
  unsigned failed_opens = 0;
  std::vector<double> restart_ms;
  std::vector<std::string> losses;
};

// Mailboxes, one per writer, connected in a ring by the operator's override
// (DB::Connect), before any server runs.
std::optional<std::vector<postbox::MailboxCredentials>> CreateMailboxes(const std::string& data,
                                                                        unsigned n) {
  auto db = postbox::DB::Open(data, postbox::Options{});
  if (!db.ok()) {
    std::fprintf(stderr, "cannot create the store in %s: %s\n", data.c_str(),
                 db.status().ToString().c_str());
    return std::nullopt;
  }
  std::vector<postbox::MailboxCredentials> boxes;
  for (unsigned i = 0; i < n; ++i) {
    auto c = (*db)->CreateMailbox();
    if (!c.ok()) return std::nullopt;
    boxes.push_back(*c);
  }
  for (unsigned i = 0; i < n; ++i) {
    if (!(*db)->Connect(boxes[i].mkey, boxes[(i + 1) % n].mkey).ok()) return std::nullopt;
  }
  return boxes;
}

// Starts the server, retrying twice; each failed attempt is counted.
bool Restart(ServerChild* server, uint16_t port, Totals* t) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto t0 = std::chrono::steady_clock::now();
    std::string why;
    if (server->Start(port, std::chrono::seconds(30), &why)) {
      t->restart_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      return true;
    }
    ++t->failed_restarts;
    std::fprintf(stderr, "restart failed: %s\n", why.c_str());
  }
  return false;
}

// Deletes the last acknowledged entry while the server is down, as a lost
// write would look, so that a run shows its audit catches a loss (--sabotage).
bool Sabotage(const std::string& data, const Ledger& ledger) {
  auto last = ledger.LastEntry();
  if (!last) return true;  // nothing acknowledged yet
  auto db = postbox::DB::Open(data, postbox::Options{});
  if (!db.ok()) {
    std::fprintf(stderr, "--sabotage: cannot open the store: %s\n", db.status().ToString().c_str());
    return false;
  }
  auto deleted = (*db)->DeleteEntry(last->first, last->second);
  if (!deleted.ok()) {
    std::fprintf(stderr, "--sabotage: cannot delete %s: %s\n", last->second.c_str(),
                 deleted.status().ToString().c_str());
    return false;
  }
  return true;
}

void Audit(const std::string& data, Ledger* ledger, bool rehash_all, Totals* t) {
  postbox::Options ro;
  ro.read_only = true;
  auto db = postbox::DB::Open(data, ro);
  if (!db.ok()) {
    ++t->failed_opens;
    std::fprintf(stderr, "opening the store read-only failed: %s\n",
                 db.status().ToString().c_str());
    return;
  }
  AuditResult r = ledger->Audit(**db, rehash_all);
  t->audit_checks += r.records;
  t->lost = ledger->lost();
  t->blobs_hashed += r.blobs_hashed;
  for (auto& l : r.losses) {
    std::fprintf(stderr, "LOST after kill %u: %s\n", t->kills, l.c_str());
    if (t->losses.size() < 10) t->losses.push_back(l);
  }
}

std::string JsonEscape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) o.push_back(c);
  }
  return o;
}

// Prints the summary (one line of NAME=VALUE, or one JSON object) and
// returns the exit status: 0 only if nothing was lost and nothing failed.
int Report(const Flags& f, const Totals& t, const Ledger* ledger,
           const postbox::crashloop::WriterStats& w, double seconds) {
  const Ledger::Counts by_kind = ledger ? ledger->acked_by_kind() : Ledger::Counts{};
  const double worst =
      t.restart_ms.empty() ? 0.0 : *std::max_element(t.restart_ms.begin(), t.restart_ms.end());
  auto num = [](uint64_t v) { return std::to_string(v); };
  auto ms = [](double v) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.1f", v);
    return std::string(b);
  };
  const std::vector<std::pair<const char*, std::string>> fields = {
      {"kills", num(t.kills)},
      {"writers", num(f.writers)},
      {"seed", num(f.seed)},
      {"acked_writes", num(ledger ? ledger->acked_writes() : 0)},
      {"acked_puts", num(by_kind.puts)},
      {"acked_uploads", num(by_kind.uploads)},
      {"acked_rises", num(by_kind.rises)},
      {"audit_checks", num(t.audit_checks)},
      {"lost", num(t.lost)},
      {"failed_restarts", num(t.failed_restarts)},
      {"failed_opens", num(t.failed_opens)},
      {"blobs_hashed", num(t.blobs_hashed)},
      {"unknown", num(w.unknown)},
      {"errors", num(w.errors)},
      {"restart_ms_median", ms(postbox::bench::Median(t.restart_ms))},
      {"restart_ms_max", ms(worst)},
      {"seconds", ms(seconds)},
  };
  if (f.json) {
    std::printf("{");
    for (const auto& [name, value] : fields) std::printf("\"%s\":%s,", name, value.c_str());
    std::printf("\"first_losses\":[");
    for (size_t i = 0; i < t.losses.size(); ++i) {
      std::printf("%s\"%s\"", i ? "," : "", JsonEscape(t.losses[i]).c_str());
    }
    std::printf("]}\n");
  } else {
    for (size_t i = 0; i < fields.size(); ++i) {
      std::printf("%s%s=%s", i ? " " : "", fields[i].first, fields[i].second.c_str());
    }
    std::printf("\n");
  }
  for (const auto& e : w.first_errors) std::fprintf(stderr, "writer error: %s\n", e.c_str());
  const bool ok = t.lost == 0 && t.failed_restarts == 0 && t.failed_opens == 0 && w.errors == 0;
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Flags f;
  CLI::App app{
      "postbox-crashloop: SIGKILL postbox-server under durable writers, audit each restart"};
  app.add_option("--server", f.server, "path to postbox-server")->required();
  app.add_option("--data", f.data,
                 "store folder to create (must not exist or be empty; default: a fresh folder "
                 "under $POSTBOX_BENCH_DIR or /var/tmp, removed afterwards)");
  app.add_option("--kills", f.kills, "SIGKILLs")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  app.add_option("--writers", f.writers, "writer threads, one connection and mailbox each")
      ->capture_default_str()
      ->check(CLI::Range(2, 256));
  app.add_option("--seed", f.seed, "seed of the writers' choices and the kill times")
      ->capture_default_str();
  app.add_option("--min-ms", f.min_ms, "shortest time between a restart and the next kill")
      ->capture_default_str();
  app.add_option("--max-ms", f.max_ms, "longest time between a restart and the next kill")
      ->capture_default_str();
  app.add_option("--port", f.port, "port on 127.0.0.1 (0: a free one below the ephemeral range)")
      ->capture_default_str();
  app.add_flag("--json", f.json, "print the summary as one JSON object");
  app.add_flag("--sabotage", f.sabotage,
               "delete the last acknowledged entry after each kill, so the audit must report "
               "losses (checks the tool itself)");
  CLI11_PARSE(app, argc, argv);
  if (f.min_ms > f.max_ms) {
    std::fprintf(stderr, "--min-ms (%u) is above --max-ms (%u)\n", f.min_ms, f.max_ms);
    return 2;
  }
  if (!std::filesystem::exists(f.server)) {
    std::fprintf(stderr, "--server %s: no such file\n", f.server.c_str());
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);

  // A folder of our own unless --data names one; it is removed after a run
  // that lost nothing, and kept (with the server's log) for a look otherwise.
  std::string temp;
  std::string data = f.data;
  if (data.empty()) {
    std::string tmpl = postbox::bench::BenchRoot() + "/postbox-crashloop-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    temp = tmpl;
    data = temp + "/store";
  } else if (std::filesystem::exists(data) && !std::filesystem::is_empty(data)) {
    std::fprintf(stderr, "--data %s is not empty: the tool only runs on a store it creates\n",
                 data.c_str());
    return 2;
  }
  const std::string log = data + ".server.log";
  auto boxes = CreateMailboxes(data, f.writers);
  if (!boxes) return 1;
  const uint16_t port = f.port != 0 ? f.port : postbox::crashloop::PickFreePort(f.seed * 7919);
  if (port == 0) {
    std::fprintf(stderr, "no free port on 127.0.0.1\n");
    return 1;
  }

  Totals t;
  ServerChild server(f.server, data, log,
                     {"--threads", "2", "--durability", "durable", "--log-level", "warn"});
  if (!Restart(&server, port, &t)) return Report(f, t, nullptr, {}, 0);
  Ledger ledger(*boxes);
  Writers writers(*boxes, port, f.seed, &ledger);
  std::mt19937_64 rng(f.seed);
  const auto start = std::chrono::steady_clock::now();
  writers.Start();
  bool fatal = false;
  while (t.kills < f.kills && !fatal) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(f.min_ms + rng() % (f.max_ms - f.min_ms + 1)));
    // Kill only while a write is in flight (the writers reconnect after a
    // restart, so the first calls may take a moment).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (writers.in_flight() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (writers.in_flight() == 0) {
      std::fprintf(stderr, "no write was in flight for 30 s: the writers are stuck\n");
      fatal = true;
      break;
    }
    server.Kill(SIGKILL);
    ++t.kills;
    writers.Pause();
    if (f.sabotage && !Sabotage(data, ledger)) {
      fatal = true;
      break;
    }
    if (!Restart(&server, port, &t)) {
      fatal = true;
      break;
    }
    Audit(data, &ledger, /*rehash_all=*/t.kills == f.kills, &t);
    if (t.kills % 20 == 0 && !f.json) {
      std::fprintf(stderr, "kill %u/%u: acked %" PRIu64 ", lost %" PRIu64 "\n", t.kills, f.kills,
                   ledger.acked_writes(), t.lost);
    }
    // After the last audit the writers stay paused, so every acknowledged
    // write of the run has been audited.
    if (t.kills < f.kills) writers.Resume();
  }
  writers.Stop();
  server.Kill(SIGTERM);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int rc = Report(f, t, &ledger, writers.stats(), seconds);
  if (fatal) rc = 1;
  if (rc != 0 && !f.sabotage) {
    std::fprintf(stderr, "the store and the server's log are kept in %s\n",
                 (temp.empty() ? data : temp).c_str());
  } else if (!temp.empty()) {
    // A sabotaged run's losses are its purpose: nothing to look at.
    std::error_code ec;
    std::filesystem::remove_all(temp, ec);
  }
  return rc;
}
