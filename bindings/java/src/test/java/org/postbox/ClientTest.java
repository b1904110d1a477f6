package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The client against a real postbox-server process on 127.0.0.1. */
@Timeout(120)
class ClientTest {
  private File dir;
  private TestSupport.ServerProcess server;
  private Credentials alice;
  private Credentials bob;
  private Credentials carol;  // connected to nobody

  @BeforeEach
  void startServer() throws Exception {
    dir = TestSupport.tempDir();
    File data = new File(dir, "data");
    // Provisioning is outside the protocol: the mailboxes are made in the store first.
    try (Store store = Store.open(data)) {
      alice = store.createMailbox();
      bob = store.createMailbox();
      carol = store.createMailbox();
      store.connect(alice.mkey(), bob.mkey());
    }
    server = new TestSupport.ServerProcess(data);
  }

  @AfterEach
  void stopServer() {
    if (server != null) server.close();
    TestSupport.deleteTree(dir);
  }

  @AfterAll
  static void nothingLeaked() throws Exception {
    TestSupport.assertNoLiveHandles();
  }

  private Client client(Credentials c) {
    return Client.create(new Client.Options().port(server.port).credentials(c)
        .appVersion("java-test").requestTimeoutMs(5000));
  }

  @Test
  void connectsAndPutsAndGetsEntries() {
    try (Client c = client(alice)) {
      assertEquals(Verdict.CURRENT, c.connect());
      PutResult r = c.putEntry("profile", utf8("{\"name\":\"Alice\"}"));
      assertTrue(r.applied());
      assertEquals(1, r.version());
      Entry e = c.getEntry("profile");
      assertArrayEquals(utf8("{\"name\":\"Alice\"}"), e.value());
      assertEquals(1, e.version());
      assertFalse(c.putEntry("profile", utf8("stale"), 1).applied());
      NotFoundException nf = assertThrows(NotFoundException.class, () -> c.getEntry("nope"));
      assertFalse(nf.retryable());
    }
  }

  @Test
  void aWrongSecretIsUnauthenticated() {
    try (Client c = Client.create(new Client.Options().port(server.port).mkey(alice.mkey())
        .secret(bob.secret()))) {
      UnauthenticatedException e = assertThrows(UnauthenticatedException.class, c::connect);
      assertEquals(401, e.httpCode());
      assertFalse(e.retryable());
    }
  }

  @Test
  void noServerIsUnavailableAndRetryable() throws Exception {
    int port = server.port;
    server.close();
    server = null;
    try (Client c = Client.create(new Client.Options().port(port).credentials(alice)
        .requestTimeoutMs(1000).reconnect(false))) {
      UnavailableException e = assertThrows(UnavailableException.class, c::connect);
      assertTrue(e.retryable());
      assertEquals(-503, e.code());
    }
  }

  @Test
  void uploadDownloadAndStatusBetweenTwoClients() {
    try (Client a = client(alice); Client b = client(bob)) {
      a.connect();
      b.connect();
      byte[] blob = new byte[300_000];  // several frames
      new java.util.Random(3).nextBytes(blob);
      Id id = Id.random();
      a.upload(bob.mkey(), id, "photo", utf8("m"), blob);
      // Resending an identical committed upload is fine.
      a.upload(bob.mkey(), id, "photo", utf8("m"), blob);
      assertArrayEquals(blob, b.download(id));
      StatusResult viewed = b.updateStatus(id, Status.VIEWED);
      assertEquals(Status.VIEWED, viewed.status());
      assertTrue(viewed.applied());
      StatusResult again = b.updateStatus(id, Status.DOWNLOADED);
      assertEquals(Status.VIEWED, again.status());
      assertFalse(again.applied());
      // Only the recipient raises the status.
      assertThrows(PermissionDeniedException.class, () -> a.updateStatus(id, Status.VIEWED));
      assertThrows(NotFoundException.class, () -> b.download(Id.random()));
    }
  }

  @Test
  void uploadingToAStrangerIsPermissionDenied() {
    try (Client a = client(alice); Client c = client(carol)) {
      a.connect();
      c.connect();
      Id id = Id.random();
      assertThrows(PermissionDeniedException.class,
          () -> a.upload(carol.mkey(), id, "t", null, utf8("x")));
      assertThrows(PostboxException.class, () -> c.download(id));
    }
  }

  @Test
  void closeIsIdempotentAndUseAfterCloseIsRefused() {
    Client c = client(alice);
    c.close();
    c.close();
    assertThrows(IllegalStateException.class, c::connect);
  }

