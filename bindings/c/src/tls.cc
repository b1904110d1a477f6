// pbx_tls_*: the C forms of postbox/sync/tls.h's option structs (checked and
// converted here, for the client, the replica and the server) and the
// public-key pin of a certificate file.
#include "postbox/sync/tls.h"

#include <cstring>
#include <string>

#include "internal.h"

namespace pbx_internal {

namespace {

// NULL and "" both mean "not set".
bool Set(const char* s) { return s != nullptr && s[0] != '\0'; }
std::string Str(const char* s) { return s != nullptr ? s : ""; }

postbox::Result<postbox::sync::TlsVersion> ToVersion(int v, const char* what) {
  switch (v) {
    case 0:  // a zeroed struct: the default
    case PBX_TLS_1_3:
      return postbox::sync::TlsVersion::kTls13;
    case PBX_TLS_1_2:
      return postbox::sync::TlsVersion::kTls12;
    default:
      return Bad(std::string(what) + " is " + std::to_string(v) +
                 " (expected PBX_TLS_1_2 or PBX_TLS_1_3)");
  }
}

}  // namespace

postbox::Status CheckTlsClientOptions(const pbx_tls_client_options& t) {
  if (t.enabled == 0) return postbox::Status::Ok();
  if (t.pins_count > 0 && t.pins == nullptr) {
    return Bad("client options: tls.pins is NULL with tls.pins_count " +
               std::to_string(t.pins_count));
  }
  for (size_t i = 0; i < t.pins_count; ++i) {
    if (t.pins[i] == nullptr) {
      return Bad("client options: tls.pins[" + std::to_string(i) +
                 "] is NULL (expected \"sha256/<base64>\")");
    }
  }
  if (Set(t.cert_file) != Set(t.key_file)) {
    return Bad(
        "client options: tls.cert_file and tls.key_file go together (a client certificate "
        "needs its key)");
  }
  auto v = ToVersion(t.min_version, "client options: tls.min_version");
  if (!v) return v.error();
  return postbox::Status::Ok();
}

postbox::sync::TlsClientOptions ToTlsClientOptions(const pbx_tls_client_options& t) {
  postbox::sync::TlsClientOptions o;
  o.enabled = t.enabled != 0;
  if (!o.enabled) return o;
  o.ca_file = Str(t.ca_file);
  o.server_name = Str(t.server_name);
  for (size_t i = 0; i < t.pins_count; ++i) o.pins.emplace_back(t.pins[i]);
  o.cert_file = Str(t.cert_file);
  o.key_file = Str(t.key_file);
  auto v = ToVersion(t.min_version, "tls.min_version");
  o.min_version = v ? *v : postbox::sync::TlsVersion::kTls13;  // checked before
  return o;
}

postbox::Result<std::optional<postbox::sync::TlsServerOptions>> ToTlsServerOptions(
    const pbx_tls_server_options& t) {
  if (!Set(t.cert_file)) {
    if (Set(t.key_file) || Set(t.client_ca_file)) {
      return Bad(
          "server options: tls.key_file or tls.client_ca_file set without tls.cert_file (TLS "
          "needs the certificate)");
    }
    return std::optional<postbox::sync::TlsServerOptions>();
  }
  if (!Set(t.key_file)) {
    return Bad(std::string("server options: tls.cert_file \"") + t.cert_file +
               "\" given without tls.key_file (its private key is required)");
  }
  postbox::sync::TlsServerOptions o;
  o.cert_file = t.cert_file;
  o.key_file = t.key_file;
  o.client_ca_file = Str(t.client_ca_file);
  auto v = ToVersion(t.min_version, "server options: tls.min_version");
  if (!v) return v.error();
  o.min_version = *v;
  if (t.handshake_timeout_ms != 0) {
    o.handshake_timeout = std::chrono::milliseconds(t.handshake_timeout_ms);
  }
  return std::optional<postbox::sync::TlsServerOptions>(std::move(o));
}

}  // namespace pbx_internal

using namespace pbx_internal;

extern "C" {

int pbx_tls_public_key_pin(const char* cert_file, char out[PBX_TLS_PIN_MAX], pbx_error* err) {
  if (out != nullptr) out[0] = '\0';
  return Guard(err, [&] {
    if (cert_file == nullptr || out == nullptr) {
      return Bad("pbx_tls_public_key_pin: cert_file and out are required");
    }
    auto pin = postbox::sync::TlsPublicKeyPin(cert_file);
    if (!pin) return pin.error();
    if (pin->size() >= PBX_TLS_PIN_MAX) {
      return postbox::Status::Internal("pbx_tls_public_key_pin: a pin of " +
                                       std::to_string(pin->size()) + " characters");
    }
    std::memcpy(out, pin->c_str(), pin->size() + 1);
    return postbox::Status::Ok();
  });
}

}  // extern "C"
