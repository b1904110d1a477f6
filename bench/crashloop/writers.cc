#include "crashloop/writers.h"

#include <chrono>
#include <cstring>
#include <memory>
#include <random>

#include "postbox/sync/client.h"

namespace postbox::crashloop {
namespace {

constexpr size_t kErrorsKept = 10;
// Keys each writer puts with explicit, rising versions.
constexpr size_t kVersionedKeys = 8;

// Upload sizes from 1 byte to a few hundred KiB, most of them small and
// unaligned, some exactly a page or a 256 KiB piece, some just over a piece.
uint64_t UploadSize(std::mt19937_64& rng) {
  const uint64_t r = rng() % 100;
  if (r < 35) return 1 + rng() % 512;
  if (r < 70) return 513 + rng() % (16 * 1024);
  if (r < 88) return 16 * 1024 + rng() % (112 * 1024);
  if (r < 95) {
    constexpr uint64_t kAligned[] = {4096, 65536, 256 * 1024};
    return kAligned[rng() % 3];
  }
  return 256 * 1024 + 1 + rng() % (128 * 1024);
}

std::string Bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

}  // namespace

class Writers::Writer {
 public:
  Writer(Writers* pool, size_t index)
      : pool_(pool),
        i_(index),
        rng_(pool->seed_ * 0x9e3779b97f4a7c15ull + index + 1),
        versions_(kVersionedKeys, 0) {}

  void Run() {
    while (!pool_->stopping_.load()) {
      if (pool_->pausing()) {
        client_.reset();
        if (!pool_->Park()) break;
        continue;
      }
      if (!client_ && !Connect()) {
        // The server is down (killed, not restarted yet): try again shortly.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        continue;
      }
      Step();
    }
    client_.reset();
  }

 private:
  const MailboxCredentials& self() const { return pool_->mailboxes_[i_]; }
  size_t next() const { return (i_ + 1) % pool_->mailboxes_.size(); }

  template <class F>
  auto Counted(F&& call) {
    pool_->in_flight_.fetch_add(1);
    auto result = call();
    pool_->in_flight_.fetch_sub(1);
    return result;
  }

  // True for OK. Unavailable is the crash (the outcome is unknown, and the
  // connection is dropped); anything else is a defect worth reporting.
  bool Settle(const Status& s, const char* what) {
    std::lock_guard lock(pool_->mu_);
    ++pool_->stats_.attempts;
    if (s.ok()) return true;
    if (s.Is(Code::kUnavailable)) {
      ++pool_->stats_.unknown;
      client_.reset();
      return false;
    }
    ++pool_->stats_.errors;
    if (pool_->stats_.first_errors.size() < kErrorsKept) {
      pool_->stats_.first_errors.push_back(std::string(what) + ": " + s.ToString());
    }
    return false;
  }

  bool Connect() {
    sync::ClientOptions o;
    o.host = "127.0.0.1";
    o.port = pool_->port_;
    o.mkey = self().mkey;
    o.secret = self().secret;
    // A lost session is the crash: the writer reconnects itself, after the
    // restart, so that no call of the client library is retried behind its back.
    o.reconnect = false;
    o.resume = false;
    o.request_timeout = std::chrono::milliseconds(10000);
    auto c = sync::Client::Create(o);
    if (!c.ok()) return Settle(c.status(), "Client::Create");
    if (!(*c)->Connect().ok()) return false;
    client_ = std::move(*c);
    return true;
  }

  void Step() {
    const uint64_t r = rng_() % 100;
    if (r < 45) return PutFresh();
    if (r < 65) return PutVersioned();
    if (r < 82 && Rise()) return;
    if (r < 82) return PutFresh();
    Upload();
  }

  // A fresh key, auto-versioned (version 1 when it applies).
  void PutFresh() {
    const std::string key = "a/" + std::to_string(i_) + "/" + std::to_string(fresh_++);
    auto v = Counted([&] { return client_->PutEntry(key, EntryValue(key, 0)); });
    if (Settle(v.status(), "PutEntry")) pool_->ledger_->AckEntry(i_, key, false, v->version);
  }

  // One of a few keys, each put with a version above every earlier one (also
  // the ones whose outcome is unknown), so every put applies.
  void PutVersioned() {
    const size_t j = rng_() % kVersionedKeys;
    versions_[j] += 1 + rng_() % 5;
    const uint64_t version = versions_[j];
    const std::string key = "x/" + std::to_string(i_) + "/" + std::to_string(j);
    auto v = Counted([&] { return client_->PutEntry(key, EntryValue(key, version), version); });
    if (Settle(v.status(), "PutEntry(version)"))
      pool_->ledger_->AckEntry(i_, key, true, v->version);
  }

  // The next status of a message this mailbox received; false if none.
  bool Rise() {
    auto rise = pool_->ledger_->TakeRise(i_);
    if (!rise) return false;
    const auto [id, acked] = *rise;
    const auto want = static_cast<MessageStatus>(static_cast<uint8_t>(acked) + 1);
    auto s = Counted([&] { return client_->UpdateStatus(id, want); });
    MessageStatus now = acked;
    if (Settle(s.status(), "UpdateStatus")) {
      pool_->ledger_->AckStatus(id, s->status);
      now = s->status;
    }
    if (now < MessageStatus::kViewed) pool_->ledger_->ReturnRise(i_, id);
    return true;
  }

  void Upload() {
    const std::string bytes = Bytes(rng_, UploadSize(rng_));
    sync::UploadSpec spec;
    spec.to = pool_->mailboxes_[next()].mkey;
    for (auto& b : spec.id.bytes) b = static_cast<uint8_t>(rng_());
    // A topic of its own, so no upload supersedes another (slot depth 1).
    spec.topic = "c/" + std::to_string(i_) + "/" + std::to_string(uploads_++);
    spec.digest = ComputeDigest128(bytes);
    auto source = sync::MemorySource(bytes);
    Status s = Counted([&] { return client_->Upload(source.get(), spec); });
    if (Settle(s, "Upload")) {
      pool_->ledger_->AckUpload(i_, next(), spec.id, bytes.size(), *spec.digest);
    }
  }

  Writers* const pool_;
  const size_t i_;
  std::mt19937_64 rng_;
  std::vector<uint64_t> versions_;
  uint64_t fresh_ = 0, uploads_ = 0;
  std::unique_ptr<sync::Client> client_;
};

Writers::Writers(std::vector<MailboxCredentials> mailboxes, uint16_t port, uint64_t seed,
                 Ledger* ledger)
    : mailboxes_(std::move(mailboxes)), port_(port), seed_(seed), ledger_(ledger) {}

Writers::~Writers() { Stop(); }

void Writers::Start() {
  for (size_t i = 0; i < mailboxes_.size(); ++i) {
    threads_.emplace_back([this, i] { Writer(this, i).Run(); });
  }
}

void Writers::Pause() {
  std::unique_lock lock(mu_);
  pausing_ = true;
  cv_.wait(lock, [&] { return parked_ == threads_.size(); });
}

void Writers::Resume() {
  std::lock_guard lock(mu_);
  pausing_ = false;
  cv_.notify_all();
}

void Writers::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  for (auto& t : threads_) t.join();
  threads_.clear();
}

bool Writers::Park() {
  std::unique_lock lock(mu_);
  ++parked_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return !pausing_.load() || stopping_.load(); });
  --parked_;
  return !stopping_.load();
}

WriterStats Writers::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace postbox::crashloop
