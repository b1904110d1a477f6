// base64url and the ES256 / RS256 JWTs of engine/src/sync/crypto/jwt.h:
// RFC vectors, sign → verify round trips, and every kind of tampering.
#include "sync/crypto/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <rapidcheck/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/test_keys.h"

namespace postbox::sync::crypto {
namespace {

using postbox::testing::NewP256KeyPem;
using postbox::testing::NewRsaKeyPem;

// RFC 7515 appendix A.3: the ES256 example, its public key (x, y of the JWK)
// and its payload (with the \r\n the RFC's JSON has).
constexpr char kA3Jwt[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
constexpr char kA3X[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
constexpr char kA3Y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
constexpr char kA3Payload[] =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

std::string A3PublicKey() {
  return std::string(1, '\x04') + Base64UrlDecode(kA3X).value() + Base64UrlDecode(kA3Y).value();
}

// Shared keys: RSA generation takes a while.
const PrivateKey& EcKey() {
  static const PrivateKey key = PrivateKey::FromPem(NewP256KeyPem()).value();
  return key;
}
const PrivateKey& RsaKey() {
  static const PrivateKey key = PrivateKey::FromPem(NewRsaKeyPem()).value();
  return key;
}

// {"iss":<claim>,"iat":1700000000}, invalid UTF-8 replaced.
std::string Claims(const std::string& claim) {
  const nlohmann::json j = {{"iss", claim}, {"iat", 1700000000}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

TEST(Base64UrlTest, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}, {"\xfb\xff", "-_8"}};
  for (const auto& [bytes, text] : vectors) {
    EXPECT_EQ(Base64UrlEncode(bytes), text);
    auto decoded = Base64UrlDecode(text);
    ASSERT_TRUE(decoded) << text << ": " << decoded.status().ToString();
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64UrlTest, RejectsWhatIsNotUnpaddedBase64Url) {
  const std::string_view bad[] = {
      "Zg==",   "Zm9=", "Zm9v+A", "Zm9v/A", "Zm 9v",
      "Zm9v\n", "Z",    "Zm9vY",  "Zh",     std::string_view("Zm9\0v", 5)};
  for (std::string_view text : bad) {
    const auto r = Base64UrlDecode(text);
    ASSERT_FALSE(r) << text;
    EXPECT_TRUE(r.error().Is(Code::kInvalidArgument)) << text;
  }
}

RC_GTEST_PROP(Base64UrlProp, DecodeInvertsEncode, (const std::string& bytes)) {
  const std::string text = Base64UrlEncode(bytes);
  RC_ASSERT(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
      std::string::npos);
  const auto decoded = Base64UrlDecode(text);
  RC_ASSERT(decoded.has_value());
  RC_ASSERT(*decoded == bytes);
}

TEST(JwtTest, Rfc7515A3Verifies) {
  const auto payload = VerifyEs256Jwt(kA3Jwt, A3PublicKey());
  ASSERT_TRUE(payload) << payload.status().ToString();
  EXPECT_EQ(*payload, kA3Payload);
}

TEST(JwtTest, Rfc7515A3TamperedIsRejected) {
  std::string jwt = kA3Jwt;
  jwt.back() = 'A';  // a different, still canonical signature
  auto r = VerifyEs256Jwt(jwt, A3PublicKey());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().Is(Code::kUnauthenticated)) << r.error().ToString();

  // The payload with "joe" changed to "jon".
  jwt = kA3Jwt;
  const std::string payload = std::string(kA3Payload).replace(8, 3, "jon");
  const size_t a = jwt.find('.'), b = jwt.rfind('.');
  jwt.replace(a + 1, b - a - 1, Base64UrlEncode(payload));
  r = VerifyEs256Jwt(jwt, A3PublicKey());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().Is(Code::kUnauthenticated)) << r.error().ToString();

  r = VerifyEs256Jwt(kA3Jwt, EcKey().PublicKey().value());  // the wrong key
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().Is(Code::kUnauthenticated)) << r.error().ToString();
}

TEST(JwtTest, VerifyRefusesOtherAlgsAndMalformedTokens) {
  const std::string key = A3PublicKey();
  const std::string rest = std::string(kA3Jwt).substr(std::string(kA3Jwt).find('.'));
  for (const char* header :
       {R"({"alg":"none"})", R"({"alg":"HS256"})", R"({"typ":"JWT"})", R"({"alg":["ES256"]})"}) {
    const auto r = VerifyEs256Jwt(Base64UrlEncode(header) + rest, key);
    ASSERT_FALSE(r) << header;
    EXPECT_TRUE(r.error().Is(Code::kUnauthenticated)) << header << r.error().ToString();
  }
  const std::string a3 = kA3Jwt;
  for (const std::string& bad :
       {a3.substr(0, a3.rfind('.')), a3 + ".x", std::string("a.b.c"), a3 + "=", std::string("..."),
        Base64UrlEncode("[1]") + rest, Base64UrlEncode("{\"alg\":") + rest}) {
    const auto r = VerifyEs256Jwt(bad, key);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().Is(Code::kInvalidArgument)) << bad << r.error().ToString();
  }
  // A validly signed payload that is no JSON object is refused too.
  const std::string input = Base64UrlEncode(R"({"alg":"ES256"})") + "." + Base64UrlEncode("[1]");
  const std::string jwt = input + "." + Base64UrlEncode(EcKey().Sign(input).value());
  const auto r = VerifyEs256Jwt(jwt, EcKey().PublicKey().value());
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().Is(Code::kInvalidArgument)) << r.error().ToString();
}

