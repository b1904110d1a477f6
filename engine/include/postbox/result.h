// Result<T>: a T or a non-OK Status, shaped like std::expected<T, Status>
// (value(), error(), has_value(), operator*, operator->) so it can become one.
// Thread-safety: a value type; distinct objects may be used from any thread.
#ifndef POSTBOX_RESULT_H_
#define POSTBOX_RESULT_H_

#include <cassert>
#include <optional>
#include <utility>

#include "postbox/status.h"

namespace postbox {

template <typename T>
class [[nodiscard]] Result {
 public:
  // Implicit from a value or from a non-OK Status so functions can `return x;`.
  Result(T value) : value_(std::move(value)) {}         // NOLINT(runtime/explicit)
  Result(Status status) : status_(std::move(status)) {  // NOLINT(runtime/explicit)
    assert(!status_.ok() && "Result built from an OK Status has no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an OK Status");
  }

  bool has_value() const { return value_.has_value(); }
  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return has_value(); }

  // Preconditions (asserted): has_value().
  T& value() & {
    assert(has_value());
    return *value_;
  }
  const T& value() const& {
    assert(has_value());
    return *value_;
  }
  T&& value() && {
    assert(has_value());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // OK when has_value().
  const Status& status() const { return status_; }
  // Precondition (asserted): !has_value().
  const Status& error() const {
    assert(!has_value());
    return status_;
  }

  T value_or(T fallback) const& { return has_value() ? *value_ : std::move(fallback); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace postbox

// Evaluates `rexpr` (a Result); on error returns its Status from the enclosing
// function, otherwise moves the value into `lhs` (which may be a declaration).
#define POSTBOX_ASSIGN_OR_RETURN(lhs, rexpr) \
  POSTBOX_ASSIGN_OR_RETURN_IMPL_(POSTBOX_STATUS_CONCAT_(postbox_result_, __LINE__), lhs, rexpr)
#define POSTBOX_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                   \
  if (!tmp.has_value()) return tmp.error();             \
  lhs = std::move(tmp).value()

#endif  // POSTBOX_RESULT_H_
