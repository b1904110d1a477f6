package org.postbox;

/** Too many requests: retry later (retryable) (code 429, {@code pbx_code} -429). */
public final class BackOffException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public BackOffException(boolean retryable, String message) {
    super(-429, retryable, message);
  }
}
