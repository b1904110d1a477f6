package org.postbox;

/** A superseded or deleted message (code 410, {@code pbx_code} -410). */
public final class GoneException extends PostboxException {
  private static final long serialVersionUID = 1L;

  public GoneException(boolean retryable, String message) {
    super(-410, retryable, message);
  }
}
