package org.postbox;

import java.io.File;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/**
 * A test class's fixture: a store in a temporary folder served by an embedded server for each
 * test; what a test adds to {@link #open} (replicas, clients) is closed before the server. Each
 * class ends checking that nothing native leaked.
 */
abstract class EmbeddedServerTest {
  File dir;
  Store store;
  Server server;
  final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

  @BeforeEach
  void startEmbeddedServer() throws Exception {
    dir = TestSupport.tempDir();
    store = Store.open(new File(dir, "server"), new Store.Options().durability(Durability.RELAXED));
    server = Server.start(store);
  }

  @AfterEach
  void stopEmbeddedServer() throws Exception {
    for (AutoCloseable c : open) c.close();
    if (server != null) server.close();
    if (store != null) store.close();
    TestSupport.deleteTree(dir);
  }

  @AfterAll
  static void nothingLeaked() throws Exception {
    TestSupport.assertNoLiveHandles();
  }
}
