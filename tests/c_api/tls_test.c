/* TLS through the C API: an embedded server with pbx_server_options.tls, a
 * client with pbx_client_options.tls that syncs over it, the pin of the
 * server's key, and the errors: a wrong CA or pin (PBX_E_UNAVAILABLE with
 * OpenSSL's reason), bad options (PBX_E_INVALID_ARGUMENT). The certificates
 * come from bindings/testing/make_tls_certs.sh (openssl CLI), argv[1]. */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>

#include "test_util.h"

static char g_certs[128];

static const char* Cert(const char* name) {
  static char path[4][256];
  static int next = 0;
  char* p = path[next++ % 4];
  snprintf(p, sizeof(path[0]), "%s/%s", g_certs, name);
  return p;
}

/* Whether `message` contains `word`, ignoring case. */
static int Mentions(const char* message, const char* word) {
  size_t n = strlen(word);
  for (const char* p = message; *p != '\0'; ++p) {
    size_t i = 0;
    while (i < n && p[i] != '\0' && tolower((unsigned char)p[i]) == tolower((unsigned char)word[i]))
      ++i;
    if (i == n) return 1;
  }
  return 0;
}

static void InitClient(pbx_client_options* co, uint16_t port, const pbx_credentials* who) {
  pbx_client_options_init(co);
  co->port = port;
  co->mkey = who->mkey;
  co->secret = who->secret;
  co->reconnect = 0;
  co->request_timeout_ms = 3000;
  co->tls.enabled = 1;
  co->tls.ca_file = Cert("ca.pem");
}

