package org.postbox;

/** Who may post to a mailbox (pbx_posting_policy). Same numbers as the C API (and, where it says so, the wire): do not renumber. */
public enum PostingPolicy {
  CONNECTED(0),
  OPEN(1);

  private final int code;

  PostingPolicy(int code) {
    this.code = code;
  }

  /** The C API's number. */
  public int code() {
    return code;
  }

  /** The constant for a C API number; IllegalArgumentException for an unknown one. */
  public static PostingPolicy of(int code) {
    for (PostingPolicy v : values()) {
      if (v.code == code) return v;
    }
    throw new IllegalArgumentException("PostingPolicy: unknown code " + code);
  }
}
