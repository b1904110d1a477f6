// Two mailboxes, a blob sent, the sender sees VIEWED: bindings/README.md's Java
// example (the same program as bindings/c/example/two_mailboxes.c), run by
// ctest as java.example. Usage: java -Djava.library.path=DIR -cp ... TwoMailboxes FOLDER
import java.io.File;
import java.nio.charset.StandardCharsets;
import org.postbox.*;

public class TwoMailboxes {
  public static void main(String[] args) throws Exception {
    File dir = new File(args[0]);
    boolean viewed;
    // A server over a store, with two connected mailboxes.
    try (Store store = Store.open(new File(dir, "server"))) {
      Credentials alice = store.createMailbox(), bob = store.createMailbox();
      store.connect(alice.mkey(), bob.mkey());
      try (Server server = Server.start(store);
           // Each app keeps its mailbox in a replica.
           Replica a = Replica.open(new Replica.Options().folder(new File(dir, "alice"))
               .port(server.port()).credentials(alice));
           Replica b = Replica.open(new Replica.Options().folder(new File(dir, "bob"))
               .port(server.port()).credentials(bob))) {
        // Alice posts a blob; it is uploaded from her outbox.
        byte[] note = "hello, bob".getBytes(StandardCharsets.UTF_8);
        Id id = a.post(bob.mkey(), note, "note", null);
        a.sync(10_000);

        // Bob finds it in his inbox, downloads it, views it.
        b.sync(10_000);
        b.requestBlob(id);
        byte[] bytes = null;
        // UnavailableException until the download completes (the example polls;
        // an app would wait for Listener.onChange).
        for (int i = 0; bytes == null && i < 1000; ++i) {
          try {
            bytes = b.readBlob(id);
          } catch (UnavailableException notYet) {
            Thread.sleep(10);
          }
        }
        if (bytes == null) throw new IllegalStateException("the download did not complete");
        System.out.println("bob got: " + new String(bytes, StandardCharsets.UTF_8));
        b.updateStatus(id, Status.VIEWED);
        b.sync(10_000);

        // Alice sees VIEWED.
        a.sync(10_000);
        viewed = a.getMessage(id).status() == Status.VIEWED;
        System.out.println("alice sees: " + (viewed ? "VIEWED" : "not viewed"));
      }
    }
    System.exit(viewed && Postbox.liveHandles() == 0 ? 0 : 1);
  }
}
