// tls: byte streams into the TLS channel (engine/src/sync/tls/channel.h), the
// filter every TLS listener and the client put between a socket and the
// session. No sockets: channels are wired together in memory, as the unit
// tests do (tests/unit/tls/tls_pair.h). Contexts come from a PKI made once
// per process (tests/support/tls_certs.h).
//
// Input: byte 0 picks the mode and its options, byte 1 seeds how streams are
// cut into reads (1..64 bytes, or everything left), the rest is the payload.
//   byte 0 & 3 == 0: (a) the payload is what a client sends from its first
//     byte (a ClientHello, or anything) to a server channel. Bit 2: the
//     server also takes TLS 1.2; bit 3: it requires a client certificate.
//   1, 2, 3: (b) a client and a server channel complete a real handshake
//     first (TLS 1.2 if bit 2; bit 3: the server is the sender and the
//     client the target), then the payload is
//     1: raw ciphertext injected into the target (record layer attacks);
//     2: plaintext the sender sends, cut into Sends as the cut seed says;
//     3: segments, each [tag][len][len bytes]: tag bit 0 set: plaintext
//        sent, clear: raw ciphertext injected.
// Findings, besides crashes and sanitizer reports:
//   - (a) a handshake completes or plaintext appears: nobody without the
//     keys can do that;
//   - (b) the target's plaintext is not exactly the plaintext sent (the model:
//     the concatenation), or, once bytes were injected, not a prefix of it;
//     injected bytes never decrypt to anything;
//   - a channel that failed takes more bytes, or any channel's output after
//     one Receive exceeds kMaxOutput (a reflection/amplification bug);
//   - after the sender's close_notify a target without error did not see it.
// The corpus (fuzz/corpus/tls/, written by fuzz/make_tls_corpus.py) replays
// as the ctest fuzz_replay_tls (fuzz/replay_main.cc).
#include <openssl/ssl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sync/tls/channel.h"
#include "tests/support/tls_certs.h"

namespace {

namespace tls = postbox::sync::tls;
using postbox::Status;
using postbox::sync::TlsClientOptions;
using postbox::sync::TlsServerOptions;
using postbox::sync::TlsVersion;

// A server answers a ClientHello with its whole first flight (a certificate
// of ~500 bytes here) and anything later with an alert or a ticket: 64 KiB
// after one Receive is far past either.
constexpr size_t kMaxOutput = 64 * 1024;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tls_fuzzer finding: %s\n", what);
    std::abort();
  }
}

struct Contexts {
  std::shared_ptr<const tls::Context> server13, server12, server_mtls;
  std::shared_ptr<const tls::Context> client13, client12;
};

std::filesystem::path& PkiDir() {
  static std::filesystem::path dir;
  return dir;
}

const Contexts& Get() {
  static const Contexts c = [] {
    PkiDir() =
        std::filesystem::temp_directory_path() / ("postbox-tls-fuzz-" + std::to_string(getpid()) +
                                                  "-" + std::to_string(std::random_device{}()));
    const auto pki = postbox::testing::MakeTestPki(PkiDir());
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(PkiDir(), ec);
    });
    auto must = [](auto r) {
      Check(r.ok(), "the harness cannot make its contexts");
      return *r;
    };
    Contexts c;
    TlsServerOptions so;
    so.cert_file = pki.server.cert;
    so.key_file = pki.server.key;
    c.server13 = must(tls::Context::ForServer(so, tls::kSyncAlpn));
    so.min_version = TlsVersion::kTls12;
    c.server12 = must(tls::Context::ForServer(so, tls::kSyncAlpn));
    so.client_ca_file = pki.client_ca.cert;
    c.server_mtls = must(tls::Context::ForServer(so, tls::kSyncAlpn));
    TlsClientOptions co;
    co.enabled = true;
    co.ca_file = pki.ca.cert;
    c.client13 = must(tls::Context::ForClient(co, tls::kSyncAlpn));
    co.min_version = TlsVersion::kTls12;
    c.client12 = must(tls::Context::ForClient(co, tls::kSyncAlpn));
    // No option caps a client at 1.2: reach into its (not yet shared) SSL_CTX.
    SSL_CTX_set_max_proto_version(c.client12->get(), TLS1_2_VERSION);
    return c;
  }();
  return c;
}

// How streams are cut into reads and sends.
class Cutter {
 public:
  explicit Cutter(uint8_t seed) : state_(seed | 1u) {}
  size_t Next(size_t left) {
    state_ = state_ * 1103515245u + 12345u;
    const size_t want = (state_ >> 16) % 65;
    return want == 0 ? left : std::min(left, want);
  }

 private:
  uint32_t state_;
};

// One side's view: its channel, what it decrypted, its first error.
struct Side {
  std::unique_ptr<tls::Channel> channel;
  std::string plain;
  Status error;
};

