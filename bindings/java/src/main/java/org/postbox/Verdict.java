package org.postbox;

/** A server's verdict on the app's version in Hello (pbx_verdict). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum Verdict {
  CURRENT(0),
  UPDATE_OPTIONAL(1),
  UPDATE_REQUIRED(2),
  UPDATE_SCHEMA_REQUIRED(3);

  private final int code;

  Verdict(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static Verdict of(int code) {
    for (Verdict v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("Verdict: unknown code " + code);
  }
}
