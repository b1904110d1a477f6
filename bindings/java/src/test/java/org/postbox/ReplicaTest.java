package org.postbox;

import static org.junit.jupiter.api.Assertions.*;
import static org.postbox.TestSupport.utf8;

import java.io.File;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Two replicas syncing through an embedded server; the outbox; working offline. */
@Timeout(120)
class ReplicaTest extends EmbeddedServerTest {
  private Credentials alice;
  private Credentials bob;
  private Credentials carol;  // connected to nobody

  /** Every outcome and change a replica's listener heard. */
  static final class Recorder implements Replica.Listener {
    final List<OutboxOutcome> outcomes = new CopyOnWriteArrayList<>();
    final List<Change> changes = new CopyOnWriteArrayList<>();
    final List<PostboxException> errors = new CopyOnWriteArrayList<>();

    @Override
    public void onChange(Change c) {
      changes.add(c);
    }

    @Override
    public void onOutbox(OutboxOutcome o) {
      outcomes.add(o);
    }

    @Override
    public void onError(PostboxException e) {
      errors.add(e);
    }

    OutboxOutcome outcome(long item) {
      for (OutboxOutcome o : outcomes) {
        if (o.item() == item) return o;
      }
      return null;
    }

    boolean changed(Id message) {
      for (Change c : changes) {
        if (c.messages().contains(message)) return true;
      }
      return false;
    }
  }

  @BeforeEach
  void mailboxes() {
    alice = store.createMailbox();
    bob = store.createMailbox();
    carol = store.createMailbox();
    store.connect(alice.mkey(), bob.mkey());
  }

  private Replica replica(Credentials c, String name, Replica.Listener l, boolean start) {
    Replica r = Replica.open(new Replica.Options().folder(new File(dir, name))
        .port(server.port()).credentials(c).durability(Durability.RELAXED).listener(l)
        .retryMs(20, 200).pollIntervalMs(200).start(start));
    open.add(0, r);  // closed before the server
    return r;
  }

  @Test
  void aPostIsDownloadedAndViewedAndTheSenderSeesViewed() throws Exception {
    Recorder ra = new Recorder();
    Recorder rb = new Recorder();
    Replica a = replica(alice, "alice", ra, true);
    Replica b = replica(bob, "bob", rb, true);
    byte[] blob = new byte[200_000];
    new java.util.Random(11).nextBytes(blob);
    Id id = a.post(bob.mkey(), blob, "photo", utf8("meta"));
    // Before the server answers, the sent message is in alice's mirror, pending.
    Message mine = a.getMessage(id);
    assertEquals(bob.mkey(), mine.to());
    assertFalse(mine.incoming());
    a.sync(10_000);
    assertEquals(0, a.pendingCount());
    assertNotNull(a.getMessage(id).syncedStatus(), "the post was acknowledged");
    assertEquals(1, a.sent().size());

    b.sync(10_000);
    List<Message> inbox = b.inbox();
    assertEquals(1, inbox.size());
    Message got = inbox.get(0);
    assertEquals(id, got.id());
    assertTrue(got.incoming());
    assertEquals("photo", got.topic());
    assertArrayEquals(utf8("meta"), got.meta());
    assertEquals(blob.length, got.length());
    assertThrows(NotFoundException.class, () -> b.readBlob(id), "not requested yet");
    b.requestBlob(id);
    TestSupport.await(() -> {
      try {
        return b.readBlob(id) != null;
      } catch (UnavailableException notYet) {
        return false;
      }
    }, 20_000, "the download");
    assertArrayEquals(blob, b.readBlob(id));
    long item = b.updateStatus(id, Status.VIEWED);
    assertTrue(item > 0);
    b.sync(10_000);
    TestSupport.await(() -> rb.outcome(item) != null, 10_000, "bob's status outcome");
    assertTrue(rb.outcome(item).ok());
    assertEquals(OutboxKind.STATUS, rb.outcome(item).kind());
    assertEquals(id, rb.outcome(item).message());

    a.sync(10_000);
    TestSupport.await(() -> a.getMessage(id).status() == Status.VIEWED, 10_000,
        "alice to see VIEWED");
    // The server agrees.
    assertEquals(Status.VIEWED, store.getMessage(alice.mkey(), id).status());
    // Alice heard of her post's acknowledgement and of the status change.
    TestSupport.await(() -> {
      for (OutboxOutcome o : ra.outcomes) {
        if (o.kind() == OutboxKind.POST && o.message().equals(id) && o.ok()) return true;
      }
      return false;
    }, 10_000, "alice's post outcome");
    assertEquals("photo", findPost(ra, id).key(), "a post's outcome carries its topic");
    TestSupport.await(() -> rb.changed(id), 10_000, "bob's change for the message");
    assertTrue(ra.errors.isEmpty() && rb.errors.isEmpty(), "no sync errors");
  }

  private static OutboxOutcome findPost(Recorder r, Id id) {
    for (OutboxOutcome o : r.outcomes) {
      if (o.kind() == OutboxKind.POST && o.message().equals(id)) return o;
    }
    return null;
  }

