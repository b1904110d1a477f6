package org.postbox;

/** What a feed's tombstone stands for (pbx_tombstone_kind). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum TombstoneKind {
  MESSAGE(1),
  ENTRY(2);

  private final int code;

  TombstoneKind(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static TombstoneKind of(int code) {
    for (TombstoneKind v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("TombstoneKind: unknown code " + code);
  }
}
