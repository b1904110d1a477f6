// The TLS channel (engine/src/sync/tls/channel.h) without sockets, a client
// and a server Channel wired together in memory (tls_pair.h): handshakes, data
// both ways, in any cut of the stream, close_notify, and hostile bytes before,
// during and after the handshake — each an error with a message, never a
// crash, never plaintext from a record that did not authenticate.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/tls/tls_pair.h"

namespace postbox::sync::tls::testing {
namespace {

// ---- handshakes and data ----

TEST(TlsChannelTest, HandshakeThenDataBothWays) {
  Pair p = Established();
  EXPECT_EQ(p.client->version(), "TLSv1.3");
  EXPECT_EQ(p.server->version(), "TLSv1.3");
  EXPECT_EQ(p.client->alpn(), "postbox");
  EXPECT_EQ(p.server->alpn(), "postbox");
  EXPECT_NE(p.client->peer_subject().find("localhost"), std::string::npos)
      << p.client->peer_subject();
  EXPECT_EQ(p.server->peer_subject(), "") << "the client sent no certificate";
  EXPECT_FALSE(p.client->peer_closed());
  EXPECT_FALSE(p.server->peer_closed());

  ASSERT_TRUE(p.client->Send(Bytes("ping from the client")).ok());
  ASSERT_TRUE(p.server->Send(Bytes("pong from the server")).ok());
  ASSERT_TRUE(p.client->Send(Bytes(", and more")).ok());
  ASSERT_TRUE(Pump(&p));
  EXPECT_TRUE(p.client_error.ok()) << p.client_error.ToString();
  EXPECT_TRUE(p.server_error.ok()) << p.server_error.ToString();
  EXPECT_EQ(p.server_plain, "ping from the client, and more");
  EXPECT_EQ(p.client_plain, "pong from the server");
}

TEST(TlsChannelTest, CiphertextIsNotThePlaintext) {
  Pair p = Established();
  const std::string secret = "a secret that must not travel in clear text";
  ASSERT_TRUE(p.client->Send(Bytes(secret)).ok());
  std::string wire;
  p.client->TakeOutput(&wire);
  EXPECT_GT(wire.size(), secret.size());
  EXPECT_EQ(wire.find("secret"), std::string::npos);
  EXPECT_EQ(p.client->pending(), 0u) << "TakeOutput forgets what it returned";
  ASSERT_TRUE(p.server->Receive(Bytes(wire), &p.server_plain).ok());
  EXPECT_EQ(p.server_plain, secret);
}

TEST(TlsChannelTest, OneMebibyteEachWay) {
  Pair p = Established();
  std::string big(1 << 20, '\0');
  std::mt19937_64 rng(42);
  for (auto& c : big) c = static_cast<char>(rng());
  ASSERT_TRUE(p.client->Send(Bytes(big)).ok());
  ASSERT_TRUE(Pump(&p));
  ASSERT_TRUE(p.server_error.ok()) << p.server_error.ToString();
  EXPECT_TRUE(p.server_plain == big) << "got " << p.server_plain.size() << " bytes";

  std::reverse(big.begin(), big.end());
  ASSERT_TRUE(p.server->Send(Bytes(big)).ok());
  ASSERT_TRUE(Pump(&p));
  ASSERT_TRUE(p.client_error.ok()) << p.client_error.ToString();
  EXPECT_TRUE(p.client_plain == big) << "got " << p.client_plain.size() << " bytes";
}

TEST(TlsChannelTest, EveryByteDeliveredOnItsOwnFromTheFirstByteOn) {
  Pair p = MakePair(ClientContext(), ServerContext());
  ASSERT_TRUE(p.client->Start().ok());
  ASSERT_TRUE(p.server->Start().ok());
  // Feeds `from`'s output to `to` one byte per Receive.
  auto trickle = [](Channel* from, Channel* to, std::string* plain) {
    std::string bytes;
    from->TakeOutput(&bytes);
    for (char c : bytes) {
      const uint8_t b = static_cast<uint8_t>(c);
      const Status s = to->Receive(std::span(&b, 1), plain);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  };
  for (int round = 0; round < 10 && (p.client->pending() > 0 || p.server->pending() > 0); ++round) {
    ASSERT_TRUE(trickle(p.client.get(), p.server.get(), &p.server_plain).ok());
    ASSERT_TRUE(trickle(p.server.get(), p.client.get(), &p.client_plain).ok());
  }
  ASSERT_TRUE(p.client->established() && p.server->established());
  const std::string msg = "delivered one byte at a time";
  ASSERT_TRUE(p.client->Send(Bytes(msg)).ok());
  ASSERT_TRUE(p.server->Send(Bytes(msg + " back")).ok());
  ASSERT_TRUE(trickle(p.client.get(), p.server.get(), &p.server_plain).ok());
  ASSERT_TRUE(trickle(p.server.get(), p.client.get(), &p.client_plain).ok());
  EXPECT_EQ(p.server_plain, msg);
  EXPECT_EQ(p.client_plain, msg + " back");
}

TEST(TlsChannelTest, ATruncatedRecordWaitsForItsRest) {
  Pair p = Established();
  ASSERT_TRUE(p.client->Send(Bytes("hello")).ok());
  std::string wire;
  p.client->TakeOutput(&wire);
  ASSERT_GT(wire.size(), 5u);
  // The header alone, then all but the last byte: no plaintext, no error.
  std::string plain;
  EXPECT_FALSE(p.server->partial());
  ASSERT_TRUE(p.server->Receive(Bytes(std::string_view(wire).substr(0, 5)), &plain).ok());
  EXPECT_EQ(plain, "");
  EXPECT_TRUE(p.server->partial()) << "a record header is part of a record";
  const Status s =
      p.server->Receive(Bytes(std::string_view(wire).substr(5, wire.size() - 6)), &plain);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(plain, "");
  EXPECT_TRUE(p.server->partial());
  // Then the last byte: the whole record.
  ASSERT_TRUE(
      p.server->Receive(Bytes(std::string_view(wire).substr(wire.size() - 1)), &plain).ok());
  EXPECT_EQ(plain, "hello");
  EXPECT_FALSE(p.server->partial());
}

TEST(TlsChannelTest, SendingNothingIsFine) {
  Pair p = Established();
  const Status s = p.client->Send({});
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(p.client->Send(Bytes("x")).ok());
  ASSERT_TRUE(Pump(&p));
  EXPECT_EQ(p.server_plain, "x");
}

TEST(TlsChannelTest, SendBeforeTheHandshakeHasCompletedFails) {
  Pair p = MakePair(ClientContext(), ServerContext());
  EXPECT_FALSE(p.client->Send(Bytes("too early")).ok()) << "before Start";
  ASSERT_TRUE(p.client->Start().ok());
  EXPECT_FALSE(p.client->established());
  EXPECT_FALSE(p.client->Send(Bytes("too early")).ok()) << "during the handshake";
  EXPECT_FALSE(p.server->Send(Bytes("too early")).ok()) << "a server before any ClientHello";
  // The failed Sends spoiled nothing: the handshake still completes.
  ASSERT_TRUE(Pump(&p));
  EXPECT_TRUE(p.client_error.ok()) << p.client_error.ToString();
  EXPECT_TRUE(p.server_error.ok()) << p.server_error.ToString();
  EXPECT_TRUE(p.client->established() && p.server->established());
  EXPECT_EQ(p.server_plain, "") << "nothing of the early sends leaked";
}

// StageWrite, the output step every connection takes: without TLS the bytes
// move as they are; with it they wait for the handshake (whose messages go
// meanwhile) and then go encrypted.
TEST(TlsChannelTest, StageWriteMovesPlainBytesAsTheyAre) {
  std::string plain = "as it is", wire;
  ASSERT_TRUE(StageWrite(nullptr, &plain, &wire).ok());
  EXPECT_EQ(wire, "as it is");
  EXPECT_TRUE(plain.empty());
  std::vector<uint8_t> none, out;
  ASSERT_TRUE(StageWrite(nullptr, &none, &out).ok());
  EXPECT_TRUE(out.empty()) << "nothing queued, nothing to write";
}

TEST(TlsChannelTest, StageWriteHoldsDataUntilTheHandshakeThenEncrypts) {
  Pair p = MakePair(ClientContext(), ServerContext());
  ASSERT_TRUE(p.client->Start().ok());
  std::vector<uint8_t> plain = {'e', 'a', 'r', 'l', 'y'}, wire;
  ASSERT_TRUE(StageWrite(p.client.get(), &plain, &wire).ok());
  EXPECT_EQ(plain.size(), 5u) << "the data waits for the handshake";
  ASSERT_FALSE(wire.empty()) << "the ClientHello goes";
  EXPECT_EQ(wire[0], kHandshakeRecord);
  EXPECT_EQ(p.client->pending(), 0u);
  ASSERT_TRUE(p.server->Receive({wire.data(), wire.size()}, &p.server_plain).ok());
  ASSERT_TRUE(Pump(&p));
  ASSERT_TRUE(p.client->established());
  wire.clear();
  ASSERT_TRUE(StageWrite(p.client.get(), &plain, &wire).ok());
  EXPECT_TRUE(plain.empty());
  const std::string sent(wire.begin(), wire.end());
  EXPECT_EQ(sent.find("early"), std::string::npos) << "encrypted";
  ASSERT_TRUE(p.server->Receive({wire.data(), wire.size()}, &p.server_plain).ok());
  EXPECT_EQ(p.server_plain, "early");
}

TEST(TlsChannelTest, CloseNotifyReachesThePeer) {
  Pair p = Established();
  ASSERT_TRUE(p.client->Send(Bytes("last words")).ok());
  p.client->Shutdown();
  const size_t pending = p.client->pending();
  EXPECT_GT(pending, 0u) << "no close_notify queued";
  p.client->Shutdown();  // once only
  EXPECT_EQ(p.client->pending(), pending);
  EXPECT_FALSE(p.client->Send(Bytes("after close")).ok()) << "nothing can be sent after it";
  ASSERT_TRUE(Pump(&p));
  EXPECT_TRUE(p.server_error.ok()) << "close_notify is no error: " << p.server_error.ToString();
  EXPECT_EQ(p.server_plain, "last words");
  EXPECT_TRUE(p.server->peer_closed());
  EXPECT_FALSE(p.client->peer_closed());
}

// ---- hostile bytes ----

TEST(TlsChannelTest, GarbageBeforeTheHandshakeIsAnError) {
  const std::string garbage[] = {
      "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
      std::string("\x16\x03\x01\x00\x05hello", 10),  // a handshake record of no message
      std::string("\x16\x03\x01\xff\xff", 5) + std::string(70000, 'A'),  // an oversized record
      std::string(1000, '\0'),
  };
  for (const std::string& g : garbage) {
    SCOPED_TRACE(::testing::PrintToString(g.substr(0, 16)));
    auto s = Channel::Accept(ServerContext());
    ASSERT_TRUE(s.ok());
    Channel& server = **s;
    std::string plain;
    const Status st = server.Receive(Bytes(g), &plain);
    ASSERT_FALSE(st.ok()) << "garbage taken for TLS";
    EXPECT_TRUE(st.Is(Code::kUnavailable)) << st.ToString();
    EXPECT_FALSE(st.message().empty());
    EXPECT_EQ(plain, "");
    EXPECT_FALSE(server.established());
    EXPECT_LT(server.pending(), 1024u) << "at most an alert";
    // The channel is over: more bytes are refused, not processed.
    EXPECT_FALSE(server.Receive(Bytes("more"), &plain).ok());
    EXPECT_FALSE(server.Send(Bytes("x")).ok());
  }
}

TEST(TlsChannelTest, GarbageInsteadOfTheServerHelloIsAnError) {
  auto c = Channel::Connect(ClientContext(), "localhost");
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Start().ok());
  std::string hello;
  (*c)->TakeOutput(&hello);
  std::string plain;
  const Status s = (*c)->Receive(Bytes("HTTP/1.1 400 Bad Request\r\n\r\n"), &plain);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
  EXPECT_FALSE((*c)->established());
}

TEST(TlsChannelTest, GarbageInTheMiddleOfTheHandshakeIsAnError) {
  Pair p = MakePair(ClientContext(), ServerContext());
  ASSERT_TRUE(p.client->Start().ok());
  std::string hello;
  p.client->TakeOutput(&hello);
  // The ClientHello with bytes of its body flipped.
  for (size_t i = 10; i < hello.size(); i += 7) hello[i] = static_cast<char>(hello[i] ^ 0x5a);
  std::string plain;
  const Status s = p.server->Receive(Bytes(hello), &plain);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
  EXPECT_FALSE(p.server->established());
}

TEST(TlsChannelTest, ACorruptedRecordAfterTheHandshakeIsAnError) {
  // A flipped bit in the content type, the version, the additional data
  // (TLS 1.3 authenticates the header), the ciphertext and the tag; and a
  // length beyond what a record may hold. (A length one larger would only
  // make the record wait for its rest.)
  struct Corruption {
    const char* what;
    std::function<void(std::string*)> apply;
  };
  const Corruption corruptions[] = {
      {"content type", [](std::string* w) { (*w)[0] ^= 0x01; }},
      {"version major", [](std::string* w) { (*w)[1] ^= 0x01; }},
      {"version minor", [](std::string* w) { (*w)[2] ^= 0x01; }},
      {"ciphertext", [](std::string* w) { (*w)[8] ^= 0x01; }},
      {"tag", [](std::string* w) { w->back() ^= 0x01; }},
      {"length", [](std::string* w) { (*w)[3] = (*w)[4] = '\xff'; }},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(c.what);
    Pair p = Established();
    ASSERT_TRUE(p.client->Send(Bytes("a record that must authenticate")).ok());
    std::string wire;
    p.client->TakeOutput(&wire);
    c.apply(&wire);
    std::string plain;
    const Status s = p.server->Receive(Bytes(wire), &plain);
    ASSERT_FALSE(s.ok()) << "a corrupted record was taken";
    EXPECT_TRUE(s.Is(Code::kUnavailable)) << s.ToString();
    EXPECT_FALSE(s.message().empty());
    EXPECT_EQ(plain, "") << "plaintext of a record that did not authenticate";
    EXPECT_FALSE(p.server->Receive(Bytes("x"), &plain).ok()) << "the channel went on";
  }
}

TEST(TlsChannelTest, RandomBytesAfterTheHandshakeAreAnError) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    Pair p = Established();
    std::string junk(1 + rng() % 3000, '\0');
    for (auto& c : junk) c = static_cast<char>(rng());
    std::string plain;
    Status s = p.server->Receive(Bytes(junk), &plain);
    // A prefix that looks like the start of a record may wait for its rest;
    // the rest of a full-sized record then ends it.
    if (s.ok()) s = p.server->Receive(Bytes(std::string(17000 + 256, 'x')), &plain);
    EXPECT_FALSE(s.ok()) << "round " << round;
    EXPECT_EQ(plain, "");
  }
}

