// The store side of a load run, done before anything is timed: the
// connections' mailboxes and, for push and status, the messages they advance.
// Written through postbox::DB on the server's own store folder (LMDB allows a
// second process), in big batches so that set-up costs few fsyncs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "bench_util.h"
#include "load/load.h"
#include "postbox/db.h"
#include "postbox/write_batch.h"

namespace postbox::load {
namespace {

// Messages per transaction while setting up: big enough that fsyncs do not
// dominate, small enough that one transaction's dirty pages stay modest.
constexpr size_t kPostsPerBatch = 20000;
constexpr std::string_view kBlob = "blob";

// "t<j>" (snprintf: GCC 12's -Wrestrict misfires on "t" + std::to_string at -O3).
std::string Topic(size_t j) {
  char buf[24];
  const int n = std::snprintf(buf, sizeof(buf), "t%zu", j);
  return std::string(buf, static_cast<size_t>(n));
}

Result<std::vector<MailboxCredentials>> CreateMailboxes(DB& db, size_t n) {
  WriteBatch batch;
  for (size_t i = 0; i < n; ++i) batch.CreateMailbox();
  POSTBOX_RETURN_IF_ERROR(db.Write(&batch));
  std::vector<MailboxCredentials> out;
  out.reserve(n);
  for (const OpResult& r : batch.results()) {
    if (!r.status.ok()) return r.status;
    out.push_back(*r.credentials);
  }
  return out;
}

Status Apply(DB& db, WriteBatch* batch, const char* what) {
  if (batch->empty()) return Status();
  Status s = db.Write(batch);
  for (size_t i = 0; s.ok() && i < batch->results().size(); ++i) s = batch->results()[i].status;
  if (!s.ok()) return Status::Internal(std::string(what) + ": " + s.ToString());
  batch->Clear();
  return Status();
}

// --op push: connections pair up, sender 2k and recipient 2k+1; each pair
// gets 2000 messages on distinct topics (so none supersedes another).
Status SetUpPush(DB& db, Workload* w) {
  constexpr int kMessages = 2000;
  WriteBatch batch;
  for (size_t i = 0; i + 1 < w->creds.size(); i += 2) {
    batch.Connect(w->creds[i].mkey, w->creds[i + 1].mkey);
    for (int j = 0; j < kMessages; ++j) {
      PostRequest r;
      r.from = w->creds[i].mkey;
      r.to = w->creds[i + 1].mkey;
      r.id = MessageId::Random();
      r.topic = Topic(static_cast<size_t>(j));
      r.bytes = kBlob;
      w->ids[i + 1].push_back(r.id);
      batch.PostMessage(std::move(r));
    }
    POSTBOX_RETURN_IF_ERROR(Apply(db, &batch, "posting the push messages"));
  }
  return Status();
}

// --op status: each connection's mailbox receives `per_conn` UPLOADED
// messages from cfg.senders senders of its own, message j from sender
// j % senders on topic "t<j / senders>". A slot is (from, to, topic) and holds
// one live message (slot depth 1), so distinct topics keep every message live.
Status SetUpStatus(const Config& cfg, DB& db, Workload* w) {
  const size_t n = w->creds.size();
  const size_t per_conn = StatusMessagesPerConnection(cfg);
  const unsigned senders = std::max(cfg.senders, 1u);
  std::fprintf(stderr,
               "setup: %zu connections x %zu messages from %u senders each (%.0f ops/s "
               "expected; %zu rises available)...\n",
               n, per_conn, senders, cfg.expect_rate, 2 * per_conn * n);
  const uint64_t t0 = NowNs();
  POSTBOX_ASSIGN_OR_RETURN(auto from, CreateMailboxes(db, n * senders));
  WriteBatch batch;
  for (size_t i = 0; i < n; ++i) {
    for (unsigned s = 0; s < senders; ++s)
      batch.Connect(from[i * senders + s].mkey, w->creds[i].mkey);
  }
  POSTBOX_RETURN_IF_ERROR(Apply(db, &batch, "connecting the senders"));
  for (size_t i = 0; i < n; ++i) {
    w->ids[i].reserve(per_conn);
    for (size_t j = 0; j < per_conn; ++j) {
      PostRequest r;
      r.from = from[i * senders + j % senders].mkey;
      r.to = w->creds[i].mkey;
      r.id = MessageId::Random();
      r.topic = Topic(j / senders);
      r.bytes = kBlob;
      w->ids[i].push_back(r.id);
      batch.PostMessage(std::move(r));
      if (batch.size() >= kPostsPerBatch) {
        POSTBOX_RETURN_IF_ERROR(Apply(db, &batch, "posting the status messages"));
      }
    }
  }
  POSTBOX_RETURN_IF_ERROR(Apply(db, &batch, "posting the status messages"));
  std::fprintf(stderr, "setup: %zu messages posted in %.1f s\n", per_conn * n,
               static_cast<double>(NowNs() - t0) / 1e9);
  return Status();
}

// --op hostile: every session its own mailbox, except the slow readers, who
// share one holding 48 entries of 16 KiB of incompressible bytes (a Poll of
// it answers ~770 KB: what piles up at the server when they never read); the
// probe's mailbox holds 10 small entries.
Status SetUpHostile(const Config& cfg, DB& db, Workload* w) {
  const HostileOptions& o = cfg.hostile;
  const size_t n = w->creds.size();
  std::fprintf(stderr, "setup: %zu mailboxes (%u idle, %u slow readers, %u floods, 1 probe)...\n",
               n, o.idle, o.slow_readers, o.floods);
  const uint64_t t0 = NowNs();
  POSTBOX_ASSIGN_OR_RETURN(auto created, CreateMailboxes(db, n));
  w->creds = std::move(created);
  const size_t slow_begin = o.idle, slow_end = slow_begin + o.slow_readers;
  for (size_t i = slow_begin + 1; i < slow_end; ++i) w->creds[i] = w->creds[slow_begin];
  WriteBatch batch;
  if (o.slow_readers > 0) {
    for (int j = 0; j < 48; ++j) {
      batch.PutEntry(w->creds[slow_begin].mkey, "big" + std::to_string(j),
                     bench::RandomBlob(16 * 1024, static_cast<uint64_t>(j)), 0);
    }
  }
  for (int j = 0; j < 10; ++j) {
    batch.PutEntry(w->creds.back().mkey, "probe" + std::to_string(j), "a small value", 0);
  }
  POSTBOX_RETURN_IF_ERROR(Apply(db, &batch, "putting the hostile entries"));
  std::fprintf(stderr, "setup: done in %.1f s\n", static_cast<double>(NowNs() - t0) / 1e9);
  return Status();
}

}  // namespace

Result<Workload> SetUp(const Config& cfg) {
  Workload w;
  w.creds.resize(cfg.connections);
  w.ids.resize(cfg.connections);
  if (cfg.op == Op::kEcho) return w;
  if (cfg.data.empty()) {
    return Status::InvalidArgument("--data (the server's store folder) is needed for --op " +
                                   cfg.op_name);
  }
  auto db = DB::Open(cfg.data, {});
  if (!db) return Status::Unavailable("open " + cfg.data + ": " + db.error().ToString());
  if (cfg.op == Op::kHostile) {
    POSTBOX_RETURN_IF_ERROR(SetUpHostile(cfg, **db, &w));
    return w;
  }
  POSTBOX_ASSIGN_OR_RETURN(w.creds, CreateMailboxes(**db, w.creds.size()));
  if (cfg.op == Op::kPush) POSTBOX_RETURN_IF_ERROR(SetUpPush(**db, &w));
  if (cfg.op == Op::kStatus) POSTBOX_RETURN_IF_ERROR(SetUpStatus(cfg, **db, &w));
  return w;
}

size_t StatusMessagesPerConnection(const Config& cfg) {
  const unsigned depth = std::max(cfg.depth, 1u);
  // Twice the expected ops: each message is good for two rises.
  const double expected_ops = cfg.expect_rate * (cfg.warmup + cfg.duration);
  const auto per_conn = static_cast<size_t>(
      std::ceil(expected_ops / static_cast<double>(std::max(cfg.connections, 1u))));
  return (per_conn + depth - 1) / depth * depth;  // whole blocks of `depth`
}

bool StatusOpIndex(size_t count, unsigned depth, uint64_t k, size_t* index, MessageStatus* status) {
  const uint64_t block = std::max(depth, 1u);
  const uint64_t i = k / (2 * block) * block + k % block;
  if (i >= count) return false;
  *index = static_cast<size_t>(i);
  *status = (k / block) % 2 == 0 ? MessageStatus::kDownloaded : MessageStatus::kViewed;
  return true;
}

bool StatusOpAt(const std::vector<MessageId>& ids, unsigned depth, uint64_t k, MessageId* id,
                MessageStatus* status) {
  size_t index;
  if (!StatusOpIndex(ids.size(), depth, k, &index, status)) return false;
  *id = ids[index];
  return true;
}

}  // namespace postbox::load
