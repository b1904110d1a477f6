package org.postbox;

import java.util.Arrays;

/**
 * A 16-byte identifier: a mailbox key (mkey) or a message id (pbx_id). Immutable.
 *
 * <p>The value classes of this package are plain final classes with getters rather than
 * records: records need Java 16 and, on Android, a recent D8/R8 desugaring toolchain, while
 * these classes compile with {@code --release 8} and run on any Android API level.
 */
public final class Id {
  private final byte[] bytes;

  private Id(byte[] bytes, boolean copy) {
    this.bytes = copy ? bytes.clone() : bytes;
  }

  /** An id from its 16 bytes (copied). InvalidArgumentException for another length. */
  public static Id of(byte[] bytes) {
    if (bytes == null || bytes.length != 16) {
      throw new InvalidArgumentException(false, "Id: expected 16 bytes, got "
          + (bytes == null ? "null" : bytes.length + ""));
    }
    return new Id(bytes, true);
  }

  /** Called by the native library with a fresh array it gives up. */
  static Id fromNative(byte[] bytes) {
    return new Id(bytes, false);
  }

  /** 16 bytes from a cryptographically secure generator (pbx_id_random): a new message id. */
  public static Id random() {
    return new Id(Native.idRandom(), false);
  }

  /** Parses exactly 32 hex characters, either case (pbx_id_from_hex); InvalidArgumentException. */
  public static Id fromHex(String hex) {
    if (hex == null) throw new InvalidArgumentException(false, "Id.fromHex: null");
    return new Id(Native.idFromHex(Native.utf8(hex, "hex")), false);
  }

  /** The 16 bytes (a copy). */
  public byte[] bytes() {
    return bytes.clone();
  }

  /** The array itself, for the native calls (never modified there). */
  byte[] raw() {
    return bytes;
  }

  /** 32 lowercase hex characters (pbx_id_to_hex). */
  public String hex() {
    return Native.idToHex(bytes);
  }

  @Override
  public String toString() {
    return hex();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Id && Arrays.equals(bytes, ((Id) o).bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }
}
