// Issue 11, compression negotiated in Hello (wire/PROTOCOL.md §4
// "Compression negotiation"): the server compresses only what a client
// declared, accepts only that from it, a version-1 client is served raw, and
// errors for malformed frames carry the frame's request id.
#include "tests/integration/sync/sync_test_util.h"

namespace postbox::sync::testing {
namespace {

constexpr wire::CompressionAgreement kZstdOnly{.zstd = true};
constexpr wire::CompressionAgreement kBoth{.zstd = true, .dictionary = 1};

class NegotiationTest : public SyncTest {
 protected:
  // `n` entries of compressible, JSON-like values in `a`'s mailbox: eight make
  // a poll reply of about 600 B (compressed with the dictionary), forty one
  // of several KiB (compressed with plain zstd too).
  void AddEntries(const MailboxCredentials& a, int n) {
    WriteBatch batch;
    for (int i = 0; i < n; ++i) {
      batch.PutEntry(a.mkey, "settings/" + std::to_string(i),
                     "{\"theme\":\"dark\",\"lang\":\"en\",\"i\":" + std::to_string(i) + "}", 0);
    }
    ASSERT_TRUE(server_->Write(&batch).ok());
  }

  // Says `hello` on `c` and returns the reply (fails the test otherwise).
  wire::HelloReply SayHello(RawConn& c, const wire::Hello& hello) {
    EXPECT_TRUE(c.Send(1, hello));
    auto m = c.Read();
    EXPECT_TRUE(m && std::holds_alternative<wire::HelloReply>(*m));
    EXPECT_EQ(c.last_flags(), 0) << "HelloReply is always raw";
    return m && std::holds_alternative<wire::HelloReply>(*m) ? std::get<wire::HelloReply>(*m)
                                                             : wire::HelloReply{};
  }

  // Polls everything and returns the reply's header flags (0xFF on failure).
  uint8_t PollFlags(RawConn& c, size_t expected_entries) {
    EXPECT_TRUE(c.Send(5, wire::Poll{0, 0}));
    uint64_t rid = 0;
    auto m = c.Read(&rid);
    EXPECT_TRUE(m && std::holds_alternative<wire::InfoPacket>(*m));
    if (!m || !std::holds_alternative<wire::InfoPacket>(*m)) return 0xFF;
    EXPECT_EQ(rid, 5u);
    EXPECT_EQ(std::get<wire::InfoPacket>(*m).entries.size(), expected_entries);
    return c.last_flags();
  }

  // The frames until the server closes `c`, with their request ids.
  static std::vector<std::pair<uint64_t, wire::AnyMessage>> UntilClosed(RawConn& c) {
    std::vector<std::pair<uint64_t, wire::AnyMessage>> frames;
    uint64_t rid = 0;
    while (auto m = c.Read(&rid)) frames.emplace_back(rid, std::move(*m));
    return frames;
  }

  // Expects exactly an Error{400} with request id `rid` before the close.
  static void ExpectMalformedAndClosed(RawConn& c, uint64_t rid) {
    const auto frames = UntilClosed(c);
    ASSERT_EQ(frames.size(), 1u) << "one Error, then the close";
    const auto* e = std::get_if<wire::ErrorReply>(&frames[0].second);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->code, 400) << e->message;
    EXPECT_EQ(frames[0].first, rid) << e->message;
    EXPECT_TRUE(c.WaitClosed());
  }

