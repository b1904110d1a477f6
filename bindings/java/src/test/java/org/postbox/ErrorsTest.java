package org.postbox;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** The code-to-exception mapping, and the library's own names and retryability. */
class ErrorsTest {
  @AfterAll
  static void nothingLeaked() throws Exception {
    TestSupport.assertNoLiveHandles();
  }

  @Test
  void everyCodeHasItsClassAndLibraryName() {
    Object[][] table = {
      {-400, InvalidArgumentException.class, "InvalidArgument"},
      {-401, UnauthenticatedException.class, "Unauthenticated"},
      {-403, PermissionDeniedException.class, "PermissionDenied"},
      {-404, NotFoundException.class, "NotFound"},
      {-409, ConflictException.class, "Conflict"},
      {-410, GoneException.class, "Gone"},
      {-413, TooLargeException.class, "TooLarge"},
      {-422, DigestMismatchException.class, "DigestMismatch"},
      {-426, ProtocolUnsupportedException.class, "ProtocolUnsupported"},
      {-429, BackOffException.class, "BackOff"},
      {-500, InternalException.class, "Internal"},
      {-503, UnavailableException.class, "Unavailable"},
      {-507, ResourceExhaustedException.class, "ResourceExhausted"},
    };
    for (Object[] row : table) {
      int code = (Integer) row[0];
      boolean retryable = Postbox.codeRetryable(code);
      PostboxException e = PostboxException.of(code, retryable, "m");
      assertSame(row[1], e.getClass(), "class for " + code);
      assertEquals(code, e.code());
      assertEquals(-code, e.httpCode());
      assertEquals("m", e.getMessage());
      assertTrue(e instanceof RuntimeException);
      assertEquals(row[2], Postbox.codeName(code), "pbx_strerror(" + code + ")");
      // Only the transient codes are retryable (pbx_code_retryable).
      assertEquals(code == -503 || code == -429, retryable, "retryable " + code);
    }
    PostboxException unknown = PostboxException.of(-999, false, "x");
    assertSame(PostboxException.class, unknown.getClass());
    assertEquals("Unknown", Postbox.codeName(-999));
  }

  @Test
  void theVersionMatchesTheHeader() {
    assertEquals("0.3.0", Postbox.version());
    assertEquals(300, Postbox.versionNumber());
  }

  @Test
  void nullArgumentsAreInvalidArgumentsNotCrashes() throws Exception {
    java.io.File dir = TestSupport.tempDir();
    try (Store store = Store.open(dir)) {
      Credentials a = store.createMailbox();
      assertThrows(InvalidArgumentException.class, () -> store.getEntry(null, "k"));
      assertThrows(InvalidArgumentException.class, () -> store.getEntry(a.mkey(), null));
      assertThrows(InvalidArgumentException.class,
          () -> store.postMessage(a.mkey(), null, null, "t", null, new byte[0]));
      assertThrows(InvalidArgumentException.class, () -> Store.open(null));
    } finally {
      TestSupport.deleteTree(dir);
    }
  }
}
