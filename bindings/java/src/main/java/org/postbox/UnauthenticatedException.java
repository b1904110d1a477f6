package org.postbox;

/** An unknown mailbox or a wrong secret (code 401, {@code pbx_code} -401). */
public final class UnauthenticatedException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public UnauthenticatedException(boolean retryable, String message) {
    super(-401, retryable, message);
  }
}