TEST(TlsChannelTest, AReplayedRecordIsAnError) {
  Pair p = Established();
  ASSERT_TRUE(p.client->Send(Bytes("once")).ok());
  std::string wire;
  p.client->TakeOutput(&wire);
  std::string plain;
  ASSERT_TRUE(p.server->Receive(Bytes(wire), &plain).ok());
  EXPECT_EQ(plain, "once");
  EXPECT_FALSE(p.server->Receive(Bytes(wire), &plain).ok()) << "a replayed record was taken";
  EXPECT_EQ(plain, "once");
}

// ---- any cut of the stream ----

// For any plaintext messages and any way of cutting the ciphertext stream
// into reads, the receiver gets exactly the bytes sent, in order (the model:
// their concatenation). Messages are sometimes repeated to exceed a record
// (16 KiB), so cuts fall inside, between and across records.
RC_GTEST_PROP(TlsChannelProperty, AnyCutDeliversExactlyTheBytesSent, ()) {
  static const auto client_ctx = ClientContext();
  static const auto server_ctx = ServerContext();
  RC_PRE(client_ctx != nullptr && server_ctx != nullptr);
  const auto pieces =
      *rc::gen::container<std::vector<std::string>>(rc::gen::arbitrary<std::string>());
  const auto repeats =
      *rc::gen::container<std::vector<int>>(pieces.size(), rc::gen::inRange(1, 3000));
  const auto cuts = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 40000)));
  const bool to_client = *rc::gen::arbitrary<bool>();

  Pair p = MakePair(client_ctx, server_ctx);
  RC_ASSERT(p.client && p.server);
  RC_ASSERT(p.client->Start().ok());
  RC_ASSERT(Pump(&p));
  RC_ASSERT(p.client->established() && p.server->established());
  Channel* sender = to_client ? p.server.get() : p.client.get();
  Channel* receiver = to_client ? p.client.get() : p.server.get();

  std::string model;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string message;
    for (int r = 0; r < (pieces[i].empty() ? 1 : repeats[i]) && message.size() < 100000; ++r) {
      message += pieces[i];
    }
    if (message.empty()) continue;
    RC_ASSERT(sender->Send(Bytes(message)).ok());
    model += message;
  }
  std::vector<uint8_t> stream;
  sender->TakeOutput(&stream);
  std::vector<uint8_t> got;
  size_t at = 0;
  for (size_t i = 0; at < stream.size(); ++i) {
    const size_t n = std::min(cuts[i % cuts.size()], stream.size() - at);
    const Status s = receiver->Receive(std::span(stream).subspan(at, n), &got);
    RC_ASSERT(s.ok());
    at += n;
  }
  RC_ASSERT(std::string(got.begin(), got.end()) == model);
}

}  // namespace
}  // namespace postbox::sync::tls::testing
