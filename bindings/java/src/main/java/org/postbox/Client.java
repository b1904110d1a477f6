package org.postbox;

/**
 * A client of a postbox server for one mailbox (pbx_client): blocking calls through the
 * server, each at most about the request timeout. Thread-safe, except that {@link #close()}
 * must not run while another thread is inside a call.
 *
 * <p>Pushes ({@link Options#onPush}) run on the client's own native thread, attached to the
 * JVM as a daemon thread for its lifetime (detached when it exits). A push listener must
 * return quickly, must not close the client, and must not call its blocking methods (they fail
 * with InvalidArgumentException there); each packet is acknowledged when the listener returns. An
 * exception it throws goes to that thread's uncaught-exception handler and the client goes on.
 */
public final class Client implements AutoCloseable {
  /** Receives pushed info packets. */
  public interface PushListener {
    void onPush(Info info);
  }

  /** Options of {@link #create}; the mailbox and its secret are required. */
  public static final class Options extends ConnectionOptions<Options> {
    int reconnect = -1;
    PushListener onPush;
    long startCursor;

    @Override
    Options self() {
      return this;
    }

    /** Reconnect after a lost session; default true. */
    public Options reconnect(boolean reconnect) {
      this.reconnect = reconnect ? 1 : 0;
      return this;
    }

    /**
     * Pushed packets, in order, on the client's thread. After every (re)connect the client first
     * polls from the last acknowledged cursor ({@link #startCursor} the first time) and hands
     * those packets here too.
     */
    public Options onPush(PushListener listener) {
      this.onPush = listener;
      return this;
    }

    /** Default 0. */
    public Options startCursor(long cursor) {
      this.startCursor = cursor;
      return this;
    }
  }

  /** Called by the native library on the client's thread. Not API. */
  static final class Dispatcher {
    private final PushListener listener;

    Dispatcher(PushListener listener) {
      this.listener = listener;
    }

    void onPush(Info info) {
      try {
        listener.onPush(info);
      } catch (Throwable t) {
        Callbacks.report(t);
      }
    }
  }

  private volatile long handle;

  private Client(long handle) {
    this.handle = handle;
  }

  /**
   * Creates a client (its own thread; does not connect). InvalidArgumentException for bad
   * options, TLS files that cannot be loaded included.
   */
  public static Client create(Options o) {
    if (o == null || o.mkey == null || o.secret == null) {
      throw new InvalidArgumentException(false, "Client.create: mkey and secret are required");
    }
    return new Client(Native.clientCreate(Native.utf8(o.host, "host"), o.port, o.mkey.raw(),
        Native.utf8(o.secret, "secret"), Native.utf8OrNull(o.appVersion, "appVersion"),
        o.requestTimeoutMs, o.reconnect, o.onPush == null ? null : new Dispatcher(o.onPush),
        o.startCursor, o.tlsStrings(), o.tlsPins(), o.tlsMinVersion()));
  }

  private long h() {
    long h = handle;
    if (h == 0) throw new IllegalStateException("Client is closed");
    return h;
  }

  /**
   * Connects and says Hello; returns the server's verdict on the app version.
   * UnauthenticatedException, ProtocolUnsupportedException, UnavailableException.
   */
  public Verdict connect() {
    return Verdict.of(Native.clientConnect(h()));
  }

  /** Ends the session, joins the client's thread and releases it; idempotent. */
  @Override
  public synchronized void close() {
    if (handle == 0) return;
    long h = handle;
    handle = 0;
    Native.clientClose(h);
  }

  /** As {@link Store#putEntry}, through the server (version 0: next). */
  public PutResult putEntry(String key, byte[] value, long version) {
    return Native.clientPutEntry(h(), Native.utf8(key, "key"), value, version);
  }

  public PutResult putEntry(String key, byte[] value) {
    return putEntry(key, value, 0);
  }

  /** NotFoundException if absent. */
  public Entry getEntry(String key) {
    return Native.clientGetEntry(h(), Native.utf8(key, "key"));
  }

  /** A versioned tombstone through the server (version 0: next). */
  public PutResult deleteEntry(String key, long version) {
    return Native.clientDeleteEntry(h(), Native.utf8(key, "key"), version);
  }

