package org.postbox;

/** Network down, timeout, shutting down, I/O error (retryable) (code 503, {@code pbx_code} -503). */
public final class UnavailableException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public UnavailableException(boolean retryable, String message) {
    super(-503, retryable, message);
  }
}
