package org.postbox;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * TLS from a {@link Client} or a {@link Replica} to the server (pbx_tls_client_options; given
 * with {@link ConnectionOptions#tls}). {@code new ClientTls()} alone verifies the server's chain
 * against the system's CA store and its name against the host; the setters narrow that.
 *
 * <p>A handshake that fails (an unknown CA, an expired or wrong-host certificate, a pin that
 * matches no key, no TLS version in common) makes {@link Client#connect()} throw {@link
 * UnavailableException} whose message names OpenSSL's reason; a client or replica keeps retrying
 * it as after any lost connection. Files that cannot be loaded throw {@link
 * InvalidArgumentException} when the client or replica is made. A client without TLS on a
 * listener that speaks only TLS gets {@link ProtocolUnsupportedException} (426, final). Not
 * thread-safe while being set; the client copies it.
 */
public final class ClientTls {
  String caFile;
  String serverName;
  final List<String> pins = new ArrayList<>();
  String certFile;
  String keyFile;
  TlsVersion minVersion = TlsVersion.TLS_1_3;

  public ClientTls() {}

  /** PEM CA certificates the server's chain must lead to; default: the system's store. */
  public ClientTls caFile(String path) {
    this.caFile = path;
    return this;
  }

  /**
   * The name the server's certificate must carry: a DNS name (also sent as SNI) or an IP literal;
   * default: the host connected to.
   */
  public ClientTls serverName(String name) {
    this.serverName = name;
    return this;
  }

  /**
   * Public-key pins, each {@code "sha256/<base64>"} ({@link Postbox#tlsPublicKeyPin}): besides the
   * chain and name checks, some certificate of the verified chain must have one of these keys.
   * Adds to those given before.
   */
  public ClientTls pins(String... pins) {
    return pins(Arrays.asList(pins));
  }

  /** As {@link #pins(String...)}. */
  public ClientTls pins(List<String> pins) {
    for (String p : pins) {
      if (p == null) throw new InvalidArgumentException(false, "ClientTls.pins: a pin is null");
      this.pins.add(p);
    }
    return this;
  }

  /** A client certificate chain and its key (PEM), for a server that asks for one (mutual TLS). */
  public ClientTls clientCertificate(String certFile, String keyFile) {
    this.certFile = certFile;
    this.keyFile = keyFile;
    return this;
  }

  /** The oldest version accepted; default TLS_1_3. */
  public ClientTls minVersion(TlsVersion version) {
    if (version == null) throw new InvalidArgumentException(false, "ClientTls.minVersion: null");
    this.minVersion = version;
    return this;
  }

  /** The pins given so far. */
  public List<String> pins() {
    return Collections.unmodifiableList(pins);
  }

  /** {caFile, serverName, certFile, keyFile} as the JNI side reads them (nulls kept). */
  byte[][] nativeStrings() {
    return new byte[][] {Native.utf8OrNull(caFile, "ClientTls.caFile"),
        Native.utf8OrNull(serverName, "ClientTls.serverName"),
        Native.utf8OrNull(certFile, "ClientTls.certFile"),
        Native.utf8OrNull(keyFile, "ClientTls.keyFile")};
  }

  byte[][] nativePins() {
    byte[][] out = new byte[pins.size()][];
    for (int i = 0; i < out.length; ++i) out[i] = Native.utf8(pins.get(i), "ClientTls.pins");
    return out;
  }
}
