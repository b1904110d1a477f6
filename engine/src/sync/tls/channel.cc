#include "sync/tls/channel.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>

namespace postbox::sync {
namespace {

// OpenSSL's reasons queued on this thread, oldest first, "; "-separated; the
// queue is left empty.
std::string DrainErrors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof(buf));
    // "error:0A000086:SSL routines::certificate verify failed": the reason
    // after the last colon is what a reader needs.
    std::string_view line(buf);
    if (auto at = line.rfind(':'); at != std::string_view::npos) line.remove_prefix(at + 1);
    if (!out.empty()) out += "; ";
    out += line;
  }
  return out.empty() ? "no reason given" : out;
}

Status FileError(std::string_view what, const std::string& path) {
  return Status::InvalidArgument("TLS " + std::string(what) + " '" + path + "': " + DrainErrors());
}

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(len));
  return out;
}

// "sha256/" + base64(SHA-256(DER SubjectPublicKeyInfo)).
std::string PinOf(X509* cert) {
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  if (len <= 0) return {};
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int dlen = 0;
  const bool ok = EVP_Digest(der, static_cast<size_t>(len), digest, &dlen, EVP_sha256(), nullptr);
  OPENSSL_free(der);
  return ok ? "sha256/" + Base64(digest, dlen) : std::string();
}

int MinVersion(TlsVersion v) { return v == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION; }

// TLS 1.2, when allowed, only with forward secrecy and AEAD ciphers.
constexpr const char* kTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

Status LoadChain(SSL_CTX* ctx, const std::string& cert, const std::string& key) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    return FileError("certificate file", cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return FileError("key file", key);
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return FileError("key file (it does not match the certificate in " + cert + ")", key);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> TlsPublicKeyPin(const std::string& cert_file) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(cert_file.c_str(), "rb"), std::fclose);
  if (!f) return Status::NotFound("cannot read the certificate file '" + cert_file + "'");
  ERR_clear_error();
  X509* cert = PEM_read_X509(f.get(), nullptr, nullptr, nullptr);
  if (cert == nullptr) {
    return Status::InvalidArgument("no PEM certificate in '" + cert_file + "': " + DrainErrors());
  }
  std::string pin = PinOf(cert);
  X509_free(cert);
  if (pin.empty()) return Status::Internal("cannot hash the public key in '" + cert_file + "'");
  return pin;
}

