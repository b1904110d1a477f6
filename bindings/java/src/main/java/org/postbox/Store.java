package org.postbox;

import java.io.File;

/**
 * A postbox store (pbx_db): mailboxes with their entries and messages, in an LMDB folder.
 * Thread-safe: any thread may call any method, except that {@link #close()} must not run
 * while another thread is inside a call (as in the C API).
 *
 * <pre>{@code
 * try (Store store = Store.open(folder)) {
 *   Credentials alice = store.createMailbox();
 *   store.putEntry(alice.mkey(), "name", "Alice".getBytes(UTF_8));
 * }
 * }</pre>
 */
public final class Store implements AutoCloseable {
  /** Options of {@link #open(File, Options)}; every one left unset keeps the C default. */
  public static final class Options {
    int durability = -1;
    int postingPolicy = -1;
    long maxMapSize = -1;
    long slotDepth = -1;
    boolean readOnly;

    /** Default DURABLE: every write synced before it returns. */
    public Options durability(Durability d) {
      durability = d.code();
      return this;
    }

    /** Default CONNECTED: posting needs a connection. */
    public Options postingPolicy(PostingPolicy p) {
      postingPolicy = p.code();
      return this;
    }

    /** The most the store may hold in bytes; default 64 GiB, at least 1 MiB. */
    public Options maxMapSize(long bytes) {
      maxMapSize = bytes;
      return this;
    }

    /** Live messages per (from, to, topic); default 1. */
    public Options slotDepth(int depth) {
      slotDepth = depth;
      return this;
    }

    public Options readOnly(boolean readOnly) {
      this.readOnly = readOnly;
      return this;
    }
  }

  private volatile long handle;

  private Store(long handle) {
    this.handle = handle;
  }

  /** Opens (creating if needed) the store in {@code folder} with the default options. */
  public static Store open(File folder) {
    return open(folder, new Options());
  }

  /**
   * Opens (creating if needed, unless read-only) the store in {@code folder}.
   * InvalidArgumentException for bad options, UnavailableException if the folder cannot be
   * opened, InternalException for a store of an unknown format.
   */
  public static Store open(File folder, Options options) {
    if (folder == null || options == null) {
      throw new InvalidArgumentException(false, "Store.open: folder and options are required");
    }
    return new Store(Native.dbOpen(Native.utf8(folder.getPath(), "folder"), options.durability,
        options.postingPolicy, options.maxMapSize, options.slotDepth, options.readOnly));
  }

  long handle() {
    long h = handle;
    if (h == 0) throw new IllegalStateException("Store is closed");
    return h;
  }

  /**
   * Closes the store; idempotent. ConflictException, and nothing is closed, while a server
   * started on it is still running.
   */
  @Override
  public synchronized void close() {
    if (handle == 0) return;
    Native.dbClose(handle);  // throws ConflictException with a server running: still open
    handle = 0;
  }

  /** Creates a mailbox with a random mkey and secret. */
  public Credentials createMailbox() {
    return Native.dbCreateMailbox(handle());
  }

  /** Returns if {@code secret} is the mailbox's; UnauthenticatedException otherwise. */
  public void authenticate(Id mkey, String secret) {
    Native.dbAuthenticate(handle(), Native.required(mkey, "mkey"), Native.utf8(secret, "secret"));
  }

  /** The operator's override: connects a and b at once (idempotent). NotFoundException. */
  public void connect(Id a, Id b) {
    Native.dbConnect(handle(), Native.required(a, "a"), Native.required(b, "b"));
  }

  /** {@code actor} ends its connection, request or the peer's request (idempotent). */
  public void disconnect(Id actor, Id peer) {
    Native.dbDisconnect(handle(), Native.required(actor, "actor"), Native.required(peer, "peer"));
  }

