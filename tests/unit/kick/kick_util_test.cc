// The pure parts of kicks (engine/src/sync/kick/kick_util.h): payloads, dedup
// ids, backoff bounds, Retry-After and what a webhook's status means.
#include "sync/kick/kick_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace postbox::sync::kick {
namespace {

using std::chrono::milliseconds;

MailboxKey Key(uint8_t b) {
  MailboxKey k;
  k.bytes.fill(b);
  return k;
}

MessageInfo Message(uint8_t from, uint8_t to, uint8_t id, uint64_t seq,
                    MessageStatus status = MessageStatus::kUploaded) {
  MessageInfo m;
  m.from = Key(from);
  m.to = Key(to);
  m.id.bytes.fill(id);
  m.seq = seq;
  m.status = status;
  return m;
}

TEST(KickPayloadTest, IncomingMessageIsMessageReceived) {
  InfoPacket p;
  p.incoming = {Message(1, 2, 7, 3)};
  EXPECT_EQ(DerivePayload(p, 1), "{\"type\":\"message_received\",\"from\":\"" + Key(1).ToHex() +
                                     "\",\"id\":\"" + Message(1, 2, 7, 3).id.ToHex() +
                                     "\",\"count\":1}");
}

TEST(KickPayloadTest, StatusRiseOfASentMessageIsStatusChanged) {
  InfoPacket p;
  p.outgoing = {Message(2, 3, 9, 5, MessageStatus::kViewed)};
  EXPECT_EQ(DerivePayload(p, 2), "{\"type\":\"status_changed\",\"to\":\"" + Key(3).ToHex() +
                                     "\",\"id\":\"" + Message(2, 3, 9, 5).id.ToHex() +
                                     "\",\"status\":\"viewed\",\"count\":2}");
}

TEST(KickPayloadTest, NewestRelevantItemWins) {
  InfoPacket p;
  p.incoming = {Message(1, 2, 7, 3), Message(4, 2, 8, 6)};
  p.outgoing = {Message(2, 3, 9, 5, MessageStatus::kDownloaded)};
  p.entries = {EntryInfo{"k", "v", 1, 9}};  // newer, but not relevant
  auto payload = DerivePayload(p, 4);
  ASSERT_TRUE(payload);
  EXPECT_NE(payload->find("message_received"), std::string::npos);
  EXPECT_NE(payload->find(Message(4, 2, 8, 6).id.ToHex()), std::string::npos);
  p.outgoing = {Message(2, 3, 9, 8, MessageStatus::kDownloaded)};  // now the newest
  payload = DerivePayload(p, 4);
  ASSERT_TRUE(payload);
  EXPECT_NE(payload->find("\"status\":\"downloaded\""), std::string::npos);
}

TEST(KickPayloadTest, EntriesAndTombstonesAreChanged) {
  InfoPacket p;
  p.entries = {EntryInfo{"k", "v", 1, 1}};
  EXPECT_EQ(DerivePayload(p, 3), "{\"type\":\"changed\",\"count\":3}");
  InfoPacket t;
  t.tombstones = {Tombstone{TombstoneKind::kMessage, std::string(16, 'x'), 0, 2}};
  EXPECT_EQ(DerivePayload(t, 1), "{\"type\":\"changed\",\"count\":1}");
}

TEST(KickPayloadTest, OwnPostsOnlyNeedNoKick) {
  InfoPacket p;
  p.outgoing = {Message(2, 3, 9, 5)};  // uploaded: the mailbox posted it itself
  EXPECT_FALSE(DerivePayload(p, 1));
  EXPECT_FALSE(DerivePayload(InfoPacket{}, 0));
}

TEST(KickDedupTest, StableForOneKickAndDistinctForTheNext) {
  const MailboxKey m = Key(0xab);
  EXPECT_EQ(DedupId(m, 41), DedupId(m, 41));
  EXPECT_EQ(DedupId(m, 41), m.ToHex() + "-0000000000000029");
  EXPECT_NE(DedupId(m, 41), DedupId(m, 42));
  EXPECT_NE(DedupId(m, 41), DedupId(Key(0xac), 41));
}

TEST(KickBackoffTest, StaysWithinTheJitteredExponentialBounds) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const milliseconds initial(100), max(5000);
  for (uint32_t attempt = 1; attempt <= 40; ++attempt) {
    const double base = std::min(5000.0, 100.0 * std::pow(2.0, attempt - 1));
    for (int i = 0; i < 200; ++i) {
      const auto d = Backoff(attempt, initial, max, u(rng), milliseconds(0));
      EXPECT_GE(d.count(), static_cast<int64_t>(base / 2)) << attempt;
      EXPECT_LE(d.count(), static_cast<int64_t>(base)) << attempt;
    }
  }
  EXPECT_EQ(Backoff(1, initial, max, 0.0, milliseconds(0)).count(), 50);
  EXPECT_EQ(Backoff(3, initial, max, 0.999999, milliseconds(0)).count(), 399);
}

