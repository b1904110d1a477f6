package org.postbox;

import java.util.Arrays;

/**
 * A Web Push notification as the server stores it (pbx_push_notification): an entry of the
 * mailbox under {@code postbox/push/<token>/}, read with {@link #parse} from any entry read or
 * listed from a replica's mirror ({@link Replica#pushNotifications}). An app consumes one by
 * deleting that entry ({@link Replica#consumePushNotification}).
 */
public final class PushNotification {
  private final String token;
  private final String id;
  private final String topic;
  private final Urgency urgency;
  private final long ttlS;
  private final long receivedMs;
  private final String encoding;
  private final byte[] payload;
  private final String key;
  private final long version;

  PushNotification(byte[] token, byte[] id, byte[] topic, int urgency, long ttlS, long receivedMs,
      byte[] encoding, byte[] payload, byte[] key, long version) {
    this.token = Native.string(token);
    this.id = Native.string(id);
    this.topic = Native.string(topic);
    this.urgency = Urgency.of(urgency);
    this.ttlS = ttlS;
    this.receivedMs = receivedMs;
    this.encoding = Native.string(encoding);
    this.payload = payload;
    this.key = Native.string(key);
    this.version = version;
  }

  /**
   * Reads a notification from its entry's key and value ({@code version}: the entry's, kept in
   * the result; 0 if unknown). InvalidArgumentException if the key is not under {@code
   * postbox/push/} or the value is not a notification's.
   */
  public static PushNotification parse(String key, byte[] value, long version) {
    if (value == null) throw new InvalidArgumentException(false, "value must not be null");
    return Native.pushNotificationParse(Native.utf8(key, "key"), value, version);
  }

  /** As {@link #parse(String, byte[], long)} for an entry as any read returns it. */
  public static PushNotification parse(Entry entry) {
    if (entry == null) throw new InvalidArgumentException(false, "entry must not be null");
    return parse(entry.key(), entry.value(), entry.version());
  }

  /** The endpoint's token. */
  public String token() {
    return token;
  }

  /** 32 lowercase hex characters, unique per notification. */
  public String id() {
    return id;
  }

  /** Empty, or 1..32 characters of base64url: a newer one of the same topic replaces it. */
  public String topic() {
    return topic;
  }

  public Urgency urgency() {
    return urgency;
  }

  /** Seconds the app server asked it be kept. */
  public long ttlS() {
    return ttlS;
  }

  /** When the server stored it (ms since the Unix epoch). */
  public long receivedMs() {
    return receivedMs;
  }

  /** The Content-Encoding sent ("aes128gcm"), or empty. */
  public String encoding() {
    return encoding;
  }

  /** The body as the app server sent it (a copy). */
  public byte[] payload() {
    return payload.clone();
  }

  /** The entry key it is stored under. */
  public String key() {
    return key;
  }

  /** The entry's version (what consuming deletes); 0 if not known. */
  public long version() {
    return version;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof PushNotification)) return false;
    PushNotification n = (PushNotification) o;
    return token.equals(n.token) && id.equals(n.id) && topic.equals(n.topic)
        && urgency == n.urgency && ttlS == n.ttlS && receivedMs == n.receivedMs
        && encoding.equals(n.encoding) && Arrays.equals(payload, n.payload) && key.equals(n.key)
        && version == n.version;
  }

  @Override
  public int hashCode() {
    return key.hashCode() * 31 + Long.hashCode(version);
  }

  @Override
  public String toString() {
    return "PushNotification{key=" + key + ", version=" + version + ", urgency=" + urgency + ", "
        + payload.length + " bytes}";
  }
}
