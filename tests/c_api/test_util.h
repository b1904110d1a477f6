/* A tiny test kit for the C API tests: CHECK macros that report the failing
 * line and the last pbx_error, and a temporary folder per test. C11. */
#ifndef POSTBOX_TESTS_C_API_TEST_UTIL_H_
#define POSTBOX_TESTS_C_API_TEST_UTIL_H_

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postbox.h"

static int g_failures = 0;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                            \
    }                                                                          \
  } while (0)

/* Checks `call(..., &err)`: the code, and that err carries it with a message. */
#define CHECK_ERR(expected, call_with_err, err)                                                  \
  do {                                                                                           \
    memset(&(err), 0, sizeof(err));                                                              \
    int got_ = (call_with_err);                                                                  \
    if (got_ != (expected)) {                                                                    \
      fprintf(stderr, "%s:%d: %s returned %d (%s: %s), expected %d (%s)\n", __FILE__, __LINE__,  \
              #call_with_err, got_, pbx_strerror(got_), (err).message, (int)(expected),          \
              pbx_strerror(expected));                                                           \
      ++g_failures;                                                                              \
    } else if ((expected) != PBX_OK && ((err).code != (expected) || (err).message[0] == '\0' ||  \
                                        (err).retryable != pbx_code_retryable(expected))) {      \
      fprintf(stderr, "%s:%d: %s: pbx_error not filled (code %d, \"%s\")\n", __FILE__, __LINE__, \
              #call_with_err, (err).code, (err).message);                                        \
      ++g_failures;                                                                              \
    }                                                                                            \
  } while (0)

/* Aborts the test: what follows depends on `call` succeeding. */
#define REQUIRE_OK(call)                                                              \
  do {                                                                                \
    pbx_error re_;                                                                    \
    memset(&re_, 0, sizeof(re_));                                                     \
    (void)re_;                                                                        \
    int got_ = (call);                                                                \
    if (got_ != PBX_OK) {                                                             \
      fprintf(stderr, "%s:%d: %s failed: %d (%s)\n", __FILE__, __LINE__, #call, got_, \
              pbx_strerror(got_));                                                    \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

/* A new empty folder under /tmp; free the string with free() after removing it. */
static char* MakeTempDir(void) {
  char* dir = malloc(64);
  strcpy(dir, "/tmp/pbx_c_api_XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    exit(1);
  }
  return dir;
}

static void RemoveDir(char* dir) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  free(dir);
}

/* A store in folder `path` (64 MiB map); exits the test if it cannot be opened. */
static inline pbx_db* OpenTestDb(const char* path) {
  pbx_db_options o;
  pbx_db_options_init(&o);
  o.max_map_size = 64u << 20;
  pbx_db* db = NULL;
  REQUIRE_OK(pbx_db_open(path, &o, &db, NULL));
  return db;
}

/* An embedded server over `db` on 127.0.0.1 with an ephemeral port, written to
 * *port; exits the test if it cannot start. Stop it with pbx_server_stop. */
static inline pbx_server* StartTestServer(pbx_db* db, uint16_t* port) {
  pbx_server_options so;
  pbx_server_options_init(&so);
  so.port = 0;
  pbx_server* server = NULL;
  REQUIRE_OK(pbx_server_start(db, &so, &server, NULL));
  REQUIRE_OK(pbx_server_port(server, port, NULL));
  return server;
}

/* Every test ends here: all handles and results released, no failed CHECK. */
static int Finish(const char* name) {
  if (pbx_live_handles() != 0) {
    fprintf(stderr, "%s: %llu handles or results still live\n", name,
            (unsigned long long)pbx_live_handles());
    ++g_failures;
  }
  if (g_failures != 0) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}

#endif /* POSTBOX_TESTS_C_API_TEST_UTIL_H_ */
