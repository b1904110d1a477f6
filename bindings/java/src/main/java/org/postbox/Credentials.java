package org.postbox;

/** A new mailbox's key and secret (pbx_credentials). The secret is shown only once. */
public final class Credentials {
  private final Id mkey;
  private final String secret;

  public Credentials(Id mkey, String secret) {
    this.mkey = mkey;
    this.secret = secret;
  }

  static Credentials fromNative(byte[] mkey, byte[] secret) {
    return new Credentials(Id.fromNative(mkey), Native.string(secret));
  }

  public Id mkey() {
    return mkey;
  }

  /** base64url, 43 characters. */
  public String secret() {
    return secret;
  }

  @Override
  public String toString() {
    return "Credentials{mkey=" + mkey + ", secret=<hidden>}";
  }
}
