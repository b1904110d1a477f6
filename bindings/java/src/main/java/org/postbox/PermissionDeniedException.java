package org.postbox;

/** Not connected, not the recipient, not a party (code 403, {@code pbx_code} -403). */
public final class PermissionDeniedException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public PermissionDeniedException(boolean retryable, String message) {
    super(-403, retryable, message);
  }
}
