package org.postbox;

/** Malformed input, a null argument, a bad handle (code 400, {@code pbx_code} -400). */
public final class InvalidArgumentException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public InvalidArgumentException(boolean retryable, String message) {
    super(-400, retryable, message);
  }
}
