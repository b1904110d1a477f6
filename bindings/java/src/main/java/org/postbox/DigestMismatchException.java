package org.postbox;

/** Blob bytes that do not match the digest (code 422, {@code pbx_code} -422). */
public final class DigestMismatchException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public DigestMismatchException(boolean retryable, String message) {
    super(-422, retryable, message);
  }
}