TEST(JwtTest, VerifyRefusesBadPublicKeys) {
  std::string off_curve(65, '\0');
  off_curve[0] = 0x04;
  std::string compressed = A3PublicKey().substr(0, 33);
  compressed[0] = 0x02;
  for (const std::string& key : {std::string(), off_curve, compressed, A3PublicKey() + "x",
                                 "\x05" + A3PublicKey().substr(1)}) {
    const auto r = VerifyEs256Jwt(kA3Jwt, key);
    ASSERT_FALSE(r);
    EXPECT_TRUE(r.error().Is(Code::kInvalidArgument)) << r.error().ToString();
  }
}

RC_GTEST_PROP(JwtProp, Es256SignThenVerifyRoundTrips, (const std::string& claim)) {
  const std::string claims = Claims(claim);
  const auto jwt = SignJwt(EcKey(), R"({"alg":"ES256","kid":"ABC123DEFG"})", claims);
  RC_ASSERT(jwt.has_value());
  const auto payload = VerifyEs256Jwt(*jwt, EcKey().PublicKey().value());
  RC_ASSERT(payload.has_value());
  RC_ASSERT(*payload == claims);
  // The signature is raw r || s: 64 bytes, 86 base64url characters.
  RC_ASSERT(jwt->size() - jwt->rfind('.') - 1 == 86u);
}

TEST(JwtTest, Es256SignaturesAreRandomizedAndAllVerify) {
  const std::string claims = Claims("team");
  const auto a = SignJwt(EcKey(), R"({"alg":"ES256"})", claims).value();
  const auto b = SignJwt(EcKey(), R"({"alg":"ES256"})", claims).value();
  EXPECT_NE(a, b);  // ECDSA draws a fresh nonce each time
  EXPECT_TRUE(VerifyEs256Jwt(a, EcKey().PublicKey().value()));
  EXPECT_TRUE(VerifyEs256Jwt(b, EcKey().PublicKey().value()));
  // The raw signature checks on its own as well.
  const std::string input = a.substr(0, a.rfind('.'));
  const std::string sig = Base64UrlDecode(a.substr(a.rfind('.') + 1)).value();
  EXPECT_TRUE(VerifyEs256(EcKey().PublicKey().value(), input, sig).ok());
  EXPECT_TRUE(
      VerifyEs256(EcKey().PublicKey().value(), input + " ", sig).Is(Code::kUnauthenticated));
  EXPECT_TRUE(
      VerifyEs256(EcKey().PublicKey().value(), input, sig.substr(1)).Is(Code::kInvalidArgument));
}

