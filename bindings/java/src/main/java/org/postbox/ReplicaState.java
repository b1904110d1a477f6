package org.postbox;

/** A replica's state now (pbx_replica_state). */
public final class ReplicaState {
  private final boolean connected;
  private final long cursor;
  private final long pending;
  private final long packetsApplied;
  private final long sessions;
  private final int lastErrorCode;

  ReplicaState(boolean connected, long cursor, long pending, long packetsApplied, long sessions,
      int lastErrorCode) {
    this.connected = connected;
    this.cursor = cursor;
    this.pending = pending;
    this.packetsApplied = packetsApplied;
    this.sessions = sessions;
    this.lastErrorCode = lastErrorCode;
  }

  /** A session with the server is up. */
  public boolean connected() {
    return connected;
  }

  /** The cursor of the last applied packet. */
  public long cursor() {
    return cursor;
  }

  /** Outbox items not yet ended. */
  public long pending() {
    return pending;
  }

  /** Packets applied since opened. */
  public long packetsApplied() {
    return packetsApplied;
  }

  /** Sessions established since opened. */
  public long sessions() {
    return sessions;
  }

  /** The last final error (401, 426, store) as a negative code; 0: none. */
  public int lastErrorCode() {
    return lastErrorCode;
  }

  @Override
  public String toString() {
    return "ReplicaState{connected=" + connected + ", cursor=" + cursor + ", pending=" + pending
        + ", packetsApplied=" + packetsApplied + ", sessions=" + sessions + ", lastErrorCode="
        + lastErrorCode + "}";
  }
}
