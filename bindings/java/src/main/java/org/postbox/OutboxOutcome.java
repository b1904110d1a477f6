package org.postbox;

/** How a replica's outbox item ended (pbx_outbox_outcome), as {@link Replica.Listener} gets it. */
public final class OutboxOutcome {
  private final long item;
  private final OutboxKind kind;
  private final Id message;
  private final String key;
  private final int code;
  private final String messageText;
  private final boolean cancelled;
  private final boolean applied;

  OutboxOutcome(long item, int kind, byte[] message, byte[] key, int code, byte[] messageText,
      boolean cancelled, boolean applied) {
    this.item = item;
    this.kind = OutboxKind.of(kind);
    this.message = Id.fromNative(message);
    this.key = Native.string(key);
    this.code = code;
    this.messageText = Native.string(messageText);
    this.cancelled = cancelled;
    this.applied = applied;
  }

  /** The id the write returned. */
  public long item() {
    return item;
  }

  public OutboxKind kind() {
    return kind;
  }

  /** STATUS, POST: the message. */
  public Id message() {
    return message;
  }

  /** PUT_ENTRY, DELETE_ENTRY: the key; POST: the topic. */
  public String key() {
    return key;
  }

  /** 0: acknowledged; else the permanent error's code (negative), its effect rolled back. */
  public int code() {
    return code;
  }

  /** True if acknowledged by the server. */
  public boolean ok() {
    return code == 0;
  }

  /** The error as an exception (not thrown), or null when {@link #ok()}. */
  public PostboxException error() {
    return code == 0 ? null : PostboxException.of(code, false, messageText);
  }

  /** The error's message ("" when ok). */
  public String messageText() {
    return messageText;
  }

  /** Ended by {@link Replica#cancel}. */
  public boolean cancelled() {
    return cancelled;
  }

  /** False: acknowledged but the server's state already won the merge. */
  public boolean applied() {
    return applied;
  }

  @Override
  public String toString() {
    return "OutboxOutcome{item=" + item + ", " + kind + ", code=" + code
        + (cancelled ? ", cancelled" : "") + (applied ? ", applied" : "")
        + (messageText.isEmpty() ? "" : ", " + messageText) + "}";
  }
}
