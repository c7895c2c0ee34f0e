package dev.shuffle.ess;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import dev.shuffle.testkit.ShuffleServer;
import org.apache.spark.network.buffer.ManagedBuffer;
import org.apache.spark.network.shuffle.BlockFetchingListener;
import org.apache.spark.network.shuffle.ExternalBlockStoreClient;
import org.apache.spark.network.shuffle.protocol.ExecutorShuffleInfo;
import org.apache.spark.network.util.MapConfigProvider;
import org.apache.spark.network.util.TransportConf;

/**
 * Spark's own external shuffle service (org.apache.spark.deploy.ExternalShuffleService of
 * spark-core, in a JVM of its own) and shuffle-server's Spark listener serve the same files,
 * written by Spark's shuffle writer, to the same client (ExternalBlockStoreClient): 1 MiB and
 * 4 KiB blocks, page cache hot and dropped, runs interleaved. Prints one JSON line per
 * measurement and a summary (medians, min, max, ratios, server CPU per GiB).
 *
 * <p>Run by bench/spark-ess-bench; arguments: WORK_DIR SHUFFLE_SERVER_BINARY RUNS.
 */
public final class EssBench {
  private static final String APP = "ess-bench";

  private EssBench() {}

  /** A server under test: where it listens and its process (for CPU time). */
  record Server(String name, String host, int port, ProcessHandle process) {}

  /**
   * What one fetch request holds: as Spark's reader sizes them, about a fifth of
   * spark.reducer.maxSizeInFlight (48 MiB), with at most 5 requests (48 MiB) in flight.
   */
  record Workload(String name, SparkShuffleFiles.Shuffle shuffle, int blocksPerRequest) {}

  private static final int REQUESTS_IN_FLIGHT = 5;

  record Sample(String server, String workload, String cache, double seconds, long bytes,
      long blocks, double cpuSeconds, double clientCpuSeconds) {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args[0]);
    String binary = args[1];
    int runs = Integer.parseInt(args[2]);
    // Optional: only these workloads and caches ("1MiB,4KiB", "hot,cold").
    List<String> onlyWorkloads = args.length > 3 ? List.of(args[3].split(",")) : List.of("1MiB", "4KiB");
    List<String> caches = args.length > 4 ? List.of(args[4].split(",")) : List.of("hot", "cold");
    Path root = Files.createDirectories(work.resolve("root"));
    SparkShuffleFiles files = SparkShuffleFiles.start(root.resolve("spark-local"));
    // 256 MiB in 1 MiB blocks (8 maps x 32 reducers), 62.5 MiB in 4 KiB blocks (16 x 1000).
    List<Workload> workloads = List.of(
        new Workload("1MiB", files.write(8, 32, 1 << 20, 64 << 10), 9),
        new Workload("4KiB", files.write(16, 1000, 4 << 10, 512), 2400));

