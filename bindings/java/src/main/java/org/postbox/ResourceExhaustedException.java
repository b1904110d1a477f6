package org.postbox;

/** Storage full: free space first (code 507, {@code pbx_code} -507). */
public final class ResourceExhaustedException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public ResourceExhaustedException(boolean retryable, String message) {
    super(-507, retryable, message);
  }
}