  @Test
  void entriesAreListedAndDeletedThroughTheServer() {
    try (Client c = client(alice)) {
      c.connect();
      c.ping();
      for (String k : new String[] {"p/1", "p/2", "q"}) c.putEntry(k, utf8(k));
      Page<Entry> p = c.listEntries("p/", null, 0);
      assertEquals(2, p.items().size());
      assertEquals("p/1", p.items().get(0).key());
      Page<Entry> one = c.listEntries(null, null, 1);
      assertEquals(1, one.items().size());
      assertTrue(one.more());
      PutResult del = c.deleteEntry("p/1", 0);
      assertTrue(del.applied());
      assertThrows(NotFoundException.class, () -> c.getEntry("p/1"));
      assertEquals(1, c.listEntries("p/", null, 0).items().size());
    }
  }

  @Test
  void pollAndAckTheFeed() {
    try (Client a = client(alice); Client b = client(bob)) {
      a.connect();
      b.connect();
      a.putEntry("k", utf8("v"));
      Id id = Id.random();
      b.upload(alice.mkey(), id, "t", null, utf8("x"));
      Info info = a.poll(0, 0);
      assertTrue(info.cursor() > 0);
      assertEquals(1, info.entries().size());
      assertEquals("k", info.entries().get(0).key());
      assertEquals(1, info.incoming().size());
      assertEquals(id, info.incoming().get(0).id());
      a.ack(info.cursor());
      Info next = a.poll(info.cursor(), 0);
      assertTrue(next.entries().isEmpty() && next.incoming().isEmpty());
      assertEquals(info.cursor(), next.since());
    }
  }

  @Test
  void connectionsThroughTheServerAndPushRegistration() {
    try (Client a = client(alice); Client c = client(carol)) {
      a.connect();
      c.connect();
      assertEquals(ConnectionState.REQUESTED, a.addConnection(carol.mkey()));
      assertEquals(carol.mkey(),
          a.listConnections(ConnectionKind.REQUESTED, null, 0).items().get(0).peer());
      assertEquals(alice.mkey(),
          c.listConnections(ConnectionKind.INCOMING, null, 0).items().get(0).peer());
      assertEquals(ConnectionState.CONNECTED, c.addConnection(alice.mkey()));
      assertTrue(a.listConnections(ConnectionKind.CONNECTED, null, 0).items().stream()
          .anyMatch(x -> x.peer().equals(carol.mkey())));
      a.upload(carol.mkey(), Id.random(), "t", null, utf8("now allowed"));
      c.removeConnection(alice.mkey());
      assertThrows(PermissionDeniedException.class,
          () -> a.upload(carol.mkey(), Id.random(), "t", null, utf8("not any more")));
      a.registerPush(Platform.ANDROID, "fcm-token-1");
      a.registerPush(Platform.NONE, "");
    }
  }

  @Test
  void pushesArriveOnTheClientsThreadAndAThrowingListenerIsContained() throws Exception {
    java.util.List<Info> pushes = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.List<String> threads = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.List<Throwable> reported = new java.util.concurrent.CopyOnWriteArrayList<>();
    Thread.UncaughtExceptionHandler saved = Thread.getDefaultUncaughtExceptionHandler();
    // The client's native thread has no handler of its own: the default one hears.
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
    try (Client a = Client.create(new Client.Options().port(server.port).credentials(alice)
        .onPush(info -> {
          pushes.add(info);
          threads.add(Thread.currentThread().getName());
          if (pushes.size() == 1) throw new IllegalStateException("listener bug");
        }));
         Client b = client(bob)) {
      a.connect();
      b.connect();
      Id first = Id.random();
      b.upload(alice.mkey(), first, "t", null, utf8("1"));
      TestSupport.await(() -> incoming(pushes, first), 20_000, "the first push");
      Id second = Id.random();
      b.upload(alice.mkey(), second, "t", null, utf8("2"));
      TestSupport.await(() -> incoming(pushes, second), 20_000, "a push after the exception");
    } finally {
      Thread.setDefaultUncaughtExceptionHandler(saved);
    }
    assertFalse(threads.contains(Thread.currentThread().getName()));
    assertTrue(reported.stream().anyMatch(e -> "listener bug".equals(e.getMessage())), "" + reported);
  }

  private static boolean incoming(java.util.List<Info> pushes, Id id) {
    for (Info i : pushes) {
      for (Message m : i.incoming()) {
        if (m.id().equals(id)) return true;
      }
    }
    return false;
  }
}
