// A host server's smallest use of an installed postbox: open, create, put, read.
#include <cstdio>

#include "postbox/db.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto db = postbox::DB::Open(argv[1], postbox::Options{});
  if (!db) {
    std::fprintf(stderr, "%s\n", db.error().ToString().c_str());
    return 1;
  }
  auto creds = (*db)->CreateMailbox();
  if (!creds) return 1;
  auto put = (*db)->PutEntry(creds->mkey, "greeting", "hello", 0);
  if (!put || !put->applied) return 1;
  auto got = (*db)->GetEntry(creds->mkey, "greeting");
  if (!got || got->value != "hello") return 1;
  std::printf("consumer ok: %s\n", creds->mkey.ToHex().c_str());
  return 0;
}
