// Every kind of event, with its optional fields set and unset, formats into a
// line that docs/operations.md documents field by field (event_schema.h).
#include <gtest/gtest.h>

#include "postbox/sync/events.h"
#include "tests/integration/ops/event_schema.h"

namespace postbox::sync {
namespace {

using ops_testing::CheckLine;
using ops_testing::LoadEventSchema;

std::vector<Event> OneOfEach() {
  const auto now = std::chrono::system_clock::now();
  const MailboxKey a = MailboxKey::Random(), b = MailboxKey::Random();
  const MessageId m = MessageId::Random(), n = MessageId::Random();
  SessionEndEvent bare;  // never said Hello
  bare.session = 2;
  bare.remote = "127.0.0.1:1";
  bare.start = now;
  bare.reason = CloseReason::kTimeout;
  bare.timeout = TimeoutKind::kHello;
  bare.error_code = 401;
  SessionEndEvent full = bare;
  full.mkey = a;
  full.platform = Platform::kAndroid;
  full.app_version = std::string("2.1\xff\n\"quoted\"");  // not UTF-8, a line break, quotes
  full.verdict = Verdict::kUpdateOptional;
  full.reason = CloseReason::kClientEof;
  full.timeout.reset();
  full.error_code.reset();
  TransferFinishedEvent up{.direction = TransferDirection::kUpload,
                           .id = m,
                           .mkey = a,
                           .session = std::nullopt,
                           .offset = 0,
                           .bytes = 10,
                           .duration = std::chrono::milliseconds(3),
                           .error_code = std::nullopt};
  TransferFinishedEvent down = up;
  down.direction = TransferDirection::kDownload;
  down.session = 7;
  down.error_code = 410;
  KickSentEvent kick{.mkey = b,
                     .platform = Platform::kIos,
                     .attempt = 3,
                     .outcome = KickOutcome::kRetry,
                     .error = "Unavailable: gateway down"};
  KickSentEvent delivered = kick;
  delivered.outcome = KickOutcome::kDelivered;
  delivered.error.clear();
  return {
      Event{now, SessionStartEvent{.session = 1,
                                   .mkey = a,
                                   .platform = Platform::kIos,
                                   .app_version = "2.4.1",
                                   .schema_version = 3,
                                   .protocol_version = 2,
                                   .remote = "[::1]:5",
                                   .tls = true,
                                   .verdict = Verdict::kCurrent}},
      Event{now, bare},
      Event{now, full},
      Event{now, MessageCommittedEvent{a, b, m, "topic", 5, 10, true}},
      Event{now, MessageSupersededEvent{a, b, n, "", 4, m}},
      Event{now, StatusChangedEvent{m, MessageStatus::kViewed, b}},
      Event{now, up},
      Event{now, down},
      Event{now, kick},
      Event{now, delivered},
  };
}

TEST(EventJsonTest, EveryKindMatchesTheDocumentedSchema) {
  const auto schema = LoadEventSchema(POSTBOX_SOURCE_DIR);
  // The eight line types of docs/operations.md, each with its fields.
  ASSERT_EQ(schema.fields.size(), 8u);
  ASSERT_EQ(schema.reasons.size(), 11u);
  std::set<std::string> seen;
  for (const Event& e : OneOfEach()) {
    const std::string line = EventJson(e);
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    const auto problems = CheckLine(schema, line);
    EXPECT_TRUE(problems.empty()) << line << "\n" << ::testing::PrintToString(problems);
    seen.insert(nlohmann::json::parse(line)["event"].get<std::string>());
  }
  EXPECT_EQ(seen.size(), 7u);  // all but events_dropped, which the log writes itself
}

TEST(EventJsonTest, EveryCloseReasonIsDocumented) {
  const auto schema = LoadEventSchema(POSTBOX_SOURCE_DIR);
  for (int r = 0; r <= static_cast<int>(CloseReason::kOverCapacity); ++r) {
    const std::string name(CloseReasonName(static_cast<CloseReason>(r)));
    EXPECT_TRUE(schema.reasons.contains(name)) << name;
  }
}

TEST(EventJsonTest, ValuesComeThroughExactly) {
  const auto events = OneOfEach();
  const auto end = nlohmann::json::parse(EventJson(events[2]));
  // The stray byte is escaped as \u00ff (valid JSON), the rest kept.
  EXPECT_EQ(end["app_version"].get<std::string>(), "2.1\u00ff\n\"quoted\"");
  EXPECT_EQ(end["reason"], "client_eof");
  EXPECT_TRUE(end["timeout"].is_null());
  const auto bare = nlohmann::json::parse(EventJson(events[1]));
  EXPECT_EQ(bare["timeout"], "hello");
  EXPECT_EQ(bare["error_code"], 401);
  EXPECT_TRUE(bare["mkey"].is_null());
  const auto kick = nlohmann::json::parse(EventJson(events[8]));
  EXPECT_EQ(kick["outcome"], "retry");
  EXPECT_EQ(kick["attempt"], 3);
  EXPECT_EQ(kick["error"], "Unavailable: gateway down");
}

}  // namespace
}  // namespace postbox::sync
