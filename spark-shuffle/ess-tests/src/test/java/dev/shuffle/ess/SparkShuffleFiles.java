package dev.shuffle.ess;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.apache.spark.HashPartitioner;
import org.apache.spark.ShuffleDependency;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * Shuffle files written by Spark's own shuffle writer: a local-mode Spark application whose
 * spark.local.dir lies under a test's root runs shuffles (maps x reducers blocks of about
 * {@code blockBytes} each, random bytes so compression keeps their size) and leaves their
 * files, which the test then registers with the shuffle-server as an executor's.
 */
final class SparkShuffleFiles implements AutoCloseable {
  private static final Pattern INDEX = Pattern.compile("shuffle_(\\d+)_(\\d+)_0\\.index");

  final JavaSparkContext sc;
  final String[] localDirs;
  final int subDirs;

  /** One shuffle's files. */
  final class Shuffle {
    final int shuffleId;
    final int reducers;
    /** The map ids (task attempt ids) Spark wrote, and their data and index files. */
    final List<Long> mapIds = new ArrayList<>();
    final List<Path> dataFiles = new ArrayList<>();
    final List<Path> indexFiles = new ArrayList<>();

    Shuffle(int shuffleId, int reducers) {
      this.shuffleId = shuffleId;
      this.reducers = reducers;
    }

    /** The bytes of reduce partitions [start, end) of the i-th map, read from Spark's files. */
    byte[] expected(int mapIndex, int start, int end) throws IOException {
      long from;
      long to;
      try (RandomAccessFile index = new RandomAccessFile(indexFiles.get(mapIndex).toFile(), "r")) {
        index.seek(8L * start);
        from = index.readLong();
        index.seek(8L * end);
        to = index.readLong();
      }
      byte[] out = new byte[Math.toIntExact(to - from)];
      try (RandomAccessFile data = new RandomAccessFile(dataFiles.get(mapIndex).toFile(), "r")) {
        data.seek(from);
        data.readFully(out);
      }
      return out;
    }

    String blockId(int mapIndex, int reduce) {
      return "shuffle_" + shuffleId + "_" + mapIds.get(mapIndex) + "_" + reduce;
    }

    /** Every block, map by map. */
    List<String> allBlockIds() {
      List<String> ids = new ArrayList<>();
      for (int m = 0; m < mapIds.size(); m++) {
        for (int r = 0; r < reducers; r++) {
          ids.add(blockId(m, r));
        }
      }
      return ids;
    }

    /** Drops the shuffle's files from the page cache (POSIX_FADV_DONTNEED, through dd). */
    void dropFromPageCache() throws IOException, InterruptedException {
      for (List<Path> files : List.of(dataFiles, indexFiles)) {
        for (Path f : files) {
          Process dd = new ProcessBuilder("dd", "if=" + f, "iflag=nocache", "count=0",
              "status=none").inheritIO().start();
          if (dd.waitFor() != 0) {
            throw new IOException("dd could not drop " + f + " from the page cache");
          }
        }
      }
    }

    String batchId(int mapIndex, int start, int end) {
      return "shuffle_" + shuffleId + "_" + mapIds.get(mapIndex) + "_" + start + "_" + end;
    }
  }

  private SparkShuffleFiles(JavaSparkContext sc) {
    this.sc = sc;
    this.localDirs = SparkEnv.get().blockManager().diskBlockManager().localDirsString();
    this.subDirs = sc.getConf().getInt("spark.diskStore.subDirectories", 64);
  }

  static SparkShuffleFiles start(Path localDir) throws IOException {
    Files.createDirectories(localDir);
    SparkConf conf = new SparkConf()
        .setMaster("local[2]")
        .setAppName("spark-shuffle-files")
        .set("spark.local.dir", localDir.toString())
        .set("spark.ui.enabled", "false")
        // The shuffles' RDDs go out of scope; their files must stay for the tests.
        .set("spark.cleaner.referenceTracking", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1");
    return new SparkShuffleFiles(new JavaSparkContext(conf));
  }

  /** Runs one shuffle; its files stay until {@link #close()}. */
  Shuffle write(int maps, int reducers, int blockBytes, int recordBytes) throws IOException {
    final int recordsPerBlock = Math.max(1, blockBytes / recordBytes);
    JavaPairRDD<Integer, byte[]> records = sc.parallelize(range(maps), maps)
        .flatMapToPair(map -> {
          Random random = new Random(map);
          List<Tuple2<Integer, byte[]>> out = new ArrayList<>();
          for (int r = 0; r < reducers; r++) {
            for (int i = 0; i < recordsPerBlock; i++) {
              byte[] value = new byte[recordBytes];
              random.nextBytes(value);
              out.add(new Tuple2<>(r, value));
            }
          }
          return out.iterator();
        });
    JavaPairRDD<Integer, byte[]> shuffled = records.partitionBy(new HashPartitioner(reducers));
    shuffled.count();
    Shuffle shuffle = new Shuffle(
        ((ShuffleDependency<?, ?, ?>) shuffled.rdd().dependencies().head()).shuffleId(), reducers);
    // Each file lies in the sub-directory its own name hashes to, so an index and its data
    // file are usually in different ones.
    Map<String, Path> byName = files();
    for (Map.Entry<String, Path> e : byName.entrySet()) {
      Matcher m = INDEX.matcher(e.getKey());
      if (m.matches() && Integer.parseInt(m.group(1)) == shuffle.shuffleId) {
        shuffle.mapIds.add(Long.parseLong(m.group(2)));
        shuffle.indexFiles.add(e.getValue());
        shuffle.dataFiles.add(byName.get(e.getKey().replace(".index", ".data")));
      }
    }
    if (shuffle.mapIds.size() != maps) {
      throw new IllegalStateException("Spark wrote " + shuffle.mapIds.size() + " index files for "
          + maps + " maps in " + Arrays.toString(localDirs));
    }
    return shuffle;
  }

  /** Every file in the local dirs, by name. */
  Map<String, Path> files() throws IOException {
    Map<String, Path> byName = new TreeMap<>();
    for (String dir : localDirs) {
      try (Stream<Path> paths = Files.walk(Path.of(dir))) {
        paths.filter(Files::isRegularFile).forEach(p -> byName.put(p.getFileName().toString(), p));
      }
    }
    return byName;
  }

  private static List<Integer> range(int n) {
    List<Integer> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(i);
    }
    return out;
  }

  @Override
  public void close() {
    sc.stop();
  }
}