namespace tls {

// ---- Context ----

Context::~Context() { SSL_CTX_free(ctx_); }

namespace {

// The ALPN wire form: a length byte, then the id.
std::string AlpnWire(std::string_view id) {
  return std::string(1, static_cast<char>(id.size())) + std::string(id);
}

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
               unsigned int inlen, void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, outlen, reinterpret_cast<const unsigned char*>(ours->data()),
                            static_cast<unsigned int>(ours->size()), in,
                            inlen) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;  // no_application_protocol (RFC 7301 §3.2)
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

// Settings both sides share.
void Common(SSL_CTX* ctx, TlsVersion min) {
  SSL_CTX_set_min_proto_version(ctx, MinVersion(min));
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  // AES-128-GCM first: as safe for this use and faster than AES-256 (blob
  // downloads are bulk encryption); ChaCha20 for CPUs without AES-NI.
  SSL_CTX_set_ciphersuites(
      ctx, "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384");
  // An idle connection keeps no record buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

}  // namespace

Result<std::shared_ptr<const Context>> Context::ForServer(const TlsServerOptions& o,
                                                          std::string_view alpn) {
  if (o.cert_file.empty() || o.key_file.empty()) {
    return Status::InvalidArgument("TLS needs both a certificate file and a key file");
  }
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Status::Internal("SSL_CTX_new: " + DrainErrors());
  Common(ctx.get(), o.min_version);
  // Every handshake is a full one: no session cache, no tickets (clients
  // do not resume; docs/tls.md), so nothing about past sessions is kept.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  if (Status s = LoadChain(ctx.get(), o.cert_file, o.key_file); !s.ok()) return s;
  if (!o.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.client_ca_file.c_str(), nullptr) != 1) {
      return FileError("client CA file", o.client_ca_file);
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (names == nullptr) return FileError("client CA file", o.client_ca_file);
    SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  std::shared_ptr<Context> c(new Context(ctx.release(), /*server=*/true));
  if (!alpn.empty()) {
    c->alpn_ = AlpnWire(alpn);
    SSL_CTX_set_alpn_select_cb(c->ctx_, SelectAlpn, &c->alpn_);
  }
  return std::shared_ptr<const Context>(std::move(c));
}

Result<std::shared_ptr<const Context>> Context::ForClient(const TlsClientOptions& o,
                                                          std::string_view alpn) {
  if (o.cert_file.empty() != o.key_file.empty()) {
    return Status::InvalidArgument("a TLS client certificate needs both cert_file and key_file");
  }
  for (const std::string& pin : o.pins) {
    if (pin.rfind("sha256/", 0) != 0 || pin.size() != 7 + 44) {
      return Status::InvalidArgument("TLS pin '" + pin +
                                     "' is not \"sha256/\" + the base64 of a SHA-256 digest");
    }
  }
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return Status::Internal("SSL_CTX_new: " + DrainErrors());
  Common(ctx.get(), o.min_version);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!o.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.ca_file.c_str(), nullptr) != 1) {
      return FileError("CA file", o.ca_file);
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Status::Internal("cannot load the system's CA store: " + DrainErrors());
  }
  if (!o.cert_file.empty()) {
    if (Status s = LoadChain(ctx.get(), o.cert_file, o.key_file); !s.ok()) return s;
  }
  const std::string wire = AlpnWire(alpn);
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (!alpn.empty() &&
      SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                              static_cast<unsigned int>(wire.size())) != 0) {
    return Status::Internal("SSL_CTX_set_alpn_protos: " + DrainErrors());
  }
  std::shared_ptr<Context> c(new Context(ctx.release(), /*server=*/false));
  c->pins_ = o.pins;
  return std::shared_ptr<const Context>(std::move(c));
}

// ---- the BIO: OpenSSL reads Channel::in_ and appends to Channel::out_ ----

struct BioMethod {
  BIO_METHOD* method = nullptr;
  BioMethod() {
    method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "postbox channel");
    BIO_meth_set_write(method, Channel::BioWrite);
    BIO_meth_set_read(method, Channel::BioRead);
    BIO_meth_set_ctrl(method, Channel::BioCtrl);
    BIO_meth_set_create(method, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
  }
  static BIO_METHOD* Get() {
    static BioMethod m;  // lives as long as the process (BIOs may outlive statics' order)
    return m.method;
  }
};

int Channel::BioWrite(BIO* bio, const char* data, int len) {
  auto* self = static_cast<Channel*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (len <= 0) return 0;
  self->out_.insert(self->out_.end(), reinterpret_cast<const uint8_t*>(data),
                    reinterpret_cast<const uint8_t*>(data) + len);
  return len;
}

int Channel::BioRead(BIO* bio, char* data, int len) {
  auto* self = static_cast<Channel*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->in_.empty()) {
    BIO_set_retry_read(bio);  // more will come with the next Receive
    return -1;
  }
  const size_t n = std::min(self->in_.size(), static_cast<size_t>(std::max(len, 0)));
  std::memcpy(data, self->in_.data(), n);
  self->in_ = self->in_.subspan(n);
  return static_cast<int>(n);
}

long Channel::BioCtrl(BIO*, int cmd, long, void*) {
  // Writes are never buffered, so a flush has nothing to do; everything else
  // (pending byte counts, kTLS queries, ...) is "not supported".
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

// ---- Channel ----

Channel::Channel(std::shared_ptr<const Context> context) : context_(std::move(context)) {}

Channel::~Channel() { SSL_free(ssl_); }

namespace {

Result<SSL*> NewSsl(SSL_CTX* ctx, void* channel) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return Status::Internal("SSL_new: " + DrainErrors());
  BIO* bio = BIO_new(BioMethod::Get());
  if (bio == nullptr) {
    SSL_free(ssl);
    return Status::Internal("BIO_new: " + DrainErrors());
  }
  BIO_set_data(bio, channel);
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by ssl
  return ssl;
}

}  // namespace

