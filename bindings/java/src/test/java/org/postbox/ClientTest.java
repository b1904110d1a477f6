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
}
