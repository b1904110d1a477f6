package org.postbox;

/**
 * The embedded sync server (pbx_server) over a {@link Store}, the same server postbox-server
 * runs. Thread-safe. The store must stay open until the server is closed.
 */
public final class Server implements AutoCloseable {
  /** Options of {@link #start}; unset ones keep the C defaults. */
  public static final class Options {
    String host = "127.0.0.1";
    int port = 0;
    int threads = 1;
    ServerTls tls;

    /** An IPv4 or IPv6 literal; default "127.0.0.1". */
    public Options host(String host) {
      this.host = host;
      return this;
    }

    /** 0 (the default here): an ephemeral port, see {@link Server#port()}. */
    public Options port(int port) {
      this.port = port;
      return this;
    }

    /** Loop threads; 0: one per core; default 1. */
    public Options threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** TLS on the listener (it then speaks TLS only); default null: plain TCP. */
    public Options tls(ServerTls tls) {
      this.tls = tls;
      return this;
    }
  }

  private final Store store;  // kept reachable while the server runs over it
  private volatile long handle;

  private Server(Store store, long handle) {
    this.store = store;
    this.handle = handle;
  }

  /** Starts a server on 127.0.0.1 with an ephemeral port. */
  public static Server start(Store store) {
    return start(store, new Options());
  }

  /**
   * Starts a server over {@code store}. InvalidArgumentException for bad options or host, or TLS
   * files that cannot be loaded (the message names the file and OpenSSL's reason);
   * UnavailableException when the address cannot be bound.
   */
  public static Server start(Store store, Options options) {
    if (store == null || options == null) {
      throw new InvalidArgumentException(false, "Server.start: store and options are required");
    }
    ServerTls tls = options.tls;
    long h = Native.serverStart(store.handle(), Native.utf8(options.host, "host"), options.port,
        options.threads, tls == null ? null : tls.nativeStrings(),
        tls == null ? 0 : tls.minVersion.code(), tls == null ? -1 : tls.handshakeTimeoutMs);
    return new Server(store, h);
  }

  /** The port listened on (the ephemeral one when asked for port 0). */
  public int port() {
    long h = handle;
    if (h == 0) throw new IllegalStateException("Server is closed");
    return Native.serverPort(h);
  }

  /**
   * Reads the TLS certificate, key and client CA files again (what postbox-server does on
   * SIGHUP): connections accepted from now on use them; open sessions are not interrupted. On an
   * error (InvalidArgumentException naming the file) nothing changes. Does nothing for a server
   * without TLS.
   */
  public synchronized void reloadTls() {
    if (handle == 0) throw new IllegalStateException("Server is closed");
    Native.serverReloadTls(handle);
  }

  /** Stops gracefully (within about 2 s) and releases the server; idempotent. */
  @Override
  public synchronized void close() {
    if (handle == 0) return;
    Native.serverStop(handle);
    handle = 0;
  }
}