    System.setProperty("shuffle.server.binary", binary);
    Process spark = startSparkEss(work, freePort());
    ShuffleServer ours = EssServers.start(work.resolve("shuffle-server"), root);
    try {
      List<Server> servers = List.of(
          new Server("spark-ess", "127.0.0.1", sparkPort, spark.toHandle()),
          new Server("shuffle-server", ours.host(), ours.sparkPort(),
              ProcessHandle.of(ours.pid()).orElseThrow()));
      TransportConf conf = new TransportConf("shuffle", new MapConfigProvider(Map.of(
          "spark.shuffle.io.maxRetries", "0", "spark.shuffle.io.numConnectionsPerPeer", "1")));
      try (ExternalBlockStoreClient client = new ExternalBlockStoreClient(conf, null, false, 30_000)) {
        client.init(APP);
        for (Server s : servers) {
          waitForPort(s.port());
          client.registerWithShuffleServer(s.host(), s.port(), "1",
              new ExecutorShuffleInfo(files.localDirs, files.subDirs,
                  "org.apache.spark.shuffle.sort.SortShuffleManager"));
          for (Workload w : workloads) {  // warm up each server's JIT, caches, connections
            fetchAll(client, s, w);
          }
        }
        List<Sample> samples = new ArrayList<>();
        for (int run = 0; run < runs; run++) {
          for (Workload w : workloads) {
            if (!onlyWorkloads.contains(w.name())) {
              continue;
            }
            for (String cache : caches) {
              List<Server> order = run % 2 == 0 ? servers : List.of(servers.get(1), servers.get(0));
              for (Server s : order) {
                if (cache.equals("cold")) {
                  w.shuffle().dropFromPageCache();
                } else {
                  fetchAll(client, s, w);  // hot: this very data was just read
                }
                double cpu0 = cpuSeconds(s.process());
                double client0 = cpuSeconds(ProcessHandle.current());
                long t0 = System.nanoTime();
                long[] got = fetchAll(client, s, w);
                double seconds = (System.nanoTime() - t0) / 1e9;
                double cpu = cpuSeconds(s.process()) - cpu0;
                double clientCpu = cpuSeconds(ProcessHandle.current()) - client0;
                samples.add(new Sample(s.name(), w.name(), cache, seconds, got[0], got[1], cpu,
                    clientCpu));
                System.out.printf(Locale.ROOT,
                    "{\"run\":%d,\"server\":\"%s\",\"blocks\":\"%s\",\"cache\":\"%s\","
                        + "\"seconds\":%.4f,\"bytes\":%d,\"count\":%d,\"server_cpu_s\":%.3f,"
                        + "\"client_cpu_s\":%.3f}%n",
                    run, s.name(), w.name(), cache, seconds, got[0], got[1], cpu, clientCpu);
              }
            }
          }
        }
        Summary.print(samples);
      }
    } finally {
      ours.close();
      spark.destroy();
      spark.waitFor(30, TimeUnit.SECONDS);
      files.close();
    }
  }

  static int sparkPort;

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static void waitForPort(int port) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (System.nanoTime() < deadline) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        if (s.isConnected()) {
          return;
        }
      } catch (IOException e) {
        Thread.sleep(100);
      }
    }
    throw new IllegalStateException("nothing listens on port " + port);
  }

  /** Spark's ExternalShuffleService in a JVM of its own, with this JVM's class path. */
  static Process startSparkEss(Path work, int port) throws IOException {
    sparkPort = port;
    Path dir = Files.createDirectories(work.resolve("spark-ess"));
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx2g", "-cp", System.getProperty("java.class.path"),
        "-Dspark.shuffle.service.port=" + port,
        "-Dspark.shuffle.service.enabled=true",
        "-Dspark.local.dir=" + dir,
        "-Dspark.shuffle.service.db.enabled=false"));
    command.addAll(Arrays.asList(
        "--add-opens=java.base/java.lang=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED",
        "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--add-opens=java.base/java.util=ALL-UNNAMED",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "org.apache.spark.deploy.ExternalShuffleService"));
    return new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(dir.resolve("log").toFile()).start();
  }

  /** utime + stime of a process, from /proc (clock ticks of 10 ms). */
  static double cpuSeconds(ProcessHandle p) throws IOException {
    String stat = Files.readString(Path.of("/proc", String.valueOf(p.pid()), "stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
  }

  /**
   * Fetches every block of the workload as a reducer does: requests of blocksPerRequest blocks,
   * at most REQUESTS_IN_FLIGHT in flight; returns {bytes, blocks}.
   */
  static long[] fetchAll(ExternalBlockStoreClient client, Server s, Workload w)
      throws InterruptedException {
    List<String> ids = w.shuffle().allBlockIds();
    AtomicLong bytes = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Semaphore inFlight = new Semaphore(REQUESTS_IN_FLIGHT);
    CountDownLatch done = new CountDownLatch(ids.size());
    for (int i = 0; i < ids.size(); i += w.blocksPerRequest()) {
      String[] batch = ids.subList(i, Math.min(ids.size(), i + w.blocksPerRequest()))
          .toArray(new String[0]);
      inFlight.acquire();
      AtomicLong left = new AtomicLong(batch.length);
      client.fetchBlocks(s.host(), s.port(), "1", batch, new BlockFetchingListener() {
        @Override
        public void onBlockFetchSuccess(String blockId, ManagedBuffer data) {
          bytes.addAndGet(data.size());
          finish();
        }

        @Override
        public void onBlockFetchFailure(String blockId, Throwable e) {
          failure.compareAndSet(null, e);
          finish();
        }

        private void finish() {
          done.countDown();
          if (left.decrementAndGet() == 0) {
            inFlight.release();
          }
        }
      }, null);
    }
    if (!done.await(300, TimeUnit.SECONDS)) {
      throw new IllegalStateException("fetch did not finish in 300 s");
    }
    if (failure.get() != null) {
      throw new IllegalStateException("fetch from " + s.name() + " failed", failure.get());
    }
    return new long[] {bytes.get(), ids.size()};
  }

  /** Medians, min and max per (workload, cache, server), and the ratios. */
  static final class Summary {
    static void print(List<Sample> samples) {
      Map<String, List<Sample>> groups = new LinkedHashMap<>();
      for (Sample s : samples) {
        groups.computeIfAbsent(s.workload() + " " + s.cache() + " " + s.server(),
            k -> new ArrayList<>()).add(s);
      }
      System.out.println();
      System.out.println("| blocks | cache | server | MB/s median (min-max) | blocks/s median |"
          + " server CPU s per GiB | client CPU s per GiB |");
      System.out.println("|---|---|---|---|---|---|---|");
      Map<String, Double> medians = new LinkedHashMap<>();
      for (Map.Entry<String, List<Sample>> e : groups.entrySet()) {
        List<Sample> g = e.getValue();
        double[] mbps = g.stream().mapToDouble(x -> x.bytes() / x.seconds() / 1e6).sorted()
            .toArray();
        double[] bps = g.stream().mapToDouble(x -> x.blocks() / x.seconds()).sorted().toArray();
        double[] cpu = g.stream().mapToDouble(x -> x.cpuSeconds() / (x.bytes() / 1073741824.0))
            .sorted().toArray();
        double[] clientCpu = g.stream()
            .mapToDouble(x -> x.clientCpuSeconds() / (x.bytes() / 1073741824.0)).sorted().toArray();
        medians.put(e.getKey(), median(mbps));
        String[] k = e.getKey().split(" ");
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %.0f (%.0f-%.0f) | %.0f | %.2f | %.2f |%n",
            k[0], k[1], k[2], median(mbps), mbps[0], mbps[mbps.length - 1], median(bps),
            median(cpu), median(clientCpu));
      }
      System.out.println();
      System.out.println("| blocks | cache | ratio shuffle-server / Spark ESS: median (min-max of"
          + " per-run ratios) | target |");
      System.out.println("|---|---|---|---|");
      for (String workload : List.of("1MiB", "4KiB")) {
        for (String cache : List.of("hot", "cold")) {
          List<Sample> ours = groups.get(workload + " " + cache + " shuffle-server");
          List<Sample> theirs = groups.get(workload + " " + cache + " spark-ess");
          if (ours == null || theirs == null) {
            continue;
          }
          double[] ratios = new double[ours.size()];
          for (int i = 0; i < ratios.length; i++) {
            ratios[i] = theirs.get(i).seconds() / ours.get(i).seconds();
          }
          Arrays.sort(ratios);
          System.out.printf(Locale.ROOT, "| %s | %s | %.2fx (%.2f-%.2f) | %s |%n", workload, cache,
              median(ratios), ratios[0], ratios[ratios.length - 1],
              workload.equals("1MiB") ? ">= 1.2x" : ">= 5x");
        }
      }
    }

    static double median(double[] sorted) {
      int n = sorted.length;
      return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
  }
}
