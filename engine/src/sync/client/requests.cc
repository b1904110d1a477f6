// The request table of Client::Core: the three kinds of request (ordinary,
// stream, bulk) and where they wait, failing them when the session goes,
// delayed work (transfer retries) and turns (one download per id at a time).
// The write path (encoding into the connection, the bulk lane's refill) and
// the reply dispatch are in client_core.cc.
#include <algorithm>
#include <string>

#include "sync/client/client_core.h"

#define POSTBOX_ASSERT_CLIENT_LOOP() assert(OnLoop())

namespace postbox::sync {

struct Client::Core::Delayed {
  uv_timer_t timer{};
  std::function<void()> fn;
  Core* core = nullptr;
};

Client::Core::StreamHandler Client::Core::Once(Handler h) {
  return [h = std::move(h)](const Status& s, const wire::AnyMessage* m) {
    h(s, m);
    return false;
  };
}

bool Client::Core::WillSend() const {
  if (state_ == State::kReady) return true;
  return !final_ && (state_ == State::kConnecting || state_ == State::kHello ||
                     (state_ == State::kBackoff && options_.reconnect));
}

void Client::Core::Request(Encode encode, Handler handler) {
  Enqueue(std::move(encode), Once(std::move(handler)), false);
}

void Client::Core::RequestStream(Encode encode, StreamHandler handler) {
  Enqueue(std::move(encode), std::move(handler), true);
}

void Client::Core::Enqueue(Encode encode, StreamHandler handler, bool stream) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  const uint64_t deadline = Now() + static_cast<uint64_t>(options_.request_timeout.count());
  if (state_ == State::kReady) return SendNow(encode, std::move(handler), stream, deadline);
  if (!WillSend()) {
    (void)handler(Status::Unavailable(final_ ? "the client is closed or was refused by the server"
                                             : "not connected"),
                  nullptr);
    return;
  }
  waiting_.push_back({deadline, std::move(encode), std::move(handler), stream});
}

void Client::Core::RequestBulk(Encode encode, Handler handler) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  if (!WillSend()) {
    return handler(Status::Unavailable(final_ ? "the client is closed or was refused by the server"
                                              : "not connected"),
                   nullptr);
  }
  const uint64_t deadline = Now() + static_cast<uint64_t>(options_.request_timeout.count());
  bulk_.push_back({deadline, std::move(encode), Once(std::move(handler)), false});
  Flush();
}

void Client::Core::After(uint64_t ms, std::function<void()> fn) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  if (LoopEnded()) ms = 0;  // shutting down: run it at the next turn, not later
  auto* d = new Delayed{.fn = std::move(fn), .core = this};
  d->timer.data = d;
  uv_timer_init(&uv_, &d->timer);
  uv_timer_start(&d->timer, OnDelayed, ms, 0);
  delayed_.push_back(d);
}

void Client::Core::TakeTurn(const std::string& key, std::function<void()> start) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  auto [it, free] = turns_.try_emplace(key);
  if (free) return start();
  it->second.push_back(std::move(start));
}

void Client::Core::EndTurn(const std::string& key) {
  POSTBOX_ASSERT_CLIENT_LOOP();
  auto it = turns_.find(key);
  if (it == turns_.end()) return;
  if (it->second.empty()) {
    turns_.erase(it);
    return;
  }
  auto next = std::move(it->second.front());
  it->second.pop_front();
  next();  // the key stays held, now by `next`
}

void Client::Core::OnDelayed(uv_timer_t* t) {
  auto* d = static_cast<Delayed*>(t->data);
  Core* self = d->core;
  std::erase(self->delayed_, d);
  auto fn = std::move(d->fn);
  uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
           [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
  fn();
}

void Client::Core::FailAll(const Status& why, bool waiting_too) {
  std::map<uint64_t, Pending> pending;
  pending.swap(pending_);
  std::deque<Waiting> waiting;
  if (waiting_too) waiting.swap(waiting_);
  // Queued bulk requests (upload chunks) fail with the session: their owner
  // resynchronises after the reconnect rather than resend blind.
  std::deque<Waiting> bulk;
  bulk.swap(bulk_);
  for (auto& [rid, p] : pending) (void)p.handler(why, nullptr);
  for (auto& w : bulk) (void)w.handler(why, nullptr);
  for (auto& w : waiting) (void)w.handler(why, nullptr);
}

void Client::Core::RunDelayedNow() {
  std::vector<Delayed*> delayed;
  delayed.swap(delayed_);
  for (Delayed* d : delayed) {
    uv_timer_stop(&d->timer);
    auto fn = std::move(d->fn);
    uv_close(reinterpret_cast<uv_handle_t*>(&d->timer),
             [](uv_handle_t* h) { delete static_cast<Delayed*>(h->data); });
    fn();
  }
}

}  // namespace postbox::sync