Result<std::unique_ptr<Channel>> Channel::Accept(std::shared_ptr<const Context> context) {
  if (!context || !context->server()) return Status::InvalidArgument("not a server TLS context");
  std::unique_ptr<Channel> c(new Channel(std::move(context)));
  auto ssl = NewSsl(c->context_->get(), c.get());
  if (!ssl) return ssl.error();
  c->ssl_ = *ssl;
  SSL_set_accept_state(c->ssl_);
  return c;
}

Result<std::unique_ptr<Channel>> Channel::Connect(std::shared_ptr<const Context> context,
                                                  std::string_view server_name) {
  if (!context || context->server()) return Status::InvalidArgument("not a client TLS context");
  if (server_name.empty()) return Status::InvalidArgument("TLS needs the server's name");
  std::unique_ptr<Channel> c(new Channel(std::move(context)));
  auto ssl = NewSsl(c->context_->get(), c.get());
  if (!ssl) return ssl.error();
  c->ssl_ = *ssl;
  SSL_set_connect_state(c->ssl_);
  const std::string name(server_name);
  unsigned char addr[16];
  const bool ip =
      inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(c->ssl_);
  if (ip) {
    // An address is matched against the certificate's IP entries; SNI
    // carries host names only (RFC 6066 §3).
    if (X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) != 1) {
      return Status::InvalidArgument("bad TLS server address '" + name + "'");
    }
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(c->ssl_, name.c_str()) != 1 ||
        SSL_set_tlsext_host_name(c->ssl_, name.c_str()) != 1) {
      return Status::InvalidArgument("bad TLS server name '" + name + "': " + DrainErrors());
    }
  }
  return c;
}

Status Channel::Start() {
  if (context_->server() || established_ || failed_) return Status::Ok();
  ERR_clear_error();
  return Handshake();
}

Status Channel::Failure(int ret, std::string_view during) {
  failed_ = true;
  const int err = SSL_get_error(ssl_, ret);
  std::string why;
  if (err == SSL_ERROR_SSL) {
    why = DrainErrors();
    const long verify = SSL_get_verify_result(ssl_);
    if (verify != X509_V_OK) {
      why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
  } else if (err == SSL_ERROR_SYSCALL) {
    why = "the stream ended: " + DrainErrors();
  } else {
    why = "SSL error " + std::to_string(err) + ": " + DrainErrors();
  }
  ERR_clear_error();
  return Status::Unavailable("TLS " + std::string(during) + " failed: " + why);
}

Status Channel::Handshake() {
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    if (Status s = CheckPins(); !s.ok()) return s;
    established_ = true;
    return Status::Ok();
  }
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) return Status::Ok();
  return Failure(r, "handshake");
}

Status Channel::CheckPins() {
  const auto& pins = context_->pins();
  if (context_->server() || pins.empty()) return Status::Ok();
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl_);
  std::string seen;
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    const std::string pin = PinOf(sk_X509_value(chain, i));
    if (std::find(pins.begin(), pins.end(), pin) != pins.end()) return Status::Ok();
    seen += (seen.empty() ? "" : ", ") + pin;
  }
  Shutdown();  // nothing was sent over it: just say goodbye
  failed_ = true;
  return Status::Unavailable(
      "TLS handshake failed: no public key of the server's chain is pinned (" +
      (seen.empty() ? std::string("no chain") : "chain: " + seen) + ")");
}

void Channel::TrackRecords(std::span<const uint8_t> cipher) {
  // A record is a 5-byte header (type, version, 16-bit length) and a body.
  constexpr uint8_t kHeader = 5;
  size_t i = 0;
  while (i < cipher.size()) {
    if (record_left_ > 0) {
      const size_t n = std::min(record_left_, cipher.size() - i);
      record_left_ -= n;
      i += n;
      continue;
    }
    if (header_n_ >= 3) length_[header_n_ - 3] = cipher[i];
    ++i;
    if (++header_n_ == kHeader) {
      header_n_ = 0;
      record_left_ = size_t{length_[0]} << 8 | length_[1];
    }
  }
}

