package org.postbox;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What one local transaction of a replica changed in what the app sees (pbx_change). */
public final class Change {
  private final List<Id> messages;
  private final List<Id> messagesRemoved;
  private final List<String> entries;
  private final List<String> entriesRemoved;
  private final boolean reset;
  private final long cursor;

  /** Ids arrive as 16-byte runs of one array; keys as UTF-8 byte arrays. */
  Change(byte[] messages, byte[] messagesRemoved, Object[] entries, Object[] entriesRemoved,
      boolean reset, long cursor) {
    this.messages = ids(messages);
    this.messagesRemoved = ids(messagesRemoved);
    this.entries = keys(entries);
    this.entriesRemoved = keys(entriesRemoved);
    this.reset = reset;
    this.cursor = cursor;
  }

  private static List<Id> ids(byte[] run) {
    List<Id> out = new ArrayList<>(run.length / 16);
    for (int i = 0; i + 16 <= run.length; i += 16) {
      byte[] b = new byte[16];
      System.arraycopy(run, i, b, 0, 16);
      out.add(Id.fromNative(b));
    }
    return Collections.unmodifiableList(out);
  }

  private static List<String> keys(Object[] utf8) {
    List<String> out = new ArrayList<>(utf8.length);
    for (Object k : utf8) out.add(Native.string((byte[]) k));
    return Collections.unmodifiableList(out);
  }

  /** Messages added or changed. */
  public List<Id> messages() {
    return messages;
  }

  /** Messages superseded, deleted or rolled back. */
  public List<Id> messagesRemoved() {
    return messagesRemoved;
  }

  /** Entry keys put. */
  public List<String> entries() {
    return entries;
  }

  /** Entry keys deleted. */
  public List<String> entriesRemoved() {
    return entriesRemoved;
  }

  /** A full snapshot rebuilt the mirror. */
  public boolean reset() {
    return reset;
  }

  public long cursor() {
    return cursor;
  }

  @Override
  public String toString() {
    return "Change{messages=" + messages + ", messagesRemoved=" + messagesRemoved + ", entries="
        + entries + ", entriesRemoved=" + entriesRemoved + (reset ? ", reset" : "") + ", cursor="
        + cursor + "}";
  }
}
