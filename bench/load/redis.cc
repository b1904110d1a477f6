// The Redis baseline for durable writes: the same logical operation as a
// postbox status rise or entry put, as one Redis function (FUNCTION LOAD /
// FCALL, Lua), driven like the raw-frame driver drives postbox-server: every
// connection on one libuv loop (hiredis's async API), each keeping cfg.depth
// calls in flight, latency per call. redis-benchmark cannot express the
// status workload (every op a real rise, on messages that exist), hence this.
//
// The data model mirrors the store's: a mailbox is a hash `mb:<m>` whose
// field `seq` is its change sequence; its feed is a sorted set `feed:<m>`
// (member: the item, score: the seq of its latest change, so ZADD of an
// existing member moves it, as the feed keeps only the latest change per
// item); a message is a hash `msg:<c>:<j>` {from, to, status, seq_from,
// seq_to}; an entry is a hash `ent:<m>:<key>` {version, value, seq}.
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "load/load.h"

namespace postbox::load {
namespace {

// One library, three functions. pbx_rise: raise a message's status if the
// new one is higher (else answer the current one, changing nothing), bump both
// parties' sequences and move the message in both feeds; only the recipient
// may do it. pbx_put: max-merge an entry on (version, value), version 0
// meaning "stored + 1", bump the mailbox's sequence and move the entry in its
// feed. pbx_setup: post a connection's messages (not timed), each bumping
// both parties' sequences and entering both feeds as a post does.
constexpr char kLibrary[] = R"lua(#!lua name=postbox_bench
redis.register_function('pbx_rise', function(keys, args)
  local m = redis.call('HMGET', keys[1], 'status', 'from', 'to')
  if not m[1] then return redis.error_reply('NOTFOUND unknown message') end
  if m[3] ~= args[2] then return redis.error_reply('FORBIDDEN not the recipient') end
  local want, cur = tonumber(args[1]), tonumber(m[1])
  if want <= cur then return cur end
  local sf = redis.call('HINCRBY', 'mb:' .. m[2], 'seq', 1)
  local st = redis.call('HINCRBY', 'mb:' .. m[3], 'seq', 1)
  redis.call('ZADD', 'feed:' .. m[2], sf, keys[1])
  redis.call('ZADD', 'feed:' .. m[3], st, keys[1])
  redis.call('HSET', keys[1], 'status', want, 'seq_from', sf, 'seq_to', st)
  return want
end)
redis.register_function('pbx_put', function(keys, args)
  local mkey, item, v, value = args[1], args[2], tonumber(args[3]), args[4]
  local e = redis.call('HMGET', keys[1], 'version', 'value')
  local stored = tonumber(e[1]) or 0
  if v == 0 then v = stored + 1 end
  if v < stored or (v == stored and e[2] and value <= e[2]) then return stored end
  local seq = redis.call('HINCRBY', 'mb:' .. mkey, 'seq', 1)
  redis.call('HSET', keys[1], 'version', v, 'value', value, 'seq', seq)
  redis.call('ZADD', 'feed:' .. mkey, seq, 'e:' .. item)
  return v
end)
redis.register_function('pbx_setup', function(keys, args)
  local c, count, senders = args[1], tonumber(args[2]), tonumber(args[3])
  local to = 'r' .. c
  for j = 0, count - 1 do
    local from = 's' .. c .. '.' .. (j % senders)
    local id = 'msg:' .. c .. ':' .. j
    local sf = redis.call('HINCRBY', 'mb:' .. from, 'seq', 1)
    local st = redis.call('HINCRBY', 'mb:' .. to, 'seq', 1)
    redis.call('ZADD', 'feed:' .. from, sf, id)
    redis.call('ZADD', 'feed:' .. to, st, id)
    redis.call('HSET', id, 'from', from, 'to', to, 'status', 1, 'seq_from', sf, 'seq_to', st)
  end
  return count
end)
)lua";

struct RedisDriver;

struct RedisConn {
  RedisDriver* d = nullptr;
  unsigned index = 0;
  redisAsyncContext* ctx = nullptr;
  uint64_t next_op = 0;
  size_t messages = 0;  // --op status: this connection's supply
};

struct Call {
  RedisConn* c;
  uint64_t sent_ns;
  long long asked;  // status: the status asked for; put: unused
};

struct RedisDriver {
  const Config* cfg = nullptr;
  Window* window = nullptr;
  uv_loop_t loop{};
  uv_timer_t phase{}, stop{};
  bool measuring = false, done = false;
  size_t connected = 0, set_up = 0;
  Outcome outcome;
  std::vector<std::unique_ptr<RedisConn>> conns;
};

void Finish(RedisDriver* d) {
  if (d->done) return;
  if (d->measuring) d->window->End();
  d->measuring = false;
  d->done = true;
  uv_stop(&d->loop);
}

void SendNext(RedisConn* c);

void OnReply(redisAsyncContext*, void* r, void* privdata) {
  std::unique_ptr<Call> call(static_cast<Call*>(privdata));
  RedisConn* c = call->c;
  RedisDriver* d = c->d;
  if (d->done) return;  // freeing the contexts fails what is pending
  auto* reply = static_cast<redisReply*>(r);
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) {
    if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && d->outcome.errors < 3) {
      std::fprintf(stderr, "redis: %s\n", reply->str);
    }
    ++d->outcome.errors;
  } else if (d->cfg->op == Op::kStatus && reply->integer != call->asked) {
    ++d->outcome.not_rises;
  }
  if (d->measuring) {
    d->outcome.latencies_us.push_back(static_cast<uint32_t>((NowNs() - call->sent_ns) / 1000));
  }
  SendNext(c);
}

