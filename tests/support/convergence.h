// The convergence simulation of the app side (docs/replica.md "Convergence
// under faults"): many apps, each a Replica in a folder of its own, talk to a
// real postbox-server child process through fault-injecting proxies
// (fault_proxy.h) while they post small blobs, raise statuses, put and delete
// entries and fetch blobs. A share of the apps talk to relays instead
// (postbox-server --upstream child processes, docs/relay.md), each behind a
// fault proxy of its own and reaching the server through one of the server's
// proxies. Meanwhile the proxies drop, repeat, delay and cut frames and whole
// connections, the server and the relays are SIGKILLed and restarted, and
// apps are restarted (their replica reopened from disk). Then the faults stop
// and every app syncs (and the relays settle: each relay's store agrees with
// the server for the mailboxes it relays), and the run checks:
//   - every replica equals the server's state for its mailbox (messages with
//     their statuses, entries), relayed apps included;
//   - no app ever saw a status go backwards (checked at every change callback,
//     across restarts);
//   - no app waits on a replaced id: nothing it holds or downloads names a
//     message the server has replaced, and every blob it asked for of a live
//     message is downloaded and equals the server's;
//   - every outbox drained;
//   - nothing acknowledged was lost: every write the server acknowledged is in
//     its state (or was overtaken by a later state: a higher status, a newer
//     version, a message replaced by a newer one).
//
// The workload and the fault schedule are a function of the seed; the threads'
// interleaving is not, so a seed replays the same run, not the same timing.
// Used by tests/integration/replica/convergence_test.cc (a small instance in
// CI) and bench/convergence (the 1,000-replica one).
#ifndef POSTBOX_TESTS_SUPPORT_CONVERGENCE_H_
#define POSTBOX_TESTS_SUPPORT_CONVERGENCE_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "postbox/result.h"

namespace postbox::testing {

struct ConvergenceOptions {
  uint64_t seed = 1;
  int apps = 50;
  int proxies = 4;  // apps are spread over them
  // Relays (0: none). Every fourth app talks to one of them rather than to the
  // server; a relay is SIGKILLed and restarted about every relay_kill_every.
  int relays = 0;
  std::chrono::milliseconds relay_kill_every{5000};
  // How long apps write while faults happen.
  std::chrono::milliseconds duration{20000};
  // Writes per second over all apps.
  int ops_per_second = 200;
  // The postbox-server binary, and a folder for the server's and apps' stores
  // (created; emptied first).
  std::string server_binary;
  std::string folder;
  // Faults: the server is SIGKILLed about this often (0: never); an app
  // restarts with this probability per write; frames are dropped, repeated,
  // delayed and cut at these rates in fault phases (every other 2 s).
  std::chrono::milliseconds kill_every{6000};
  double restart_probability = 0.01;
  double drop = 0.02;
  double duplicate = 0.02;
  double delay = 0.05;
  double cut = 0.003;
  // The final sync of each app must finish within this.
  std::chrono::milliseconds sync_timeout{60000};
  bool verbose = false;  // progress lines on stderr
};

struct ConvergenceReport {
  std::map<std::string, uint64_t> writes;    // made, by kind
  std::map<std::string, uint64_t> outcomes;  // ended, by code name
  uint64_t server_kills = 0;
  uint64_t relay_kills = 0;
  uint64_t relayed_apps = 0;
  uint64_t app_restarts = 0;
  uint64_t frames_dropped = 0;
  uint64_t frames_duplicated = 0;
  uint64_t frames_delayed = 0;
  uint64_t connections_cut = 0;
  uint64_t packets_skipped = 0;  // not contiguous: repaired by a poll
  uint64_t blobs_downloaded = 0;
  uint64_t messages_checked = 0;
  uint64_t entries_checked = 0;
  double write_seconds = 0;
  double final_sync_seconds = 0;
  std::vector<std::string> violations;  // empty: converged
  std::string Summary() const;
};

// Runs the simulation. An error means it could not run (no server, no
// folder); a run that did not converge is a report with violations.
Result<ConvergenceReport> RunConvergence(const ConvergenceOptions& options);

}  // namespace postbox::testing

#endif  // POSTBOX_TESTS_SUPPORT_CONVERGENCE_H_
