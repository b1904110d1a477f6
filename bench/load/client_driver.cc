// The client-library driver: one postbox::sync::Client per connection, each
// on its own loop thread, keeping cfg.depth *Async requests in flight. A
// completion (on that client's loop thread) records its latency and issues the
// connection's next request, so a connection's state is touched by its own
// loop thread only, once the first requests are out.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "load/load.h"
#include "postbox/sync/client.h"

namespace postbox::load {
namespace {

struct Shared {
  const Config* cfg = nullptr;
  std::atomic<bool> measuring{false};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::condition_variable cv;
  bool ran_out = false;  // guarded by mu
};

struct ClientConn {
  Shared* shared = nullptr;
  std::unique_ptr<sync::Client> client;
  const std::vector<MessageId>* ids = nullptr;
  // Loop-thread state (the main thread sets next_op before the first request).
  uint64_t next_op = 0;
  std::vector<uint32_t> latencies_us;
  uint64_t errors = 0, not_rises = 0;
};

void Issue(ClientConn* c, uint64_t k);

// A completion: counts the outcome, records the latency, issues the next.
void Complete(ClientConn* c, uint64_t sent_ns, bool ok, bool rise) {
  Shared* s = c->shared;
  if (s->done.load(std::memory_order_relaxed)) return;  // closing fails what is pending
  if (!ok) ++c->errors;
  if (ok && !rise) ++c->not_rises;
  if (s->measuring.load(std::memory_order_relaxed)) {
    c->latencies_us.push_back(static_cast<uint32_t>((NowNs() - sent_ns) / 1000));
  }
  Issue(c, c->next_op++);
}

void Issue(ClientConn* c, uint64_t k) {
  Shared* s = c->shared;
  const uint64_t sent_ns = NowNs();
  if (s->cfg->op == Op::kPut) {
    char key[16];
    const int n = std::snprintf(key, sizeof(key), "k%u", static_cast<unsigned>(k % 1024));
    c->client->PutEntryAsync(
        std::string(key, static_cast<size_t>(n)), "value-0123456789", 0,
        [c, sent_ns](Result<EntryPutResult> r) { Complete(c, sent_ns, r.ok(), true); });
    return;
  }
  MessageId id;
  MessageStatus asked;
  if (!StatusOpAt(*c->ids, s->cfg->depth, k, &id, &asked)) {
    std::lock_guard lock(s->mu);
    s->ran_out = true;
    s->cv.notify_all();
    return;
  }
  c->client->UpdateStatusAsync(id, asked, [c, sent_ns, asked](Result<StatusUpdateResult> r) {
    Complete(c, sent_ns, r.ok(), r.ok() && r->status == asked);
  });
}

}  // namespace

Outcome RunClients(const Config& cfg, const Workload& work, Window* window) {
  Outcome out;
  Shared shared;
  shared.cfg = &cfg;
  std::vector<std::unique_ptr<ClientConn>> conns;
  for (unsigned i = 0; i < cfg.connections; ++i) {
    auto c = std::make_unique<ClientConn>();
    c->shared = &shared;
    c->ids = &work.ids[i];
    sync::ClientOptions o;
    o.port = cfg.port;
    o.mkey = work.creds[i].mkey;
    o.secret = work.creds[i].secret;
    o.reconnect = false;
    o.resume = false;
    o.request_timeout = std::chrono::milliseconds(10000);
    auto client = sync::Client::Create(o);
    if (!client) {
      std::fprintf(stderr, "client: %s\n", client.error().ToString().c_str());
      ++out.errors;
      return out;
    }
    c->client = std::move(*client);
    if (auto hello = c->client->Connect(); !hello) {
      std::fprintf(stderr, "connect: %s\n", hello.error().ToString().c_str());
      ++out.errors;
      return out;
    }
    conns.push_back(std::move(c));
  }
  // next_op is set before any request exists, so no completion races it.
  for (auto& c : conns) c->next_op = cfg.depth;
  for (auto& c : conns) {
    for (unsigned k = 0; k < cfg.depth; ++k) Issue(c.get(), k);
  }
  auto seconds = [](double s) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(s));
  };
  {
    std::unique_lock lock(shared.mu);
    if (!shared.cv.wait_for(lock, seconds(cfg.warmup), [&] { return shared.ran_out; })) {
      shared.measuring = true;
      window->Begin();
      shared.cv.wait_for(lock, seconds(cfg.duration), [&] { return shared.ran_out; });
      shared.measuring = false;
      window->End();
    }
    shared.done = true;
    out.supply_ran_out = shared.ran_out;
  }
  // Destroying a client joins its loop thread: afterwards its state is ours.
  for (auto& c : conns) {
    c->client.reset();
    out.errors += c->errors;
    out.not_rises += c->not_rises;
    out.latencies_us.insert(out.latencies_us.end(), c->latencies_us.begin(), c->latencies_us.end());
  }
  return out;
}

}  // namespace postbox::load
