package org.postbox;

/**
 * The oldest TLS version a side accepts (pbx_tls_version). Same numbers as the C API: do not
 * renumber.
 */
public enum TlsVersion {
  TLS_1_2(12),
  TLS_1_3(13);

  private final int code;

  TlsVersion(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static TlsVersion of(int code) {
    for (TlsVersion v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("TlsVersion: unknown code " + code);
  }
}