void SendNext(RedisConn* c) {
  RedisDriver* d = c->d;
  if (d->done) return;
  auto call = std::make_unique<Call>(Call{c, NowNs(), 0});
  const std::string conn = std::to_string(c->index);
  const uint64_t k = c->next_op++;
  int rc;
  if (d->cfg->op == Op::kStatus) {
    size_t index;
    MessageStatus status;
    if (!StatusOpIndex(c->messages, d->cfg->depth, k, &index, &status)) {
      d->outcome.supply_ran_out = true;
      return Finish(d);
    }
    call->asked = static_cast<long long>(status);
    const std::string id = "msg:" + conn + ":" + std::to_string(index);
    const std::string asked = std::to_string(call->asked), actor = "r" + conn;
    const char* argv[] = {"FCALL", "pbx_rise", "1", id.c_str(), asked.c_str(), actor.c_str()};
    rc = redisAsyncCommandArgv(c->ctx, OnReply, call.get(), 6, argv, nullptr);
  } else {
    // The same key set and value as the raw-frame driver's puts: one of 1024
    // keys per mailbox, version 0.
    // Appended, not `"k" + std::to_string(...)`: GCC 12 at -O3 warns (-Wrestrict, a
    // false positive) on operator+ of a literal and a temporary.
    const std::string mkey = "r" + conn;
    std::string key = "k";
    key += std::to_string(k % 1024);
    const std::string ent = "ent:" + mkey + ":" + key;
    const char* argv[] = {"FCALL",      "pbx_put",   "1", ent.c_str(),
                          mkey.c_str(), key.c_str(), "0", "value-0123456789"};
    rc = redisAsyncCommandArgv(c->ctx, OnReply, call.get(), 8, argv, nullptr);
  }
  if (rc != REDIS_OK) {
    ++d->outcome.errors;
    return;
  }
  call.release();  // OnReply owns it now
}