Status Channel::Receive(std::span<const uint8_t> cipher, const PlainSink& sink) {
  if (failed_) return Status::Unavailable("TLS channel already failed");
  if (peer_closed_) return Status::Ok();  // nothing counts after close_notify
  ERR_clear_error();
  TrackRecords(cipher);
  in_ = cipher;
  struct Clear {
    Channel* c;
    ~Clear() { c->in_ = {}; }
  } clear{this};
  if (!established_) {
    if (Status s = Handshake(); !s.ok()) return s;
    if (!established_) return Status::Ok();
  }
  // One record's plaintext at a time, on the stack: the sink copies it where
  // it belongs (a frame decoder's buffer), and an idle channel holds nothing.
  uint8_t record[16 * 1024];
  for (;;) {
    const int n = SSL_read(ssl_, record, static_cast<int>(sizeof(record)));
    if (n > 0) {
      sink(std::span<const uint8_t>(record, static_cast<size_t>(n)));
      continue;
    }
    const int err = SSL_get_error(ssl_, n);
    if (err == SSL_ERROR_WANT_READ) return Status::Ok();  // all taken
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_closed_ = true;
      return Status::Ok();
    }
    return Failure(n, "read");
  }
}

Status Channel::Receive(std::span<const uint8_t> cipher, std::vector<uint8_t>* plain) {
  return Receive(cipher, [plain](std::span<const uint8_t> p) {
    plain->insert(plain->end(), p.begin(), p.end());
  });
}

Status Channel::Receive(std::span<const uint8_t> cipher, std::string* plain) {
  return Receive(cipher, [plain](std::span<const uint8_t> p) {
    plain->append(reinterpret_cast<const char*>(p.data()), p.size());
  });
}

Status Channel::Send(std::span<const uint8_t> plain) {
  if (failed_) return Status::Unavailable("TLS channel already failed");
  if (!established_) return Status::Internal("TLS: write before the handshake completed");
  if (shut_down_) return Status::Internal("TLS: write after close_notify");
  ERR_clear_error();
  // Room for the records and their overhead (a 5-byte header, a 16-byte tag
  // and the content type per 16 KiB): one allocation, not a doubling series.
  out_.reserve(out_.size() + plain.size() + (plain.size() / 16384 + 1) * 32);
  while (!plain.empty()) {
    const int chunk = static_cast<int>(std::min<size_t>(plain.size(), 1u << 30));
    const int n = SSL_write(ssl_, plain.data(), chunk);
    if (n <= 0) return Failure(n, "write");
    plain = plain.subspan(static_cast<size_t>(n));
  }
  return Status::Ok();
}

void Channel::Shutdown() {
  if (shut_down_ || failed_ || ssl_ == nullptr) return;
  shut_down_ = true;
  if (!SSL_is_init_finished(ssl_)) return;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // queues close_notify; we do not wait for the peer's
  ERR_clear_error();
}

void Channel::TakeOutput(std::vector<uint8_t>* out) {
  if (out->empty()) {
    *out = std::move(out_);
    out_ = {};  // an idle channel holds no buffer
  } else {
    out->insert(out->end(), out_.begin(), out_.end());
    out_ = {};
  }
}

void Channel::TakeOutput(std::string* out) {
  out->append(reinterpret_cast<const char*>(out_.data()), out_.size());
  out_ = {};
}

namespace {

template <class Buffer>
Status Stage(Channel* tls, Buffer* plain, Buffer* wire) {
  if (tls == nullptr) {
    std::swap(*plain, *wire);
    plain->clear();
    return Status::Ok();
  }
  if (!plain->empty() && tls->established()) {
    POSTBOX_RETURN_IF_ERROR(
        tls->Send({reinterpret_cast<const uint8_t*>(plain->data()), plain->size()}));
    plain->clear();
  }
  tls->TakeOutput(wire);
  return Status::Ok();
}

}  // namespace

Status StageWrite(Channel* tls, std::vector<uint8_t>* plain, std::vector<uint8_t>* wire) {
  return Stage(tls, plain, wire);
}

Status StageWrite(Channel* tls, std::string* plain, std::string* wire) {
  return Stage(tls, plain, wire);
}

std::string Channel::alpn() const {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return std::string(reinterpret_cast<const char*>(p), n);
}

std::string Channel::version() const { return SSL_get_version(ssl_); }

std::string Channel::peer_subject() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof(buf));
  return buf;
}

}  // namespace tls
}  // namespace postbox::sync
