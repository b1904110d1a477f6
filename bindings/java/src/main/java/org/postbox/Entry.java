package org.postbox;

import java.util.Arrays;

/** A live entry of a mailbox's key-value store (pbx_entry). */
public final class Entry {
  private final String key;
  private final byte[] value;
  private final long version;
  private final long seq;

  Entry(byte[] key, byte[] value, long version, long seq) {
    this(Native.string(key), value, version, seq);
  }

  Entry(String key, byte[] value, long version, long seq) {
    this.key = key;
    this.value = value;
    this.version = version;
    this.seq = seq;
  }

  public String key() {
    return key;
  }

  /** The value (a copy). */
  public byte[] value() {
    return value.clone();
  }

  public long version() {
    return version;
  }

  /** Position in the feed (0 outside a feed). */
  public long seq() {
    return seq;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Entry)) return false;
    Entry e = (Entry) o;
    return key.equals(e.key) && Arrays.equals(value, e.value) && version == e.version
        && seq == e.seq;
  }

  @Override
  public int hashCode() {
    return key.hashCode() * 31 + Long.hashCode(version);
  }

  @Override
  public String toString() {
    return "Entry{key=" + key + ", " + value.length + " bytes, version=" + version + ", seq="
        + seq + "}";
  }
}
