// The cost of one Replica.getEntry call through the Java binding (JNI, the C
// API, the replica's mirror read), for bench/bindings' comparison of the
// bindings. Opens a replica with start(false) (no network) in a temporary
// folder, puts "k" (100 bytes), warms the JIT up with 200000 calls, then times
// N calls (argument; default 1000000) and prints one line:
//   java ns_per_call=<float>
// Built by bindings/java/CMakeLists.txt as target postbox_java_bench.
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Comparator;
import java.util.stream.Stream;
import org.postbox.Entry;
import org.postbox.Id;
import org.postbox.Replica;

public class JavaGetEntry {
  private static final int WARMUP = 200_000;

  public static void main(String[] args) throws IOException {
    final long n = args.length > 0 ? Long.parseLong(args[0]) : 1_000_000L;
    File dir = Files.createTempDirectory("postbox-java-bench").toFile();
    try {
      double ns;
      // No server: the mailbox key and secret are never checked.
      try (Replica r = Replica.open(new Replica.Options().folder(dir).mkey(Id.random())
          .secret("bench").start(false))) {
        r.putEntry("k", new byte[100]);
        long sink = 0;
        for (int i = 0; i < WARMUP; ++i) sink += r.getEntry("k").version();
        long t0 = System.nanoTime();
        for (long i = 0; i < n; ++i) {
          Entry e = r.getEntry("k");
          sink += e.version();
        }
        long t1 = System.nanoTime();
        if (sink != WARMUP + n) throw new IllegalStateException("unexpected entry version");
        ns = (double) (t1 - t0) / n;
      }
      System.out.println("java ns_per_call=" + String.format(java.util.Locale.ROOT, "%.1f", ns));
    } finally {
      try (Stream<java.nio.file.Path> paths = Files.walk(dir.toPath())) {
        paths.sorted(Comparator.reverseOrder()).map(java.nio.file.Path::toFile)
            .forEach(File::delete);
      }
    }
  }
}
