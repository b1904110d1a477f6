// The HTTP listener's normal service: requests and responses, keep-alive,
// pipelining order, responses from other threads (also too late), chunked
// bodies, 100-continue, /healthz and the 404 default, graceful stop.
#include <atomic>
#include <mutex>

#include "integration/http/http_test_util.h"

namespace postbox::sync::http::testing {
namespace {

TEST_F(HttpServerTest, AnswersGetAndPostWithDateAndContentLength) {
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send(Get("/a/b?x=1&y=%41", "X-Test: hello\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->reason, "OK");
  EXPECT_EQ(r->body, "GET /a/b?x=1&y=%41 ");  // nothing percent-decoded
  EXPECT_EQ(r->Header("x-echo"), "hello");
  EXPECT_EQ(r->Header("content-length"), std::to_string(r->body.size()));
  EXPECT_NE(r->Header("date").find(" GMT"), std::string::npos);
  EXPECT_FALSE(r->Has("connection"));  // HTTP/1.1 keep-alive is the default

  ASSERT_TRUE(c.Send("POST /x/1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /x/1? hello");
  const auto s = server_->stats();
  EXPECT_EQ(s.http_requests, 2u);
  EXPECT_EQ(s.http_responses_2xx, 2u);
}

TEST_F(HttpServerTest, HeadersKeepOrderAndRepeatsAndHeaderFindsTheFirst) {
  std::mutex mu;
  HttpRequest seen;
  Start([&](HttpRequest r, HttpRespond respond) {
    {
      std::lock_guard lock(mu);
      seen = r;
    }
    respond(HttpResponse::Text(200, "x"));
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/", "X-A:  one  \r\nx-a: two\r\nTTL: 60\r\n")));
  ASSERT_TRUE(c.Read());
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.headers.size(), 4u);  // host first
  EXPECT_EQ(seen.headers[1], (std::pair<std::string, std::string>("x-a", "one")));
  EXPECT_EQ(seen.headers[2], (std::pair<std::string, std::string>("x-a", "two")));
  ASSERT_NE(seen.Header("X-A"), nullptr);
  EXPECT_EQ(*seen.Header("X-A"), "one");
  EXPECT_EQ(*seen.Header("ttl"), "60");
  EXPECT_EQ(seen.Header("urgency"), nullptr);
  EXPECT_TRUE(seen.keep_alive);
}

TEST_F(HttpServerTest, ResponseHeadersCannotBeSplitByAHandler) {
  Start([](HttpRequest, HttpRespond respond) {
    HttpResponse resp = HttpResponse::Text(201, "made");
    resp.headers.emplace_back("Location", "/m/1\r\nSet-Cookie: evil=1");
    resp.headers.emplace_back("Bad Name", "x");
    resp.headers.emplace_back("Content-Length", "999");
    respond(std::move(resp));
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->reason, "Created");
  EXPECT_FALSE(r->Has("set-cookie"));
  EXPECT_FALSE(r->Has("bad name"));
  EXPECT_EQ(r->Header("location"), "/m/1  Set-Cookie: evil=1");
  EXPECT_EQ(r->Header("content-length"), "4");
  EXPECT_EQ(r->body, "made");
}

TEST_F(HttpServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start(Echo);
  RawClient c(port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(c.Send(Get("/n/" + std::to_string(i))));
    auto r = c.Read();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "GET /n/" + std::to_string(i) + "? ");
  }
  EXPECT_EQ(server_->stats().http_connections, 1u);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrderWhenTheFirstIsLate) {
  std::mutex mu;
  std::vector<std::string> handled;
  std::vector<std::thread> threads;
  Start([&](HttpRequest r, HttpRespond respond) {
    std::lock_guard lock(mu);
    handled.push_back(r.path);
    if (r.path == "/slow") {
      // Answered from another thread, late, while /fast is already sent.
      threads.emplace_back([respond = std::move(respond)]() mutable {
        std::this_thread::sleep_for(300ms);
        respond(HttpResponse::Text(200, "slow"));
      });
    } else {
      respond(HttpResponse::Text(200, r.path.substr(1)));
    }
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/slow") + Get("/fast") + Get("/third")));
  std::this_thread::sleep_for(100ms);
  {
    // One request at a time: the second waits for the first's response.
    std::lock_guard lock(mu);
    EXPECT_EQ(handled, std::vector<std::string>{"/slow"});
  }
  for (const char* want : {"slow", "fast", "third"}) {
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, want);
  }
  for (auto& t : threads) t.join();
}

TEST_F(HttpServerTest, RespondAfterTheConnectionClosedDoesNothing) {
  std::mutex mu;
  std::vector<HttpRespond> parked;
  Start([&](HttpRequest, HttpRespond respond) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(respond));
  });
  {
    RawClient c(port());
    ASSERT_TRUE(c.Send(Get("/a")));
    ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.http_requests == 1; }));
    linger no_linger{1, 0};  // close with a reset: the connection is gone, not half-closed
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &no_linger, sizeof(no_linger));
  }
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.http_connections == 0; }));
  // From another thread, to a connection that is gone.
  std::thread([&] {
    std::lock_guard lock(mu);
    parked[0](HttpResponse::Text(200, "too late"));
    parked[0](HttpResponse::Text(200, "twice"));  // a second call is a no-op
  }).join();
  // The server still serves.
  RawClient c2(port());
  ASSERT_TRUE(c2.Send(Get("/healthz")));
  auto r = c2.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server_->stats().http_responses_2xx, 1u);  // only /healthz went out

  // And a respond that outlives the whole server.
  ASSERT_TRUE(c2.Send(Get("/b")));
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.http_requests == 3; }));
  server_->Stop();
  server_.reset();
  std::thread([&] {
    std::lock_guard lock(mu);
    ASSERT_EQ(parked.size(), 2u);
    parked[1](HttpResponse::Text(200, "server gone"));
  }).join();
}

