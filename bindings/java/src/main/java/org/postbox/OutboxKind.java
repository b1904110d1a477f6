package org.postbox;

/** Kinds of replica outbox items (pbx_outbox_kind). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum OutboxKind {
  STATUS(1),
  PUT_ENTRY(2),
  DELETE_ENTRY(3),
  POST(4),
  ADD_CONNECTION(5),
  REMOVE_CONNECTION(6),
  REGISTER_PUSH(7);

  private final int code;

  OutboxKind(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static OutboxKind of(int code) {
    for (OutboxKind v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("OutboxKind: unknown code " + code);
  }
}
