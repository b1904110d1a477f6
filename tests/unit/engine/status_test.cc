// Status and Result: the error vocabulary every other test relies on.
#include "postbox/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "postbox/result.h"
#include "tests/unit/engine/test_util.h"

namespace postbox {
namespace {

TEST(StatusTest, DefaultIsOkWithoutMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_TRUE(s.message().empty());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_TRUE(s.Is(Code::kOk));
}

TEST(StatusTest, FactoriesCarryTheirCodeAndMessage) {
  struct Case {
    Status status;
    Code code;
  };
  const Case cases[] = {
      {Status::InvalidArgument("m"), Code::kInvalidArgument},
      {Status::Unauthenticated("m"), Code::kUnauthenticated},
      {Status::PermissionDenied("m"), Code::kPermissionDenied},
      {Status::NotFound("m"), Code::kNotFound},
      {Status::Conflict("m"), Code::kConflict},
      {Status::Gone("m"), Code::kGone},
      {Status::TooLarge("m"), Code::kTooLarge},
      {Status::DigestMismatch("m"), Code::kDigestMismatch},
      {Status::Internal("m"), Code::kInternal},
      {Status::Unavailable("m"), Code::kUnavailable},
      {Status::ResourceExhausted("m"), Code::kResourceExhausted},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_TRUE(c.status.Is(c.code));
    EXPECT_FALSE(c.status.Is(Code::kOk));
    EXPECT_EQ(c.status.message(), "m");
  }
}

TEST(StatusTest, CodesAreTheProtocolNumbers) {
  EXPECT_EQ(static_cast<int>(Code::kInvalidArgument), 400);
  EXPECT_EQ(static_cast<int>(Code::kUnauthenticated), 401);
  EXPECT_EQ(static_cast<int>(Code::kPermissionDenied), 403);
  EXPECT_EQ(static_cast<int>(Code::kNotFound), 404);
  EXPECT_EQ(static_cast<int>(Code::kConflict), 409);
  EXPECT_EQ(static_cast<int>(Code::kGone), 410);
  EXPECT_EQ(static_cast<int>(Code::kTooLarge), 413);
  EXPECT_EQ(HttpCode(Code::kNotFound), 404);
  EXPECT_EQ(HttpCode(Code::kGone), 410);
  EXPECT_EQ(HttpCode(Code::kUnavailable), 503);
  // Storage full is its own code in the engine but travels as 503.
  EXPECT_EQ(HttpCode(Code::kResourceExhausted), 503);
}

TEST(StatusTest, ToStringNamesCodeAndMessage) {
  EXPECT_EQ(CodeName(Code::kNotFound), "NotFound");
  EXPECT_EQ(CodeName(Code::kResourceExhausted), "ResourceExhausted");
  const std::string s = Status::NotFound("no message 0123").ToString();
  EXPECT_NE(s.find("NotFound"), std::string::npos) << s;
  EXPECT_NE(s.find("no message 0123"), std::string::npos) << s;
}

TEST(StatusTest, CopyAndMoveKeepCodeAndMessage) {
  Status a = Status::Gone("superseded");
  Status b = a;
  EXPECT_EQ(b.code(), Code::kGone);
  EXPECT_EQ(b.message(), "superseded");
  EXPECT_EQ(a.message(), "superseded");  // the copy is deep
  Status c;
  c = b;
  EXPECT_EQ(c.code(), Code::kGone);
  c = Status::Ok();
  EXPECT_TRUE(c.ok());
  EXPECT_EQ(b.code(), Code::kGone);
  Status d = std::move(b);
  EXPECT_EQ(d.code(), Code::kGone);
  EXPECT_EQ(d.message(), "superseded");
  Status ok_copy = Status::Ok();
  Status ok_copy2 = ok_copy;
  EXPECT_TRUE(ok_copy2.ok());
}

TEST(ResultTest, HoldsValue) {
  Result<std::string> r(std::string("x"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(*r, "x");
  EXPECT_EQ(r->size(), 1u);
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value_or("y"), "x");
  std::string moved = std::move(r).value();
  EXPECT_EQ(moved, "x");
}

TEST(ResultTest, HoldsError) {
  Result<int> r(Status::NotFound("nope"));
  EXPECT_FALSE(r.has_value());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "nope");
  EXPECT_EQ(r.value_or(7), 7);
}

TEST(ResultTest, HoldsMoveOnlyValue) {
  Result<std::unique_ptr<int>> r(std::make_unique<int>(5));
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  POSTBOX_ASSIGN_OR_RETURN(int half, Half(x));
  POSTBOX_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  POSTBOX_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(ResultTest, MacrosPropagateErrors) {
  ASSERT_TRUE(Quarter(8).ok());
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_CODE(Quarter(6), kInvalidArgument);  // 6 → 3 → odd
  EXPECT_CODE(Quarter(5), kInvalidArgument);
  EXPECT_OK(CheckEven(4));
  EXPECT_CODE(CheckEven(3), kInvalidArgument);
}

}  // namespace
}  // namespace postbox
