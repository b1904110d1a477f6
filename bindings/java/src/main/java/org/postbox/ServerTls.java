package org.postbox;

/**
 * TLS on the embedded {@link Server}'s listener (pbx_tls_server_options; given with {@link
 * Server.Options#tls}): the listener then speaks TLS only, and clients need {@link ClientTls}.
 * The files are read when the server starts and at each {@link Server#reloadTls()}; one that
 * cannot be loaded (missing, no certificate, a key that does not match) throws {@link
 * InvalidArgumentException} naming it.
 */
public final class ServerTls {
  final String certFile;
  final String keyFile;
  String clientCaFile;
  TlsVersion minVersion = TlsVersion.TLS_1_3;
  long handshakeTimeoutMs = -1;

  /**
   * The certificate chain (the server's certificate first, then its intermediates) and its
   * unencrypted private key, both PEM files.
   */
  public ServerTls(String certFile, String keyFile) {
    if (certFile == null || keyFile == null) {
      throw new InvalidArgumentException(false, "ServerTls: certFile and keyFile are required");
    }
    this.certFile = certFile;
    this.keyFile = keyFile;
  }

  /**
   * Mutual TLS: every client must present a certificate that chains to a CA in this PEM file, or
   * its handshake fails.
   */
  public ServerTls clientCaFile(String path) {
    this.clientCaFile = path;
    return this;
  }

  /** The oldest version accepted; default TLS_1_3. */
  public ServerTls minVersion(TlsVersion version) {
    if (version == null) throw new InvalidArgumentException(false, "ServerTls.minVersion: null");
    this.minVersion = version;
    return this;
  }

  /**
   * A connection whose handshake has not finished this long after it was accepted is closed;
   * default 10000.
   */
  public ServerTls handshakeTimeoutMs(long ms) {
    this.handshakeTimeoutMs = ms;
    return this;
  }

  /** {certFile, keyFile, clientCaFile} as the JNI side reads them. */
  byte[][] nativeStrings() {
    return new byte[][] {Native.utf8(certFile, "ServerTls.certFile"),
        Native.utf8(keyFile, "ServerTls.keyFile"),
        Native.utf8OrNull(clientCaFile, "ServerTls.clientCaFile")};
  }
}
