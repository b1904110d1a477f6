package org.postbox;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * An info packet (pbx_info): the current state of every item of a mailbox's feed that changed
 * after {@link #since()}. A poll reply ({@link Store#changes}, {@link Client#poll}) and a push
 * ({@link Client.Options#onPush}) are both this.
 */
public final class Info {
  private final long cursor;
  private final long since;
  private final boolean reset;
  private final boolean more;
  private final List<Message> incoming;
  private final List<Message> outgoing;
  private final List<Entry> entries;
  private final List<Tombstone> tombstones;

  Info(long cursor, long since, boolean reset, boolean more, Message[] incoming,
      Message[] outgoing, Entry[] entries, Tombstone[] tombstones) {
    this.cursor = cursor;
    this.since = since;
    this.reset = reset;
    this.more = more;
    this.incoming = Collections.unmodifiableList(Arrays.asList(incoming));
    this.outgoing = Collections.unmodifiableList(Arrays.asList(outgoing));
    this.entries = Collections.unmodifiableList(Arrays.asList(entries));
    this.tombstones = Collections.unmodifiableList(Arrays.asList(tombstones));
  }

  /** Pass as {@code since} next time; opaque. */
  public long cursor() {
    return cursor;
  }

  /** The cursor this packet continues from. */
  public long since() {
    return since;
  }

  /** A full snapshot: items not in it are gone. */
  public boolean reset() {
    return reset;
  }

  /** The limit cut it short: poll again from {@link #cursor()}. */
  public boolean more() {
    return more;
  }

  /** Messages to this mailbox, in seq order. */
  public List<Message> incoming() {
    return incoming;
  }

  /** Messages from this mailbox. */
  public List<Message> outgoing() {
    return outgoing;
  }

  public List<Entry> entries() {
    return entries;
  }

  public List<Tombstone> tombstones() {
    return tombstones;
  }

  @Override
  public String toString() {
    return "Info{cursor=" + cursor + ", since=" + since + (reset ? ", reset" : "")
        + (more ? ", more" : "") + ", incoming=" + incoming + ", outgoing=" + outgoing
        + ", entries=" + entries + ", tombstones=" + tombstones + "}";
  }
}
