package org.postbox;

/** A message's status, a max-register: it only rises (pbx_status). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum Status {
  UPLOADED(1),
  DOWNLOADED(2),
  VIEWED(3);

  private final int code;

  Status(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static Status of(int code) {
    for (Status v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("Status: unknown code " + code);
  }
}
