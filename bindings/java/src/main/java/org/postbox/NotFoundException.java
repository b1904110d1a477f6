package org.postbox;

/** An unknown id, key or mailbox (code 404, {@code pbx_code} -404). */
public final class NotFoundException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public NotFoundException(boolean retryable, String message) {
    super(-404, retryable, message);
  }
}