/* Connecting with `co` fails PBX_E_UNAVAILABLE whose message mentions `word`. */
static void CheckRefused(const pbx_client_options* co, const char* word) {
  pbx_client* c = NULL;
  pbx_error err;
  REQUIRE_OK(pbx_client_create(co, &c, NULL));
  CHECK_ERR(PBX_E_UNAVAILABLE, pbx_client_connect(c, NULL, &err), err);
  if (!Mentions(err.message, word)) {
    fprintf(stderr, "refusal \"%s\" does not mention \"%s\"\n", err.message, word);
    ++g_failures;
  }
  pbx_client_close(c);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH/TO/make_tls_certs.sh\n", argv[0]);
    return 2;
  }
  char* dir = MakeTempDir();
  snprintf(g_certs, sizeof(g_certs), "%s/certs", dir);
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "bash '%s' '%s'", argv[1], g_certs);
  REQUIRE_OK(system(cmd) == 0 ? PBX_OK : PBX_E_INTERNAL);
  pbx_error err;

  /* The pin: "sha256/" + 44 base64 characters; a missing file is NOT_FOUND. */
  char pin[PBX_TLS_PIN_MAX], ca_pin[PBX_TLS_PIN_MAX], other_pin[PBX_TLS_PIN_MAX];
  char scratch[PBX_TLS_PIN_MAX];
  CHECK_ERR(PBX_OK, pbx_tls_public_key_pin(Cert("server.pem"), pin, &err), err);
  CHECK(strncmp(pin, "sha256/", 7) == 0 && strlen(pin) == 7 + 44);
  REQUIRE_OK(pbx_tls_public_key_pin(Cert("ca.pem"), ca_pin, NULL));
  REQUIRE_OK(pbx_tls_public_key_pin(Cert("other-ca.pem"), other_pin, NULL));
  CHECK(strcmp(pin, ca_pin) != 0);
  CHECK_ERR(PBX_E_NOT_FOUND, pbx_tls_public_key_pin(Cert("missing.pem"), scratch, &err), err);
  CHECK(scratch[0] == '\0');

  pbx_db* db = OpenTestDb(dir);
  pbx_credentials alice, bob;
  REQUIRE_OK(pbx_db_create_mailbox(db, &alice, NULL));
  REQUIRE_OK(pbx_db_create_mailbox(db, &bob, NULL));
  REQUIRE_OK(pbx_db_connect(db, &alice.mkey, &bob.mkey, NULL));

  /* A server certificate without its key, or an unknown version: refused. */
  pbx_server_options so;
  pbx_server_options_init(&so);
  CHECK(so.tls.cert_file == NULL && so.tls.min_version == PBX_TLS_1_3 &&
        so.tls.handshake_timeout_ms == 10000);
  so.port = 0;
  so.tls.cert_file = Cert("server.pem");
  pbx_server* server = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(db, &so, &server, &err), err);
  so.tls.key_file = Cert("server.key");
  so.tls.min_version = 11;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_server_start(db, &so, &server, &err), err);
  so.tls.min_version = PBX_TLS_1_2;
  so.tls.handshake_timeout_ms = 5000;
  CHECK_ERR(PBX_OK, pbx_server_start(db, &so, &server, &err), err);
  uint16_t port = 0;
  REQUIRE_OK(pbx_server_port(server, &port, NULL));
  CHECK_ERR(PBX_OK, pbx_server_reload_tls(server, &err), err);

  /* Alice trusts the CA and pins the server's key; bob pins the CA's key.
   * Both sync: a put, an upload, its download. */
  pbx_client_options co;
  InitClient(&co, port, &alice);
  const char* alice_pins[] = {"sha256/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", pin};
  co.tls.pins = alice_pins;
  co.tls.pins_count = 2;
  pbx_client* a = NULL;
  CHECK_ERR(PBX_OK, pbx_client_create(&co, &a, &err), err);
  InitClient(&co, port, &bob);
  const char* bob_pins[] = {ca_pin};
  co.tls.pins = bob_pins;
  co.tls.pins_count = 1;
  co.tls.server_name = "localhost";
  pbx_client* b = NULL;
  CHECK_ERR(PBX_OK, pbx_client_create(&co, &b, &err), err);
  int verdict = -1;
  CHECK_ERR(PBX_OK, pbx_client_connect(a, &verdict, &err), err);
  CHECK(verdict == PBX_VERDICT_CURRENT);
  CHECK_ERR(PBX_OK, pbx_client_connect(b, NULL, &err), err);
  CHECK_ERR(PBX_OK, pbx_client_put_entry(a, "k", "over tls", 8, 0, NULL, &err), err);
  pbx_entry* e = NULL;
  CHECK_ERR(PBX_OK, pbx_client_get_entry(a, "k", &e, &err), err);
  CHECK(e != NULL && e->value_len == 8 && memcmp(e->value, "over tls", 8) == 0);
  pbx_entry_free(e);
  static uint8_t blob[300000];
  for (size_t i = 0; i < sizeof(blob); ++i) blob[i] = (uint8_t)(i * 7 + 3);
  pbx_id id;
  REQUIRE_OK(pbx_id_random(&id, NULL));
  CHECK_ERR(PBX_OK, pbx_client_upload(a, &bob.mkey, &id, "t", NULL, 0, blob, sizeof(blob), &err),
            err);
  uint8_t* got = NULL;
  size_t got_len = 0;
  CHECK_ERR(PBX_OK, pbx_client_download(b, &id, &got, &got_len, &err), err);
  CHECK(got_len == sizeof(blob) && memcmp(got, blob, sizeof(blob)) == 0);
  pbx_free(got);
  pbx_client_close(a);
  pbx_client_close(b);

  /* Another CA, another pin: refused, each saying why; plain TCP gets the
   * listener's plain 426 "speaks TLS only" (final: not retryable). */
  InitClient(&co, port, &alice);
  co.tls.ca_file = Cert("other-ca.pem");
  CheckRefused(&co, "certificate");
  InitClient(&co, port, &alice);
  const char* wrong[] = {other_pin};
  co.tls.pins = wrong;
  co.tls.pins_count = 1;
  CheckRefused(&co, "pin");
  InitClient(&co, port, &alice);
  co.tls.enabled = 0;
  {
    pbx_client* c = NULL;
    REQUIRE_OK(pbx_client_create(&co, &c, NULL));
    CHECK_ERR(PBX_E_PROTOCOL_UNSUPPORTED, pbx_client_connect(c, NULL, &err), err);
    CHECK(Mentions(err.message, "TLS"));
    pbx_client_close(c);
  }

  /* Options checked before anything is made. */
  InitClient(&co, port, &alice);
  co.tls.pins_count = 1; /* pins NULL */
  pbx_client* c = NULL;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_create(&co, &c, &err), err);
  CHECK(c == NULL);
  InitClient(&co, port, &alice);
  co.tls.cert_file = Cert("client.pem"); /* without its key */
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_create(&co, &c, &err), err);
  InitClient(&co, port, &alice);
  co.tls.min_version = 14;
  CHECK_ERR(PBX_E_INVALID_ARGUMENT, pbx_client_create(&co, &c, &err), err);

  pbx_server_stop(server);
  REQUIRE_OK(pbx_db_close(db, NULL));
  RemoveDir(dir);
  return Finish("tls_test");
}
