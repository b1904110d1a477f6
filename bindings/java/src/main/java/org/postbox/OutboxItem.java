package org.postbox;

/** A replica's outbox item not yet ended (pbx_outbox_item), from {@link Replica#pending()}. */
public final class OutboxItem {
  private final long item;
  private final OutboxKind kind;
  private final long createdMs;
  private final int attempts;
  private final Id message;
  private final Status status;
  private final String key;
  private final long version;
  private final Id peer;
  private final Platform platform;
  private final long length;

  OutboxItem(long item, int kind, long createdMs, int attempts, byte[] message, int status,
      byte[] key, long version, byte[] peer, int platform, long length) {
    this.item = item;
    this.kind = OutboxKind.of(kind);
    this.createdMs = createdMs;
    this.attempts = attempts;
    this.message = Id.fromNative(message);
    this.status = status == 0 ? null : Status.of(status);
    this.key = Native.string(key);
    this.version = version;
    this.peer = Id.fromNative(peer);
    this.platform = Platform.of(platform);
    this.length = length;
  }

  /** The id its write returned; increasing in write order. */
  public long item() {
    return item;
  }

  public OutboxKind kind() {
    return kind;
  }

  /** When it was written (ms since the Unix epoch). */
  public long createdMs() {
    return createdMs;
  }

  /** Sends that got no final answer so far. */
  public int attempts() {
    return attempts;
  }

  /** STATUS, POST: the message. */
  public Id message() {
    return message;
  }

  /** STATUS: the status asked (null otherwise). */
  public Status status() {
    return status;
  }

  /** PUT_ENTRY, DELETE_ENTRY: the key; POST: the topic; else "". */
  public String key() {
    return key;
  }

  /** PUT_ENTRY, DELETE_ENTRY: the version. */
  public long version() {
    return version;
  }

  /** POST: the recipient; ADD_/REMOVE_CONNECTION: the peer. */
  public Id peer() {
    return peer;
  }

  /** REGISTER_PUSH: the platform (NONE otherwise). */
  public Platform platform() {
    return platform;
  }

  /** POST: the blob's length. */
  public long length() {
    return length;
  }

  @Override
  public String toString() {
    return "OutboxItem{item=" + item + ", " + kind + ", attempts=" + attempts + "}";
  }
}
