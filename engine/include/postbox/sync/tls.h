// TLS for the sync listener, the HTTP listener and the client (docs/tls.md):
// TLS 1.3 (1.2 as an option) over Debian's OpenSSL 3, run on the libuv loops
// that own the sockets (no second event loop, no thread per connection).
// These are plain option structs: no OpenSSL type appears in the API.
#ifndef POSTBOX_SYNC_TLS_H_
#define POSTBOX_SYNC_TLS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postbox/result.h"

namespace postbox::sync {

// The oldest protocol version a side accepts.
enum class TlsVersion : uint8_t {
  kTls12 = 12,
  kTls13 = 13,
};

// A listener's TLS (ServerOptions::tls, ServerOptions::http_tls).
struct TlsServerOptions {
  // PEM files: the certificate chain (the server's certificate first, then
  // its intermediates) and its unencrypted private key. Read at Start and at
  // every Server::ReloadTls.
  std::string cert_file;
  std::string key_file;
  // Non-empty: mutual TLS. Every client must present a certificate that
  // chains to one of the CA certificates in this PEM file (relays
  // authenticating to their upstream); a handshake without one fails.
  std::string client_ca_file;
  TlsVersion min_version = TlsVersion::kTls13;
  // A connection whose handshake has not finished this long after it was
  // accepted is closed (and counted in ServerStats::tls_handshake_failures).
  std::chrono::milliseconds handshake_timeout{10000};
};

// The client's TLS (ClientOptions::tls, RelayOptions::upstream_tls).
struct TlsClientOptions {
  // false: plain TCP (loopback and tests); the other fields are ignored.
  bool enabled = false;
  // PEM CA certificates the server's chain must lead to; empty: the system
  // store (OpenSSL's default paths: Debian's ca-certificates).
  std::string ca_file;
  // The name the server's certificate must carry (a DNS name, matched
  // against its subjectAltName, or an IP literal, matched against its IP
  // addresses); empty: ClientOptions::host. A DNS name is also sent as SNI.
  std::string server_name;
  // Public-key pins, each "sha256/" + the base64 (RFC 4648 §4, padded) of
  // the SHA-256 of a certificate's DER SubjectPublicKeyInfo (the form
  // TlsPublicKeyPin returns). Non-empty: besides verifying the chain as
  // above, some certificate of the verified chain must have one of these
  // keys, or the handshake fails.
  std::vector<std::string> pins;
  // A client certificate chain and its key, for a server with
  // TlsServerOptions::client_ca_file (both or neither).
  std::string cert_file;
  std::string key_file;
  TlsVersion min_version = TlsVersion::kTls13;
};

// The pin (see TlsClientOptions::pins) of the public key of the first
// certificate in the PEM file at `cert_file`. NotFound if the file cannot be
// read; InvalidArgument if it holds no certificate.
Result<std::string> TlsPublicKeyPin(const std::string& cert_file);

}  // namespace postbox::sync

#endif  // POSTBOX_SYNC_TLS_H_
