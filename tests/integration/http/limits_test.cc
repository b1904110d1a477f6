// The HTTP listener under hostile or broken clients: every limit answers its
// status and closes, timeouts end slow clients without hurting others, a
// client that never reads is cut off with the server's memory bounded, and
// the connection cap answers 503.
#include <fcntl.h>

#include <atomic>

#include "integration/http/http_test_util.h"

namespace postbox::sync::http::testing {
namespace {

// Sends `request`, expects `status` with Connection: close, then the close.
void ExpectRefusal(uint16_t port, const std::string& request, int status) {
  RawClient c(port);
  ASSERT_TRUE(c.connected());
  c.Send(request);  // may fail part-way once the server has closed: fine
  auto r = c.Read();
  ASSERT_TRUE(r) << "no response to a request expecting " << status;
  EXPECT_EQ(r->status, status);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("content-length"), std::to_string(r->body.size()));
  EXPECT_TRUE(c.ClosedWithin(3000ms));
}

TEST_F(HttpServerTest, TooLargeHeadGets431) {
  Start(Echo);
  ExpectRefusal(port(), Get("/", "X-Big: " + std::string(9000, 'a') + "\r\n"), 431);
  // A request line alone that long, too.
  ExpectRefusal(port(), Get("/" + std::string(9000, 'p')), 431);
  EXPECT_EQ(server_->stats().http_limit_refusals, 2u);
}

TEST_F(HttpServerTest, TooManyHeadersGets431) {
  Start(Echo);
  std::string many;
  for (int i = 0; i < 65; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  ExpectRefusal(port(), "GET / HTTP/1.1\r\n" + many + "\r\n", 431);
  // 64 (Host plus 63) is still fine.
  std::string ok = "Host: t\r\n";
  for (int i = 0; i < 63; ++i) ok += "X-" + std::to_string(i) + ": v\r\n";
  RawClient c(port());
  ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\n" + ok + "\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, TooLargeBodyGets413ByContentLengthAndByChunks) {
  std::atomic<int> calls{0};
  Start([&](HttpRequest r, HttpRespond respond) {
    ++calls;
    Echo(std::move(r), std::move(respond));
  });
  // Refused from the Content-Length alone: no body is sent at all.
  ExpectRefusal(port(), "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 8193\r\n\r\n", 413);
  // With the body sent anyway, the response still arrives (lingering close).
  ExpectRefusal(
      port(),
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\n\r\n" + std::string(20000, 'b'), 413);
  std::string chunks = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 9; ++i) chunks += "400\r\n" + std::string(1024, 'c') + "\r\n";
  ExpectRefusal(port(), chunks + "0\r\n\r\n", 413);
  // One announced chunk over the limit is refused before its bytes.
  ExpectRefusal(port(),
                "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFF\r\n", 413);
  EXPECT_EQ(calls.load(), 0);
  // Exactly the limit passes.
  RawClient c(port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 8192\r\n\r\n" +
                     std::string(8192, 'x')));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, MalformedRequestsGet400AndOtherVersions505) {
  Start(Echo);
  ExpectRefusal(port(), "GARBAGE\r\n\r\n", 400);
  ExpectRefusal(port(), "GET / HTTP/1.1\r\nBad Header\r\n\r\n", 400);
  ExpectRefusal(port(), "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400);
  // Request smuggling shapes: both framings at once, or an unknown coding.
  ExpectRefusal(port(),
                "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n",
                400);
  ExpectRefusal(port(), "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400);
  ExpectRefusal(port(), "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505);
  ExpectRefusal(port(), "GET / HTTP/3.0\r\n\r\n", 505);
  ExpectRefusal(port(), "POST / HTTP/1.1\r\nExpect: something-else\r\n\r\n", 417);
  // The error body never quotes the request.
  RawClient c(port());
  ASSERT_TRUE(c.Send("G<script>ET / HTTP/1.1\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body.find("script"), std::string::npos);
}

TEST_F(HttpServerTest, SlowlorisGets408AndOthersKeepTheirService) {
  options_.http_header_timeout = 400ms;
  Start(Echo);
  RawClient slow(port());
  const std::string req = Get("/slow", "X-Pad: " + std::string(100, 'p') + "\r\n");
  std::atomic<bool> slow_closed{false};
  std::thread trickler([&] {
    // A byte every 20 ms: the head would take 3 s.
    for (char ch : req) {
      if (!slow.Send(std::string(1, ch))) break;
      std::this_thread::sleep_for(20ms);
      if (slow_closed) break;
    }
  });
  // Meanwhile another connection is served at once, again and again.
  RawClient other(port());
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(other.Send(Get("/fast")));
    auto r = other.Read(1000ms);
    ASSERT_TRUE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 200ms);
    std::this_thread::sleep_for(50ms);
  }
  auto r = slow.Read(3000ms);
  slow_closed = true;
  trickler.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(slow.ClosedWithin(2000ms));
  EXPECT_GE(server_->stats().http_timeouts, 1u);
}

TEST_F(HttpServerTest, SlowBodyGets408) {
  options_.http_body_timeout = 300ms;
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(c.Send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
  auto r = c.Read(3000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.ClosedWithin(2000ms));
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionsCloseSilently) {
  options_.http_idle_timeout = 300ms;
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/")));
  ASSERT_TRUE(c.Read());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.ClosedWithin(3000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_TRUE(c.buffered().empty());  // no response for an idle close
  EXPECT_TRUE(WaitStats([](const ServerStats& s) { return s.http_connections == 0; }));
  EXPECT_EQ(server_->stats().http_timeouts, 0u);
}

TEST_F(HttpServerTest, AClientThatNeverReadsIsCutOffWithMemoryBounded) {
  options_.http_idle_timeout = 1000ms;
  const std::string big(64 * 1024, 'z');
  // By value: the server (stopped in TearDown) outlives this body's locals.
  Start([big](HttpRequest, HttpRespond respond) { respond(HttpResponse::Text(200, big)); });
  RawClient c(port());
  int rcvbuf = 4096;
  setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  fcntl(c.fd(), F_SETFL, O_NONBLOCK);
  // Thousands of pipelined requests (64 MiB of responses), never reading.
  const std::string req = Get("/big");
  std::string all;
  for (int i = 0; i < 1000; ++i) all += req;
  size_t sent = 0;
  uint64_t peak = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (sent < all.size()) {
      const ssize_t n = ::send(c.fd(), all.data() + sent, all.size() - sent, MSG_NOSIGNAL);
      if (n > 0) sent += static_cast<size_t>(n);
    }
    const ServerStats s = server_->stats();
    peak = std::max(peak, s.buffered_bytes);
    if (s.http_timeouts >= 1 && s.http_connections == 0) break;
    std::this_thread::sleep_for(5ms);
  }
  const ServerStats s = server_->stats();
  EXPECT_EQ(s.http_timeouts, 1u);
  EXPECT_EQ(s.http_connections, 0u);
  // At most the output bound, one response and a read's worth of requests.
  EXPECT_LE(peak, options_.http_max_output_bytes + big.size() + 64 * 1024 + 4096);
  EXPECT_LT(s.http_requests, 200u);  // the rest were never taken in
  EXPECT_EQ(s.buffered_bytes, 0u);
}

TEST_F(HttpServerTest, ConnectionsPastTheCapGet503) {
  options_.http_max_connections = 2;
  Start(Echo);
  RawClient a(port()), b(port());
  ASSERT_TRUE(a.Send(Get("/")));
  ASSERT_TRUE(a.Read());
  ASSERT_TRUE(b.Send(Get("/")));
  ASSERT_TRUE(b.Read());
  RawClient c(port());
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.ClosedWithin(3000ms));
  EXPECT_EQ(server_->stats().http_limit_refusals, 1u);
  // A slot freed is a slot again.
  a.Close();
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.http_connections == 1; }));
  RawClient d(port());
  ASSERT_TRUE(d.Send(Get("/")));
  r = d.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, OptionsAreValidated) {
  options_.http_max_header_bytes = 100;
  auto s = StartServer(db_.get(), options_, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().ToString().find("http_max_header_bytes"), std::string::npos);
  options_.http_max_header_bytes = 8192;
  options_.http_port = 70000;
  s = StartServer(db_.get(), options_, nullptr);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().ToString().find("http_port"), std::string::npos);
}

TEST_F(HttpServerTest, NoListenerWhenHttpPortIsMinusOne) {
  options_.http_port = -1;
  auto s = StartServer(db_.get(), options_, nullptr);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->http_port(), 0);
  EXPECT_NE((*s)->port(), 0);
}

}  // namespace
}  // namespace postbox::sync::http::testing