  /** As {@link Store#listEntries} (limit 0: the server's page). */
  public Page<Entry> listEntries(String prefix, String startAfter, int limit) {
    return Native.clientListEntries(h(), Native.utf8OrNull(prefix, "prefix"),
        Native.utf8OrNull(startAfter, "startAfter"), limit);
  }

  /**
   * Asks to connect to {@code peer}: CONNECTED once the peer asked too, else REQUESTED (also for
   * a mailbox that does not exist). BackOffException past the server's cap on requests.
   */
  public ConnectionState addConnection(Id peer) {
    return ConnectionState.of(Native.clientAddConnection(h(), Native.required(peer, "peer")));
  }

  /** Ends the connection, withdraws the request or declines the peer's. */
  public void removeConnection(Id peer) {
    Native.clientRemoveConnection(h(), Native.required(peer, "peer"));
  }

  /** As {@link Store#listConnections}, for this mailbox (limit 0: the server's page). */
  public Page<Connection> listConnections(ConnectionKind kind, Id startAfter, int limit) {
    return Native.clientListConnections(h(), kind.code(), Native.raw(startAfter), limit);
  }

  /** Registers the device's push token (Platform.NONE clears it). */
  public void registerPush(Platform platform, String token) {
    Native.clientRegisterPush(h(), platform.code(), Native.utf8(token, "token"));
  }

  /**
   * Web Push endpoints (protocol 3: ProtocolUnsupportedException from an older server). The
   * mailbox's endpoint for {@code appId} with this VAPID public key (empty or null, or a 65-byte
   * uncompressed P-256 point): the same one when registered again, a new one (the app's old one
   * revoked) for a new key. InvalidArgumentException for a bad app id or key,
   * BackOffException past the server's cap on live endpoints (64 by default), Unavailable.
   */
  public Endpoint registerEndpoint(String appId, byte[] vapidPublicKey) {
    return Native.clientRegisterEndpoint(h(), Native.utf8(appId, "appId"), vapidPublicKey);
  }

  public Endpoint registerEndpoint(String appId) {
    return registerEndpoint(appId, null);
  }

  /** Live endpoints in token order after {@code startAfter} (null: from the first), at most
   * {@code limit} (0: the server's page). */
  public Page<Endpoint> listEndpoints(String startAfter, int limit) {
    return Native.clientListEndpoints(h(), Native.utf8OrNull(startAfter, "startAfter"), limit);
  }

  /** App servers get 410 from it afterwards. NotFoundException unless it is a live endpoint of
   * this mailbox. */
  public void revokeEndpoint(String token) {
    Native.clientRevokeEndpoint(h(), Native.utf8(token, "token"));
  }

  /** The feed after cursor {@code since}, at most {@code limit} items (0: the server's page). */
  public Info poll(long since, int limit) {
    return Native.clientPoll(h(), since, limit);
  }

  /** Acknowledges the feed up to {@code cursor}: the server may push what follows. */
  public void ack(long cursor) {
    Native.clientAck(h(), cursor);
  }

  /** A round trip to the server; UnavailableException if none within the timeout. */
  public void ping() {
    Native.clientPing(h());
  }

  /** Raises a message's status. NotFound, Gone, PermissionDenied (not the recipient). */
  public StatusResult updateStatus(Id id, Status status) {
    return Native.clientUpdateStatus(h(), Native.required(id, "id"), status.code());
  }

  /**
   * Uploads {@code bytes} as message {@code id} to {@code to}, resumably; returns once
   * committed. PermissionDenied, Conflict, Gone, TooLarge, Unavailable.
   */
  public void upload(Id to, Id id, String topic, byte[] meta, byte[] bytes) {
    Native.clientUpload(h(), Native.required(to, "to"), Native.required(id, "id"),
        Native.utf8(topic, "topic"), meta, bytes);
  }

  /** The message's whole blob, verified. Gone, NotFound, PermissionDenied, DigestMismatch. */
  public byte[] download(Id id) {
    return Native.clientDownload(h(), Native.required(id, "id"));
  }
}
