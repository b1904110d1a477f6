// The fixture of fuzz/session_fuzzer.cc: three mailboxes with a connection,
// posted messages, a superseded one, uploads in progress, entries and a push
// registration (input.h says what each token names), made fresh in the store
// for every input so that an input behaves the same whether it runs first or
// after a million others. Not thread-safe: the fuzzer's thread only.
#ifndef POSTBOX_FUZZ_SESSION_WORLD_H_
#define POSTBOX_FUZZ_SESSION_WORLD_H_

#include <array>
#include <string>
#include <vector>

#include "fuzz/session/input.h"
#include "postbox/db.h"
#include "postbox/status.h"

namespace postbox::fuzz {

class World {
 public:
  // Deletes the previous fixture's mailboxes (and with them its messages,
  // entries and feeds) and writes a new fixture, in two transactions. Any
  // failed op is returned: the fixture is the harness's own doing, so a
  // failure is a bug in the harness or the store, never the input's.
  Status Rebuild(DB* db);

  // Replaces every token in *stream by the value it names (same length).
  void Substitute(std::string* stream) const;

  // The value a token stands for: 16 raw bytes, or a 43-character secret.
  const std::string& value(Ref r) const { return values_[static_cast<size_t>(r)]; }
  MailboxKey self() const;

 private:
  std::array<std::string, kRefCount> values_;
  std::array<std::string, kRefCount> tokens_;
  std::vector<MailboxKey> mailboxes_;  // to delete at the next Rebuild
};

}  // namespace postbox::fuzz

#endif  // POSTBOX_FUZZ_SESSION_WORLD_H_
