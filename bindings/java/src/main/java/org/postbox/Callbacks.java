package org.postbox;

/** What the callback paths share. Not API. */
final class Callbacks {
  private Callbacks() {}

  /**
   * An app callback threw: hand it to the current thread's uncaught-exception handler (the
   * default prints it) without letting it unwind into the native library, which would then
   * see a pending exception on its own thread.
   */
  static void report(Throwable t) {
    try {
      Thread th = Thread.currentThread();
      Thread.UncaughtExceptionHandler h = th.getUncaughtExceptionHandler();
      if (h != null) h.uncaughtException(th, t);
    } catch (Throwable ignored) {
      // The handler itself failed: nothing sensible is left to do with it.
    }
  }
}
