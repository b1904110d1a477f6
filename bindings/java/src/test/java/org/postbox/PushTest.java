package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Web Push through an embedded server: endpoints of a client and a replica, and notifications
 * the server stored (written here into its store, as its HTTP route does) parsed, listed from a
 * replica's mirror and consumed.
 */
@Timeout(120)
class PushTest extends EmbeddedServerTest {
  private static final String TOKEN = "AAAAAAAAAAAAAAAAAAAAAA";
  private static final String ID1 = "0123456789abcdef0123456789abcdef";
  private static final String ID2 = "fedcba9876543210fedcba9876543210";

  private Credentials alice;

  @BeforeEach
  void mailbox() {
    alice = store.createMailbox();
  }

  /** An entry value as the server stores a notification (postbox/push.h), written by hand. */
  private static byte[] value(String id, String topic, long receivedMs, String payload) {
    return utf8("{\"id\":\"" + id + "\",\"topic\":\"" + topic + "\",\"urgency\":\"high\","
        + "\"ttl\":60,\"received_ms\":" + receivedMs + ",\"encoding\":\"aes128gcm\"}\n"
        + payload);
  }

  private Replica replica(String name, boolean start) {
    Replica r = Replica.open(new Replica.Options().folder(new File(dir, name))
        .port(server.port()).credentials(alice).durability(Durability.RELAXED).retryMs(20, 200)
        .pollIntervalMs(200).start(start));
    open.add(0, r);
    return r;
  }

  @Test
  void aNotificationIsParsedFromItsEntry() {
    String key = "postbox/push/" + TOKEN + "/" + ID1;
    PushNotification n = PushNotification.parse(key, value(ID1, "", 1767225600000L, "pay\nload"), 7);
    assertEquals(TOKEN, n.token());
    assertEquals(ID1, n.id());
    assertEquals("", n.topic());
    assertEquals(Urgency.HIGH, n.urgency());
    assertEquals(60, n.ttlS());
    assertEquals(1767225600000L, n.receivedMs());
    assertEquals("aes128gcm", n.encoding());
    assertArrayEquals(utf8("pay\nload"), n.payload());
    assertEquals(key, n.key());
    assertEquals(7, n.version());
    Entry e = new Entry("postbox/push/" + TOKEN + "/t.news", value(ID2, "news", 5, ""), 3, 0);
    PushNotification topical = PushNotification.parse(e);
    assertEquals("news", topical.topic());
    assertEquals(3, topical.version());
    assertEquals(0, topical.payload().length);
    assertThrows(InvalidArgumentException.class,
        () -> PushNotification.parse("other/" + TOKEN + "/t.news", value(ID2, "news", 5, ""), 0));
    assertThrows(InvalidArgumentException.class,
        () -> PushNotification.parse("postbox/push/" + TOKEN + "/t.rain",
            value(ID2, "news", 5, ""), 0));
    assertThrows(InvalidArgumentException.class,
        () -> PushNotification.parse(key, utf8("no header line"), 0));
    assertThrows(InvalidArgumentException.class, () -> PushNotification.parse(key, null, 0));
    assertThrows(InvalidArgumentException.class, () -> PushNotification.parse(null));
  }

  @Test
  void aClientRegistersListsAndRevokesEndpoints() {
    try (Client c = Client.create(new Client.Options().port(server.port()).credentials(alice))) {
      assertThrows(UnavailableException.class, () -> c.registerEndpoint("app"));
      c.connect();
      byte[] vapid = new byte[65];
      Arrays.fill(vapid, (byte) 'v');
      vapid[0] = 4;
      Endpoint e = c.registerEndpoint("org.example.chat", vapid);
      assertEquals(22, e.token().length());
      assertEquals("org.example.chat", e.appId());
      assertArrayEquals(vapid, e.vapidPublicKey());
      assertEquals("", e.url());
      assertTrue(e.createdMs() > 0);
      assertEquals(e, c.registerEndpoint("org.example.chat", vapid));
      Endpoint other = c.registerEndpoint("org.example.mail");
      assertEquals(0, other.vapidPublicKey().length);
      Page<Endpoint> first = c.listEndpoints(null, 1);
      assertEquals(1, first.items().size());
      assertTrue(first.more());
      Page<Endpoint> rest = c.listEndpoints(first.items().get(0).token(), 0);
      assertEquals(1, rest.items().size());
      assertFalse(rest.more());
      assertThrows(InvalidArgumentException.class, () -> c.registerEndpoint(""));
      assertThrows(InvalidArgumentException.class,
          () -> c.registerEndpoint("app", utf8("short key")));
      assertThrows(InvalidArgumentException.class, () -> c.listEndpoints(null, -1));
      c.revokeEndpoint(e.token());
      assertThrows(NotFoundException.class, () -> c.revokeEndpoint(e.token()));
      assertEquals(Arrays.asList(other), c.listEndpoints(null, 0).items());
    }
  }

  @Test
  void aReplicaListsAndConsumesNotificationsFromItsMirror() throws Exception {
    Replica r = replica("alice", false);
    assertThrows(UnavailableException.class, () -> r.registerEndpoint("app"));
    assertThrows(UnavailableException.class, () -> r.listEndpoints(null, 0));
    assertThrows(UnavailableException.class, () -> r.revokeEndpoint(TOKEN));
    r.start();
    r.sync(10_000);
    Endpoint e = r.registerEndpoint("org.example.chat");
    assertEquals(e, r.registerEndpoint("org.example.chat"));
    Endpoint gone = r.registerEndpoint("org.example.old");
    r.revokeEndpoint(gone.token());
    assertThrows(NotFoundException.class, () -> r.revokeEndpoint(gone.token()));
    assertEquals(Arrays.asList(e), r.listEndpoints(null, 0).items());

    String plain = "postbox/push/" + e.token() + "/" + ID1;
    String topical = "postbox/push/" + e.token() + "/t.news";
    String odd = "postbox/push/" + e.token() + "/not-one";
    store.putEntry(alice.mkey(), plain, value(ID1, "", 2000, "second"), 1);
    store.putEntry(alice.mkey(), topical, value(ID2, "news", 1000, "first"), 4);
    store.putEntry(alice.mkey(), odd, utf8("{}\n"), 1);
    r.sync(10_000);

    List<PushNotification> ns = r.pushNotifications();
    assertEquals(2, ns.size());
    assertEquals(topical, ns.get(0).key(), "oldest first");
    assertEquals(4, ns.get(0).version());
    assertArrayEquals(utf8("first"), ns.get(0).payload());
    assertEquals(plain, ns.get(1).key());
    assertEquals(ns, r.pushNotifications(e.token()));
    assertTrue(r.pushNotifications(TOKEN).isEmpty());
    assertThrows(InvalidArgumentException.class, () -> r.pushNotifications("a/b"));
    assertArrayEquals(utf8("{}\n"), r.getEntry(odd).value(), "skipped, still an entry");
    assertEquals(ns.get(1), PushNotification.parse(r.getEntry(plain)));

    assertTrue(r.consumePushNotification(ns.get(0)) > 0);
    assertEquals(Arrays.asList(ns.get(1)), r.pushNotifications(), "at once, from the mirror");
    r.sync(10_000);
    assertThrows(NotFoundException.class, () -> store.getEntry(alice.mkey(), topical));
    assertEquals(1, store.getEntry(alice.mkey(), plain).version());
    assertThrows(InvalidArgumentException.class, () -> r.consumePushNotification(null));
    assertThrows(PermissionDeniedException.class,
        () -> r.putEntry(plain, utf8("forged")));
  }
}
