// JWTs over OpenSSL 3's EVP interface (no deprecated EC_KEY / RSA calls).
// OpenSSL's own errors are translated here, once: its error queue is drained
// into the Status message, so no stale entry leaks into a later call on the
// same thread.
#include "sync/crypto/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

#include "store/records.h"

namespace postbox::sync::crypto {
namespace {

// OpenSSL's queued errors as text (and the queue emptied).
std::string OpensslErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error queued" : out;
}

Status OpensslFailure(std::string_view what) {
  return Status::Internal(std::string(what) + ": " + OpensslErrors());
}

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

// -1 for a character outside the base64url alphabet.
int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool IsJsonObject(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object();
}

// The curve of an EC key ("prime256v1" for P-256), empty if none.
std::string GroupName(EVP_PKEY* key) {
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return "";
  }
  return std::string(name, len);
}

// Signs or verifies `data` with SHA-256 under `key` (the padding and encoding
// are the key type's defaults: DER ECDSA, PKCS#1 v1.5 RSA).
Result<std::string> DigestSign(EVP_PKEY* key, std::string_view data) {
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return OpensslFailure("signing");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return OpensslFailure("signing");
  }
  sig.resize(len);
  return sig;
}

// OK if `sig` (the key type's native encoding) verifies; Unauthenticated if
// not.
Status DigestVerify(EVP_PKEY* key, std::string_view data, std::string_view sig) {
  Owned<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (!ctx ||
      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key, nullptr) != 1) {
    return OpensslFailure("verifying");
  }
  const int rc =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size());
  ERR_clear_error();  // a mismatch queues errors: expected, not news
  if (rc != 1) return Status::Unauthenticated("the JWT signature does not verify");
  return Status::Ok();
}

// A P-256 public key from its 65-byte uncompressed encoding; InvalidArgument
// for any other length or a point not on the curve.
Result<Owned<EVP_PKEY>> P256PublicKey(std::string_view point) {
  if (point.size() != 65 || point[0] != 0x04) {
    return Status::InvalidArgument("ES256 public key: 65 bytes 0x04 || X || Y expected, got " +
                                   std::to_string(point.size()) + " bytes");
  }
  Owned<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  char group[] = SN_X9_62_prime256v1;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<char*>(point.data()),
                                        point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) !=
          1) {
    return Status::InvalidArgument("ES256 public key: not a point on P-256 (" + OpensslErrors() +
                                   ")");
  }
  return Owned<EVP_PKEY>(key);
}

// DER ECDSA-Sig-Value → 64 bytes r || s, and back.
Result<std::string> DerToRaw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  Owned<ECDSA_SIG> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return OpensslFailure("decoding an ECDSA signature");
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + 32, 32) != 32) {
    return OpensslFailure("encoding an ECDSA signature");
  }
  return raw;
}

Result<std::string> RawToDer(std::string_view raw) {
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  Owned<ECDSA_SIG> sig(ECDSA_SIG_new());
  Owned<BIGNUM> r(BN_bin2bn(in, 32, nullptr)), s(BN_bin2bn(in + 32, 32, nullptr));
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return OpensslFailure("building an ECDSA signature");
  }
  r.release();  // owned by sig now
  s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return OpensslFailure("encoding an ECDSA signature");
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The parts of a compact JWT, decoded.
struct Parts {
  std::string_view signing_input;  // "header.payload" as received
  std::string header, payload, signature;
};

