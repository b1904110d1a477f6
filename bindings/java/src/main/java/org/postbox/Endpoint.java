package org.postbox;

import java.util.Arrays;

/**
 * A Web Push endpoint of a mailbox (pbx_endpoint; {@link Client#registerEndpoint}, {@link
 * Replica#registerEndpoint}): app servers send notifications to {@link #url()}, and the server
 * stores each as an entry of the mailbox ({@link PushNotification}).
 */
public final class Endpoint {
  private final String token;
  private final String appId;
  private final byte[] vapidPublicKey;
  private final long createdMs;
  private final String url;

  Endpoint(byte[] token, byte[] appId, byte[] vapidPublicKey, long createdMs, byte[] url) {
    this.token = Native.string(token);
    this.appId = Native.string(appId);
    this.vapidPublicKey = vapidPublicKey;
    this.createdMs = createdMs;
    this.url = Native.string(url);
  }

  /** 22 characters of base64url. */
  public String token() {
    return token;
  }

  public String appId() {
    return appId;
  }

  /** The VAPID public key it was registered with (a copy): empty or 65 bytes. */
  public byte[] vapidPublicKey() {
    return vapidPublicKey.clone();
  }

  /** When it was registered (ms since the Unix epoch). */
  public long createdMs() {
    return createdMs;
  }

  /** Where app servers send; empty if the server has no public URL set. */
  public String url() {
    return url;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof Endpoint)) return false;
    Endpoint e = (Endpoint) o;
    return token.equals(e.token) && appId.equals(e.appId)
        && Arrays.equals(vapidPublicKey, e.vapidPublicKey) && createdMs == e.createdMs
        && url.equals(e.url);
  }

  @Override
  public int hashCode() {
    return token.hashCode();
  }

  @Override
  public String toString() {
    return "Endpoint{token=" + token + ", appId=" + appId + ", url=" + url + "}";
  }
}
