package org.postbox;

/**
 * What {@link Client.Options} and {@link Replica.Options} share: the server to reach and the
 * mailbox to act as. {@code T} is the subclass, so that the setters chain on it. Fields left unset
 * keep the C API's defaults.
 */
public abstract class ConnectionOptions<T extends ConnectionOptions<T>> {
  String host = "127.0.0.1";
  int port = 7420;
  Id mkey;
  String secret;
  String appVersion;
  long requestTimeoutMs = -1;
  ClientTls tls;

  ConnectionOptions() {}

  abstract T self();

  /** An IPv4 or IPv6 literal; default 127.0.0.1. */
  public T host(String host) {
    this.host = host;
    return self();
  }

  /** Default 7420. */
  public T port(int port) {
    this.port = port;
    return self();
  }

  /** The mailbox (required). */
  public T mkey(Id mkey) {
    this.mkey = mkey;
    return self();
  }

  /** Its secret (required). */
  public T secret(String secret) {
    this.secret = secret;
    return self();
  }

  /** The mailbox and its secret at once. */
  public T credentials(Credentials c) {
    this.mkey = c.mkey();
    this.secret = c.secret();
    return self();
  }

  /** Sent in Hello; default "". */
  public T appVersion(String appVersion) {
    this.appVersion = appVersion;
    return self();
  }

  /**
   * TLS to the server (see {@link ClientTls}); default null: plain TCP (loopback and tests).
   */
  public T tls(ClientTls tls) {
    this.tls = tls;
    return self();
  }

  /** The TLS fields as the JNI side takes them: null strings mean TLS off. */
  byte[][] tlsStrings() {
    return tls == null ? null : tls.nativeStrings();
  }

  byte[][] tlsPins() {
    return tls == null ? null : tls.nativePins();
  }

  int tlsMinVersion() {
    return tls == null ? 0 : tls.minVersion.code();
  }

  /** Every request fails UnavailableException after it; default 5000. */
  public T requestTimeoutMs(long ms) {
    this.requestTimeoutMs = ms;
    return self();
  }
}
