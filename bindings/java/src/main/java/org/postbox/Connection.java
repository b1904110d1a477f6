package org.postbox;

/** A connection of a mailbox with a peer, as the mailbox sees it (pbx_connection). */
public final class Connection {
  private final Id peer;
  private final ConnectionState state;

  Connection(byte[] peer, int state) {
    this.peer = Id.fromNative(peer);
    this.state = ConnectionState.of(state);
  }

  public Id peer() {
    return peer;
  }

  public ConnectionState state() {
    return state;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Connection && peer.equals(((Connection) o).peer)
        && state == ((Connection) o).state;
  }

  @Override
  public int hashCode() {
    return peer.hashCode() * 31 + state.hashCode();
  }

  @Override
  public String toString() {
    return "Connection{" + peer + " " + state + "}";
  }
}
