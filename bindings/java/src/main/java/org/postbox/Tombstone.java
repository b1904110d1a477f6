package org.postbox;

/** What a feed says of an item that is gone (pbx_tombstone). */
public final class Tombstone {
  private final TombstoneKind kind;
  private final Id id;
  private final String key;
  private final long version;
  private final long seq;

  Tombstone(int kind, byte[] id, byte[] key, long version, long seq) {
    this.kind = TombstoneKind.of(kind);
    this.id = Id.fromNative(id);
    this.key = Native.string(key);
    this.version = version;
    this.seq = seq;
  }

  public TombstoneKind kind() {
    return kind;
  }

  /** MESSAGE: the message (all zero for ENTRY). */
  public Id id() {
    return id;
  }

  /** ENTRY: the entry key ("" for MESSAGE). */
  public String key() {
    return key;
  }

  /** ENTRY: the delete's version. */
  public long version() {
    return version;
  }

  public long seq() {
    return seq;
  }

  @Override
  public String toString() {
    return "Tombstone{" + kind + (kind == TombstoneKind.MESSAGE ? " " + id : " " + key + " v"
        + version) + ", seq=" + seq + "}";
  }
}
