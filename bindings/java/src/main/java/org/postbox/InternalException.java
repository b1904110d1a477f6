package org.postbox;

/** A bug, a corrupted store, a C++ exception (code 500, {@code pbx_code} -500). */
public final class InternalException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public InternalException(boolean retryable, String message) {
    super(-500, retryable, message);
  }
}
