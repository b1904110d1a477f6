/* An app's smallest use of the installed C API: open a store, create a
 * mailbox, put an entry and read it back, and check that the header and the
 * library agree on the version and that nothing is left live. */
#include <stdio.h>
#include <string.h>

#include "postbox.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (pbx_version_number() != PBX_VERSION_NUMBER) {
    fprintf(stderr, "header %s, library %s\n", PBX_VERSION_STRING, pbx_version());
    return 1;
  }
  pbx_error err;
  pbx_db* db = NULL;
  pbx_credentials mailbox;
  pbx_entry* entry = NULL;
  if (pbx_db_open(argv[1], NULL, &db, &err) != PBX_OK ||
      pbx_db_create_mailbox(db, &mailbox, &err) != PBX_OK ||
      pbx_db_put_entry(db, &mailbox.mkey, "greeting", "hello", 5, 0, NULL, &err) != PBX_OK ||
      pbx_db_get_entry(db, &mailbox.mkey, "greeting", &entry, &err) != PBX_OK) {
    fprintf(stderr, "consumer_c: %s\n", err.message);
    return 1;
  }
  int ok = entry->value_len == 5 && memcmp(entry->value, "hello", 5) == 0;
  pbx_entry_free(entry);
  if (pbx_db_close(db, &err) != PBX_OK) return 1;
  if (!ok || pbx_live_handles() != 0) {
    fprintf(stderr, "consumer_c: wrong entry or %llu objects live\n",
            (unsigned long long)pbx_live_handles());
    return 1;
  }
  printf("consumer_c: ok (postbox %s)\n", pbx_version());
  return 0;
}
