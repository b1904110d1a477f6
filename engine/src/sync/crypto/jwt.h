// JSON Web Tokens for the push services (docs/notifications.md): base64url
// (RFC 4648 §5, unpadded, as JWS uses it), ES256 (ECDSA P-256 with SHA-256,
// RFC 7518 §3.4) and RS256 (RSASSA-PKCS1-v1_5 with SHA-256, §3.3) compact
// JWTs over OpenSSL 3's EVP interface. APNs provider tokens are ES256, Google
// service-account assertions RS256, and RFC 8292 VAPID tokens ES256 verified
// with the 65-byte key a Web Push subscription carries.
//
// Internal (not API). Thread-safety: free functions are thread-safe; a
// PrivateKey may be used from several threads at once (signing does not
// change it).
#ifndef POSTBOX_SYNC_CRYPTO_JWT_H_
#define POSTBOX_SYNC_CRYPTO_JWT_H_

#include <memory>
#include <string>
#include <string_view>

#include "postbox/result.h"
#include "postbox/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY

namespace postbox::sync::crypto {

// base64url without padding (the alphabet A-Z a-z 0-9 - _).
std::string Base64UrlEncode(std::string_view bytes);

// The bytes of unpadded base64url `text`. InvalidArgument for a character
// outside the alphabet (including '=', '+', '/' and white space), a length
// that no encoding has (4k+1), or non-zero unused bits in the last character
// (a non-canonical encoding).
Result<std::string> Base64UrlDecode(std::string_view text);

// A private key for signing JWTs: an EC P-256 key (ES256) or an RSA key of at
// least 2048 bits (RS256).
class PrivateKey {
 public:
  enum class Type { kEs256, kRs256 };

  // Parses a PEM private key: PKCS#8 ("BEGIN PRIVATE KEY", as Apple's .p8
  // files and Google's service-account JSON hold them) or the traditional
  // "BEGIN EC PRIVATE KEY" / "BEGIN RSA PRIVATE KEY" forms. InvalidArgument
  // for text that is no unencrypted PEM private key, an EC key on a curve
  // other than P-256, an RSA key under 2048 bits, or any other key type.
  static Result<PrivateKey> FromPem(std::string_view pem);

  Type type() const { return type_; }
  // "ES256" or "RS256": the JWS "alg" this key signs with.
  std::string_view alg() const { return type_ == Type::kEs256 ? "ES256" : "RS256"; }

  // The JWS signature of `data`: for ES256 the 64 bytes r || s (each
  // big-endian, zero-padded to 32 bytes; not DER), for RS256 the PKCS#1 v1.5
  // signature (the modulus's length). Internal if OpenSSL fails.
  Result<std::string> Sign(std::string_view data) const;

  // The public half: for ES256 the 65-byte uncompressed point 0x04 || X || Y
  // (X9.62, as Web Push and VerifyEs256Jwt take it), for RS256 a PEM
  // "BEGIN PUBLIC KEY" (SubjectPublicKeyInfo). Internal if OpenSSL fails.
  Result<std::string> PublicKey() const;

 private:
  PrivateKey(std::shared_ptr<evp_pkey_st> key, Type type) : key_(std::move(key)), type_(type) {}
  std::shared_ptr<evp_pkey_st> key_;  // immutable once parsed, so shared by copies
  Type type_;
};

// A compact JWT "b64(header).b64(claims).b64(signature)" signed with `key`.
// `header_json` and `claims_json` are JSON objects, encoded as given (so the
// caller controls member order and spacing); the header's "alg" must be the
// key's. InvalidArgument if either is no JSON object or the alg differs.
Result<std::string> SignJwt(const PrivateKey& key, std::string_view header_json,
                            std::string_view claims_json);

// Checks a compact ES256 JWT against `public_key_65` (0x04 || X || Y on P-256)
// and returns its payload (the decoded JSON text of the claims, unparsed
// beyond checking that it is a JSON object). It checks the form, that the
// header is a JSON object whose "alg" is "ES256", and the signature; no claim
// (exp, aud, ...) is checked: that is the caller's policy.
// InvalidArgument: the token is not three base64url parts, the header or
// payload is no JSON object, or the key is not 65 bytes of a P-256 point.
// Unauthenticated: the alg is not ES256, or the signature does not verify.
Result<std::string> VerifyEs256Jwt(std::string_view jwt, std::string_view public_key_65);

// The same for an RS256 JWT and a PEM public key ("BEGIN PUBLIC KEY", RSA).
Result<std::string> VerifyRs256Jwt(std::string_view jwt, std::string_view public_key_pem);

// Checks the raw ES256 `signature` (64 bytes r || s) of `data`. OK if it
// verifies; InvalidArgument for a bad key or a signature that is not 64 bytes;
// Unauthenticated if it does not verify.
Status VerifyEs256(std::string_view public_key_65, std::string_view data,
                   std::string_view signature);

}  // namespace postbox::sync::crypto

#endif  // POSTBOX_SYNC_CRYPTO_JWT_H_
