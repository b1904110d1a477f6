package org.postbox;

/** Where a connection stands, as one of its mailboxes sees it (pbx_connection_state). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum ConnectionState {
  NONE(0),
  REQUESTED(1),
  CONNECTED(2);

  private final int code;

  ConnectionState(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static ConnectionState of(int code) {
    for (ConnectionState v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("ConnectionState: unknown code " + code);
  }
}
