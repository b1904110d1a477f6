package org.postbox;

/** A message as one of its parties sees it (pbx_message). */
public final class Message {
  private final Id id;
  private final Id from;
  private final Id to;
  private final String topic;
  private final byte[] meta;
  private final long length;
  private final byte[] digest;
  private final Status status;
  private final long createdMs;
  private final long seq;
  private final boolean incoming;
  private final Status syncedStatus;
  private final boolean pending;

  Message(byte[] id, byte[] from, byte[] to, byte[] topic, byte[] meta, long length,
      byte[] digest, int status, long createdMs, long seq, boolean incoming, int syncedStatus,
      boolean pending) {
    this.id = Id.fromNative(id);
    this.from = Id.fromNative(from);
    this.to = Id.fromNative(to);
    this.topic = Native.string(topic);
    this.meta = meta;
    this.length = length;
    this.digest = digest;
    this.status = Status.of(status);
    this.createdMs = createdMs;
    this.seq = seq;
    this.incoming = incoming;
    this.syncedStatus = syncedStatus == 0 ? null : Status.of(syncedStatus);
    this.pending = pending;
  }

  public Id id() {
    return id;
  }

  public Id from() {
    return from;
  }

  public Id to() {
    return to;
  }

  public String topic() {
    return topic;
  }

  /** The metadata (a copy). */
  public byte[] meta() {
    return meta.clone();
  }

  /** The blob's length in bytes. */
  public long length() {
    return length;
  }

  /** The blob's XXH3-128, big-endian (a copy). */
  public byte[] digest() {
    return digest.clone();
  }

  public Status status() {
    return status;
  }

  public long createdMs() {
    return createdMs;
  }

  public long seq() {
    return seq;
  }

  /** Replica reads only: this mailbox is the recipient (false from the store and the client). */
  public boolean incoming() {
    return incoming;
  }

  /** Replica reads only: the status the server last confirmed; null: post not yet acknowledged. */
  public Status syncedStatus() {
    return syncedStatus;
  }

  /** Replica reads only: a post or a status raise is still in the outbox. */
  public boolean pending() {
    return pending;
  }

  @Override
  public String toString() {
    return "Message{id=" + id + ", from=" + from + ", to=" + to + ", topic=" + topic + ", length="
        + length + ", status=" + status + ", seq=" + seq + (incoming ? ", incoming" : "")
        + (pending ? ", pending" : "") + "}";
  }
}
