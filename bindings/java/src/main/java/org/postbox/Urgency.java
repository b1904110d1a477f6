package org.postbox;

/**
 * A Web Push notification's urgency (pbx_urgency; RFC 8030 section 5.3), lowest first. Same
 * numbers as the C API: do not renumber.
 */
public enum Urgency {
  VERY_LOW(0),
  LOW(1),
  NORMAL(2),
  HIGH(3);

  private final int code;

  Urgency(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static Urgency of(int code) {
    for (Urgency v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("Urgency: unknown code " + code);
  }
}
