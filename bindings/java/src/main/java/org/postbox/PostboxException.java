package org.postbox;

import java.nio.charset.StandardCharsets;

/**
 * A failed postbox call: the C API's error code (a negative pbx_code, whose magnitude is the
 * protocol's HTTP-like code), whether simply retrying later may succeed, and the library's
 * message. Each code has its own subclass, so callers catch what they can handle
 * ({@code catch (NotFoundException e)}).
 *
 * <p>Unchecked on purpose: nearly every call can fail with several codes (503 for any network
 * call, 500 for a corrupted store), so checked exceptions would force a {@code throws} or a
 * wrapper on every line without making anyone handle them better; the codes a method can
 * return are listed in its documentation, as in the C header. Kotlin callers, for whom checked
 * exceptions do not exist, see the same API.
 */
public class PostboxException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int code;
  private final boolean retryable;

  public PostboxException(int code, boolean retryable, String message) {
    super(message);
    this.code = code;
    this.retryable = retryable;
  }

  /** The C API's code: negative, e.g. -404 (see {@code pbx_code}). */
  public int code() {
    return code;
  }

  /** The protocol's HTTP-like code: 404 for -404. */
  public int httpCode() {
    return -code;
  }

  /** True if the same call may succeed when simply tried again later (503, 429). */
  public boolean retryable() {
    return retryable;
  }

  /**
   * The exception for a code; the subclass for a known code, else this class. Called by the
   * native library (the message arrives as UTF-8 bytes: JNI's own strings are modified UTF-8).
   */
  static PostboxException fromNative(int code, boolean retryable, byte[] message) {
    return of(code, retryable, new String(message, StandardCharsets.UTF_8));
  }

  /** The exception for a code (as the library makes them): the subclass for a known code. */
  public static PostboxException of(int code, boolean retryable, String message) {
    switch (code) {
      case -400: return new InvalidArgumentException(retryable, message);
      case -401: return new UnauthenticatedException(retryable, message);
      case -403: return new PermissionDeniedException(retryable, message);
      case -404: return new NotFoundException(retryable, message);
      case -409: return new ConflictException(retryable, message);
      case -410: return new GoneException(retryable, message);
      case -413: return new TooLargeException(retryable, message);
      case -422: return new DigestMismatchException(retryable, message);
      case -426: return new ProtocolUnsupportedException(retryable, message);
      case -429: return new BackOffException(retryable, message);
      case -500: return new InternalException(retryable, message);
      case -503: return new UnavailableException(retryable, message);
      case -507: return new ResourceExhaustedException(retryable, message);
      default: return new PostboxException(code, retryable, message);
    }
  }
}
