package org.postbox;

/** Which connections a listing returns (pbx_connection_kind). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum ConnectionKind {
  CONNECTED(0),
  REQUESTED(1),
  INCOMING(2);

  private final int code;

  ConnectionKind(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static ConnectionKind of(int code) {
    for (ConnectionKind v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("ConnectionKind: unknown code " + code);
  }
}
