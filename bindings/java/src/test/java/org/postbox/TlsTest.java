package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * TLS through the Java API: an embedded {@link Server} with {@link ServerTls}, a {@link Client}
 * and two {@link Replica}s with {@link ClientTls} syncing over it, and the failures an app must
 * tell apart (wrong CA, wrong pin, plain TCP to a TLS server: 426, a missing client certificate),
 * each a clear error. The certificates come from bindings/testing/make_tls_certs.sh (openssl CLI),
 * whose path the build passes as -Dpostbox.tls.certs.script.
 */
@Timeout(120)
class TlsTest {
  private static File certs;
  private File dir;
  private Store store;
  private Server server;
  private Credentials alice;
  private Credentials bob;

  @BeforeAll
  static void makeCertificates() throws Exception {
    String script = System.getProperty("postbox.tls.certs.script");
    assertNotNull(script, "-Dpostbox.tls.certs.script must name make_tls_certs.sh");
    certs = TestSupport.tempDir();
    Process p = new ProcessBuilder("bash", script, certs.getPath()).inheritIO().start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "make_tls_certs.sh took over 60 s");
    assertEquals(0, p.exitValue(), "make_tls_certs.sh failed");
  }

  @AfterAll
  static void cleanUp() throws Exception {
    TestSupport.deleteTree(certs);
    TestSupport.assertNoLiveHandles();
  }

  static String cert(String name) {
    return new File(certs, name).getPath();
  }

  @BeforeEach
  void start() throws Exception {
    dir = TestSupport.tempDir();
    store = Store.open(new File(dir, "server"), new Store.Options().durability(Durability.RELAXED));
    alice = store.createMailbox();
    bob = store.createMailbox();
    store.connect(alice.mkey(), bob.mkey());
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) server.close();
    store.close();
    TestSupport.deleteTree(dir);
  }

  private void startServer(ServerTls tls) {
    server = Server.start(store, new Server.Options().tls(tls));
  }

  private static ClientTls trusting() {
    return new ClientTls().caFile(cert("ca.pem"));
  }

  private Client client(Credentials c, ClientTls tls) {
    return Client.create(new Client.Options().port(server.port()).credentials(c).tls(tls)
        .reconnect(false).requestTimeoutMs(3000));
  }

  /** The connect's failure, which must be a retryable UnavailableException. */
  private UnavailableException refused(ClientTls tls) {
    try (Client c = client(alice, tls)) {
      UnavailableException e = assertThrows(UnavailableException.class, c::connect);
      assertTrue(e.retryable());
      return e;
    }
  }

  @Test
  void thePinIsTheSha256OfTheKeyAndBadFilesAreClearErrors() {
    String pin = Postbox.tlsPublicKeyPin(cert("server.pem"));
    assertTrue(pin.startsWith("sha256/") && pin.length() == 7 + 44, pin);
    assertNotEquals(pin, Postbox.tlsPublicKeyPin(cert("ca.pem")));
    assertThrows(NotFoundException.class, () -> Postbox.tlsPublicKeyPin(cert("missing.pem")));
    assertThrows(InvalidArgumentException.class,
        () -> Postbox.tlsPublicKeyPin(cert("server.key")));
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
        () -> Server.start(store,
            new Server.Options().tls(new ServerTls(cert("missing.pem"), cert("server.key")))));
    assertTrue(e.getMessage().contains("missing.pem"), e.getMessage());
  }

  @Test
  void aClientSyncsOverTlsWithCaPinAndName() {
    startServer(new ServerTls(cert("server.pem"), cert("server.key")));
    byte[] blob = new byte[300_000];
    new java.util.Random(5).nextBytes(blob);
    String pin = Postbox.tlsPublicKeyPin(cert("server.pem"));
    try (Client a = client(alice, trusting().pins(pin));
        Client b = client(bob, trusting().serverName("localhost"))) {
      assertEquals(Verdict.CURRENT, a.connect());
      b.connect();
      assertEquals(1, a.putEntry("k", utf8("over tls")).version());
      assertArrayEquals(utf8("over tls"), a.getEntry("k").value());
      Id id = Id.random();
      a.upload(bob.mkey(), id, "video", null, blob);
      assertArrayEquals(blob, b.download(id));
      assertEquals(Status.VIEWED, b.updateStatus(id, Status.VIEWED).status());
    }
  }

  @Test
  void aWrongCaOrPinOrPlainTcpIsRefusedClearly() {
    startServer(new ServerTls(cert("server.pem"), cert("server.key")));
    String m = refused(new ClientTls().caFile(cert("other-ca.pem"))).getMessage();
    assertTrue(m.toLowerCase().contains("certificate"), m);
    m = refused(trusting().pins(Postbox.tlsPublicKeyPin(cert("other-ca.pem")))).getMessage();
    assertTrue(m.toLowerCase().contains("pin"), m);
    try (Client c = client(alice, null)) {  // plain TCP: the listener answers 426 in plain
      ProtocolUnsupportedException e = assertThrows(ProtocolUnsupportedException.class, c::connect);
      assertFalse(e.retryable());
      assertTrue(e.getMessage().contains("TLS"), e.getMessage());
    }
    assertThrows(InvalidArgumentException.class,
        () -> client(alice, trusting().clientCertificate(cert("client.pem"), null)));
  }

  @Test
  void mutualTlsNeedsTheClientCertificate() {
    startServer(new ServerTls(cert("server.pem"), cert("server.key"))
        .clientCaFile(cert("ca.pem")).minVersion(TlsVersion.TLS_1_2).handshakeTimeoutMs(5000));
    refused(trusting());
    try (Client c = client(alice, trusting().clientCertificate(cert("client.pem"),
        cert("client.key")).minVersion(TlsVersion.TLS_1_2))) {
      c.connect();
      c.ping();
    }
  }

  @Test
  void reloadKeepsSessionsAndRefusesABadFile() throws IOException {
    File live = new File(dir, "live");
    assertTrue(live.mkdir());
    for (String name : Arrays.asList("server.pem", "server.key")) {
      Files.copy(new File(certs, name).toPath(), new File(live, name).toPath(),
          StandardCopyOption.REPLACE_EXISTING);
    }
    File pem = new File(live, "server.pem");
    startServer(new ServerTls(pem.getPath(), new File(live, "server.key").getPath()));
    try (Client before = client(alice, trusting())) {
      before.connect();
      server.reloadTls();
      Files.write(pem.toPath(), "not a certificate\n".getBytes(StandardCharsets.UTF_8));
      InvalidArgumentException e = assertThrows(InvalidArgumentException.class, server::reloadTls);
      assertTrue(e.getMessage().contains("server.pem"), e.getMessage());
      before.ping();  // the open session goes on
      try (Client after = client(bob, trusting())) {
        after.connect();  // the certificate loaded before still serves
      }
    }
  }

  @Test
  void replicasSyncOverTls() throws Exception {
    startServer(new ServerTls(cert("server.pem"), cert("server.key")));
    byte[] blob = new byte[100_000];
    new java.util.Random(9).nextBytes(blob);
    try (Replica a = replica(alice, "a", trusting());
        Replica b = replica(bob, "b", trusting())) {
      Id id = a.post(bob.mkey(), blob, "t", null);
      a.sync(10_000);
      b.sync(10_000);
      assertEquals(id, b.inbox().get(0).id());
      b.requestBlob(id);
      TestSupport.await(() -> {
        try {
          return b.readBlob(id) != null;
        } catch (UnavailableException notYet) {
          return false;
        }
      }, 20_000, "the download over TLS");
      assertArrayEquals(blob, b.readBlob(id));
      assertTrue(b.state().connected());
    }
    // Trusting another CA: never a session; the write waits in the outbox.
    try (Replica c = replica(alice, "c", new ClientTls().caFile(cert("other-ca.pem")))) {
      c.putEntry("offline", utf8("queued"));
      assertThrows(UnavailableException.class, () -> c.sync(1000));
      assertFalse(c.state().connected());
      assertEquals(0, c.state().sessions());
      assertEquals(1, c.state().pending());
    }
  }

  private Replica replica(Credentials c, String name, ClientTls tls) {
    return Replica.open(new Replica.Options().folder(new File(dir, name)).port(server.port())
        .credentials(c).durability(Durability.RELAXED).retryMs(20, 200).tls(tls));
  }
}
