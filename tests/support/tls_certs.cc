#include "tests/support/tls_certs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

namespace postbox::testing {
namespace {

// No test can run without its certificates: a failure here is the harness's.
void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tls_certs: %s failed\n", what);
    std::abort();
  }
}

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

Pkey NewKey() {
  Pkey key(EVP_EC_gen("P-256"));
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

// Adds the extension `nid` = `value` (openssl.cnf syntax) to `cert`.
void AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  Check(ext != nullptr, value.c_str());
  Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `key` named `common_name`, valid as said, not yet signed
// and without extensions.
Cert NewCert(EVP_PKEY* key, const std::string& common_name, std::chrono::seconds not_before,
             std::chrono::seconds not_after) {
  Cert cert(X509_new());
  Check(cert != nullptr, "X509_new");
  Check(X509_set_version(cert.get(), 2) == 1, "X509_set_version");
  // A random positive 63-bit serial, so that no two certificates of a run
  // (nor of two runs) share an issuer and serial.
  uint64_t serial = 0;
  Check(RAND_bytes(reinterpret_cast<unsigned char*>(&serial), sizeof(serial)) == 1, "RAND_bytes");
  serial = (serial >> 1) | 1;
  BIGNUM* bn = BN_new();
  Check(bn != nullptr && BN_set_word(bn, serial) == 1, "BN_set_word");
  Check(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) != nullptr, "serial");
  BN_free(bn);
  Check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before.count()) != nullptr,
        "notBefore");
  Check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after.count()) != nullptr, "notAfter");
  X509_NAME* name = X509_get_subject_name(cert.get());
  Check(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>("postbox tests"), -1, -1,
                                   0) == 1,
        "O");
  Check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                   -1, 0) == 1,
        "CN");
  Check(X509_set_pubkey(cert.get(), key) == 1, "X509_set_pubkey");
  return cert;
}

template <class Write>
std::string Pem(Write write) {
  BIO* bio = BIO_new(BIO_s_mem());
  Check(bio != nullptr && write(bio) == 1, "PEM_write");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

std::string CertPemOf(X509* cert) {
  return Pem([&](BIO* b) { return PEM_write_bio_X509(b, cert); });
}
std::string KeyPemOf(EVP_PKEY* key) {
  return Pem([&](BIO* b) {
    return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
  });
}

void WriteFile(const std::string& path, const std::string& text) {
  // Written to a temporary name and renamed, so that a server reloading
  // while a test rotates the files never reads half of one.
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    Check(out.good(), "writing a PEM file");
  }
  std::filesystem::rename(tmp, path);
}

CertFiles WriteFiles(const std::filesystem::path& dir, const std::string& name, X509* cert,
                     EVP_PKEY* key) {
  std::filesystem::create_directories(dir);
  CertFiles files{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
  WriteFile(files.cert, CertPemOf(cert));
  WriteFile(files.key, KeyPemOf(key));
  return files;
}

}  // namespace

struct TestCa::Impl {
  Pkey key;
  Cert cert;
};

TestCa::TestCa(const std::string& common_name) : impl_(std::make_unique<Impl>()) {
  impl_->key = NewKey();
  impl_->cert =
      NewCert(impl_->key.get(), common_name, -std::chrono::hours(24), std::chrono::hours(24 * 365));
  X509* c = impl_->cert.get();
  Check(X509_set_issuer_name(c, X509_get_subject_name(c)) == 1, "issuer");
  AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(c, c, NID_subject_key_identifier, "hash");
  Check(X509_sign(c, impl_->key.get(), EVP_sha256()) > 0, "X509_sign (CA)");
}

TestCa::~TestCa() = default;

std::string TestCa::CertPem() const { return CertPemOf(impl_->cert.get()); }

CertFiles TestCa::Write(const std::filesystem::path& dir, const std::string& name) const {
  return WriteFiles(dir, name, impl_->cert.get(), impl_->key.get());
}

CertFiles TestCa::Issue(const LeafSpec& spec, const std::filesystem::path& dir,
                        const std::string& name) const {
  Pkey key = NewKey();
  Cert cert = NewCert(key.get(), spec.common_name, spec.not_before, spec.not_after);
  X509* c = cert.get();
  X509* ca = impl_->cert.get();
  Check(X509_set_issuer_name(c, X509_get_subject_name(ca)) == 1, "issuer");
  AddExtension(c, ca, NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(c, ca, NID_key_usage, "critical,digitalSignature");
  AddExtension(c, ca, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
  AddExtension(c, ca, NID_subject_key_identifier, "hash");
  AddExtension(c, ca, NID_authority_key_identifier, "keyid:always");
  std::string san;
  for (const auto& d : spec.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : spec.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) AddExtension(c, ca, NID_subject_alt_name, san);
  Check(X509_sign(c, impl_->key.get(), EVP_sha256()) > 0, "X509_sign (leaf)");
  return WriteFiles(dir, name, c, key.get());
}

TestPki MakeTestPki(const std::filesystem::path& dir) {
  TestPki pki;
  const TestCa ca("postbox test CA");
  const TestCa other("postbox other CA");
  const TestCa clients("postbox client CA");
  pki.ca = ca.Write(dir, "ca");
  pki.server = ca.Issue(LeafSpec{}, dir, "server");
  pki.expired = ca.Issue(
      LeafSpec{.not_before = -std::chrono::hours(48), .not_after = -std::chrono::hours(24)}, dir,
      "expired");
  pki.wrong_host = ca.Issue(
      LeafSpec{.common_name = "wrong.example", .dns_names = {"wrong.example"}, .ip_addresses = {}},
      dir, "wrong_host");
  pki.other_ca = other.Write(dir, "other_ca");
  pki.other_server =
      other.Issue(LeafSpec{.common_name = "localhost (other CA)"}, dir, "other_server");
  pki.client_ca = clients.Write(dir, "client_ca");
  const LeafSpec client{
      .common_name = "postbox relay", .dns_names = {}, .ip_addresses = {}, .client = true};
  pki.client = clients.Issue(client, dir, "client");
  pki.stray_client = other.Issue(client, dir, "stray_client");
  pki.garbage = (dir / "garbage.pem").string();
  WriteFile(pki.garbage, "this is not a certificate\n");
  return pki;
}

void CopyCertFiles(const CertFiles& from, const CertFiles& to) {
  WriteFile(to.cert, ReadTextFile(from.cert));
  WriteFile(to.key, ReadTextFile(from.key));
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace postbox::testing