TEST_F(HttpServerTest, AHalfClosedClientStillGetsItsResponses) {
  std::mutex mu;
  std::vector<std::thread> threads;
  Start([&](HttpRequest r, HttpRespond respond) {
    std::lock_guard lock(mu);
    threads.emplace_back([r = std::move(r), respond = std::move(respond)]() mutable {
      std::this_thread::sleep_for(100ms);
      respond(HttpResponse::Text(200, r.path));
    });
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/one") + Get("/two")));
  shutdown(c.fd(), SHUT_WR);  // like `printf ... | nc`
  for (const char* want : {"/one", "/two"}) {
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, want);
  }
  EXPECT_TRUE(c.ClosedWithin(3000ms));
  std::lock_guard lock(mu);
  for (auto& t : threads) t.join();
}

TEST_F(HttpServerTest, ADroppedRespondAnswers500AndAThrowingHandlerToo) {
  Start([](HttpRequest r, HttpRespond) {
    if (r.path == "/throw") throw std::runtime_error("boom");
    // /drop: the respond goes out of scope unanswered.
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/drop") + Get("/throw")));
  for (int i = 0; i < 2; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_EQ(r->Header("content-type"), "application/json");
  }
  EXPECT_EQ(server_->stats().http_responses_5xx, 2u);
}

TEST_F(HttpServerTest, ChunkedBodiesAreDechunked) {
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: dropped\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /c? hello world");
  // The connection goes on after the trailer.
  ASSERT_TRUE(c.Send(Get("/after")));
  ASSERT_TRUE(c.Read());
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.Read(2000ms);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.Send("body"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /e? body");
}

TEST_F(HttpServerTest, ExpectContinueWithATooLargeBodyGets413WithoutContinue) {
  Start(Echo);
  RawClient c(port());
  ASSERT_TRUE(
      c.Send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto r = c.Read(2000ms);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->Header("connection"), "close");
  EXPECT_TRUE(c.ClosedWithin(3000ms));
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAndConnectionCloseIsHonoured) {
  Start(Echo);
  {
    RawClient c(port());
    ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->Header("connection"), "close");
    EXPECT_TRUE(c.ClosedWithin(3000ms));
  }
  {
    RawClient c(port());
    ASSERT_TRUE(c.Send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->Header("connection"), "keep-alive");
    ASSERT_TRUE(c.Send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    ASSERT_TRUE(c.Read());
  }
  {
    RawClient c(port());
    ASSERT_TRUE(c.Send(Get("/bye", "Connection: close\r\n") + Get("/never")));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->Header("connection"), "close");
    EXPECT_TRUE(c.ClosedWithin(3000ms));
    EXPECT_EQ(c.buffered().find("/never"), std::string::npos);
  }
}

TEST_F(HttpServerTest, HealthzIsAnsweredByTheListenerAndOtherPathsGet404WithoutAHandler) {
  Start(std::shared_ptr<HttpHandler>());
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/healthz")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  ASSERT_TRUE(c.Send("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  r = c.Read(kWait, /*head=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("content-length"), "2");
  ASSERT_TRUE(c.Send("POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->Header("allow"), "GET, HEAD");
  ASSERT_TRUE(c.Send(Get("/anything")));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, R"({"error":"not found"})");
  EXPECT_EQ(r->Header("content-type"), "application/json");
}

TEST_F(HttpServerTest, HealthzNeverReachesTheHandler) {
  std::atomic<int> calls{0};
  Start([&](HttpRequest, HttpRespond respond) {
    ++calls;
    respond(HttpResponse::Text(200, "handler"));
  });
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/healthz?verbose=1")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(HttpServerTest, HandlerCanBeReplacedWhileRunning) {
  Start(std::shared_ptr<HttpHandler>());
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/x")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  SetHttpHandler(server_.get(), std::make_shared<FnHandler>(Echo));
  ASSERT_TRUE(c.Send(Get("/x")));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, StopLetsAnInFlightRequestBeAnsweredAndHealthzSays503) {
  std::mutex mu;
  std::vector<HttpRespond> parked;
  Start([&](HttpRequest, HttpRespond respond) {
    std::lock_guard lock(mu);
    parked.push_back(std::move(respond));
  });
  RawClient held(port());
  ASSERT_TRUE(held.Send(Get("/held")));
  RawClient probe(port());
  ASSERT_TRUE(probe.Send(Get("/healthz")));
  ASSERT_TRUE(probe.Read());
  ASSERT_TRUE(WaitStats([](const ServerStats& s) { return s.http_requests == 2; }));
  // Keep the writer busy so that Stop() stays in its drain step a while.
  std::atomic<bool> committing{false};
  server_->AddCommitListener([&](std::span<const MailboxKey>) {
    committing = true;
    std::this_thread::sleep_for(800ms);
  });
  auto mailbox = db_->CreateMailbox();
  ASSERT_TRUE(mailbox.ok());
  std::thread writer([&] {
    WriteBatch b;
    b.PutEntry(mailbox->mkey, "k", "v", 0);  // moves the feed: the listener hears it
    (void)server_->Write(&b);
  });
  const auto give_up = std::chrono::steady_clock::now() + kWait;
  while (!committing && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(committing);
  std::thread stopper([&] { server_->Stop(); });
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(probe.Send(Get("/healthz")));
  auto r = probe.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(RawClient(port()).Send(Get("/healthz")), false)
      << "the listener still accepts while stopping";
  writer.join();
  // The held request is answered during the grace period, then it closes.
  std::this_thread::sleep_for(100ms);
  {
    std::lock_guard lock(mu);
    parked[0](HttpResponse::Text(200, "late but in time"));
  }
  auto last = held.Read();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->body, "late but in time");
  EXPECT_EQ(last->Header("connection"), "close");
  EXPECT_TRUE(held.ClosedWithin(3000ms));
  stopper.join();
}

}  // namespace
}  // namespace postbox::sync::http::testing
