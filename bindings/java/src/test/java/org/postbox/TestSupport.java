package org.postbox;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

/** Temporary folders, waiting, a real postbox-server process, the leak check. */
final class TestSupport {
  private TestSupport() {}

  static File tempDir() throws IOException {
    return Files.createTempDirectory("postbox-java-test").toFile();
  }

  static void deleteTree(File dir) {
    if (dir == null || !dir.exists()) return;
    try (Stream<Path> paths = Files.walk(dir.toPath())) {
      paths.sorted(Comparator.reverseOrder()).map(Path::toFile).forEach(File::delete);
    } catch (IOException e) {
      // Best effort: a leftover temporary folder fails nothing.
    }
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Polls {@code condition} every 10 ms; fails the test with {@code what} after the timeout. */
  static void await(BooleanSupplier condition, long timeoutMs, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) fail("timed out waiting for " + what);
      Thread.sleep(10);
    }
  }

  /** Every test class ends with this: every handle closed, every callback task run. */
  static void assertNoLiveHandles() throws InterruptedException {
    // Tasks handed to an app's executor are released when they run, just after close.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (Postbox.liveHandles() != 0 && System.nanoTime() < deadline) Thread.sleep(10);
    assertEquals(0, Postbox.liveHandles(), "native handles or objects leaked");
  }

  /**
   * A real postbox-server on 127.0.0.1 with an ephemeral port over a store folder (whose
   * mailboxes the test made with a Store beforehand), stopped by its pid: SIGTERM through
   * destroy(), then SIGKILL if it does not exit within 15 s.
   */
  static final class ServerProcess implements AutoCloseable {
    final Process process;
    final int port;
    final File log;

    ServerProcess(File data) throws IOException {
      String bin = System.getProperty("postbox.server.bin");
      if (bin == null || !new File(bin).canExecute()) {
        throw new IllegalStateException("-Dpostbox.server.bin must name postbox-server: " + bin);
      }
      log = new File(data.getParentFile(), "server.log");
      process = new ProcessBuilder(bin, "--listen", "127.0.0.1:0", "--data", data.getPath(),
          "--threads", "1", "--log-level", "warn")
          .redirectError(log).redirectInput(ProcessBuilder.Redirect.PIPE).start();
      int p = -1;
      try {
        // docs/server.md: once listening it prints "postbox-server listening on HOST:PORT".
        BufferedReader out = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        String prefix = "postbox-server listening on 127.0.0.1:";
        if (line == null || !line.startsWith(prefix)) {
          throw new IOException("postbox-server did not start: " + line + "; log: "
              + new String(Files.readAllBytes(log.toPath()), StandardCharsets.UTF_8));
        }
        p = Integer.parseInt(line.substring(prefix.length()).trim());
      } finally {
        if (p < 0) close();
      }
      port = p;
    }

    /** The process's pid, for messages. */
    long pid() {
      return process.pid();
    }

    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
