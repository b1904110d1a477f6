#!/usr/bin/env bash
# Test certificates for the bindings' TLS tests (C, Python, Java), made with the
# openssl command line into DIR (created if missing), valid for 30 days:
#   ca.pem ca.key          a CA ("postbox bindings test CA")
#   server.pem server.key  a server certificate from it for localhost and 127.0.0.1
#   client.pem client.key  a client certificate from it (mutual TLS)
#   other-ca.pem           another CA, which signed nothing here: a client
#                          trusting only it must refuse the server
# P-256 keys, unencrypted (what TlsServerOptions reads). For tests only.
# Usage: make_tls_certs.sh DIR
set -euo pipefail
dir=${1:?usage: make_tls_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"

ca() {  # ca NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {  # leaf NAME CN EXTENSIONS
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
    -days 30 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "postbox bindings test CA"
ca other-ca "postbox bindings other CA"
rm -f other-ca.key
leaf server localhost "subjectAltName=DNS:localhost,IP:127.0.0.1
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth"
leaf client "postbox bindings test client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
