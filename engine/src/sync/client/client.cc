// The public Client: each call posts its request to the loop thread; the
// blocking forms wait on a future that the loop always completes (reply,
// error, timeout or close), so no call can hang.
#include "postbox/sync/client.h"

#include <future>

#include "sync/client/client_core.h"
#include "sync/convert.h"

namespace postbox::sync {
namespace {

using Encode = Client::Core::Encode;
using Handler = Client::Core::Handler;

// Turns a typed completion into a Handler: `extract` reads the expected reply
// alternative R into a T.
template <class R, class T, class F>
Handler Expect(std::function<void(Result<T>)> done, F extract) {
  return [done = std::move(done), extract](const Status& s, const wire::AnyMessage* reply) {
    if (!s.ok()) return done(s);
    const R* r = std::get_if<R>(reply);
    if (r == nullptr) return done(Status::Internal("unexpected reply type from the server"));
    done(extract(*r));
  };
}

}  // namespace

Result<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.request_timeout.count() <= 0) {
    return Status::InvalidArgument("request_timeout must be positive");
  }
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial) {
    return Status::InvalidArgument("need 0 < backoff_initial <= backoff_max");
  }
  if (options.upload_window == 0) {
    return Status::InvalidArgument("upload_window must be at least 1");
  }
  for (uint32_t id : options.zstd_dictionaries) {
    // A dictionary the client declares is one it must decode with.
    if (wire::DictionaryBytes(id).empty()) {
      return Status::InvalidArgument("zstd dictionary " + std::to_string(id) +
                                     " is not in this build");
    }
  }
  auto core = std::make_unique<Core>(options);
  POSTBOX_RETURN_IF_ERROR(core->Start());
  core->acked = options.start_cursor;
  return std::unique_ptr<Client>(new Client(std::move(core)));
}

Client::Client(std::unique_ptr<Core> core) : core_(std::move(core)) {}
Client::~Client() { core_->Shutdown(); }

namespace {

// Runs `start(callback)` on the loop and waits for the callback.
template <class T>
Result<T> Block(Client::Core* core, std::function<void(std::function<void(Result<T>)>)> start) {
  if (core->OnLoop()) {
    return Status::InvalidArgument("a blocking Client call was made on the client's loop thread");
  }
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto cb = [promise](Result<T> r) { promise->set_value(std::move(r)); };
  if (!core->Post([start, cb] { start(cb); })) return Status::Unavailable("client closed");
  // The loop completes every request by its deadline; the margin only guards
  // against a loop that has been shut down under us.
  const auto limit = core->options().request_timeout * 2 + std::chrono::seconds(2);
  if (future.wait_for(limit) != std::future_status::ready) {
    return Status::Unavailable("client loop did not answer");
  }
  return future.get();
}

Status ToStatus(Result<bool> r) { return r ? Status::Ok() : r.error(); }

}  // namespace

Result<HelloResult> Client::Connect() {
  Core* c = core_.get();
  return Block<HelloResult>(c, [c](auto done) { c->Connect(std::move(done)); });
}

void Client::Close() {
  Core* c = core_.get();
  std::promise<void> done;
  if (c->OnLoop()) return c->CloseSession();
  if (c->Post([c, &done] {
        c->CloseSession();
        done.set_value();
      })) {
    done.get_future().wait();
  }
}

void Client::DropConnection() {
  Core* c = core_.get();
  c->Post([c] { c->DropConnection(); });
}

bool Client::connected() const { return core_->connected.load(); }
uint64_t Client::acked_cursor() const { return core_->acked.load(); }
uint64_t Client::sessions_established() const { return core_->sessions.load(); }

// ---- async forms ----

