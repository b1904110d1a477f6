package org.postbox;

import java.nio.charset.StandardCharsets;

/**
 * The JNI library's entry points (libpostbox_jni, bindings/java/jni) and the string conversions
 * around them. Not API.
 *
 * <p>Handles are the native objects' addresses as {@code long}. Strings cross as UTF-8 byte
 * arrays encoded here with {@link StandardCharsets#UTF_8}: JNI's own string functions use
 * modified UTF-8, which is wrong for supplementary characters and NUL.
 */
final class Native {
  private Native() {}

  static {
    // -Dpostbox.jni.library=/path/libpostbox_jni.so names the file; otherwise java.library.path
    // (or, on Android, the APK's lib/<abi>/) is searched.
    String path = System.getProperty("postbox.jni.library");
    if (path != null && !path.isEmpty()) {
      System.load(path);
    } else {
      System.loadLibrary("postbox_jni");
    }
  }

  /** UTF-8 bytes of a string the C API takes NUL-terminated; InvalidArgumentException for NUL. */
  static byte[] utf8(String s, String what) {
    if (s == null) throw new InvalidArgumentException(false, what + " must not be null");
    if (s.indexOf('\0') >= 0) {
      throw new InvalidArgumentException(false, what + " must not contain NUL");
    }
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** As utf8, with null kept as null (an optional argument). */
  static byte[] utf8OrNull(String s, String what) {
    return s == null ? null : utf8(s, what);
  }

  static String string(byte[] utf8) {
    return new String(utf8, StandardCharsets.UTF_8);
  }

  static byte[] raw(Id id) {
    return id == null ? null : id.raw();
  }

  static byte[] required(Id id, String what) {
    if (id == null) throw new InvalidArgumentException(false, what + " must not be null");
    return id.raw();
  }

  // ---- Library, ids -------------------------------------------------------------------------
  static native long liveHandles();
  static native String version();
  static native int versionNumber();
  static native String strerror(int code);
  static native boolean codeRetryable(int code);
  static native byte[] idRandom();
  static native byte[] idFromHex(byte[] hex);
  static native String idToHex(byte[] id);
  static native String tlsPublicKeyPin(byte[] certFile);

  // ---- Store (pbx_db); -1 for an option means its default -----------------------------------
  static native long dbOpen(byte[] path, int durability, int postingPolicy, long maxMapSize,
      long slotDepth, boolean readOnly);
  static native void dbClose(long db);
  static native Credentials dbCreateMailbox(long db);
  static native void dbAuthenticate(long db, byte[] mkey, byte[] secret);
  static native void dbConnect(long db, byte[] a, byte[] b);
  static native void dbDisconnect(long db, byte[] actor, byte[] peer);
  static native Page<Connection> dbListConnections(long db, byte[] mkey, int kind,
      byte[] startAfter, long limit);
  static native void dbDeleteMailbox(long db, byte[] mkey);
  static native Info dbChanges(long db, byte[] mkey, long since, long limit);
  static native PutResult dbPutEntry(long db, byte[] mkey, byte[] key, byte[] value,
      long version);
  static native PutResult dbDeleteEntry(long db, byte[] mkey, byte[] key, long version);
  static native Entry dbGetEntry(long db, byte[] mkey, byte[] key);
  static native Page<Entry> dbListEntries(long db, byte[] mkey, byte[] prefix,
      byte[] startAfter, long limit);
  static native Message dbPostMessage(long db, byte[] from, byte[] to, byte[] id, byte[] topic,
      byte[] meta, byte[] bytes);
  static native Message dbGetMessage(long db, byte[] actor, byte[] id);
  static native int dbAdvanceStatus(long db, byte[] actor, byte[] id, int status);
  static native byte[] dbReadBlob(long db, byte[] actor, byte[] id, long offset, long length);

  // ---- Embedded server (pbx_server) --------------------------------------------------------
  /** tls: {certFile, keyFile, clientCaFile} or null (plain TCP); -1: the default timeout. */
  static native long serverStart(long db, byte[] host, int port, int threads, byte[][] tls,
      int tlsMinVersion, long tlsHandshakeTimeoutMs);
  static native int serverPort(long server);
  static native void serverReloadTls(long server);
  static native void serverStop(long server);

  // ---- Client (pbx_client); the handle is the JNI side's wrapper ----------------------------
  // tls: {caFile, serverName, certFile, keyFile} (elements may be null) or null for plain TCP;
  // tlsPins: the pins (ClientTls.nativePins); tlsMinVersion: a TlsVersion code.
  static native long clientCreate(byte[] host, int port, byte[] mkey, byte[] secret,
      byte[] appVersion, long requestTimeoutMs, int reconnect, Client.Dispatcher onPush,
      long startCursor, byte[][] tls, byte[][] tlsPins, int tlsMinVersion);
  static native int clientConnect(long client);
  static native void clientClose(long client);
  static native PutResult clientPutEntry(long client, byte[] key, byte[] value, long version);
  static native Entry clientGetEntry(long client, byte[] key);
  static native PutResult clientDeleteEntry(long client, byte[] key, long version);
  static native Page<Entry> clientListEntries(long client, byte[] prefix, byte[] startAfter,
      long limit);
  static native int clientAddConnection(long client, byte[] peer);
  static native void clientRemoveConnection(long client, byte[] peer);
  static native Page<Connection> clientListConnections(long client, int kind,
      byte[] startAfter, long limit);
  static native void clientRegisterPush(long client, int platform, byte[] token);
  static native Endpoint clientRegisterEndpoint(long client, byte[] appId, byte[] vapidPublicKey);
  static native Page<Endpoint> clientListEndpoints(long client, byte[] startAfter, long limit);
  static native void clientRevokeEndpoint(long client, byte[] token);
  static native Info clientPoll(long client, long since, long limit);
  static native void clientAck(long client, long cursor);
  static native void clientPing(long client);
  static native StatusResult clientUpdateStatus(long client, byte[] id, int status);
  static native void clientUpload(long client, byte[] to, byte[] id, byte[] topic, byte[] meta,
      byte[] bytes);
  static native byte[] clientDownload(long client, byte[] id);

  // ---- Replica (pbx_replica); the handle is the JNI side's wrapper --------------------------
  static native long replicaOpen(byte[] folder, byte[] host, int port, byte[] mkey,
      byte[] secret, byte[] appVersion, long requestTimeoutMs, int durability,
      long pollIntervalMs, long retryInitialMs, long retryMaxMs, int start,
      Replica.Dispatcher dispatcher, byte[][] tls, byte[][] tlsPins, int tlsMinVersion);
  static native void replicaClose(long replica);
  /** Runs a task the replica handed to the dispatcher; deliver=false drops its callback. */
  static native void runTask(long context, long task, boolean deliver);
  static native void replicaStart(long replica);
  static native void replicaSync(long replica, long timeoutMs);
  static native long replicaPendingCount(long replica);
  static native Object[] replicaInbox(long replica, byte[] startAfter, long limit);
  static native Object[] replicaSent(long replica, byte[] startAfter, long limit);
  static native Message replicaGetMessage(long replica, byte[] id);
  static native byte[] replicaGetEntry(long replica, byte[] key, long[] versionAndSeq);
  static native Page<Entry> replicaListEntries(long replica, byte[] prefix, byte[] startAfter,
      long limit);
  static native Object[] replicaConnections(long replica);
  static native ReplicaState replicaGetState(long replica);
  static native long replicaUpdateStatus(long replica, byte[] id, int status);
  static native long replicaPutEntry(long replica, byte[] key, byte[] value, long version);
  static native long replicaDeleteEntry(long replica, byte[] key, long version);
  static native long replicaAddConnection(long replica, byte[] peer);
  static native long replicaRemoveConnection(long replica, byte[] peer);
  static native long replicaRegisterPush(long replica, int platform, byte[] token);
  static native byte[] replicaPost(long replica, byte[] to, byte[] bytes, byte[] topic,
      byte[] meta, byte[] id);
  static native void replicaRequestBlob(long replica, byte[] id);
  static native byte[] replicaReadBlob(long replica, byte[] id);
  static native Object[] replicaPending(long replica);
  static native void replicaCancel(long replica, long item);
  static native Endpoint replicaRegisterEndpoint(long replica, byte[] appId,
      byte[] vapidPublicKey);
  static native Page<Endpoint> replicaListEndpoints(long replica, byte[] startAfter, long limit);
  static native void replicaRevokeEndpoint(long replica, byte[] token);
  static native Object[] replicaPushNotifications(long replica, byte[] token);
  static native long replicaConsumePushNotification(long replica, byte[] key, long version);

  // ---- Web Push notifications ------------------------------------------------------------
  static native PushNotification pushNotificationParse(byte[] key, byte[] value, long version);
}
