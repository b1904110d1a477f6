// The push drivers' HTTPS client over libcurl's multi interface. libcurl's
// codes are translated here, once: every failure is Unavailable with
// curl's own text (and code name) in the message.
#include "sync/kick/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace postbox::sync::kick {
namespace {

// One request on its way: what libcurl reads and writes.
struct Transfer {
  HttpRequest request;
  std::function<void(HttpResponse)> done;
  HttpResponse response;
  curl_slist* headers = nullptr;
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    curl_slist_free_all(headers);
    if (easy != nullptr) curl_easy_cleanup(easy);
  }
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<Transfer*>(user)->response.body.append(data, size * n);
  return size * n;
}

// One header line ("name: value\r\n", or the status line, or the blank line).
size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos && line.rfind("HTTP/", 0) != 0) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ' ||
                              value.back() == '\t')) {
      value.remove_suffix(1);
    }
    t->response.headers.emplace_back(std::move(name), std::string(value));
  } else if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new (e.g. final after 100) response starts
  }
  return size * n;
}

std::once_flag global_init_once;
CURLcode global_init_result = CURLE_OK;

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "";
}

struct HttpClient::State {
  HttpClientOptions options;
  CURLM* multi = nullptr;
  std::thread thread;
  std::mutex join_mu;

  std::mutex mu;
  std::deque<std::unique_ptr<Transfer>> queue;  // guarded by mu
  bool stopping = false;                        // guarded by mu

  // Loop thread only: transfers handed to libcurl.
  std::vector<std::unique_ptr<Transfer>> active;

  ~State() {
    if (multi != nullptr) curl_multi_cleanup(multi);
  }

  Status Prepare(Transfer* t) {
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return Status::Unavailable(options.name + ": curl_easy_init failed");
    for (const auto& h : t->request.headers) {
      curl_slist* next = curl_slist_append(t->headers, h.c_str());
      if (next == nullptr) return Status::Unavailable(options.name + ": out of memory");
      t->headers = next;
    }
    // No "Expect: 100-continue" round trip should the server speak HTTP/1.1.
    t->headers = curl_slist_append(t->headers, "Expect:");
    CURL* e = t->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(t->request.body.size()));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "postbox-kick");
    if (!options.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, options.ca_file.c_str());
    if (curl_multi_add_handle(multi, e) != CURLM_OK) {
      return Status::Unavailable(options.name + ": curl_multi_add_handle failed");
    }
    return Status::Ok();
  }

  // Moves queued transfers onto the wire, up to max_in_flight; false when
  // stopping.
  bool Admit() {
    std::vector<std::unique_ptr<Transfer>> failed;
    {
      std::lock_guard lock(mu);
      if (stopping) return false;
      while (!queue.empty() && active.size() < options.max_in_flight) {
        std::unique_ptr<Transfer> t = std::move(queue.front());
        queue.pop_front();
        if (Status s = Prepare(t.get()); !s.ok()) {
          t->response.transport = std::move(s);
          failed.push_back(std::move(t));
          continue;
        }
        active.push_back(std::move(t));
      }
    }
    for (auto& t : failed) t->done(std::move(t->response));
    return true;
  }

  // Answers the transfers libcurl finished.
  void Reap() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* e = m->easy_handle;
      const CURLcode rc = m->data.result;
      curl_multi_remove_handle(multi, e);
      auto it =
          std::find_if(active.begin(), active.end(), [e](const auto& t) { return t->easy == e; });
      if (it == active.end()) continue;
      std::unique_ptr<Transfer> t = std::move(*it);
      active.erase(it);
      HttpResponse& r = t->response;
      if (rc == CURLE_OK) {
        long code = 0;
        long version = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &version);
        r.status = static_cast<int>(code);
        r.http2 = version == CURL_HTTP_VERSION_2_0;
      } else {
        r.transport = Status::Unavailable(
            options.name + ": " + (t->error[0] != '\0' ? t->error : curl_easy_strerror(rc)) +
            " (CURLcode " + std::to_string(static_cast<int>(rc)) + ")");
      }
      t->done(std::move(r));
    }
  }

  void Main() {
    while (Admit()) {
      int running = 0;
      curl_multi_perform(multi, &running);
      Reap();
      // Admitting again before sleeping: a reaped transfer frees a slot.
      {
        std::lock_guard lock(mu);
        if (!queue.empty() && active.size() < options.max_in_flight) continue;
      }
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    // Stopping: everything still here is answered "stopped".
    std::deque<std::unique_ptr<Transfer>> left;
    {
      std::lock_guard lock(mu);
      left.swap(queue);
    }
    for (auto& t : active) {
      curl_multi_remove_handle(multi, t->easy);
      left.push_back(std::move(t));
    }
    active.clear();
    for (auto& t : left) {
      t->response = HttpResponse{};
      t->response.transport = Status::Unavailable(options.name + ": stopped");
      t->done(std::move(t->response));
    }
  }
};

HttpClient::HttpClient(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpClient::~HttpClient() { Stop(); }

Result<std::unique_ptr<HttpClient>> HttpClient::Start(const HttpClientOptions& options) {
  if (options.max_in_flight == 0) {
    return Status::InvalidArgument(options.name + ": max_in_flight must be ≥ 1");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument(options.name + ": timeout must be > 0");
  }
  std::call_once(global_init_once, [] { global_init_result = curl_global_init(CURL_GLOBAL_ALL); });
  if (global_init_result != CURLE_OK) {
    return Status::Internal(std::string("curl_global_init: ") +
                            curl_easy_strerror(global_init_result));
  }
  auto state = std::make_unique<State>();
  state->options = options;
  state->multi = curl_multi_init();
  if (state->multi == nullptr) return Status::Internal("curl_multi_init failed");
  curl_multi_setopt(state->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  // One connection per host, its streams shared by all requests.
  curl_multi_setopt(state->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
  curl_multi_setopt(state->multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
                    static_cast<long>(std::min<size_t>(options.max_in_flight, 1000)));
  State* s = state.get();
  state->thread = std::thread([s] { s->Main(); });
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(state)));
}

void HttpClient::Submit(HttpRequest request, std::function<void(HttpResponse)> done) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  t->done = std::move(done);
  {
    std::lock_guard lock(state_->mu);
    if (!state_->stopping) {
      state_->queue.push_back(std::move(t));
      curl_multi_wakeup(state_->multi);
      return;
    }
  }
  HttpResponse r;
  r.transport = Status::Unavailable(state_->options.name + ": stopped");
  t->done(std::move(r));
}

void HttpClient::Stop() {
  {
    std::lock_guard lock(state_->mu);
    if (state_->stopping && !state_->thread.joinable()) return;
    state_->stopping = true;
    curl_multi_wakeup(state_->multi);
  }
  // Precondition: not called from a `done` (the client's own thread) of a
  // client that is being destroyed. Callers at once take turns to join.
  std::lock_guard lock(state_->join_mu);
  if (state_->thread.joinable() && state_->thread.get_id() != std::this_thread::get_id()) {
    state_->thread.join();
  }
}

}  // namespace postbox::sync::kick
