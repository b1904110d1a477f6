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

// The outcome of an EntryPut or EntryDelete: Ok.version and Ok.applied.
Result<EntryPutResult> EntryOutcome(const wire::Ok& ok) {
  return EntryPutResult{ok.applied, ok.version};
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
  auto h = Expect<wire::InfoPacket, InfoPacket>(std::move(done), [c](const wire::InfoPacket& p) {
    c->NoteReceived(p.cursor);  // the session may Ack it now
    return FromWire(p);
  });
  Encode e = [since, limit](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::Poll{since, limit}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

void Client::UpdateStatusAsync(const MessageId& id, MessageStatus status,
                               std::function<void(Result<StatusUpdateResult>)> done) {
  Core* c = core_.get();
  auto h = Expect<wire::Ok, StatusUpdateResult>(
      std::move(done), [](const wire::Ok& ok) -> Result<StatusUpdateResult> {
        POSTBOX_ASSIGN_OR_RETURN(MessageStatus status, FromWire(ok.status));
        return StatusUpdateResult{ok.applied, status};
      });
  Encode e = [id, status](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::StatusUpdate{ToWire(id), ToWire(status)}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

void Client::PutEntryAsync(std::string key, std::string value, uint64_t version,
                           std::function<void(Result<EntryPutResult>)> done) {
  Core* c = core_.get();
  auto h = Expect<wire::Ok, EntryPutResult>(std::move(done), EntryOutcome);
  Encode e = [key = std::move(key), value = std::move(value), version](
                 uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
    return enc->Encode(rid, wire::EntryPut{key, value, version}, out);
  };
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

namespace {

// Posts request `e` to the loop with the typed completion `done`.
template <class R, class T, class F>
void Send(Client::Core* c, Encode e, std::function<void(Result<T>)> done, F extract) {
  Handler h = Expect<R, T>(std::move(done), extract);
  if (!c->Post([c, e, h] { c->Request(e, h); })) h(Status::Unavailable("client closed"), nullptr);
}

Result<bool> OkReply(const wire::Ok&) { return true; }

// A completion taking a Status, as one taking Result<bool>.
std::function<void(Result<bool>)> AsStatus(std::function<void(Status)> done) {
  return [done = std::move(done)](Result<bool> r) { done(r ? Status::Ok() : r.error()); };
}

}  // namespace

void Client::DeleteEntryAsync(std::string key, uint64_t version,
                              std::function<void(Result<EntryPutResult>)> done) {
  Send<wire::Ok, EntryPutResult>(
      core_.get(),
      [key = std::move(key), version](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EntryDelete{key, version}, out);
      },
      std::move(done), EntryOutcome);
}

void Client::GetEntryAsync(std::string key, std::function<void(Result<EntryInfo>)> done) {
  Send<wire::EntryValue, EntryInfo>(
      core_.get(),
      [key = std::move(key)](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EntryGet{key}, out);
      },
      std::move(done),
      [](const wire::EntryValue& v) { return Result<EntryInfo>(FromWire(v.entry)); });
}

void Client::AddConnectionAsync(const MailboxKey& peer,
                                std::function<void(Result<ConnectionState>)> done) {
  Send<wire::Ok, ConnectionState>(
      core_.get(),
      [peer](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::ConnectionAdd{ToWire(peer)}, out);
      },
      std::move(done),
      [](const wire::Ok& ok) { return Result<ConnectionState>(FromWire(ok.connection)); });
}

void Client::RemoveConnectionAsync(const MailboxKey& peer, std::function<void(Status)> done) {
  Send<wire::Ok, bool>(
      core_.get(),
      [peer](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::ConnectionRemove{ToWire(peer)}, out);
      },
      AsStatus(std::move(done)), OkReply);
}

void Client::RegisterPushAsync(Platform platform, std::string token,
                               std::function<void(Status)> done) {
  Send<wire::Ok, bool>(
      core_.get(),
      [platform, t = std::move(token)](uint64_t rid, wire::Encoder* enc,
                                       std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::PushRegister{ToWire(platform), t}, out);
      },
      AsStatus(std::move(done)), OkReply);
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
    if (c->connected && cursor > c->received_cursor()) {
      // The server answers such an Ack 400 (wire/PROTOCOL.md): the session
      // never sent this cursor (it came from an earlier session, or nowhere).
      return done(Status::InvalidArgument("cursor " + std::to_string(cursor) +
                                          " was not received on this session (highest " +
                                          std::to_string(c->received_cursor()) + "); poll first"));
    }
    Status s = c->SendOneWay([cursor](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
      return enc->Encode(rid, wire::Ack{cursor}, out);
    });
    if (s.ok()) c->NoteAck(cursor);
    done(s.ok() ? Result<bool>(true) : Result<bool>(s));
  });
  return ToStatus(std::move(r));
}