  /**
   * The connections of {@code mkey} of one kind, in mkey order after {@code startAfter} (null:
   * from the first), at most {@code limit} (0: 1000). NotFoundException for an unknown mailbox.
   */
  public Page<Connection> listConnections(Id mkey, ConnectionKind kind, Id startAfter,
      int limit) {
    return Native.dbListConnections(handle(), Native.required(mkey, "mkey"), kind.code(),
        Native.raw(startAfter), limit);
  }

  /** Deletes the mailbox with its entries, and its messages as their parties see them. */
  public void deleteMailbox(Id mkey) {
    Native.dbDeleteMailbox(handle(), Native.required(mkey, "mkey"));
  }

  /**
   * The mailbox's feed as an info packet: every item changed after cursor {@code since} (0:
   * everything), at most {@code limit} items (0: no limit). NotFoundException for an unknown
   * mailbox.
   */
  public Info changes(Id mkey, long since, int limit) {
    return Native.dbChanges(handle(), Native.required(mkey, "mkey"), since, limit);
  }

  /** Puts {@code value} at {@code key} with the stored version + 1. TooLargeException. */
  public PutResult putEntry(Id mkey, String key, byte[] value) {
    return putEntry(mkey, key, value, 0);
  }

  /** Puts {@code value} at {@code key} if (version, value) wins the merge (version 0: next). */
  public PutResult putEntry(Id mkey, String key, byte[] value, long version) {
    return Native.dbPutEntry(handle(), Native.required(mkey, "mkey"), Native.utf8(key, "key"),
        value, version);
  }

  /** A versioned tombstone, merged like a put (version 0: next). */
  public PutResult deleteEntry(Id mkey, String key, long version) {
    return Native.dbDeleteEntry(handle(), Native.required(mkey, "mkey"), Native.utf8(key, "key"),
        version);
  }

  /** The entry; NotFoundException if absent or deleted. */
  public Entry getEntry(Id mkey, String key) {
    return Native.dbGetEntry(handle(), Native.required(mkey, "mkey"), Native.utf8(key, "key"));
  }

  /**
   * Live entries whose key starts with {@code prefix} (null: all), in key order after
   * {@code startAfter} (null: from the first), at most {@code limit} (0: no limit).
   */
  public Page<Entry> listEntries(Id mkey, String prefix, String startAfter, int limit) {
    return Native.dbListEntries(handle(), Native.required(mkey, "mkey"),
        Native.utf8OrNull(prefix, "prefix"), Native.utf8OrNull(startAfter, "startAfter"), limit);
  }

  /**
   * Commits a message from {@code from} to {@code to} with its whole blob; {@code id} null: a
   * random one. PermissionDeniedException if not connected (policy CONNECTED), ConflictException
   * for an id reused with other content, GoneException for a superseded id, TooLargeException.
   */
  public Message postMessage(Id from, Id to, Id id, String topic, byte[] meta, byte[] blob) {
    return Native.dbPostMessage(handle(), Native.required(from, "from"),
        Native.required(to, "to"), Native.raw(id), Native.utf8(topic, "topic"), meta, blob);
  }

  /** The message as {@code actor} (a party) sees it. PermissionDenied, NotFound, Gone. */
  public Message getMessage(Id actor, Id id) {
    return Native.dbGetMessage(handle(), Native.required(actor, "actor"),
        Native.required(id, "id"));
  }

  /** Max-merges {@code status}; returns the status after the call. Only the recipient may. */
  public Status advanceStatus(Id actor, Id id, Status status) {
    return Status.of(Native.dbAdvanceStatus(handle(), Native.required(actor, "actor"),
        Native.required(id, "id"), status.code()));
  }

  /** The whole blob. */
  public byte[] readBlob(Id actor, Id id) {
    return readBlob(actor, id, 0, -1);
  }

  /**
   * Bytes [offset, offset + length) of the blob, clipped to its end (length -1: to the end).
   * InvalidArgumentException for an offset past the end.
   */
  public byte[] readBlob(Id actor, Id id, long offset, long length) {
    return Native.dbReadBlob(handle(), Native.required(actor, "actor"),
        Native.required(id, "id"), offset, length);
  }
}
