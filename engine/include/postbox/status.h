// Status: the outcome of an operation. OK carries no allocation; an error carries
// a code and a message naming what was wrong and what was expected.
// Thread-safety: a Status is a value; distinct objects may be used from any thread.
#ifndef POSTBOX_STATUS_H_
#define POSTBOX_STATUS_H_

#include <memory>
#include <string>
#include <string_view>

namespace postbox {

// Error codes. Their numeric values are the protocol's HTTP-like codes and reach
// the wire and the C API: do not renumber.
enum class Code : int {
  kOk = 0,
  kInvalidArgument = 400,   // malformed input
  kUnauthenticated = 401,   // unknown mailbox or wrong secret
  kPermissionDenied = 403,  // not connected, not the recipient, someone else's mailbox
  kNotFound = 404,          // unknown id / key / mailbox
  kConflict = 409,          // id reused with different content
  kGone = 410,              // superseded or deleted message
  kTooLarge = 413,          // a value, blob or field over its limit
  kDigestMismatch = 422,    // blob bytes do not match the declared digest
  kProtocolUnsupported = 426,
  kBackOff = 429,
  kInternal = 500,           // a bug or a corrupted store
  kUnavailable = 503,        // shutting down, or an I/O error
  kResourceExhausted = 507,  // storage full (the map cannot grow); sent as 503 on the wire
};

// The code a protocol reply carries for `code` (kResourceExhausted → 503).
int HttpCode(Code code);
// A short name, "NotFound", for logs and messages.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string_view message);
  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string_view msg) { return {Code::kInvalidArgument, msg}; }
  static Status Unauthenticated(std::string_view msg) { return {Code::kUnauthenticated, msg}; }
  static Status PermissionDenied(std::string_view msg) { return {Code::kPermissionDenied, msg}; }
  static Status NotFound(std::string_view msg) { return {Code::kNotFound, msg}; }
  static Status Conflict(std::string_view msg) { return {Code::kConflict, msg}; }
  static Status Gone(std::string_view msg) { return {Code::kGone, msg}; }
  static Status TooLarge(std::string_view msg) { return {Code::kTooLarge, msg}; }
  static Status DigestMismatch(std::string_view msg) { return {Code::kDigestMismatch, msg}; }
  static Status Internal(std::string_view msg) { return {Code::kInternal, msg}; }
  static Status Unavailable(std::string_view msg) { return {Code::kUnavailable, msg}; }
  static Status ResourceExhausted(std::string_view msg) { return {Code::kResourceExhausted, msg}; }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  // Empty for OK.
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  // "OK" or "NotFound: no message 0123…".
  std::string ToString() const;

  bool Is(Code c) const { return code() == c; }

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

}  // namespace postbox

#define POSTBOX_STATUS_CONCAT_INNER_(a, b) a##b
#define POSTBOX_STATUS_CONCAT_(a, b) POSTBOX_STATUS_CONCAT_INNER_(a, b)

// Returns the Status of `expr` from the enclosing function if it is not OK.
#define POSTBOX_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::postbox::Status postbox_status_ = (expr);        \
    if (!postbox_status_.ok()) return postbox_status_; \
  } while (0)

#endif  // POSTBOX_STATUS_H_