Result<Parts> SplitJwt(std::string_view jwt, std::string_view alg) {
  const size_t a = jwt.find('.');
  const size_t b = a == std::string_view::npos ? a : jwt.find('.', a + 1);
  if (b == std::string_view::npos || jwt.find('.', b + 1) != std::string_view::npos) {
    return Status::InvalidArgument("JWT: three base64url parts header.payload.signature expected");
  }
  Parts p;
  p.signing_input = jwt.substr(0, b);
  auto header = Base64UrlDecode(jwt.substr(0, a));
  auto payload = Base64UrlDecode(jwt.substr(a + 1, b - a - 1));
  auto signature = Base64UrlDecode(jwt.substr(b + 1));
  if (!header || !payload || !signature) {
    return Status::InvalidArgument("JWT: a part is not base64url");
  }
  p.header = std::move(*header);
  p.payload = std::move(*payload);
  p.signature = std::move(*signature);
  const auto h = nlohmann::json::parse(p.header, nullptr, false);
  if (!h.is_object()) return Status::InvalidArgument("JWT: the header is not a JSON object");
  if (!IsJsonObject(p.payload)) {
    return Status::InvalidArgument("JWT: the payload is not a JSON object");
  }
  const auto it = h.find("alg");
  if (it == h.end() || !it->is_string() || *it != alg) {
    return Status::Unauthenticated("JWT: alg " + std::string(alg) + " expected");
  }
  return p;
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  return store::Base64Url(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return Status::InvalidArgument("base64url: " + std::to_string(text.size()) +
                                   " characters is no encoding's length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = Base64UrlValue(text[i]);
    if (v < 0) {
      return Status::InvalidArgument("base64url: character " + std::to_string(i) +
                                     " is outside A-Z a-z 0-9 - _ (unpadded)");
    }
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>(acc >> bits & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0) {
    return Status::InvalidArgument("base64url: non-zero unused bits in the last character");
  }
  return out;
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Owned<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // No passphrase callback may prompt on a terminal: an encrypted key fails.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  Owned<EVP_PKEY> key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)
                          : nullptr);
  if (!key) {
    return Status::InvalidArgument("private key: no unencrypted PEM private key (" +
                                   OpensslErrors() + ")");
  }
  if (EVP_PKEY_is_a(key.get(), "EC")) {
    const std::string group = GroupName(key.get());
    if (group != SN_X9_62_prime256v1) {
      return Status::InvalidArgument("private key: an EC key on P-256 expected, got curve '" +
                                     group + "'");
    }
    return PrivateKey(std::shared_ptr<EVP_PKEY>(key.release(), Free()), Type::kEs256);
  }
  if (EVP_PKEY_is_a(key.get(), "RSA")) {
    if (EVP_PKEY_get_bits(key.get()) < 2048) {
      return Status::InvalidArgument(
          "private key: an RSA key of at least 2048 bits expected, got " +
          std::to_string(EVP_PKEY_get_bits(key.get())));
    }
    return PrivateKey(std::shared_ptr<EVP_PKEY>(key.release(), Free()), Type::kRs256);
  }
  return Status::InvalidArgument(std::string("private key: EC P-256 or RSA expected, got ") +
                                 EVP_PKEY_get0_type_name(key.get()));
}

Result<std::string> PrivateKey::Sign(std::string_view data) const {
  POSTBOX_ASSIGN_OR_RETURN(std::string sig, DigestSign(key_.get(), data));
  if (type_ == Type::kEs256) return DerToRaw(sig);
  return sig;
}

Result<std::string> PrivateKey::PublicKey() const {
  if (type_ == Type::kEs256) {
    std::string point(65, '\0');
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                        reinterpret_cast<unsigned char*>(point.data()),
                                        point.size(), &len) != 1 ||
        len != 65) {
      return OpensslFailure("encoding the P-256 public key");
    }
    return point;
  }
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    return OpensslFailure("encoding the RSA public key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> SignJwt(const PrivateKey& key, std::string_view header_json,
                            std::string_view claims_json) {
  const auto header = nlohmann::json::parse(header_json, nullptr, false);
  if (!header.is_object()) return Status::InvalidArgument("JWT header: a JSON object expected");
  const auto alg = header.find("alg");
  if (alg == header.end() || *alg != key.alg()) {
    return Status::InvalidArgument("JWT header: \"alg\":\"" + std::string(key.alg()) +
                                   "\" expected for this key");
  }
  if (!IsJsonObject(claims_json)) {
    return Status::InvalidArgument("JWT claims: a JSON object expected");
  }
  std::string jwt = Base64UrlEncode(header_json) + "." + Base64UrlEncode(claims_json);
  POSTBOX_ASSIGN_OR_RETURN(const std::string sig, key.Sign(jwt));
  jwt += ".";
  jwt += Base64UrlEncode(sig);
  return jwt;
}

Status VerifyEs256(std::string_view public_key_65, std::string_view data,
                   std::string_view signature) {
  POSTBOX_ASSIGN_OR_RETURN(const Owned<EVP_PKEY> key, P256PublicKey(public_key_65));
  if (signature.size() != 64) {
    return Status::InvalidArgument("ES256 signature: 64 bytes r || s expected, got " +
                                   std::to_string(signature.size()));
  }
  POSTBOX_ASSIGN_OR_RETURN(const std::string der, RawToDer(signature));
  return DigestVerify(key.get(), data, der);
}

Result<std::string> VerifyEs256Jwt(std::string_view jwt, std::string_view public_key_65) {
  POSTBOX_ASSIGN_OR_RETURN(Parts p, SplitJwt(jwt, "ES256"));
  if (p.signature.size() != 64) {
    return Status::Unauthenticated("JWT: an ES256 signature is 64 bytes, got " +
                                   std::to_string(p.signature.size()));
  }
  POSTBOX_RETURN_IF_ERROR(VerifyEs256(public_key_65, p.signing_input, p.signature));
  return std::move(p.payload);
}

Result<std::string> VerifyRs256Jwt(std::string_view jwt, std::string_view public_key_pem) {
  Owned<BIO> bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  Owned<EVP_PKEY> key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || !EVP_PKEY_is_a(key.get(), "RSA")) {
    return Status::InvalidArgument("RS256 public key: a PEM RSA public key expected (" +
                                   OpensslErrors() + ")");
  }
  POSTBOX_ASSIGN_OR_RETURN(Parts p, SplitJwt(jwt, "RS256"));
  POSTBOX_RETURN_IF_ERROR(DigestVerify(key.get(), p.signing_input, p.signature));
  return std::move(p.payload);
}

}  // namespace postbox::sync::crypto
