// The well-behaved client of --op hostile (hostile.cc), on its own thread
// through the client library so the load's loop does not delay it; and the
// descriptor limit the hostile sessions need.
#include <sys/resource.h>

#include <cstdio>

#include "load/load.h"
#include "postbox/sync/client.h"

namespace postbox::load {

Probe::Probe(const Config& cfg, const MailboxCredentials& creds) {
  sync::ClientOptions o;
  o.port = cfg.port;
  o.mkey = creds.mkey;
  o.secret = creds.secret;
  o.reconnect = false;  // a well-behaved client that is cut off counts as a failure
  o.resume = false;
  o.request_timeout = std::chrono::seconds(30);
  auto client = sync::Client::Create(o);
  if (!client || !(*client)->Connect()) {
    std::fprintf(stderr, "probe: cannot connect\n");
    calls = errors = 1;
    return;
  }
  client_ = std::move(*client);
  thread_ =
      std::thread([this, interval = std::chrono::milliseconds(cfg.hostile.probe_interval_ms)] {
        Run(interval);
      });
}

Probe::~Probe() { Stop(); }

void Probe::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Probe::Run(std::chrono::milliseconds interval) {
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    ++calls;
    const uint64_t t0 = NowNs();
    auto packet = client_->Poll(0, 0);
    // The probe's mailbox holds 10 entries (setup.cc): anything else is wrong.
    if (packet && packet->entries.size() == 10) {
      ++completed;
      latencies_us.push_back(static_cast<uint32_t>((NowNs() - t0) / 1000));
    } else {
      ++errors;
      if (!packet) std::fprintf(stderr, "probe: %s\n", packet.error().ToString().c_str());
    }
    lock.lock();
    cv_.wait_for(lock, interval, [this] { return stop_; });
  }
}

bool RaiseFileLimit(size_t needed) {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    std::fprintf(stderr,
                 "hostile: %zu descriptors needed, the limit is %lu (hard %lu): raise it "
                 "(ulimit -Hn, as root) or open fewer sessions\n",
                 needed, static_cast<unsigned long>(lim.rlim_cur),
                 static_cast<unsigned long>(lim.rlim_max));
    return false;
  }
  return true;
}

}  // namespace postbox::load
