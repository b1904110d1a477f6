package org.postbox;

/** An id reused with other content; a handle still in use (code 409, {@code pbx_code} -409). */
public final class ConflictException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public ConflictException(boolean retryable, String message) {
    super(-409, retryable, message);
  }
}
