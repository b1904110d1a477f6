package org.postbox;

import java.io.File;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An app's mailbox, offline-first (pbx_replica): a local mirror that reads work offline, and a
 * durable outbox that every write goes into before the server sees it. Thread-safe: any thread
 * may call any method, except that {@link #close()} must not run while another thread is inside
 * a call.
 *
 * <p>Threading. The {@link Listener}'s methods run one at a time, in order, on the
 * {@link Executor} given to {@link Options#executor} (for example Android's main-thread
 * executor, {@code ContextCompat.getMainExecutor(context)}), or by default on a
 * single thread the replica owns ("postbox-replica-callbacks"). The native replica hands each
 * callback over as a task (pbx_replica_options.executor): its own thread, attached to the JVM
 * as a daemon, only queues it here and returns; the executor then runs it, and the callback's
 * data is copied into Java objects there. Listeners may call any method of the replica except
 * {@link #close()} (IllegalStateException). An exception a listener throws goes to the
 * executor thread's uncaught-exception handler; the replica goes on.
 */
public final class Replica implements AutoCloseable {
  /** What the app hears from a replica; every method is optional. */
  public interface Listener {
    /** A local transaction changed what the app sees. */
    default void onChange(Change change) {}

    /** An outbox item ended (at least once: tell repeats by {@link OutboxOutcome#item()}). */
    default void onOutbox(OutboxOutcome outcome) {}

    /** Syncing hit an error a retry will not fix (401, 426, the store). */
    default void onError(PostboxException error) {}
  }

  /** Options of {@link #open}; folder, mkey and secret are required. */
  public static final class Options extends ConnectionOptions<Options> {
    File folder;
    int durability = -1;
    long pollIntervalMs = -1;
    long retryInitialMs = -1;
    long retryMaxMs = -1;
    int start = -1;
    Listener listener;
    Executor executor;

    @Override
    Options self() {
      return this;
    }

    /** The replica's folder (created if missing). */
    public Options folder(File folder) {
      this.folder = folder;
      return this;
    }

    /** The local store's; default DURABLE. */
    public Options durability(Durability d) {
      this.durability = d.code();
      return this;
    }

    /** Safety-net poll while connected; default 30000. */
    public Options pollIntervalMs(long ms) {
      this.pollIntervalMs = ms;
      return this;
    }

    /** Transient-failure backoff, first and largest; defaults 100 and 30000. */
    public Options retryMs(long initialMs, long maxMs) {
      this.retryInitialMs = initialMs;
      this.retryMaxMs = maxMs;
      return this;
    }

    /** Start syncing at once; default true (false: no network at all). */
    public Options start(boolean start) {
      this.start = start ? 1 : 0;
      return this;
    }

    public Options listener(Listener listener) {
      this.listener = listener;
      return this;
    }

    /**
     * Where the listener runs (default: a thread the replica owns). Tasks are handed to it one
     * at a time, in order, so a thread pool is fine too. It must not run a task inside
     * {@code execute} (no direct executor): the call comes from the replica's own thread. If it
     * rejects a task, that callback is dropped and the rejection reported to the handing thread's
     * uncaught-exception handler.
     */
    public Options executor(Executor executor) {
      this.executor = executor;
      return this;
    }
  }

  private static final AtomicInteger threadNumber = new AtomicInteger();
  private static final Listener NO_LISTENER = new Listener() {};

  private final Dispatcher dispatcher;
  private final ExecutorService ownExecutor;  // null with the app's executor
  private volatile long handle;

  private Replica(Dispatcher dispatcher, ExecutorService ownExecutor) {
    this.dispatcher = dispatcher;
    this.ownExecutor = ownExecutor;
  }

  /**
   * Opens (creating) the replica in the folder and, unless start(false), syncs in the background;
   * never blocks on the network. InvalidArgumentException for bad options, ConflictException if
   * the folder holds another mailbox's replica; the local store's errors.
   */
  public static Replica open(Options o) {
    if (o == null || o.folder == null || o.mkey == null || o.secret == null) {
      throw new InvalidArgumentException(false,
          "Replica.open: folder, mkey and secret are required");
    }
    ExecutorService own = null;
    Executor target = o.executor;
    if (target == null) {
      own = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "postbox-replica-callbacks-" + threadNumber.incrementAndGet());
        t.setDaemon(true);
        return t;
      });
      target = own;
    }
    Dispatcher d = new Dispatcher(o.listener == null ? NO_LISTENER : o.listener, target);
    Replica r = new Replica(d, own);
    try {
      r.handle = Native.replicaOpen(Native.utf8(o.folder.getPath(), "folder"),
          Native.utf8(o.host, "host"), o.port, o.mkey.raw(), Native.utf8(o.secret, "secret"),
          Native.utf8OrNull(o.appVersion, "appVersion"), o.requestTimeoutMs, o.durability,
          o.pollIntervalMs, o.retryInitialMs, o.retryMaxMs, o.start, d, o.tlsStrings(),
          o.tlsPins(), o.tlsMinVersion());
    } catch (RuntimeException e) {
      if (own != null) own.shutdown();
      throw e;
    }
    return r;
  }

  private long h() {
    long h = handle;
    if (h == 0) throw new IllegalStateException("Replica is closed");
    return h;
  }

  /**
   * Stops syncing and releases the replica; idempotent. Writes already returned stay in the
   * outbox for the next open. Waits for a listener call in progress; callbacks still queued run
   * afterwards (their replica calls throw IllegalStateException). With the replica's own
   * executor, waits (up to 10 s) until they have run. IllegalStateException from a listener.
   */
  @Override
  public void close() {
    if (dispatcher.onDispatchThread()) {
      throw new IllegalStateException("Replica.close: not from the replica's own listener");
    }
    long h;
    dispatcher.runLock.lock();  // no listener is between reading the handle and using it
    try {
      synchronized (this) {
        h = handle;
        handle = 0;
      }
    } finally {
      dispatcher.runLock.unlock();
    }
    if (h == 0) return;
    Native.replicaClose(h);
    if (ownExecutor != null) {
      ownExecutor.shutdown();
      try {
        ownExecutor.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Starts syncing a replica opened with {@code start(false)} (idempotent). */
  public void start() {
    Native.replicaStart(h());
  }

  /**
   * Waits until the outbox is empty and the mirror has caught up with the server;
   * UnavailableException after {@code timeoutMs}. The listener calls for what it waited for
   * may still be queued on the executor when it returns.
   */
  public void sync(long timeoutMs) {
    Native.replicaSync(h(), timeoutMs);
  }

  /** Outbox items not yet ended. */
  public long pendingCount() {
    return Native.replicaPendingCount(h());
  }

  /** Messages received, oldest first, after {@code startAfter} (null: from the first). */
  public List<Message> inbox(Id startAfter, int limit) {
    return messages(Native.replicaInbox(h(), Native.raw(startAfter), limit));
  }

  /** Every message received, oldest first. */
  public List<Message> inbox() {
    return inbox(null, 0);
  }

  /** Messages sent, oldest first, after {@code startAfter} (null: from the first). */
  public List<Message> sent(Id startAfter, int limit) {
    return messages(Native.replicaSent(h(), Native.raw(startAfter), limit));
  }

  public List<Message> sent() {
    return sent(null, 0);
  }

  @SuppressWarnings("unchecked")
  private static <T> List<T> list(Object[] items) {
    return Collections.unmodifiableList(new ArrayList<>(Arrays.asList((T[]) items)));
  }

  private static List<Message> messages(Object[] items) {
    return list(items);
  }

  /** One message of the mirror; NotFoundException. */
  public Message getMessage(Id id) {
    return Native.replicaGetMessage(h(), Native.required(id, "id"));
  }

  /** One entry as the app sees it; NotFoundException. */
  public Entry getEntry(String key) {
    long[] versionAndSeq = new long[2];
    byte[] value = Native.replicaGetEntry(h(), Native.utf8(key, "key"), versionAndSeq);
    return new Entry(key, value, versionAndSeq[0], versionAndSeq[1]);
  }

  /** Entries as the app sees them, as {@link Store#listEntries} (limit 0: all). */
  public Page<Entry> listEntries(String prefix, String startAfter, int limit) {
    return Native.replicaListEntries(h(), Native.utf8OrNull(prefix, "prefix"),
        Native.utf8OrNull(startAfter, "startAfter"), limit);
  }

  /** Peers connected or asked by this mailbox, as last synced with pending changes applied. */
  public List<Connection> connections() {
    return list(Native.replicaConnections(h()));
  }

  /** The replica's state now. */
  public ReplicaState state() {
    return Native.replicaGetState(h());
  }

  /**
   * Writes: each is durable in the outbox when it returns, which gives the outbox item's id;
   * the server's verdict comes later through {@link Listener#onOutbox}.
   *
   * <p>Raises a received message's status. NotFoundException for a message the mirror lacks,
   * PermissionDeniedException for one this mailbox did not receive.
   */
  public long updateStatus(Id id, Status status) {
    return Native.replicaUpdateStatus(h(), Native.required(id, "id"), status.code());
  }

  /**
   * Puts an entry (version 0: one above what the mirror shows). TooLargeException;
   * PermissionDeniedException under {@code postbox/push/} or {@code postbox/simplepush/} (only
   * the server writes there).
   */
  public long putEntry(String key, byte[] value, long version) {
    return Native.replicaPutEntry(h(), Native.utf8(key, "key"), value, version);
  }

  public long putEntry(String key, byte[] value) {
    return putEntry(key, value, 0);
  }

  /** A versioned tombstone (version 0: one above what the mirror shows). */
  public long deleteEntry(String key, long version) {
    return Native.replicaDeleteEntry(h(), Native.utf8(key, "key"), version);
  }

  public long deleteEntry(String key) {
    return deleteEntry(key, 0);
  }

  /** Asks to connect to {@code peer}. InvalidArgumentException for this mailbox itself. */
  public long addConnection(Id peer) {
    return Native.replicaAddConnection(h(), Native.required(peer, "peer"));
  }

  public long removeConnection(Id peer) {
    return Native.replicaRemoveConnection(h(), Native.required(peer, "peer"));
  }

  /** Registers the device's push token (Platform.NONE clears it). */
  public long registerPush(Platform platform, String token) {
    return Native.replicaRegisterPush(h(), platform.code(), Native.utf8(token, "token"));
  }

  /**
   * Posts {@code bytes} (copied into the replica's folder until acknowledged) as a new message
   * with a random id to {@code to}; returns the id. InvalidArgumentException (posting to
   * itself), TooLargeException.
   */
  public Id post(Id to, byte[] bytes, String topic, byte[] meta) {
    return post(to, bytes, topic, meta, null);
  }

  /** As {@link #post(Id, byte[], String, byte[])} with a chosen id (null: random). */
  public Id post(Id to, byte[] bytes, String topic, byte[] meta, Id id) {
    return Id.fromNative(Native.replicaPost(h(), Native.required(to, "to"), bytes,
        Native.utf8(topic, "topic"), meta, Native.raw(id)));
  }

  /** Asks for a message's blob to be downloaded into the folder. NotFound, Gone. */
  public void requestBlob(Id id) {
    Native.replicaRequestBlob(h(), Native.required(id, "id"));
  }

  /**
   * The whole blob once downloaded. UnavailableException before it is complete,
   * NotFoundException if never requested.
   */
  public byte[] readBlob(Id id) {
    return Native.replicaReadBlob(h(), Native.required(id, "id"));
  }

  /** The outbox items not yet ended, in item order. */
  public List<OutboxItem> pending() {
    return list(Native.replicaPending(h()));
  }

  /**
   * Web Push endpoints (docs/replica.md "Web Push endpoints and notifications"): as {@link
   * Client#registerEndpoint}, sent at once through the replica's session, never through the
   * outbox (endpoints are the server's, not mirrored). UnavailableException while the replica
   * has no session (offline, not started, reconnecting): register at each start once {@link
   * #sync} succeeded; registering again is harmless.
   */
  public Endpoint registerEndpoint(String appId, byte[] vapidPublicKey) {
    return Native.replicaRegisterEndpoint(h(), Native.utf8(appId, "appId"), vapidPublicKey);
  }

  public Endpoint registerEndpoint(String appId) {
    return registerEndpoint(appId, null);
  }

  /** As {@link Client#listEndpoints}, through the session (UnavailableException without one). */
  public Page<Endpoint> listEndpoints(String startAfter, int limit) {
    return Native.replicaListEndpoints(h(), Native.utf8OrNull(startAfter, "startAfter"), limit);
  }

  /** As {@link Client#revokeEndpoint}, through the session (UnavailableException without one). */
  public void revokeEndpoint(String token) {
    Native.replicaRevokeEndpoint(h(), Native.utf8(token, "token"));
  }

  /**
   * The notifications in the mirror (offline too; consumptions still in the outbox already
   * applied) of endpoint {@code token}, or of every endpoint (null), oldest first. Entries under
   * {@code postbox/push/} that do not parse are skipped ({@link #listEntries} still shows them).
   * InvalidArgumentException for a token that is not base64url.
   */
  public List<PushNotification> pushNotifications(String token) {
    return list(Native.replicaPushNotifications(h(), Native.utf8OrNull(token, "token")));
  }

  public List<PushNotification> pushNotifications() {
    return pushNotifications(null);
  }

  /**
   * Consumes a notification: deletes its entry at its version through the outbox (a newer one
   * of the same topic survives); returns the outbox item's id. InvalidArgumentException for a
   * key not under {@code postbox/push/} or version 0.
   */
  public long consumePushNotification(PushNotification notification) {
    if (notification == null) {
      throw new InvalidArgumentException(false, "notification must not be null");
    }
    return Native.replicaConsumePushNotification(h(), Native.utf8(notification.key(), "key"),
        notification.version());
  }

  /**
   * Removes a pending item and rolls its effect back; the listener hears it with
   * {@code cancelled}. NotFoundException if it has ended; ConflictException while it is being
   * sent (its outcome will follow).
   */
  public void cancel(long item) {
    Native.replicaCancel(h(), item);
  }

  /**
   * Receives the native replica's tasks and runs them in order on the app's executor. Its
   * methods are called by the native library. Not API.
   */
  static final class Dispatcher {
    private static final ThreadLocal<Dispatcher> running = new ThreadLocal<>();

    final ReentrantLock runLock = new ReentrantLock(true);  // fair: close is not starved by a busy queue
    private final Listener listener;
    private final Executor target;
    private final ArrayDeque<long[]> queue = new ArrayDeque<>();  // {context, task}
    private boolean draining;  // a drain is submitted or running (guarded by queue)

    Dispatcher(Listener listener, Executor target) {
      this.listener = listener;
      this.target = target;
    }

    boolean onDispatchThread() {
      return running.get() == this;
    }

    /** On the replica's thread: queue the task, make sure a drain is on its way, return. */
    void execute(long context, long task) {
      synchronized (queue) {
        queue.add(new long[] {context, task});
        if (draining) return;
        draining = true;
      }
      try {
        target.execute(this::drain);
      } catch (RuntimeException e) {  // RejectedExecutionException, or the executor's own bug
        dropAll();
        Callbacks.report(e instanceof RejectedExecutionException ? e
            : new RejectedExecutionException("postbox: the replica's executor failed", e));
      }
    }

    /** Releases every queued task without calling its callback. */
    private void dropAll() {
      for (;;) {
        long[] t;
        synchronized (queue) {
          t = queue.poll();
          if (t == null) {
            draining = false;
            return;
          }
        }
        Native.runTask(t[0], t[1], false);
      }
    }

    private void drain() {
      running.set(this);
      try {
        for (;;) {
          long[] t;
          synchronized (queue) {
            t = queue.poll();
            if (t == null) {
              draining = false;
              return;
            }
          }
          runLock.lock();
          try {
            Native.runTask(t[0], t[1], true);
          } catch (Throwable e) {  // the listener's are caught before: an OutOfMemoryError here
            Callbacks.report(e);
          } finally {
            runLock.unlock();
          }
        }
      } finally {
        running.remove();
      }
    }

    // The callbacks, called by the native library inside runTask with data copied from C.
    void onChange(Change change) {
      try {
        listener.onChange(change);
      } catch (Throwable t) {
        Callbacks.report(t);
      }
    }

    void onOutbox(OutboxOutcome outcome) {
      try {
        listener.onOutbox(outcome);
      } catch (Throwable t) {
        Callbacks.report(t);
      }
    }

    void onError(int code, boolean retryable, byte[] message) {
      try {
        listener.onError(PostboxException.fromNative(code, retryable, message));
      } catch (Throwable t) {
        Callbacks.report(t);
      }
    }
  }
}
