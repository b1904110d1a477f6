package org.postbox;

/** A server that speaks no protocol version we do (code 426, {@code pbx_code} -426). */
public final class ProtocolUnsupportedException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public ProtocolUnsupportedException(boolean retryable, String message) {
    super(-426, retryable, message);
  }
}