TEST(KickBackoffTest, NeverSoonerThanRetryAfter) {
  EXPECT_EQ(Backoff(1, milliseconds(100), milliseconds(5000), 0.5, milliseconds(30000)).count(),
            30000);
}

TEST(RetryAfterTest, DeltaSeconds) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_EQ(ParseRetryAfter("120", now), milliseconds(120000));
  EXPECT_EQ(ParseRetryAfter(" 0 ", now), milliseconds(0));
  EXPECT_EQ(ParseRetryAfter("99999999999", now), milliseconds(24 * 3600 * 1000));  // capped
}

TEST(RetryAfterTest, HttpDatesInAllThreeForms) {
  // 1994-11-06 08:49:37 UTC = 784111777.
  const auto base = std::chrono::system_clock::from_time_t(784111777);
  const auto now = base - std::chrono::seconds(30);
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(ParseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now), milliseconds(30000));
  EXPECT_EQ(ParseRetryAfter("Sun Nov  6 08:49:37 1994", now), milliseconds(30000));
  // A date in the past means now.
  EXPECT_EQ(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", base + std::chrono::hours(1)),
            milliseconds(0));
}

TEST(RetryAfterTest, GarbageIsNone) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_FALSE(ParseRetryAfter("", now));
  EXPECT_FALSE(ParseRetryAfter("soon", now));
  EXPECT_FALSE(ParseRetryAfter("-5", now));
  EXPECT_FALSE(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT trailing", now));
}

TEST(WebhookResultTest, StatusesMapToOutcomes) {
  const auto now = std::chrono::system_clock::now();
  EXPECT_TRUE(WebhookResult(200, "", now).status.ok());
  EXPECT_TRUE(WebhookResult(204, "", now).status.ok());
  auto r = WebhookResult(503, "7", now);
  EXPECT_TRUE(r.status.Is(Code::kUnavailable));
  EXPECT_EQ(r.retry_after, milliseconds(7000));
  r = WebhookResult(429, "2", now);
  EXPECT_TRUE(r.status.Is(Code::kBackOff));
  EXPECT_EQ(r.retry_after, milliseconds(2000));
  EXPECT_TRUE(Transient(WebhookResult(500, "", now).status));
  EXPECT_TRUE(Transient(WebhookResult(502, "9", now).status));
  EXPECT_EQ(WebhookResult(502, "9", now).retry_after, milliseconds(0));  // only 429/503
  EXPECT_FALSE(Transient(WebhookResult(400, "", now).status));
  EXPECT_TRUE(WebhookResult(404, "", now).status.Is(Code::kNotFound));
  EXPECT_TRUE(WebhookResult(410, "", now).status.Is(Code::kGone));
  EXPECT_FALSE(Transient(WebhookResult(301, "", now).status));
}

TEST(KickJsonTest, EscapesTokensIntoValidJson) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\u000a\\u0001\"");
  EXPECT_EQ(JsonString("h\xc3\xa9"), "\"h\xc3\xa9\"");  // UTF-8 kept
  EXPECT_EQ(JsonString("\xff"), "\"\\u00ff\"");         // a stray byte escaped
  Kick k{.mkey = Key(1),
         .registration = {Platform::kAndroid, "tok\"en"},
         .dedup_id = "d",
         .payload_json = "{\"type\":\"changed\",\"count\":1}",
         .attempt = 2};
  EXPECT_EQ(KickJson(k), "{\"mkey\":\"" + Key(1).ToHex() +
                             "\",\"platform\":\"android\",\"token\":\"tok\\\"en\",\"dedup_id\":"
                             "\"d\",\"attempt\":2,\"payload\":{\"type\":\"changed\",\"count\":1}}");
}

}  // namespace
}  // namespace postbox::sync::kick