Result<StatusUpdateResult> Client::UpdateStatus(const MessageId& id, MessageStatus status) {
  return Block<StatusUpdateResult>(core_.get(), [this, id, status](auto done) {
    UpdateStatusAsync(id, status, std::move(done));
  });
}

Result<EntryPutResult> Client::PutEntry(std::string_view key, std::string_view value,
                                        uint64_t version) {
  return Block<EntryPutResult>(
      core_.get(), [this, k = std::string(key), v = std::string(value), version](auto done) {
        PutEntryAsync(k, v, version, std::move(done));
      });
}

Result<EntryPutResult> Client::DeleteEntry(std::string_view key, uint64_t version) {
  return Block<EntryPutResult>(core_.get(), [this, k = std::string(key), version](auto done) {
    DeleteEntryAsync(k, version, std::move(done));
  });
}

Result<EntryInfo> Client::GetEntry(std::string_view key) {
  return Block<EntryInfo>(
      core_.get(), [this, k = std::string(key)](auto done) { GetEntryAsync(k, std::move(done)); });
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
  return Block<ConnectionState>(
      core_.get(), [this, peer](auto done) { AddConnectionAsync(peer, std::move(done)); });
}

Status Client::RemoveConnection(const MailboxKey& peer) {
  return ToStatus(Block<bool>(core_.get(), [this, peer](std::function<void(Result<bool>)> done) {
    RemoveConnectionAsync(peer, [done](Status s) { done(s.ok() ? Result<bool>(true) : s); });
  }));
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
  return ToStatus(Block<bool>(core_.get(), [this, platform, t = std::string(token)](
                                               std::function<void(Result<bool>)> done) {
    RegisterPushAsync(platform, t, [done](Status s) { done(s.ok() ? Result<bool>(true) : s); });
  }));
}

namespace {

// Endpoints need a server of protocol 3; before the first session the version
// is unknown and the request goes out (an older server answers 400).
Status NeedsEndpoints(const Client::Core* c) {
  const uint32_t v = c->server_protocol.load();
  if (v != 0 && v < 3) {
    return Status(Code::kProtocolUnsupported, "the server speaks protocol " + std::to_string(v) +
                                                  "; endpoints need protocol 3");
  }
  return Status::Ok();
}

Endpoint FromWire(const wire::Endpoint& e) {
  return Endpoint{.token = std::string(e.token),
                  .app_id = std::string(e.app_id),
                  .vapid_public_key = std::string(e.vapid_public_key),
                  .created_ms = e.created_ms,
                  .url = std::string(e.url)};
}

}  // namespace

Result<Endpoint> Client::RegisterEndpoint(std::string_view app_id,
                                          std::string_view vapid_public_key) {
  POSTBOX_RETURN_IF_ERROR(NeedsEndpoints(core_.get()));
  return Call<wire::EndpointReply, Endpoint>(
      core_.get(),
      [app = std::string(app_id), key = std::string(vapid_public_key)](
          uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EndpointRegister{app, key}, out);
      },
      [](const wire::EndpointReply& r) { return Result<Endpoint>(FromWire(r.endpoint)); });
}

Result<EndpointPage> Client::ListEndpoints(std::string_view start_after, uint32_t limit) {
  POSTBOX_RETURN_IF_ERROR(NeedsEndpoints(core_.get()));
  return Call<wire::EndpointListReply, EndpointPage>(
      core_.get(),
      [after = std::string(start_after), limit](uint64_t rid, wire::Encoder* enc,
                                                std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EndpointList{after, limit}, out);
      },
      [](const wire::EndpointListReply& r) {
        EndpointPage page;
        page.more = r.more;
        for (const auto& e : r.endpoints) page.endpoints.push_back(FromWire(e));
        return Result<EndpointPage>(std::move(page));
      });
}

Status Client::RevokeEndpoint(std::string_view token) {
  POSTBOX_RETURN_IF_ERROR(NeedsEndpoints(core_.get()));
  return ToStatus(Call<wire::Ok, bool>(
      core_.get(),
      [t = std::string(token)](uint64_t rid, wire::Encoder* enc, std::vector<uint8_t>* out) {
        return enc->Encode(rid, wire::EndpointRevoke{t}, out);
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
