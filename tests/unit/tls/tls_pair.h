// Helpers of the TLS channel tests: the test PKI (one per test binary, in a
// temp folder removed at exit), contexts made from it, and a client and a
// server Channel wired together in memory — each one's TakeOutput handed to
// the other's Receive.
#ifndef POSTBOX_TESTS_UNIT_TLS_TLS_PAIR_H_
#define POSTBOX_TESTS_UNIT_TLS_TLS_PAIR_H_

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sync/tls/channel.h"
#include "tests/support/tls_certs.h"

namespace postbox::sync::tls::testing {

using postbox::testing::CertFiles;
using postbox::testing::TestPki;

const TestPki& Pki();

TlsServerOptions ServerOptionsFor(const CertFiles& files);
TlsClientOptions ClientOptionsTrusting(const std::string& ca_file);

// Contexts (nullptr, and the test failed, if one cannot be made). Without
// options: the server certificate of Pki(), a client trusting Pki().ca.
std::shared_ptr<const Context> ServerContext(const TlsServerOptions& o,
                                             std::string_view alpn = kSyncAlpn);
std::shared_ptr<const Context> ServerContext(std::string_view alpn = kSyncAlpn);
std::shared_ptr<const Context> ClientContext(const TlsClientOptions& o,
                                             std::string_view alpn = kSyncAlpn);
std::shared_ptr<const Context> ClientContext(std::string_view alpn = kSyncAlpn);

inline std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The status's message names one of `words` (case-insensitively).
::testing::AssertionResult Mentions(const Status& s, std::initializer_list<const char*> words);

// A client and a server channel and what each has decrypted so far.
struct Pair {
  std::unique_ptr<Channel> client, server;
  std::string client_plain, server_plain;  // received by each
  Status client_error, server_error;       // the first error of each
};

Pair MakePair(std::shared_ptr<const Context> client_ctx, std::shared_ptr<const Context> server_ctx,
              std::string_view server_name = "localhost");

// Moves the output of each side to the other until neither has any (a side
// that failed receives nothing more, but its last output, the alert, goes
// on). False if this does not settle (a loop: a bug).
bool Pump(Pair* p);

// Starts both sides and pumps: the pair's handshake, successful or not.
void Handshake(Pair* p);

// A pair that has completed its handshake (fails the test otherwise); the
// default contexts unless given.
Pair Established(std::shared_ptr<const Context> client_ctx = nullptr,
                 std::shared_ptr<const Context> server_ctx = nullptr);

// Runs the handshake of `p` and expects it to fail on the side that checks,
// with Unavailable and a message, and the server not to have gone on.
void ExpectHandshakeFails(Pair* p);

}  // namespace postbox::sync::tls::testing

#endif  // POSTBOX_TESTS_UNIT_TLS_TLS_PAIR_H_