void Client::PollAsync(uint64_t since, uint32_t limit,
                       std::function<void(Result<InfoPacket>)> done) {
  Core* c = core_.get();
  auto h = Expect<wire::InfoPacket, InfoPacket>(
      std::move(done), [](const wire::InfoPacket& p) { return FromWire(p); });
  Encode e = [since, limit](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::Poll{since, limit}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

void Client::UpdateStatusAsync(const MessageId& id, MessageStatus status,
                               std::function<void(Result<MessageStatus>)> done) {
  Core* c = core_.get();
  auto h = Expect<wire::Ok, MessageStatus>(std::move(done),
                                           [](const wire::Ok& ok) { return FromWire(ok.status); });
  Encode e = [id, status](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::StatusUpdate{ToWire(id), ToWire(status)}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

void Client::PutEntryAsync(std::string key, std::string value, uint64_t version,
                           std::function<void(Result<uint64_t>)> done) {
  Core* c = core_.get();
  auto h = Expect<wire::Ok, uint64_t>(
      std::move(done), [](const wire::Ok& ok) { return Result<uint64_t>(ok.version); });
  Encode e = [key = std::move(key), value = std::move(value), version](
                 uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::EntryPut{key, value, version}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

// ---- blocking facade ----

namespace {

// A blocking request whose reply R is read by `extract` into a T.
template <class R, class T, class F>
Result<T> Call(Client::Core* c, Encode e, F extract) {
  return Block<T>(c, [c, e, extract](std::function<void(Result<T>)> done) {
    c->Request(e, Expect<R, T>(std::move(done), extract));
  });
}

Result<bool> OkReply(const wire::Ok&) { return true; }

}  // namespace

Result<InfoPacket> Client::Poll(uint64_t since, uint32_t limit) {
  Core* c = core_.get();
  return Block<InfoPacket>(
      c, [this, since, limit](auto done) { PollAsync(since, limit, std::move(done)); });
}

Status Client::Ack(uint64_t cursor) {
  Core* c = core_.get();
  // Ack has no reply (wire/PROTOCOL.md): done once it is queued on the session.
  auto r = Block<bool>(c, [c, cursor](std::function<void(Result<bool>)> done) {
    Status s = c->SendOneWay([cursor](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
      return enc->Encode(rid, wire::Ack{cursor}, out);
    });
    if (s.ok()) c->NoteAck(cursor);
    done(s.ok() ? Result<bool>(true) : Result<bool>(s));
  });
  return ToStatus(std::move(r));
}

Result<MessageStatus> Client::UpdateStatus(const MessageId& id, MessageStatus status) {
  return Block<MessageStatus>(core_.get(), [this, id, status](auto done) {
    UpdateStatusAsync(id, status, std::move(done));
  });
}

Result<uint64_t> Client::PutEntry(std::string_view key, std::string_view value, uint64_t version) {
  return Block<uint64_t>(core_.get(),
                         [this, k = std::string(key), v = std::string(value), version](auto done) {
                           PutEntryAsync(k, v, version, std::move(done));
                         });
}

Result<uint64_t> Client::DeleteEntry(std::string_view key, uint64_t version) {
  return Call<wire::Ok, uint64_t>(
      core_.get(),
      [k = std::string(key), version](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EntryDelete{k, version}, out);
      },
      [](const wire::Ok& ok) { return Result<uint64_t>(ok.version); });
}

Result<EntryInfo> Client::GetEntry(std::string_view key) {
  return Call<wire::EntryValue, EntryInfo>(
      core_.get(),
      [k = std::string(key)](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EntryGet{k}, out);
      },
      [](const wire::EntryValue& v) { return Result<EntryInfo>(FromWire(v.entry)); });
}

Result<EntryPage> Client::ListEntries(std::string_view prefix, std::string_view start_after,
                                      uint32_t limit) {
  return Call<wire::EntryListReply, EntryPage>(
      core_.get(),
      [p = std::string(prefix), a = std::string(start_after), limit](
          uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EntryList{p, a, limit}, out);
      },
      [](const wire::EntryListReply& r) {
        EntryPage page;
        page.more = r.more;
        for (const auto& e : r.entries) page.entries.push_back(FromWire(e));
        return Result<EntryPage>(std::move(page));
      });
}

Result<ConnectionState> Client::AddConnection(const MailboxKey& peer) {
  return Call<wire::Ok, ConnectionState>(
      core_.get(),
      [peer](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::ConnectionAdd{ToWire(peer)}, out);
      },
      [](const wire::Ok& ok) { return Result<ConnectionState>(FromWire(ok.connection)); });
}

Status Client::RemoveConnection(const MailboxKey& peer) {
  return ToStatus(Call<wire::Ok, bool>(
      core_.get(),
      [peer](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::ConnectionRemove{ToWire(peer)}, out);
      },
      OkReply));
}

Result<ConnectionPage> Client::ListConnections(std::optional<MailboxKey> start_after,
                                               uint32_t limit, ConnectionListKind kind) {
  return Call<wire::ConnectionListReply, ConnectionPage>(
      core_.get(),
      [start_after, limit, kind](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        wire::ConnectionList m;
        if (start_after) m.start_after = ToWire(*start_after);
        m.limit = limit;
        m.kind = ToWire(kind);
        return enc->Encode(rid, m, out);
      },
      [](const wire::ConnectionListReply& r) {
        ConnectionPage page;
        page.more = r.more;
        for (const auto& p : r.peers) page.peers.push_back(MailboxKeyFromWire(p));
        return Result<ConnectionPage>(std::move(page));
      });
}

Status Client::RegisterPush(Platform platform, std::string_view token) {
  return ToStatus(Call<wire::Ok, bool>(
      core_.get(),
      [platform, t = std::string(token)](uint64_t rid, wire::Encoder* enc,
                                         std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::PushRegister{ToWire(platform), t}, out);
      },
      OkReply));
}

Status Client::Ping() {
  return ToStatus(Call<wire::Pong, bool>(
      core_.get(),
      [](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::Ping{rid}, out);
      },
      [](const wire::Pong&) { return Result<bool>(true); }));
}

}  // namespace postbox::sync