  @Test
  void aRefusedPostEndsWithItsErrorAndIsRolledBack() throws Exception {
    Recorder rec = new Recorder();
    Replica a = replica(alice, "alice", rec, true);
    Id id = a.post(carol.mkey(), utf8("hi"), "note", null);  // not connected to carol
    a.sync(10_000);
    TestSupport.await(() -> findPost(rec, id) != null, 10_000, "the post's outcome");
    OutboxOutcome o = findPost(rec, id);
    assertFalse(o.ok());
    assertEquals(-403, o.code());
    assertTrue(o.error() instanceof PermissionDeniedException);
    assertFalse(o.messageText().isEmpty());
    assertThrows(NotFoundException.class, () -> a.getMessage(id), "rolled back");
    assertEquals(0, a.pendingCount());
  }

  @Test
  void entriesSyncBothWays() throws Exception {
    Recorder rec = new Recorder();
    Replica a = replica(alice, "alice", rec, true);
    long item = a.putEntry("theme", utf8("dark"));
    assertArrayEquals(utf8("dark"), a.getEntry("theme").value(), "visible at once, offline-first");
    a.sync(10_000);
    assertArrayEquals(utf8("dark"), store.getEntry(alice.mkey(), "theme").value());
    TestSupport.await(() -> rec.outcome(item) != null, 10_000, "the put's outcome");
    assertEquals(OutboxKind.PUT_ENTRY, rec.outcome(item).kind());
    assertEquals("theme", rec.outcome(item).key());
    assertTrue(rec.outcome(item).applied());
    // A write on the server reaches the mirror.
    store.putEntry(alice.mkey(), "theme", utf8("light"));
    TestSupport.await(() -> {
      a.sync(1000);
      return java.util.Arrays.equals(utf8("light"), a.getEntry("theme").value());
    }, 40_000, "the server's write in the mirror");
    TestSupport.await(() -> {
      for (Change c : rec.changes) {
        if (c.entries().contains("theme") && c.cursor() > 0) return true;
      }
      return false;
    }, 10_000, "a change naming the entry");
  }

  @Test
  void offlineWritesWaitInTheOutboxAndSyncOnTheNextOpen() throws Exception {
    Recorder rec = new Recorder();
    Replica off = replica(alice, "alice", rec, false);
    long put = off.putEntry("draft", utf8("v1"));
    Id id = off.post(bob.mkey(), utf8("sent offline"), "note", null);
    assertEquals(2, off.pendingCount());
    assertArrayEquals(utf8("v1"), off.getEntry("draft").value());
    assertTrue(off.getMessage(id).pending());
    assertThrows(UnavailableException.class, () -> off.sync(200), "no network at all");
    assertThrows(NotFoundException.class, () -> store.getEntry(alice.mkey(), "draft"));
    open.remove(off);
    off.close();
    assertTrue(put > 0);

    Replica on = replica(alice, "alice", new Recorder(), true);
    assertEquals(2, on.pendingCount(), "the outbox is durable");
    on.sync(10_000);
    assertEquals(0, on.pendingCount());
    assertArrayEquals(utf8("v1"), store.getEntry(alice.mkey(), "draft").value());
    assertEquals(id, store.getMessage(bob.mkey(), id).id());
    assertFalse(on.getMessage(id).pending());
  }

  @Test
  void aReplicaOpenedOfflineSyncsOnceStarted() throws Exception {
    Replica a = replica(alice, "alice", null, false);
    a.putEntry("late", utf8("v"));
    assertThrows(UnavailableException.class, () -> a.sync(200), "not started");
    a.start();
    a.start();  // idempotent
    a.sync(10_000);
    assertEquals(0, a.pendingCount());
    assertArrayEquals(utf8("v"), store.getEntry(alice.mkey(), "late").value());
  }

  @Test
  void readsAndErrorsOfAReplica() throws Exception {
    Replica a = replica(alice, "alice", null, false);
    assertThrows(NotFoundException.class, () -> a.getEntry("missing"));
    assertThrows(NotFoundException.class, () -> a.getMessage(Id.random()));
    assertThrows(NotFoundException.class, () -> a.updateStatus(Id.random(), Status.VIEWED));
    InvalidArgumentException self = assertThrows(InvalidArgumentException.class,
        () -> a.post(alice.mkey(), utf8("x"), "t", null));
    assertFalse(self.retryable());
    assertTrue(a.inbox().isEmpty());
    // Another mailbox's replica cannot open this folder.
    assertThrows(ConflictException.class, () -> Replica.open(new Replica.Options()
        .folder(new File(dir, "alice")).credentials(bob).start(false)));
  }

  @Test
  void closeIsIdempotentAndUseAfterCloseIsRefused() {
    Replica a = replica(alice, "alice", null, false);
    a.close();
    a.close();
    assertThrows(IllegalStateException.class, () -> a.getEntry("k"));
  }