// Hands `bytes` to `to` in cuts; stops at its first error, after checking
// that a failed channel refuses more.
void Deliver(Side* to, std::span<const uint8_t> bytes, Cutter* cut) {
  while (!bytes.empty() && to->error.ok()) {
    const size_t n = cut->Next(bytes.size());
    to->error = to->channel->Receive(bytes.first(n), &to->plain);
    bytes = bytes.subspan(n);
    Check(to->channel->pending() <= kMaxOutput, "a Receive produced too much output");
    if (!to->error.ok()) {
      const uint8_t more = 0x17;
      Check(!to->channel->Receive(std::span(&more, 1), &to->plain).ok(),
            "a failed channel took more bytes");
    }
  }
}

// Moves output between the sides until neither has any.
void Pump(Side* a, Side* b, Cutter* cut) {
  for (int round = 0; round < 50; ++round) {
    if (a->channel->pending() == 0 && b->channel->pending() == 0) return;
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      std::vector<uint8_t> bytes;
      from->channel->TakeOutput(&bytes);
      Deliver(to, bytes, cut);
    }
  }
  Check(false, "the channels kept talking");
}

void FirstFlight(uint8_t options, std::span<const uint8_t> payload, Cutter* cut) {
  const Contexts& c = Get();
  auto ctx = (options & 8) ? c.server_mtls : (options & 4) ? c.server12 : c.server13;
  auto accepted = tls::Channel::Accept(ctx);
  Check(accepted.ok(), "Accept failed");
  Side server{std::move(*accepted), {}, Status::Ok()};
  Check(server.channel->Start().ok() && server.channel->pending() == 0,
        "a server said something first");
  Deliver(&server, payload, cut);
  Check(!server.channel->established(), "a handshake completed without a real client");
  Check(server.plain.empty(), "plaintext from a peer without keys");
  if (!server.error.ok()) Check(!server.error.message().empty(), "an error without a message");
}

void AfterHandshake(int mode, uint8_t options, std::span<const uint8_t> payload, Cutter* cut) {
  const Contexts& c = Get();
  const bool v12 = (options & 4) != 0;
  auto connected = tls::Channel::Connect(v12 ? c.client12 : c.client13, "localhost");
  auto accepted = tls::Channel::Accept(v12 ? c.server12 : c.server13);
  Check(connected.ok() && accepted.ok(), "Connect or Accept failed");
  Side client{std::move(*connected), {}, Status::Ok()};
  Side server{std::move(*accepted), {}, Status::Ok()};
  Check(client.channel->Start().ok(), "Start failed");
  Pump(&client, &server, cut);
  Check(client.error.ok() && server.error.ok() && client.channel->established() &&
            server.channel->established(),
        "the harness's own handshake failed");
  Side* sender = (options & 8) ? &server : &client;
  Side* target = (options & 8) ? &client : &server;

  std::string model;      // the plaintext sent
  bool injected = false;  // raw bytes went to the target
  auto send = [&](std::span<const uint8_t> plain) {
    while (!plain.empty()) {
      const size_t n = cut->Next(plain.size());
      Check(sender->channel->Send(plain.first(n)).ok(), "Send failed on an established channel");
      model.append(reinterpret_cast<const char*>(plain.data()), n);
      plain = plain.subspan(n);
    }
    std::vector<uint8_t> bytes;
    sender->channel->TakeOutput(&bytes);
    Deliver(target, bytes, cut);
  };
  auto inject = [&](std::span<const uint8_t> bytes) {
    const size_t before = target->plain.size();
    Deliver(target, bytes, cut);
    // Bytes made without the keys decrypt to nothing (a partial record may
    // still wait, and spoil what follows).
    Check(target->plain.size() == before, "injected bytes decrypted to plaintext");
    injected = injected || !bytes.empty();
  };

  if (mode == 1) inject(payload);
  if (mode == 2) send(payload);
  while (mode == 3 && payload.size() >= 2) {
    const uint8_t tag = payload[0];
    const size_t len = std::min<size_t>(payload[1], payload.size() - 2);
    const auto segment = payload.subspan(2, len);
    payload = payload.subspan(2 + len);
    if (tag & 1) {
      send(segment);
    } else {
      inject(segment);
    }
    if (!target->error.ok()) break;
  }

  Check(model.compare(0, target->plain.size(), target->plain) == 0,
        "the target got bytes that were not sent");
  if (!injected) {
    Check(target->error.ok(), "genuine records failed");
    Check(target->plain == model, "the target did not get exactly the bytes sent");
  }
  if (target->error.ok()) {
    // close_notify ends it, if nothing injected left a partial record.
    sender->channel->Shutdown();
    std::vector<uint8_t> bytes;
    sender->channel->TakeOutput(&bytes);
    Deliver(target, bytes, cut);
    if (!injected) Check(target->channel->peer_closed(), "close_notify was not seen");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t options = data[0];
  Cutter cut(data[1]);
  const std::span<const uint8_t> payload(data + 2, size - 2);
  const int mode = options & 3;
  if (mode == 0) {
    FirstFlight(options, payload, &cut);
  } else {
    AfterHandshake(mode, options, payload, &cut);
  }
  return 0;
}
