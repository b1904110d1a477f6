package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Where and how replica callbacks run: the app's executor, in order, exceptions contained. */
@Timeout(60)
class CallbackTest {
  private File dir;
  private final List<Throwable> uncaught = new CopyOnWriteArrayList<>();
  private ExecutorService appExecutor;

  @BeforeEach
  void setUp() throws Exception {
    dir = TestSupport.tempDir();
    // The app's executor: one named thread whose uncaught exceptions the test sees.
    appExecutor = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "app-callbacks");
      t.setUncaughtExceptionHandler((th, e) -> uncaught.add(e));
      return t;
    });
  }

  @AfterEach
  void tearDown() throws Exception {
    appExecutor.shutdown();
    assertTrue(appExecutor.awaitTermination(10, TimeUnit.SECONDS));
    TestSupport.deleteTree(dir);
  }

  @AfterAll
  static void nothingLeaked() throws Exception {
    TestSupport.assertNoLiveHandles();
  }

  private Replica.Options offline(String name) {
    return new Replica.Options().folder(new File(dir, name)).mkey(Id.random()).secret("s")
        .start(false).durability(Durability.RELAXED);
  }

  @Test
  void callbacksRunOnTheAppsExecutorThread() throws Exception {
    List<String> threads = new CopyOnWriteArrayList<>();
    CountDownLatch changed = new CountDownLatch(1);
    try (Replica r = Replica.open(offline("r").executor(appExecutor)
        .listener(new Replica.Listener() {
          @Override
          public void onChange(Change c) {
            threads.add(Thread.currentThread().getName());
            if (c.entries().contains("k")) changed.countDown();
          }
        }))) {
      r.putEntry("k", utf8("v"));
      assertTrue(changed.await(10, TimeUnit.SECONDS), "onChange for the put");
    }
    assertFalse(threads.isEmpty());
    for (String t : threads) assertEquals("app-callbacks", t);
  }

  @Test
  void theDefaultExecutorIsTheReplicasOwnThread() throws Exception {
    List<String> threads = new CopyOnWriteArrayList<>();
    CountDownLatch changed = new CountDownLatch(1);
    try (Replica r = Replica.open(offline("r").listener(new Replica.Listener() {
      @Override
      public void onChange(Change c) {
        threads.add(Thread.currentThread().getName());
        changed.countDown();
      }
    }))) {
      r.putEntry("k", utf8("v"));
      assertTrue(changed.await(10, TimeUnit.SECONDS));
    }
    assertTrue(threads.get(0).startsWith("postbox-replica-callbacks-"), threads.get(0));
  }

  @Test
  void aThrowingListenerDoesNotCrashAndIsReported() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    try (Replica r = Replica.open(offline("r").executor(appExecutor)
        .listener(new Replica.Listener() {
          @Override
          public void onChange(Change c) {
            // An exception first, then an Error: neither may unwind into the library.
            if (calls.incrementAndGet() == 1) throw new IllegalStateException("the app's bug");
            throw new OutOfMemoryError("not really");
          }
        }))) {
      r.putEntry("a", utf8("1"));
      r.putEntry("b", utf8("2"));
      TestSupport.await(() -> calls.get() >= 2 && uncaught.size() >= 2, 10_000,
          "both changes delivered and reported");
      // Still working after the exceptions.
      assertArrayEquals(utf8("1"), r.getEntry("a").value());
      r.putEntry("c", utf8("3"));
      TestSupport.await(() -> calls.get() >= 3, 10_000, "later callbacks");
    }
    boolean sawIse = false, sawError = false;
    for (Throwable t : uncaught) {
      sawIse |= t instanceof IllegalStateException && "the app's bug".equals(t.getMessage());
      sawError |= t instanceof OutOfMemoryError;
    }
    assertTrue(sawIse && sawError, "reported to the thread's handler: " + uncaught);
  }

  @Test
  void callbacksRunInOrderOneAtATimeEvenOnAThreadPool() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<String> keys = new CopyOnWriteArrayList<>();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    int n = 200;
    try (Replica r = Replica.open(offline("r").executor(pool).listener(new Replica.Listener() {
      @Override
      public void onChange(Change c) {
        if (inside.incrementAndGet() > 1) overlaps.incrementAndGet();
        keys.addAll(c.entries());
        Thread.yield();
        inside.decrementAndGet();
      }
    }))) {
      for (int i = 0; i < n; ++i) r.putEntry(String.format("k%04d", i), utf8("v"));
      TestSupport.await(() -> keys.size() >= n, 20_000, "every change");
    } finally {
      pool.shutdown();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
    }
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < n; ++i) expected.add(String.format("k%04d", i));
    assertEquals(expected, keys);
    assertEquals(0, overlaps.get());
  }

  @Test
  void listenersMayReadTheReplicaButNotCloseIt() throws Exception {
    CountDownLatch done = new CountDownLatch(1);
    List<Object> seen = new CopyOnWriteArrayList<>();
    Replica[] self = new Replica[1];
    try (Replica r = Replica.open(offline("r").executor(appExecutor)
        .listener(new Replica.Listener() {
          @Override
          public void onChange(Change c) {
            if (!c.entries().contains("k")) return;
            seen.add(new String(self[0].getEntry("k").value(), java.nio.charset.StandardCharsets.UTF_8));
            try {
              self[0].close();
            } catch (IllegalStateException e) {
              seen.add(e);
            }
            done.countDown();
          }
        }))) {
      self[0] = r;
      r.putEntry("k", utf8("v"));
      assertTrue(done.await(10, TimeUnit.SECONDS));
      assertEquals("v", seen.get(0));
      assertTrue(seen.get(1) instanceof IllegalStateException);
      r.getEntry("k");  // still open
    }
  }

  @Test
  void aRejectingExecutorDropsCallbacksWithoutLeaks() throws Exception {
    AtomicInteger calls = new AtomicInteger();
    List<Throwable> reported = new CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
    // The rejection is reported on the replica's own (attached) thread: its handler is the
    // default one.
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
    try (Replica r = Replica.open(offline("r").executor(task -> {
      throw new RejectedExecutionException("shut down");
    }).listener(new Replica.Listener() {
      @Override
      public void onChange(Change c) {
        calls.incrementAndGet();
      }
    }))) {
      r.putEntry("k", utf8("v"));
      TestSupport.await(() -> !reported.isEmpty(), 10_000, "the rejection reported");
      assertArrayEquals(utf8("v"), r.getEntry("k").value());
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(saved);
    }
    assertEquals(0, calls.get());
    assertTrue(reported.get(0) instanceof RejectedExecutionException);
    TestSupport.assertNoLiveHandles();  // the dropped tasks were released
  }

  @Test
  void tasksQueuedAtCloseStillRunAndFindTheReplicaClosed() throws Exception {
    CountDownLatch gate = new CountDownLatch(1);
    CountDownLatch entered = new CountDownLatch(1);
    List<Object> after = new CopyOnWriteArrayList<>();
    Replica[] self = new Replica[1];
    Replica r = Replica.open(offline("r").executor(appExecutor)
        .listener(new Replica.Listener() {
          @Override
          public void onChange(Change c) {
            try {
              entered.countDown();
              gate.await();
              self[0].getEntry("k");
              after.add("open");
            } catch (IllegalStateException e) {
              after.add(e);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        }));
    self[0] = r;
    r.putEntry("k", utf8("1"));
    r.putEntry("k", utf8("2"));
    // The first callback waits at the gate; close waits for it, so release the gate from
    // another thread once close has begun.
    assertTrue(entered.await(10, TimeUnit.SECONDS), "the first callback started");
    Thread opener = new Thread(() -> {
      try {
        Thread.sleep(200);
      } catch (InterruptedException ignored) {
        // fall through
      }
      gate.countDown();
    });
    opener.start();
    r.close();
    opener.join();
    TestSupport.await(() -> after.size() >= 2, 10_000, "the queued callbacks");
    assertEquals("open", after.get(0), "the callback in progress finished before close");
    assertTrue(after.get(after.size() - 1) instanceof IllegalStateException);
  }
}