TEST(JwtTest, Rs256SignThenVerifyIsDeterministicAndTamperProof) {
  const std::string header = R"({"alg":"RS256","typ":"JWT"})";
  const std::string claims = Claims("svc@project.iam.gserviceaccount.com");
  const auto a = SignJwt(RsaKey(), header, claims);
  ASSERT_TRUE(a) << a.status().ToString();
  EXPECT_EQ(*a, SignJwt(RsaKey(), header, claims).value());  // PKCS#1 v1.5 is deterministic
  const std::string pub = RsaKey().PublicKey().value();
  EXPECT_NE(pub.find("BEGIN PUBLIC KEY"), std::string::npos);
  const auto payload = VerifyRs256Jwt(*a, pub);
  ASSERT_TRUE(payload) << payload.status().ToString();
  EXPECT_EQ(*payload, claims);
  // 2048 bits: a 256-byte signature.
  EXPECT_EQ(Base64UrlDecode(a->substr(a->rfind('.') + 1)).value().size(), 256u);

  std::string tampered = *a;
  tampered[tampered.find('.') + 3] ^= 1;
  EXPECT_FALSE(VerifyRs256Jwt(tampered, pub));
  const PrivateKey other = PrivateKey::FromPem(NewRsaKeyPem()).value();
  const auto wrong = VerifyRs256Jwt(*a, other.PublicKey().value());
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(wrong.error().Is(Code::kUnauthenticated));
  // An ES256 token is not an RS256 one, nor the reverse.
  EXPECT_FALSE(VerifyRs256Jwt(kA3Jwt, pub));
  EXPECT_FALSE(VerifyEs256Jwt(*a, A3PublicKey()));
}

TEST(JwtTest, SignRefusesAMismatchedAlgAndNonObjects) {
  EXPECT_TRUE(SignJwt(EcKey(), R"({"alg":"RS256"})", "{}").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(SignJwt(RsaKey(), R"({"alg":"ES256"})", "{}").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(SignJwt(EcKey(), R"({"kid":"x"})", "{}").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(SignJwt(EcKey(), R"({"alg":"ES256"})", "[]").status().Is(Code::kInvalidArgument));
  EXPECT_TRUE(SignJwt(EcKey(), "not json", "{}").status().Is(Code::kInvalidArgument));
}

// An EC key on P-384, PEM: not an ES256 key.
std::string P384KeyPem() { return postbox::testing::PemOf(EVP_EC_gen("P-384")); }

// `pem`'s key, encrypted with a passphrase.
std::string EncryptedPem(const std::string& pem) {
  BIO* in = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO_free(in);
  BIO* out = BIO_new(BIO_s_mem());
  char pass[] = "secret";
  EXPECT_EQ(PEM_write_bio_PKCS8PrivateKey(out, key, EVP_aes_128_cbc(), pass, 6, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out, &data);
  std::string encrypted(data, static_cast<size_t>(len));
  BIO_free(out);
  EVP_PKEY_free(key);
  return encrypted;
}

TEST(PrivateKeyTest, FromPemRefusesOtherKeys) {
  for (const std::string& pem :
       {std::string(), std::string("-----BEGIN PRIVATE KEY-----\nAAAA\n"), P384KeyPem(),
        NewRsaKeyPem(1024), EncryptedPem(NewP256KeyPem()), RsaKey().PublicKey().value()}) {
    const auto r = PrivateKey::FromPem(pem);
    ASSERT_FALSE(r) << pem;
    EXPECT_TRUE(r.error().Is(Code::kInvalidArgument)) << r.error().ToString();
  }
  const auto ec = PrivateKey::FromPem(NewP256KeyPem());
  ASSERT_TRUE(ec);
  EXPECT_EQ(ec->type(), PrivateKey::Type::kEs256);
  EXPECT_EQ(ec->alg(), "ES256");
  EXPECT_EQ(ec->PublicKey().value().size(), 65u);
  EXPECT_EQ(ec->PublicKey().value()[0], '\x04');
  EXPECT_EQ(RsaKey().type(), PrivateKey::Type::kRs256);
}

}  // namespace
}  // namespace postbox::sync::crypto