  @Test
  void pendingItemsDescribeTheOutboxAndCancelRollsBack() throws Exception {
    Recorder rec = new Recorder();
    Replica a = replica(alice, "alice", rec, false);
    a.putEntry("keep", utf8("k"));
    long put = a.putEntry("draft", utf8("v"), 7);
    Id id = a.post(bob.mkey(), new byte[1234], "photo", null);
    long conn = a.addConnection(carol.mkey());
    long push = a.registerPush(Platform.ANDROID, "token");
    long del = a.deleteEntry("keep");
    List<OutboxItem> items = a.pending();
    assertEquals(6, items.size());
    assertEquals(6, a.pendingCount());
    for (int i = 1; i < items.size(); ++i) assertTrue(items.get(i).item() > items.get(i - 1).item());
    OutboxItem p = items.get(1);
    assertEquals(put, p.item());
    assertEquals(OutboxKind.PUT_ENTRY, p.kind());
    assertEquals("draft", p.key());
    assertEquals(7, p.version());
    assertTrue(p.createdMs() > 0);
    OutboxItem post = items.get(2);
    assertEquals(OutboxKind.POST, post.kind());
    assertEquals(id, post.message());
    assertEquals(bob.mkey(), post.peer());
    assertEquals("photo", post.key());
    assertEquals(1234, post.length());
    assertEquals(conn, items.get(3).item());
    assertEquals(OutboxKind.ADD_CONNECTION, items.get(3).kind());
    assertEquals(carol.mkey(), items.get(3).peer());
    assertEquals(push, items.get(4).item());
    assertEquals(Platform.ANDROID, items.get(4).platform());
    assertEquals(del, items.get(5).item());
    assertEquals(OutboxKind.DELETE_ENTRY, items.get(5).kind());
    assertThrows(NotFoundException.class, () -> a.getEntry("keep"), "deleted locally");

    assertArrayEquals(utf8("v"), a.getEntry("draft").value());
    a.cancel(put);
    assertThrows(NotFoundException.class, () -> a.getEntry("draft"), "the put rolled back");
    TestSupport.await(() -> rec.outcome(put) != null, 10_000, "the cancel's outcome");
    assertTrue(rec.outcome(put).cancelled());
    assertEquals(OutboxKind.PUT_ENTRY, rec.outcome(put).kind());
    assertThrows(NotFoundException.class, () -> a.cancel(put), "already ended");
    a.cancel(post.item());
    assertThrows(NotFoundException.class, () -> a.getMessage(id), "the post rolled back");
    assertEquals(4, a.pending().size());
    ReplicaState st = a.state();
    assertFalse(st.connected());
    assertEquals(4, st.pending());
    assertEquals(0, st.sessions());
  }

  @Test
  void stateListingAndConnectionsOfASyncedReplica() throws Exception {
    Replica a = replica(alice, "alice", null, true);
    a.putEntry("x/1", utf8("1"));
    a.putEntry("x/2", utf8("2"));
    a.putEntry("y", utf8("3"));
    a.addConnection(carol.mkey());
    a.sync(10_000);
    ReplicaState st = a.state();
    assertTrue(st.connected());
    assertTrue(st.sessions() >= 1);
    assertEquals(0, st.pending());
    assertEquals(0, st.lastErrorCode());
    assertTrue(st.cursor() > 0);
    Page<Entry> xs = a.listEntries("x/", null, 0);
    assertEquals(2, xs.items().size());
    assertEquals("x/2", a.listEntries("x/", "x/1", 0).items().get(0).key());
    List<Connection> conns = a.connections();
    assertTrue(conns.stream().anyMatch(c -> c.peer().equals(bob.mkey())
        && c.state() == ConnectionState.CONNECTED), conns.toString());
    assertTrue(conns.stream().anyMatch(c -> c.peer().equals(carol.mkey())
        && c.state() == ConnectionState.REQUESTED), conns.toString());
    assertEquals(alice.mkey(), store.listConnections(carol.mkey(), ConnectionKind.INCOMING, null, 0)
        .items().get(0).peer());
    long item = a.removeConnection(bob.mkey());
    assertTrue(item > 0);
    a.sync(10_000);
    assertTrue(store.listConnections(bob.mkey(), ConnectionKind.CONNECTED, null, 0).items()
        .isEmpty());
    a.registerPush(Platform.ANDROID, "fcm");
    a.deleteEntry("y");
    a.sync(10_000);
    assertThrows(NotFoundException.class, () -> store.getEntry(alice.mkey(), "y"));
  }

  @Test
  void aWrongSecretIsReportedThroughOnError() throws Exception {
    Recorder rec = new Recorder();
    Replica a = Replica.open(new Replica.Options().folder(new File(dir, "bad"))
        .port(server.port()).mkey(alice.mkey()).secret(bob.secret()).listener(rec)
        .retryMs(20, 200));
    open.add(0, a);
    TestSupport.await(() -> !rec.errors.isEmpty(), 20_000, "on_error");
    assertTrue(rec.errors.get(0) instanceof UnauthenticatedException, rec.errors.toString());
    assertEquals(-401, a.state().lastErrorCode());
  }
}
