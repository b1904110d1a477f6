package org.postbox;

/** A key, value, topic, meta or blob over its limit (code 413, {@code pbx_code} -413). */
public final class TooLargeException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public TooLargeException(boolean retryable, String message) {
    super(-413, retryable, message);
  }
}
