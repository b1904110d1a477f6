// The raw baseline of the HTTP listener (bench/run_http_bench.sh): one libuv
// loop and http-parser, nothing else. Every request is answered 201 Created
// with "Location: /m/<n>" (n counts requests) on a keep-alive connection,
// without storing anything, limits, timeouts or a handler. What the
// listener and its routes cost is measured against this.
//
// Usage: http_raw_responder [PORT]   (default 0: an ephemeral port)
// Prints "http_raw_responder listening on 127.0.0.1:PORT", runs until killed.
#include <http_parser.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

uint64_t g_created = 0;

struct Conn {
  uv_tcp_t tcp;
  http_parser parser;
  std::string out;
  bool writing = false;
};

struct Write {
  uv_write_t req;
  std::string bytes;
};

void OnClosed(uv_handle_t* h) { delete static_cast<Conn*>(h->data); }

void Flush(Conn* c) {
  if (c->out.empty()) return;
  auto* w = new Write;
  w->req.data = c;
  w->bytes.swap(c->out);
  uv_buf_t buf = uv_buf_init(w->bytes.data(), static_cast<unsigned>(w->bytes.size()));
  uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
           [](uv_write_t* req, int) { delete reinterpret_cast<Write*>(req); });
}

int OnMessageComplete(http_parser* p) {
  auto* c = static_cast<Conn*>(p->data);
  const std::string location = "/m/" + std::to_string(++g_created);
  c->out += "HTTP/1.1 201 Created\r\nLocation: " + location + "\r\nContent-Length: 0\r\n\r\n";
  return 0;
}

const http_parser_settings kSettings = {.on_message_begin = nullptr,
                                        .on_url = nullptr,
                                        .on_status = nullptr,
                                        .on_header_field = nullptr,
                                        .on_header_value = nullptr,
                                        .on_headers_complete = nullptr,
                                        .on_body = nullptr,
                                        .on_message_complete = OnMessageComplete,
                                        .on_chunk_header = nullptr,
                                        .on_chunk_complete = nullptr};

void OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char storage[64 * 1024];
  *buf = uv_buf_init(storage, sizeof(storage));
}

void OnRead(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(s->data);
  if (n < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), OnClosed);
    return;
  }
  const size_t used =
      http_parser_execute(&c->parser, &kSettings, buf->base, static_cast<size_t>(n));
  if (used != static_cast<size_t>(n) || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), OnClosed);
    return;
  }
  Flush(c);
}

void OnConnection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Conn;
  c->tcp.data = c;
  uv_tcp_init(server->loop, &c->tcp);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), OnClosed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), OnAlloc, OnRead);
}

}  // namespace

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 0;
  uv_loop_t* loop = uv_default_loop();
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  sockaddr_in addr{};
  uv_ip4_addr("127.0.0.1", port, &addr);
  if (int rc = uv_tcp_bind(&server, reinterpret_cast<const sockaddr*>(&addr), 0); rc != 0) {
    std::fprintf(stderr, "bind: %s\n", uv_strerror(rc));
    return 1;
  }
  if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server), 1024, OnConnection); rc != 0) {
    std::fprintf(stderr, "listen: %s\n", uv_strerror(rc));
    return 1;
  }
  sockaddr_storage bound{};
  int len = sizeof(bound);
  uv_tcp_getsockname(&server, reinterpret_cast<sockaddr*>(&bound), &len);
  std::printf("http_raw_responder listening on 127.0.0.1:%d\n",
              ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port));
  std::fflush(stdout);
  return uv_run(loop, UV_RUN_DEFAULT);
}
