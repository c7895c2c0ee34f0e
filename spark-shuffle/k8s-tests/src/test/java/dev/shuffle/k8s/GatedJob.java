package dev.shuffle.k8s;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.JavaSparkContext;
import scala.Tuple2;

/**
 * A two-stage job whose single reduce task waits for a gate (a file the test creates) before it
 * reads the map output: while it waits, the executors that ran the maps sit idle, and dynamic
 * allocation releases them. Its result is checked against sums computed here. The executors load
 * this class (spark.executor.extraClassPath), so it depends on nothing but Spark. (The fake nodes
 * share this machine's file system, so the gate is a plain file; on a real cluster it would be
 * anything the executors can see.)
 */
final class GatedJob {
  static final int MAPS = 12;
  static final long PER_MAP = 200_000;
  static final long KEYS = 1000;
  /**
   * How long each map takes at least: the job is submitted as the application starts, and its
   * maps must last until executors whose pods start later have registered and taken some (an
   * executor alone would run them all while the others, idle, are released unused).
   */
  static final long MAP_MILLIS = 4000;

  private GatedJob() {}

  /** Runs the job; returns {keys, sum of values, check} as the reduce saw them. */
  static long[] run(JavaSparkContext sc, String gate) {
    List<Integer> seeds = new ArrayList<>();
    for (int i = 0; i < MAPS; i++) {
      seeds.add(i);
    }
    return sc.parallelize(seeds, MAPS)
        .flatMapToPair(
            seed -> {
              Thread.sleep(MAP_MILLIS);
              List<Tuple2<Long, Long>> out = new ArrayList<>();
              for (long i = seed * PER_MAP; i < (seed + 1) * PER_MAP; i++) {
                out.add(new Tuple2<>(i % KEYS, i));
              }
              return out.iterator();
            })
        .reduceByKey(Long::sum, 1)
        .mapPartitions(
            it -> {
              waitForFile(gate);
              long keys = 0;
              long sum = 0;
              long check = 0;
              while (it.hasNext()) {
                Tuple2<Long, Long> kv = it.next();
                keys++;
                sum += kv._2;
                check += kv._1 * 31 + kv._2 % 1_000_003;
              }
              return List.of(new long[] {keys, sum, check}).iterator();
            })
        .collect()
        .get(0);
  }

  /** What {@link #run} must return. */
  static long[] expected() {
    long n = MAPS * PER_MAP;
    long check = 0;
    for (long k = 0; k < KEYS; k++) {
      long sumOfKey = 0; // the ids i < n with i % KEYS == k
      for (long i = k; i < n; i += KEYS) {
        sumOfKey += i;
      }
      check += k * 31 + sumOfKey % 1_000_003;
    }
    return new long[] {KEYS, n * (n - 1) / 2, check};
  }

  static void waitForFile(String path) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
    while (!Files.exists(Path.of(path))) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the test did not open the gate " + path);
      }
      Thread.sleep(100);
    }
  }
}
