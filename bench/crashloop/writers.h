// The crash loop's writers: one thread and one postbox::sync::Client
// connection per mailbox, each writing durably and without pause (entry puts
// of fresh keys, puts with explicit rising versions, status rises on the
// messages it received, small uploads to the next mailbox of a ring), and
// recording in the Ledger every call that returned OK. The crash loop pauses
// them around a restart and its audit. Thread-safe.
#ifndef POSTBOX_BENCH_CRASHLOOP_WRITERS_H_
#define POSTBOX_BENCH_CRASHLOOP_WRITERS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crashloop/ledger.h"
#include "postbox/types.h"

namespace postbox::crashloop {

struct WriterStats {
  uint64_t attempts = 0;  // calls made
  uint64_t unknown = 0;   // failed as Unavailable (the crash): outcome unknown, not audited
  uint64_t errors = 0;    // failed otherwise: a defect, reported
  std::vector<std::string> first_errors;
};

class Writers {
 public:
  // One writer per mailbox; writer i uploads to mailbox (i + 1) % n, so the
  // mailboxes must be connected in that ring. Writer i's choices come from
  // `seed` and i.
  Writers(std::vector<MailboxCredentials> mailboxes, uint16_t port, uint64_t seed, Ledger* ledger);
  // Stops and joins the threads.
  ~Writers();

  void Start();
  // Makes every writer finish its current call, drop its connection and wait;
  // returns once all wait. Calls in flight on a killed server fail at once
  // (the connection closes), so this is quick after a kill.
  void Pause();
  // Lets the writers reconnect and go on.
  void Resume();
  void Stop();

  // Calls in flight now.
  int in_flight() const { return in_flight_.load(); }
  WriterStats stats() const;

 private:
  class Writer;
  // Blocks a writer while paused; false once stopping.
  bool Park();
  bool pausing() const { return pausing_.load(); }

  const std::vector<MailboxCredentials> mailboxes_;
  const uint16_t port_;
  const uint64_t seed_;
  Ledger* const ledger_;
  std::vector<std::thread> threads_;
  std::atomic<int> in_flight_{0};
  std::atomic<bool> pausing_{false};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t parked_ = 0;
  WriterStats stats_;
};

}  // namespace postbox::crashloop

#endif  // POSTBOX_BENCH_CRASHLOOP_WRITERS_H_