void StartTimers(RedisDriver* d) {
  uv_timer_init(&d->loop, &d->phase);
  d->phase.data = d;
  uv_timer_start(
      &d->phase,
      [](uv_timer_t* t) {
        auto* dd = static_cast<RedisDriver*>(t->data);
        if (dd->done) return;
        dd->measuring = true;
        dd->window->Begin();
      },
      static_cast<uint64_t>(d->cfg->warmup * 1000), 0);
  uv_timer_init(&d->loop, &d->stop);
  d->stop.data = d;
  uv_timer_start(
      &d->stop, [](uv_timer_t* t) { Finish(static_cast<RedisDriver*>(t->data)); },
      static_cast<uint64_t>((d->cfg->warmup + d->cfg->duration) * 1000), 0);
  for (auto& c : d->conns) {
    for (unsigned i = 0; i < d->cfg->depth; ++i) SendNext(c.get());
  }
}

bool SetUpFailed(RedisDriver* d, void* r, const char* what) {
  auto* reply = static_cast<redisReply*>(r);
  if (reply != nullptr && reply->type != REDIS_REPLY_ERROR) return false;
  std::fprintf(stderr, "redis %s: %s\n", what, reply != nullptr ? reply->str : "no reply");
  ++d->outcome.errors;
  Finish(d);
  return true;
}

// A connection's part of the set-up is done (its messages posted, or for
// puts a PING answered); once every connection's is, the run starts.
void OnSetUp(redisAsyncContext*, void* r, void* privdata) {
  auto* c = static_cast<RedisConn*>(privdata);
  RedisDriver* d = c->d;
  if (d->done || SetUpFailed(d, r, "set-up")) return;
  if (++d->set_up == d->conns.size()) StartTimers(d);
}

// The function library is loaded: each connection sets up its part, so the
// status supply is posted by all connections at once (untimed).
void OnLoaded(redisAsyncContext*, void* r, void* privdata) {
  auto* d = static_cast<RedisDriver*>(privdata);
  if (d->done || SetUpFailed(d, r, "FUNCTION LOAD")) return;
  const std::string senders = std::to_string(std::max(d->cfg->senders, 1u));
  for (auto& c : d->conns) {
    if (d->cfg->op == Op::kStatus) {
      const std::string conn = std::to_string(c->index), count = std::to_string(c->messages);
      const char* argv[] = {"FCALL",      "pbx_setup",   "0",
                            conn.c_str(), count.c_str(), senders.c_str()};
      redisAsyncCommandArgv(c->ctx, OnSetUp, c.get(), 6, argv, nullptr);
    } else {
      const char* ping[] = {"PING"};
      redisAsyncCommandArgv(c->ctx, OnSetUp, c.get(), 1, ping, nullptr);
    }
  }
}

}  // namespace

Outcome RunRedis(const Config& cfg, Window* window) {
  auto d = std::make_unique<RedisDriver>();
  d->cfg = &cfg;
  d->window = window;
  uv_loop_init(&d->loop);
  const size_t per_conn = StatusMessagesPerConnection(cfg);
  for (unsigned i = 0; i < cfg.connections; ++i) {
    auto c = std::make_unique<RedisConn>();
    c->d = d.get();
    c->index = i;
    c->messages = per_conn;
    c->ctx = redisAsyncConnect("127.0.0.1", cfg.redis_port);
    if (c->ctx == nullptr || c->ctx->err != 0) {
      std::fprintf(stderr, "redis connect: %s\n", c->ctx != nullptr ? c->ctx->errstr : "no memory");
      ++d->outcome.errors;
      return std::move(d->outcome);
    }
    redisLibuvAttach(c->ctx, &d->loop);
    d->conns.push_back(std::move(c));
  }
  if (cfg.op == Op::kStatus) {
    std::fprintf(stderr, "setup: %u connections x %zu messages from %u senders each in Redis...\n",
                 cfg.connections, per_conn, std::max(cfg.senders, 1u));
  }
  const char* load[] = {"FUNCTION", "LOAD", "REPLACE", kLibrary};
  redisAsyncCommandArgv(d->conns[0]->ctx, OnLoaded, d.get(), 4, load, nullptr);
  uv_run(&d->loop, UV_RUN_DEFAULT);

  for (auto& c : d->conns) redisAsyncFree(c->ctx);
  CloseLoop(&d->loop);
  return std::move(d->outcome);
}

}  // namespace postbox::load
