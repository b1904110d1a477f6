package org.postbox;

/** Library-wide functions: the version, error code names and the leak counter. */
public final class Postbox {
  private Postbox() {}

  /** The native library's version as linked, e.g. "0.3.0" (pbx_version). */
  public static String version() {
    return Native.version();
  }

  /** MAJOR * 10000 + MINOR * 100 + PATCH (pbx_version_number). */
  public static int versionNumber() {
    return Native.versionNumber();
  }

  /**
   * The public-key pin of the first certificate in a PEM file: {@code "sha256/"} + base64 of the
   * SHA-256 of its DER SubjectPublicKeyInfo, as {@link ClientTls#pins} takes it
   * (pbx_tls_public_key_pin). NotFoundException if the file cannot be read;
   * InvalidArgumentException if it holds no certificate.
   */
  public static String tlsPublicKeyPin(String certFile) {
    return Native.tlsPublicKeyPin(Native.utf8(certFile, "certFile"));
  }

  /** A short name for a code: "NotFound" for -404, "Unknown" otherwise (pbx_strerror). */
  public static String codeName(int code) {
    return Native.strerror(code);
  }

  /** True if a code is transient: retrying the same call later may succeed. */
  public static boolean codeRetryable(int code) {
    return Native.codeRetryable(code);
  }

  /**
   * Native handles and returned objects not yet released, over the whole process
   * (pbx_live_handles): 0 once every Store, Server, Client and Replica is closed and every
   * replica callback has run. Tests use it to check that nothing leaks.
   */
  public static long liveHandles() {
    return Native.liveHandles();
  }
}
