/* The C API's embedded server and client against each other on 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L /* pthread, sockets, mkdtemp: before any header */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

typedef struct Blocked {
  pbx_client* client;
  int rc;
} Blocked;

static void* ConnectBlocked(void* arg) {
  Blocked* b = arg;
  pbx_error err;
  b->rc = pbx_client_connect(b->client, NULL, &err);
  return NULL;
}

static double NowS(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A call blocked on a peer that never answers: pbx_client_close fails it at
 * once and returns only after it returned (ASan checks nothing is used after
 * the release). The peer is a listening socket nobody accepts from. */
static void TestCloseDuringCall(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE_OK(fd >= 0 && bind(fd, (struct sockaddr*)&addr, sizeof(addr)) == 0 &&
                     listen(fd, 4) == 0 && getsockname(fd, (struct sockaddr*)&addr, &len) == 0
                 ? PBX_OK
                 : PBX_E_INTERNAL);
  pbx_client_options co;
  pbx_client_options_init(&co);
  co.port = ntohs(addr.sin_port);
  co.secret = "silent";
  co.request_timeout_ms = 20000;
  co.reconnect = 0;
  Blocked b = {NULL, 1};
  REQUIRE_OK(pbx_client_create(&co, &b.client, NULL));
  pthread_t t;
  REQUIRE_OK(pthread_create(&t, NULL, ConnectBlocked, &b) == 0 ? PBX_OK : PBX_E_INTERNAL);
  struct timespec pause = {0, 300 * 1000000L};
  nanosleep(&pause, NULL);
  double start = NowS();
  pbx_client_close(b.client);
  double took = NowS() - start;
  pthread_join(t, NULL);
  CHECK(b.rc == PBX_E_UNAVAILABLE);
  CHECK(took < 5.0); /* not the 20 s request timeout */
  close(fd);
}

int main(void) {
  TestCloseDuringCall();
  pbx_error err;
  char* dir = MakeTempDir();
  pbx_db_options o;
  pbx_db_options_init(&o);
  o.max_map_size = 64u << 20;
  pbx_db* db = NULL;
  REQUIRE_OK(pbx_db_open(dir, &o, &db, NULL));
  pbx_credentials alice, bob, carol;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &carol, NULL));
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &bob.mkey, NULL));

  /* Server. */
  pbx_server_options so;
  pbx_server_options_init(&so);
  CHECK(so.port == 7420 && strcmp(so.host, "127.0.0.1") == 0);
  so.port = 0;
  pbx_server* server = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(NULL, &so, &server, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(db, &so, NULL, &err), err);
  so.host = "not-an-address";
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(db, &so, &server, &err), err);
  so.host = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(db, &so, &server, &err), err);
  so.host = "127.0.0.1";
  CHECK_ERR(PBX_OK, pbx_server_start(db, &so, &server, &err), err);
  uint16_t port = 0;
  CHECK_ERR(PBX_OK, pbx_server_port(server, &port, &err), err);
  CHECK(port != 0);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_port(server, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_port(NULL, &port, &err), err);
  /* An address this machine does not have (TEST-NET-1) cannot be bound. */
  {
    pbx_server* second = NULL;
    so.host = "192.0.2.1";
    CHECK_ERR(PBX_E_UNAVAILABLE, pbx_server_start(db, &so, &second, &err), err);
    CHECK(second == NULL);
    pbx_server_stop(second);
    so.host = "127.0.0.1";
  }
  /* The db stays open while a server runs over it. */
  CHECK_ERR(PBX_E_CONFLICT, pbx_db_close(db, &err), err);

  /* Client options and creation. */
  pbx_client_options co;
  pbx_client_options_init(&co);
  CHECK(co.request_timeout_ms == 5000 && co.reconnect == 1);
  co.port = port;
  co.mkey = alice.mkey;
  pbx_client* a = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_create(&co, &a, &err), err); /* no secret */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_create(NULL, &a, &err), err);
  co.secret = alice.secret;
  co.app_version = "1.0";
  CHECK_ERR(PBX_OK, pbx_client_create(&co, &a, &err), err);
  int verdict = -1;
  CHECK_ERR(PBX_OK, pbx_client_connect(a, &verdict, &err), err);
  CHECK(verdict == PBX_VERDICT_CURRENT);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_connect(NULL, &verdict, &err), err);

  /* A wrong secret: 401, permanent. */
  {
    pbx_client* bad = NULL;
    pbx_client_options bo = co;
    bo.secret = bob.secret;
    bo.reconnect = 0;
    REQUIRE_OK(pbx_client_create(&bo, &bad, NULL));
    CHECK_ERR(PBX_E_UNAUTHENTICATED, pbx_client_connect(bad, NULL, &err), err);
    CHECK(err.retryable == 0);
    pbx_client_close(bad);
  }
  /* Nobody listening: 503, transient. */
  {
    pbx_client* off = NULL;
    pbx_client_options bo = co;
    bo.port = 1;
    bo.request_timeout_ms = 1000;
    bo.reconnect = 0;
    REQUIRE_OK(pbx_client_create(&bo, &off, NULL));
    CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_connect(off, NULL, &err), err);
    CHECK(err.retryable == 1);
    pbx_entry* e = NULL;
    CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_get_entry(off, "k", &e, &err), err);
    pbx_client_close(off);
  }

  /* Entries through the server. */
  pbx_put_result put;
  CHECK_ERR(PBX_OK, pbx_client_put_entry(a, "k", "v1", 2, 0, &put, &err), err);
  CHECK(put.applied == 1 && put.version == 1);
  CHECK_ERR(PBX_OK, pbx_client_put_entry(a, "k", "v0", 2, 1, &put, &err), err);
  CHECK(put.version == 1);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_put_entry(a, "", "v", 1, 0, &put, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_put_entry(a, NULL, "v", 1, 0, &put, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_put_entry(a, "k", NULL, 1, 0, &put, &err), err);
  pbx_entry* e = NULL;
  CHECK_ERR(PBX_OK, pbx_client_get_entry(a, "k", &e, &err), err);
  CHECK(e != NULL && e->value_len == 2 && memcmp(e->value, "v1", 2) == 0);
  pbx_entry_free(e);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_client_get_entry(a, "absent", &e, &err), err);
  CHECK(e == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_get_entry(a, "k", NULL, &err), err);
  /* The server's store holds it. */
  REQUIRE_OK(pbx_db_get_entry(db, &alice.mkey, "k", &e, NULL));
  pbx_entry_free(e);

  /* Upload alice → bob, download as bob, status raised by bob. */
  pbx_id id;
  pbx_id_random(&id, NULL);
  static uint8_t blob[600000]; /* several chunks */
  for (size_t i = 0; i < sizeof(blob); ++i) blob[i] = (uint8_t)(i * 7);
  CHECK_ERR(PBX_OK,
            pbx_client_upload(a, &bob.mkey, &id, "photo", "meta", 4, blob, sizeof(blob), &err),
            err);
  CHECK_ERR(PBX_OK,
            pbx_client_upload(a, &bob.mkey, &id, "photo", "meta", 4, blob, sizeof(blob), &err),
            err);
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_client_upload(a, &carol.mkey, &id, "photo", NULL, 0, "x", 1, &err), err);
  {
    pbx_id other;
    pbx_id_random(&other, NULL);
    CHECK_ERR(PBX_E_PERMISSION_DENIED,
              pbx_client_upload(a, &carol.mkey, &other, "p", NULL, 0, "x", 1, &err), err);
  }
  CHECK_ERR(PBX_E_CONFLICT,
            pbx_client_upload(a, &bob.mkey, &id, "photo", "meta", 4, "other", 5, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT,
            pbx_client_upload(a, &bob.mkey, &id, NULL, NULL, 0, "x", 1, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_upload(a, NULL, &id, "t", NULL, 0, "x", 1, &err),
            err);

  pbx_client_options bco = co;
  bco.mkey = bob.mkey;
  bco.secret = bob.secret;
  pbx_client* b = NULL;
  REQUIRE_OK(pbx_client_create(&bco, &b, NULL));
  REQUIRE_OK(pbx_client_connect(b, NULL, NULL));
  uint8_t* got = NULL;
  size_t got_len = 0;
  CHECK_ERR(PBX_OK, pbx_client_download(b, &id, &got, &got_len, &err), err);
  CHECK(got_len == sizeof(blob) && memcmp(got, blob, sizeof(blob)) == 0);
  pbx_free(got);
  pbx_id unknown;
  pbx_id_random(&unknown, NULL);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_client_download(b, &unknown, &got, &got_len, &err), err);
  CHECK(got == NULL);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_download(b, &id, NULL, &got_len, &err), err);

  int status = 0, applied = -1;
  CHECK_ERR(PBX_OK, pbx_client_update_status(b, &id, PBX_STATUS_VIEWED, &status, &applied, &err),
            err);
  CHECK(status == PBX_STATUS_VIEWED && applied == 1);
  CHECK_ERR(PBX_OK,
            pbx_client_update_status(b, &id, PBX_STATUS_DOWNLOADED, &status, &applied, &err), err);
  CHECK(status == PBX_STATUS_VIEWED && applied == 0);
  CHECK_ERR(PBX_E_PERMISSION_DENIED,
            pbx_client_update_status(a, &id, PBX_STATUS_VIEWED, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_NOT_FOUND,
            pbx_client_update_status(b, &unknown, PBX_STATUS_VIEWED, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_update_status(b, &id, 9, NULL, NULL, &err), err);
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_update_status(b, NULL, 2, NULL, NULL, &err), err);

  /* Superseded: Gone. */
  {
    pbx_id id2;
    pbx_id_random(&id2, NULL);
    CHECK_ERR(PBX_OK, pbx_client_upload(a, &bob.mkey, &id2, "photo", NULL, 0, "new", 3, &err), err);
    CHECK_ERR(PBX_E_GONE, pbx_client_download(b, &id, &got, &got_len, &err), err);
    CHECK_ERR(PBX_E_GONE, pbx_client_update_status(b, &id, 3, NULL, NULL, &err), err);
  }

  pbx_client_close(a);
  pbx_client_close(b);
  pbx_client_close(NULL);
  pbx_server_stop(server);
  pbx_server_stop(NULL);
  CHECK_ERR(PBX_OK, pbx_db_close(db, &err), err);
  RemoveDir(dir);
  return Finish("server_client_test");
}