  // An EntryPut large enough that every compression applies to it.
  // Its value lives as long as the process (EntryPut holds string_views).
  static wire::EntryPut BigPut() {
    static const std::string value(4000, 'v');
    return wire::EntryPut{"k", value, 0};
  }
};

TEST_F(NegotiationTest, AClientThatDeclaredNothingGetsRawReplies) {
  const auto a = NewMailbox();
  AddEntries(a, 40);
  RawConn c(server_->port());
  const wire::HelloReply r = SayHello(c, HelloFor(a));
  EXPECT_EQ(r.protocol_version, wire::kProtocolVersion);  // the server's
  EXPECT_FALSE(r.zstd);
  EXPECT_EQ(r.zstd_dictionary, 0u);
  EXPECT_EQ(PollFlags(c, 40), 0);
  ASSERT_TRUE(c.Send(6, wire::EntryList{"settings/", {}, 0}));
  auto list = c.Read();
  ASSERT_TRUE(list && std::holds_alternative<wire::EntryListReply>(*list));
  EXPECT_EQ(c.last_flags(), 0);
}

TEST_F(NegotiationTest, AcceptZstdAloneNeverGetsTheDictionary) {
  const auto a = NewMailbox();
  AddEntries(a, 40);
  RawConn c(server_->port());
  wire::Hello h = HelloFor(a);
  h.accept_zstd = true;
  const wire::HelloReply r = SayHello(c, h);
  EXPECT_TRUE(r.zstd);
  EXPECT_EQ(r.zstd_dictionary, 0u);
  EXPECT_EQ(PollFlags(c, 40), wire::kFlagZstd);
}

TEST_F(NegotiationTest, DictionaryOneIsAgreedAndCompressedRepliesDecode) {
  const auto a = NewMailbox();
  AddEntries(a, 8);
  RawConn c(server_->port());
  wire::Hello h = HelloFor(a);
  h.accept_zstd = true;
  h.zstd_dictionaries = {1};
  const wire::HelloReply r = SayHello(c, h);
  EXPECT_TRUE(r.zstd);
  EXPECT_EQ(r.zstd_dictionary, 1u);
  // Eight small entries: the reply the issue found unreadable without the
  // dictionary, now sent with it because the client has it.
  EXPECT_EQ(PollFlags(c, 8), wire::kFlagZstd | wire::kFlagDictionary);
}

TEST_F(NegotiationTest, TheServerPicksTheHighestDictionaryItHas) {
  const auto a = NewMailbox();
  for (const auto& [offered, agreed] :
       std::vector<std::pair<std::vector<uint32_t>, uint32_t>>{{{9, 1}, 1}, {{9}, 0}, {{}, 0}}) {
    RawConn c(server_->port());
    wire::Hello h = HelloFor(a);
    h.zstd_dictionaries = offered;
    const wire::HelloReply r = SayHello(c, h);
    EXPECT_EQ(r.zstd_dictionary, agreed);
    EXPECT_FALSE(r.zstd);
  }
}

TEST_F(NegotiationTest, DeclaredCompressionIsAcceptedFromTheClient) {
  const auto a = NewMailbox();
  RawConn c(server_->port());
  wire::Hello h = HelloFor(a);
  h.accept_zstd = true;
  h.zstd_dictionaries = {1};
  SayHello(c, h);
  for (const auto& [send, rid] : {std::pair{kZstdOnly, 7}, std::pair{kBoth, 8}}) {
    c.set_send_compression(send);
    ASSERT_TRUE(c.Send(rid, BigPut()));
    uint64_t got = 0;
    auto m = c.Read(&got);
    ASSERT_TRUE(m && std::holds_alternative<wire::Ok>(*m));
    EXPECT_EQ(got, static_cast<uint64_t>(rid));
  }
}

TEST_F(NegotiationTest, AnUndeclaredCompressedFrameIsMalformed) {
  const auto a = NewMailbox();
  struct Case {
    const char* what;
    bool accept_zstd;
    std::vector<uint32_t> dictionaries;
    wire::CompressionAgreement send;
  };
  uint64_t rid = 42;
  for (const Case& k :
       {Case{"declared nothing, sends flags 3", false, {}, kBoth},
        Case{"declared plain zstd only, sends flags 3", true, {}, kBoth},
        Case{"declared the dictionary only, sends flags 1", false, {1}, kZstdOnly}}) {
    SCOPED_TRACE(k.what);
    RawConn c(server_->port());
    wire::Hello h = HelloFor(a);
    h.accept_zstd = k.accept_zstd;
    h.zstd_dictionaries = k.dictionaries;
    SayHello(c, h);
    c.set_send_compression(k.send);
    ASSERT_TRUE(c.Send(++rid, BigPut()));
    ExpectMalformedAndClosed(c, rid);
  }
  {
    // A compressed Hello: nothing is agreed before Hello.
    RawConn c(server_->port());
    wire::Hello h = HelloFor(a);
    h.accept_zstd = true;
    h.zstd_dictionaries = {1};
    const std::string app(600, '1');  // big enough to compress
    h.app_version = app;
    std::vector<uint8_t> frame;
    wire::Encoder enc({.peer = kBoth});
    ASSERT_TRUE(enc.Encode(45, h, &frame, wire::Compression::kAlways).ok());
    ASSERT_EQ(frame[6], wire::kFlagZstd | wire::kFlagDictionary);
    ASSERT_TRUE(c.SendBytes(frame));
    ExpectMalformedAndClosed(c, 45);
  }
  auto e = db_->GetEntry(a.mkey, "k");
  EXPECT_FALSE(e.ok()) << "a refused frame must not be applied";
}

TEST_F(NegotiationTest, AVersionOneHelloIsServedRawBothWays) {
  const auto a = NewMailbox();
  AddEntries(a, 40);
  RawConn c(server_->port());
  wire::Hello h = HelloFor(a);
  h.protocol_version = 1;
  // A version-1 client sends none of these; if one does, they are ignored.
  h.accept_zstd = true;
  h.zstd_dictionaries = {1};
  const wire::HelloReply r = SayHello(c, h);
  EXPECT_EQ(r.verdict, wire::Verdict::kCurrent);
  EXPECT_FALSE(r.zstd);
  EXPECT_EQ(r.zstd_dictionary, 0u);
  EXPECT_EQ(PollFlags(c, 40), 0);
  c.set_send_compression(kBoth);
  ASSERT_TRUE(c.Send(50, BigPut()));
  ExpectMalformedAndClosed(c, 50);
}

TEST_F(NegotiationTest, AMalformedPayloadsErrorCarriesItsRequestId) {
  const auto a = NewMailbox();
  RawConn c(server_->port());
  SayHello(c, HelloFor(a));
  // A Poll whose payload fails verification (its root offset points outside).
  std::vector<uint8_t> bytes;
  const std::vector<uint8_t> garbage(8, 0xFF);
  wire::AppendRawFrame(wire::MessageType::kPoll, 0xABCDEF, 0, garbage, &bytes);
  ASSERT_TRUE(c.SendBytes(bytes));
  ExpectMalformedAndClosed(c, 0xABCDEF);
}

// The library client negotiates by default, and works with every choice.
TEST_F(NegotiationTest, TheClientWorksWithEveryDeclaration) {
  const auto a = NewMailbox();
  AddEntries(a, 40);
  struct Case {
    uint32_t version;
    bool zstd;
    std::vector<uint32_t> dictionaries;
  };
  for (const Case& k : {Case{2, true, {1}}, Case{2, true, {}}, Case{2, false, {}},
                        Case{2, false, {1}}, Case{1, true, {1}}}) {
    SCOPED_TRACE(std::to_string(k.version) + "/" + std::to_string(k.zstd) + "/" +
                 std::to_string(k.dictionaries.size()));
    ClientOptions o = OptionsFor(a);
    o.protocol_version = k.version;
    o.accept_zstd = k.zstd;
    o.zstd_dictionaries = k.dictionaries;
    auto client = Connected(o);
    ASSERT_NE(client, nullptr);
    auto packet = client->Poll(0);
    ASSERT_TRUE(packet.ok()) << packet.status().ToString();
    EXPECT_GE(packet->entries.size(), 40u);  // and the earlier cases' "big"
    // A compressible upload of the client's own frames within the agreement.
    ASSERT_TRUE(client->PutEntry("big", std::string(4000, 'b')).ok());
  }
  ClientOptions bad = OptionsFor(a);
  bad.zstd_dictionaries = {7};
  EXPECT_FALSE(Client::Create(bad).ok()) << "a dictionary this build does not have";
}

}  // namespace
}  // namespace postbox::sync::testing
