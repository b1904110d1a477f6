// GET /metrics (docs/operations.md "Metrics"): the Prometheus text exposition
// follows what sessions and the writer do, checks with `promtool check
// metrics` (Debian's prometheus package), and a metrics token closes it.
#include <cstdio>
#include <map>
#include <regex>

#include "integration/http/http_test_util.h"
#include "postbox/sync/client.h"

namespace postbox::sync::http::testing {
namespace {

// Every sample line "name{labels} value" → value.
std::map<std::string, double> Samples(const std::string& body) {
  std::map<std::string, double> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    const std::string line = body.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

class MetricsTest : public HttpServerTest {
 protected:
  Response Get(const std::string& extra_headers = "") {
    RawClient c(port());
    EXPECT_TRUE(c.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n"));
    auto r = c.Read();
    EXPECT_TRUE(r.has_value());
    return r.value_or(Response{});
  }
};

TEST_F(MetricsTest, FollowsSessionsCommitsAndErrors) {
  Start(std::shared_ptr<HttpHandler>());
  auto a = db_->CreateMailbox();
  auto b = db_->CreateMailbox();
  ASSERT_TRUE(a.ok() && b.ok());
  auto before = Samples(Get().body);
  EXPECT_EQ(before["postbox_sessions{platform=\"ios\"}"], 0);
  EXPECT_EQ(before["postbox_group_commits_total"], 0);

  auto ios = ConnectClient(*a, Platform::kIos);
  auto android = ConnectClient(*b, Platform::kAndroid);
  ASSERT_TRUE(ios->Poll(0).ok());
  ASSERT_TRUE(ios->PutEntry("k", "v", 1).ok());
  ASSERT_TRUE(ios->PutEntry("k2", "v", 1).ok());
  // A refused write: an entry under the reserved prefix (403).
  EXPECT_FALSE(ios->PutEntry("postbox/push/x/y", "v", 1).ok());

  const Response r = Get();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  auto m = Samples(r.body);
  EXPECT_EQ(m["postbox_sessions{platform=\"ios\"}"], 1);
  EXPECT_EQ(m["postbox_sessions{platform=\"android\"}"], 1);
  EXPECT_EQ(m["postbox_connections"], 2);
  EXPECT_EQ(m["postbox_hello_verdicts_total{verdict=\"current\"}"], 2);
  EXPECT_GE(m["postbox_group_commits_total"], 1);
  EXPECT_EQ(m["postbox_errors_sent_total{code=\"403\"}"], 1);
  EXPECT_GT(m["postbox_received_bytes_total"], 0);
  EXPECT_GT(m["postbox_sent_bytes_total"], 0);
  EXPECT_GT(m["postbox_store_map_size_bytes"], 0);
  EXPECT_EQ(m["postbox_store_mailboxes"], 2);
  // The histograms: cumulative buckets ending at +Inf = _count.
  EXPECT_EQ(m["postbox_group_commit_ops_bucket{le=\"+Inf\"}"], m["postbox_group_commit_ops_count"]);
  EXPECT_GE(m["postbox_group_commit_ops_count"], 1);
  EXPECT_GE(m["postbox_group_commit_ops_sum"], 2);  // the two puts
  EXPECT_LE(m["postbox_group_commit_seconds_bucket{le=\"0.0001\"}"],
            m["postbox_group_commit_seconds_bucket{le=\"2.5\"}"]);

  ios.reset();  // its session ends
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.sessions == 1; }));
  m = Samples(Get().body);
  EXPECT_EQ(m["postbox_sessions{platform=\"ios\"}"], 0);
  EXPECT_EQ(m["postbox_sessions{platform=\"android\"}"], 1);

  // The exposition is valid by Prometheus's own checker.
  const std::string file = (dir_.path() / "metrics.txt").string();
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  const std::string body = Get().body;
  std::fwrite(body.data(), 1, body.size(), f);
  std::fclose(f);
  const std::string cmd = "promtool check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << "promtool (scripts/deps installs Debian's prometheus): " << out;
}

TEST_F(MetricsTest, ATokenClosesThemAndOnlyGetAndHeadAreAllowed) {
  options_.metrics_token = "s3cret-token";
  Start(std::shared_ptr<HttpHandler>());
  Response r = Get();
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.Header("www-authenticate"), "Bearer realm=\"postbox metrics\"");
  EXPECT_EQ(Get("Authorization: Bearer wrong-token!\r\n").status, 401);
  EXPECT_EQ(Get("Authorization: Basic czNjcmV0LXRva2Vu\r\n").status, 401);
  r = Get("Authorization: bearer s3cret-token\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("# TYPE postbox_group_commits_total counter"), std::string::npos);

  RawClient c(port());
  ASSERT_TRUE(c.Send("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  auto post = c.Read();
  ASSERT_TRUE(post.has_value());
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->Header("allow"), "GET, HEAD");
}

}  // namespace
}  // namespace postbox::sync::http::testing
