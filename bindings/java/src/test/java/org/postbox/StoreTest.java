package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class StoreTest {
  private File dir;
  private Store store;
  private Credentials alice;
  private Credentials bob;

  @BeforeEach
  void open() throws Exception {
    dir = TestSupport.tempDir();
    store = Store.open(dir, new Store.Options().durability(Durability.RELAXED));
    alice = store.createMailbox();
    bob = store.createMailbox();
  }

  @AfterEach
  void close() {
    if (store != null) store.close();
    TestSupport.deleteTree(dir);
  }

  @AfterAll
  static void nothingLeaked() throws Exception {
    TestSupport.assertNoLiveHandles();
  }

  @Test
  void mailboxesHaveDistinctKeysAndWorkingSecrets() {
    assertNotEquals(alice.mkey(), bob.mkey());
    assertEquals(43, alice.secret().length());
    store.authenticate(alice.mkey(), alice.secret());
    UnauthenticatedException e = assertThrows(UnauthenticatedException.class,
        () -> store.authenticate(alice.mkey(), bob.secret()));
    assertEquals(-401, e.code());
    assertFalse(e.retryable());
  }

  @Test
  void entriesPutGetAndMergeByVersion() {
    PutResult first = store.putEntry(alice.mkey(), "name", utf8("Alice"));
    assertTrue(first.applied());
    assertEquals(1, first.version());
    PutResult second = store.putEntry(alice.mkey(), "name", utf8("Alice B."));
    assertEquals(2, second.version());
    Entry e = store.getEntry(alice.mkey(), "name");
    assertEquals("name", e.key());
    assertArrayEquals(utf8("Alice B."), e.value());
    assertEquals(2, e.version());
    // An older version loses the merge and changes nothing.
    PutResult stale = store.putEntry(alice.mkey(), "name", utf8("old"), 1);
    assertFalse(stale.applied());
    assertEquals(2, stale.version());
    assertArrayEquals(utf8("Alice B."), store.getEntry(alice.mkey(), "name").value());
    // Entries are per mailbox.
    assertThrows(NotFoundException.class, () -> store.getEntry(bob.mkey(), "name"));
  }

  @Test
  void entryKeysAndValuesKeepEveryCharacterAndByte() {
    String key = "emoji-\uD83D\uDE00-\u00e9-\u4e2d";  // a supplementary character: not modified UTF-8
    byte[] value = new byte[256];
    for (int i = 0; i < value.length; ++i) value[i] = (byte) i;  // includes NUL bytes
    store.putEntry(alice.mkey(), key, value);
    Entry e = store.getEntry(alice.mkey(), key);
    assertEquals(key, e.key());
    assertArrayEquals(value, e.value());
    assertEquals(key, store.listEntries(alice.mkey(), "emoji-", null, 10).items().get(0).key());
    // An empty value is a value.
    store.putEntry(alice.mkey(), "empty", new byte[0]);
    assertEquals(0, store.getEntry(alice.mkey(), "empty").value().length);
  }

  @Test
  void aKeyWithNulIsRefusedBeforeReachingC() {
    InvalidArgumentException e = assertThrows(InvalidArgumentException.class,
        () -> store.putEntry(alice.mkey(), "a\0b", utf8("x")));
    assertEquals(-400, e.code());
    assertThrows(NotFoundException.class, () -> store.getEntry(alice.mkey(), "a"));
  }

  @Test
  void listEntriesByPrefixInKeyOrderWithPages() {
    for (String k : new String[] {"b/2", "a/1", "b/1", "b/3", "c"}) {
      store.putEntry(alice.mkey(), k, utf8(k));
    }
    Page<Entry> page = store.listEntries(alice.mkey(), "b/", null, 2);
    assertEquals(Arrays.asList("b/1", "b/2"), keys(page));
    assertTrue(page.more());
    Page<Entry> rest = store.listEntries(alice.mkey(), "b/", "b/2", 2);
    assertEquals(Arrays.asList("b/3"), keys(rest));
    assertFalse(rest.more());
    assertEquals(5, store.listEntries(alice.mkey(), null, null, 100).items().size());
    Page<Entry> all = store.listEntries(alice.mkey(), null, null, 0);  // 0: no limit
    assertEquals(5, all.items().size());
    assertFalse(all.more());
  }

  private static java.util.List<String> keys(Page<Entry> page) {
    java.util.List<String> out = new java.util.ArrayList<>();
    for (Entry e : page.items()) out.add(e.key());
    return out;
  }

  @Test
  void messagesNeedAConnectionAndCarryTheirBlob() {
    PermissionDeniedException denied = assertThrows(PermissionDeniedException.class,
        () -> store.postMessage(alice.mkey(), bob.mkey(), null, "note", null, utf8("hi")));
    assertFalse(denied.retryable());
    store.connect(alice.mkey(), bob.mkey());
    byte[] blob = new byte[100_000];
    new java.util.Random(7).nextBytes(blob);
    Message m = store.postMessage(alice.mkey(), bob.mkey(), null, "photo", utf8("{\"w\":1}"),
        blob);
    assertEquals(alice.mkey(), m.from());
    assertEquals(bob.mkey(), m.to());
    assertEquals("photo", m.topic());
    assertArrayEquals(utf8("{\"w\":1}"), m.meta());
    assertEquals(blob.length, m.length());
    assertEquals(Status.UPLOADED, m.status());
    assertEquals(16, m.digest().length);
    Message seen = store.getMessage(bob.mkey(), m.id());
    assertEquals(m.id(), seen.id());
    assertArrayEquals(blob, store.readBlob(bob.mkey(), m.id()));
    assertArrayEquals(Arrays.copyOfRange(blob, 10, 30), store.readBlob(alice.mkey(), m.id(), 10, 20));
    // Clipped to the end; past the end is refused.
    assertEquals(5, store.readBlob(bob.mkey(), m.id(), blob.length - 5, 100).length);
    assertThrows(InvalidArgumentException.class,
        () -> store.readBlob(bob.mkey(), m.id(), blob.length + 1, 1));
    Credentials carol = store.createMailbox();
    assertThrows(PermissionDeniedException.class, () -> store.getMessage(carol.mkey(), m.id()));
    assertThrows(NotFoundException.class, () -> store.getMessage(bob.mkey(), Id.random()));
  }

  @Test
  void aChosenIdIsKeptAndReusingItWithOtherContentConflicts() {
    store.connect(alice.mkey(), bob.mkey());
    Id id = Id.random();
    Message m = store.postMessage(alice.mkey(), bob.mkey(), id, "t", null, utf8("one"));
    assertEquals(id, m.id());
    assertThrows(ConflictException.class,
        () -> store.postMessage(alice.mkey(), bob.mkey(), id, "t", null, utf8("two")));
  }

  @Test
  void statusIsAMaxRegisterOnlyTheRecipientRaises() {
    store.connect(alice.mkey(), bob.mkey());
    Message m = store.postMessage(alice.mkey(), bob.mkey(), null, "t", null, utf8("x"));
    assertEquals(Status.VIEWED, store.advanceStatus(bob.mkey(), m.id(), Status.VIEWED));
    // Lower is a no-op: the max stays.
    assertEquals(Status.VIEWED, store.advanceStatus(bob.mkey(), m.id(), Status.DOWNLOADED));
    assertEquals(Status.VIEWED, store.getMessage(alice.mkey(), m.id()).status());
    assertThrows(PermissionDeniedException.class,
        () -> store.advanceStatus(alice.mkey(), m.id(), Status.VIEWED));
  }

  @Test
  void idsRoundTripThroughHexAndAreRandom() {
    Id id = Id.random();
    assertEquals(32, id.hex().length());
    assertEquals(id, Id.fromHex(id.hex()));
    assertEquals(id, Id.fromHex(id.hex().toUpperCase()));
    assertNotEquals(id, Id.random());
    assertThrows(InvalidArgumentException.class, () -> Id.fromHex("xyz"));
    assertThrows(InvalidArgumentException.class, () -> Id.of(new byte[15]));
    byte[] raw = id.bytes();
    raw[0] ^= 1;
    assertNotEquals(id, Id.of(raw));  // bytes() is a copy
  }

  @Test
  void closeIsIdempotentAndUseAfterCloseIsRefused() {
    store.close();
    store.close();
    assertThrows(IllegalStateException.class, () -> store.createMailbox());
    store = null;
  }

  @Test
  void aStoreWithARunningServerCannotClose() {
    Server server = Server.start(store);
    try {
      assertTrue(server.port() > 0);
      ConflictException e = assertThrows(ConflictException.class, () -> store.close());
      assertEquals(-409, e.code());
      store.createMailbox();  // still open
    } finally {
      server.close();
      server.close();
    }
    assertThrows(IllegalStateException.class, server::port);
    store.close();  // now it may
  }

  @Test
  void readOnlyStoresRefuseWrites() throws Exception {
    store.putEntry(alice.mkey(), "k", utf8("v"));
    store.close();
    store = Store.open(dir, new Store.Options().readOnly(true));
    assertArrayEquals(utf8("v"), store.getEntry(alice.mkey(), "k").value());
    PostboxException e = assertThrows(PostboxException.class,
        () -> store.putEntry(alice.mkey(), "k", utf8("w")));
    assertTrue(e.code() < 0);
  }

  @Test
  void connectionsAreListedByKindAndEndedByDisconnect() {
    Credentials carol = store.createMailbox();
    store.connect(alice.mkey(), bob.mkey());
    store.connect(alice.mkey(), carol.mkey());
    Page<Connection> all = store.listConnections(alice.mkey(), ConnectionKind.CONNECTED, null, 0);
    assertEquals(2, all.items().size());
    for (Connection c : all.items()) assertEquals(ConnectionState.CONNECTED, c.state());
    assertTrue(all.items().stream().anyMatch(c -> c.peer().equals(bob.mkey())));
    // Pages in mkey order.
    Page<Connection> first = store.listConnections(alice.mkey(), ConnectionKind.CONNECTED, null, 1);
    assertEquals(1, first.items().size());
    assertTrue(first.more());
    Page<Connection> second = store.listConnections(alice.mkey(), ConnectionKind.CONNECTED,
        first.items().get(0).peer(), 1);
    assertNotEquals(first.items().get(0).peer(), second.items().get(0).peer());
    store.disconnect(alice.mkey(), bob.mkey());
    store.disconnect(alice.mkey(), bob.mkey());  // idempotent
    Page<Connection> left = store.listConnections(alice.mkey(), ConnectionKind.CONNECTED, null, 0);
    assertEquals(1, left.items().size());
    assertEquals(carol.mkey(), left.items().get(0).peer());
    assertTrue(store.listConnections(bob.mkey(), ConnectionKind.CONNECTED, null, 0).items()
        .isEmpty());
    assertThrows(PermissionDeniedException.class,
        () -> store.postMessage(alice.mkey(), bob.mkey(), null, "t", null, utf8("x")));
    assertThrows(NotFoundException.class,
        () -> store.listConnections(Id.random(), ConnectionKind.CONNECTED, null, 0));
  }

  @Test
  void theFeedCarriesEntriesMessagesAndTombstones() {
    store.connect(alice.mkey(), bob.mkey());
    store.putEntry(alice.mkey(), "a", utf8("1"));
    store.putEntry(alice.mkey(), "b", utf8("2"));
    Message m = store.postMessage(alice.mkey(), bob.mkey(), null, "t", null, utf8("x"));
    Info all = store.changes(alice.mkey(), 0, 0);
    assertEquals(0, all.since());
    assertTrue(all.cursor() > 0);
    assertFalse(all.more());
    assertEquals(2, all.entries().size());
    assertEquals(1, all.outgoing().size());
    assertEquals(m.id(), all.outgoing().get(0).id());
    assertTrue(all.incoming().isEmpty());
    assertEquals(m.id(), store.changes(bob.mkey(), 0, 0).incoming().get(0).id());
    // Nothing new after the cursor; then a delete arrives as a tombstone.
    Info none = store.changes(alice.mkey(), all.cursor(), 0);
    assertTrue(none.entries().isEmpty() && none.tombstones().isEmpty());
    PutResult del = store.deleteEntry(alice.mkey(), "a", 0);
    assertTrue(del.applied());
    assertEquals(2, del.version());
    assertThrows(NotFoundException.class, () -> store.getEntry(alice.mkey(), "a"));
    Info after = store.changes(alice.mkey(), all.cursor(), 0);
    assertEquals(1, after.tombstones().size());
    Tombstone t = after.tombstones().get(0);
    assertEquals(TombstoneKind.ENTRY, t.kind());
    assertEquals("a", t.key());
    assertEquals(2, t.version());
    // An older put loses to the tombstone.
    assertFalse(store.putEntry(alice.mkey(), "a", utf8("late"), 1).applied());
    // A limit cuts the packet short.
    Info cut = store.changes(alice.mkey(), 0, 1);
    assertTrue(cut.more());
  }

  @Test
  void aDeletedMailboxIsGoneForItsPeers() {
    store.connect(alice.mkey(), bob.mkey());
    store.putEntry(bob.mkey(), "k", utf8("v"));
    Message m = store.postMessage(alice.mkey(), bob.mkey(), null, "t", null, utf8("x"));
    Info before = store.changes(alice.mkey(), 0, 0);
    store.deleteMailbox(bob.mkey());
    assertThrows(NotFoundException.class, () -> store.getEntry(bob.mkey(), "k"));
    assertThrows(UnauthenticatedException.class,
        () -> store.authenticate(bob.mkey(), bob.secret()));
    Info after = store.changes(alice.mkey(), before.cursor(), 0);
    assertTrue(after.tombstones().stream()
        .anyMatch(t -> t.kind() == TombstoneKind.MESSAGE && t.id().equals(m.id())), after.toString());
    assertThrows(NotFoundException.class, () -> store.deleteMailbox(bob.mkey()));
  }
}
