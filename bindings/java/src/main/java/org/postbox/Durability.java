package org.postbox;

/** How a store syncs its writes (pbx_durability). RELAXED: a system crash may undo the last write; a process crash loses nothing. Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum Durability {
  DURABLE(0),
  RELAXED(1);

  private final int code;

  Durability(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static Durability of(int code) {
    for (Durability v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("Durability: unknown code " + code);
  }
}
