// DB::Impl: the open environment and the store's operations behind a DB.
// Shared by db.cc (the calls) and backup.cc (backup and restore). Internal.
#ifndef POSTBOX_STORE_DB_IMPL_H_
#define POSTBOX_STORE_DB_IMPL_H_

#include <memory>
#include <optional>
#include <string>

#include "postbox/db.h"
#include "store/env.h"
#include "store/store.h"

namespace postbox {

class DB::Impl {
 public:
  Impl(std::unique_ptr<store::Env> env, const Options& options)
      : env_(std::move(env)), store_(options) {}

  // DB::Open's work (db.cc); `no_lock` opens a read-only copy without LMDB's
  // lock file (a backup being checked).
  static Result<std::unique_ptr<Impl>> Open(const std::string& path, const Options& options,
                                            bool no_lock);

  store::Env& env() { return *env_; }
  const store::Env& env() const { return *env_; }
  const std::string& settings_note() const { return settings_note_; }
  const store::Store& store() const { return store_; }

  // Runs `fn` in a read transaction and returns what it produced.
  template <typename T, typename Fn>
  Result<T> Read(Fn&& fn) const {
    std::optional<T> out;
    Status s = env_->Read([&](store::Txn& t) -> Status {
      Result<T> r = fn(t);
      if (!r) return r.error();
      out.emplace(std::move(r).value());
      return Status();
    });
    if (!s.ok()) return s;
    return std::move(*out);
  }

  Status Apply(WriteBatch* batch);

 private:
  // Runs one op and records its outcome in `r`.
  void ApplyOne(store::WriteCtx& w, const WriteBatch::Op& op, OpResult& r) const;
  // The maintenance ops (kSweep, kPurgeTombstones).
  Status Maintain(store::WriteCtx& w, const WriteBatch::Op& op, OpResult& r) const;

  std::unique_ptr<store::Env> env_;
  store::Store store_;
  std::string settings_note_;
};

}  // namespace postbox

#endif  // POSTBOX_STORE_DB_IMPL_H_
