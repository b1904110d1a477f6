// A test PKI made at test time with OpenSSL 3 (nothing of it is in the
// repository): certificate authorities, server and client certificates signed
// by them (EC P-256 keys, SHA-256 signatures), written as PEM files. It does
// not use GoogleTest; an OpenSSL failure aborts (no TLS test can run without
// it). Users include it as "tests/support/tls_certs.h" and link
// postbox::testing::tls_certs.
//
// Thread-safety: a TestCa may be used by one thread at a time.
#ifndef POSTBOX_TESTS_SUPPORT_TLS_CERTS_H_
#define POSTBOX_TESTS_SUPPORT_TLS_CERTS_H_

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace postbox::testing {

// What a leaf certificate says. The defaults: a server certificate for
// localhost and 127.0.0.1, valid from an hour ago for a day.
struct LeafSpec {
  std::string common_name = "localhost";
  std::vector<std::string> dns_names = {"localhost"};     // subjectAltName DNS:
  std::vector<std::string> ip_addresses = {"127.0.0.1"};  // subjectAltName IP: (v4 or v6)
  bool client = false;  // extendedKeyUsage clientAuth instead of serverAuth
  // Validity, relative to now (negative: in the past).
  std::chrono::seconds not_before = -std::chrono::hours(1);
  std::chrono::seconds not_after = std::chrono::hours(24);
};

// PEM files written by TestCa.
struct CertFiles {
  std::string cert;  // the certificate (a leaf: only the leaf, no chain)
  std::string key;   // its unencrypted PKCS#8 private key
};

// A self-signed CA that issues leaf certificates.
class TestCa {
 public:
  explicit TestCa(const std::string& common_name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  // The CA's certificate as PEM text.
  std::string CertPem() const;
  // Writes the CA's certificate and key to `dir`/`name`.crt and .key.
  CertFiles Write(const std::filesystem::path& dir, const std::string& name) const;
  // Issues a certificate for a new key as `spec` says and writes both to
  // `dir`/`name`.crt and .key.
  CertFiles Issue(const LeafSpec& spec, const std::filesystem::path& dir,
                  const std::string& name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The PKI the TLS tests use, its files in one folder.
struct TestPki {
  CertFiles ca;            // "postbox test CA"
  CertFiles server;        // by `ca`: DNS:localhost, IP:127.0.0.1
  CertFiles expired;       // by `ca`, for localhost and 127.0.0.1, expired yesterday
  CertFiles wrong_host;    // by `ca`: DNS:wrong.example only
  CertFiles other_ca;      // a second CA, "postbox other CA"
  CertFiles other_server;  // by `other_ca`: DNS:localhost, IP:127.0.0.1
  CertFiles client_ca;     // the CA of client certificates
  CertFiles client;        // by `client_ca`: CN "postbox relay", clientAuth
  CertFiles stray_client;  // by `other_ca`, clientAuth: a client `client_ca` does not know
  std::string garbage;     // a file that is no PEM at all
};

// Makes the whole PKI in `dir` (created if missing). Takes a few milliseconds.
TestPki MakeTestPki(const std::filesystem::path& dir);

// Copies `from`'s certificate and key over `to`'s files (a certificate
// rotated in place, as before a reload).
void CopyCertFiles(const CertFiles& from, const CertFiles& to);

// Reads a whole file (empty if it cannot be read).
std::string ReadTextFile(const std::string& path);

}  // namespace postbox::testing

#endif  // POSTBOX_TESTS_SUPPORT_TLS_CERTS_H_
