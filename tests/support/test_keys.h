// Fresh signing keys for the tests, as PEM text (PKCS#8 "BEGIN PRIVATE KEY",
// the form Apple's .p8 files and Google's service-account JSON use). Aborts if
// OpenSSL cannot make one: no test can run without it.
#ifndef POSTBOX_TESTS_SUPPORT_TEST_KEYS_H_
#define POSTBOX_TESTS_SUPPORT_TEST_KEYS_H_

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <string>

namespace postbox::testing {

inline std::string PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (key == nullptr || bio == nullptr ||
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::abort();
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// A new EC key on P-256 (ES256).
inline std::string NewP256KeyPem() { return PemOf(EVP_EC_gen("P-256")); }
// A new RSA key (RS256), 2048 bits unless said.
inline std::string NewRsaKeyPem(unsigned bits = 2048) { return PemOf(EVP_RSA_gen(bits)); }

}  // namespace postbox::testing

#endif  // POSTBOX_TESTS_SUPPORT_TEST_KEYS_H_
