package dev.shuffle.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.HashPartitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import scala.Tuple2;

/**
 * Spark jobs over generated data whose results are summarized so that two runs (Spark's
 * built-in shuffle and the plugin) can be compared exactly: unordered results by an
 * order-independent checksum of every row and the row count; sorted results by each output
 * partition's first and last keys, count and checksum, plus a check that each partition is
 * sorted. Data is generated from seeds on the executors, so the same job generates the same
 * records under either shuffle.
 */
final class Workloads {
  private Workloads() {}

  /** A job's summary; equal summaries mean equal results. */
  record Summary(String text) {}

  // A 64-bit mix of a string (stable across JVMs, unlike String.hashCode for long strings).
  static long mix(String s) {
    long h = 0x9E3779B97F4A7C15L;
    for (int i = 0; i < s.length(); i++) {
      h = (h ^ s.charAt(i)) * 0x100000001B3L;
      h ^= h >>> 29;
    }
    return h;
  }

  static Summary unordered(JavaRDD<String> rows) {
    Tuple2<Long, Long> t =
        rows.map(r -> new Tuple2<>(1L, mix(r))).reduce((a, b) -> new Tuple2<>(a._1 + b._1, a._2 + b._2));
    return new Summary("rows=" + t._1 + " sum=" + t._2);
  }

  static Summary unordered(Dataset<Row> df) {
    return unordered(df, null);
  }

  // With `plan`, its [0] receives the executed (final, adaptive) plan of the query.
  static Summary unordered(Dataset<Row> df, String[] plan) {
    Dataset<Row> summary =
        df.selectExpr("xxhash64(*) AS h").agg(count("*"), sum(expr("CAST(h AS DECIMAL(38,0))")));
    Row r = summary.collectAsList().get(0);
    if (plan != null) {
      plan[0] = summary.queryExecution().executedPlan().toString();
    }
    return new Summary("rows=" + r.get(0) + " sum=" + r.get(1));
  }

  // The sorted output: every partition sorted and the partitions in key order (their boundaries
  // come from sampling, which depends on RDD ids, so only the whole is compared), with the
  // row count and checksum of the whole.
  static Summary sorted(JavaPairRDD<Long, String> rdd) {
    List<long[]> parts =
        rdd.mapPartitionsWithIndex(
                (index, it) -> {
                  long n = 0;
                  long sum = 0;
                  long first = Long.MAX_VALUE;
                  long last = Long.MIN_VALUE;
                  while (it.hasNext()) {
                    Tuple2<Long, String> kv = it.next();
                    if (n > 0 && kv._1 < last) {
                      throw new IllegalStateException(
                          "partition " + index + " is not sorted: " + kv._1 + " after " + last);
                    }
                    first = n == 0 ? kv._1 : first;
                    last = kv._1;
                    n++;
                    sum += mix(kv._1 + "=" + kv._2);
                  }
                  List<long[]> out = new ArrayList<>();
                  out.add(new long[] {index, n, first, last, sum});
                  return out.iterator();
                },
                true)
            .collect();
    long rows = 0;
    long sum = 0;
    long previousLast = Long.MIN_VALUE;
    for (long[] part : parts) {
      if (part[1] > 0) {
        if (part[2] < previousLast) {
          throw new IllegalStateException("partition " + part[0] + " starts before the previous ends");
        }
        previousLast = part[3];
      }
      rows += part[1];
      sum += part[4];
    }
    return new Summary("sorted rows=" + rows + " sum=" + sum);
  }

  /** {@code n} records (key, value) from {@code slices} generating partitions. */
  static JavaPairRDD<Long, String> pairs(JavaSparkContext sc, int slices, long n, long keys) {
    List<Integer> seeds = new ArrayList<>();
    for (int i = 0; i < slices; i++) {
      seeds.add(i);
    }
    return sc.parallelize(seeds, slices)
        .flatMapToPair(
            seed -> {
              List<Tuple2<Long, String>> out = new ArrayList<>();
              java.util.SplittableRandom random = new java.util.SplittableRandom(seed * 7919L + 1);
              for (long i = seed; i < n; i += slices) {
                long key = keys > 0 ? random.nextLong(keys) : i * 2654435761L % 1_000_000_007L;
                out.add(new Tuple2<>(key, "v" + i + "-" + random.nextInt(1000)));
              }
              return out.iterator();
            });
  }

  // ---- the jobs

  static Summary rddSort(JavaSparkContext sc) {
    return sorted(pairs(sc, 6, 150_000, 0).sortByKey(true, 7));
  }

  static Summary rddReduceByKey(JavaSparkContext sc) {
    return unordered(
        pairs(sc, 6, 300_000, 5_000)
            .mapValues(v -> (long) v.length())
            .reduceByKey(Long::sum, 9)
            .map(t -> t._1 + "=" + t._2));
  }

  static Summary rddGroupByKey(JavaSparkContext sc) {
    return unordered(
        pairs(sc, 5, 200_000, 3_000)
            .groupByKey(8)
            .map(
                t -> {
                  List<String> values = new ArrayList<>();
                  t._2.forEach(values::add);
                  values.sort(null);
                  return t._1 + "=" + String.join("|", values);
                }));
  }

  static Summary rddJoin(JavaSparkContext sc) {
    JavaPairRDD<Long, String> left = pairs(sc, 4, 80_000, 20_000);
    JavaPairRDD<Long, Long> right =
        pairs(sc, 3, 50_000, 20_000).mapValues(v -> (long) v.hashCode());
    return unordered(left.join(right, 6).map(t -> t._1 + "=" + t._2._1 + "/" + t._2._2));
  }

  static Summary rddCogroup(JavaSparkContext sc) {
    JavaPairRDD<Long, String> a = pairs(sc, 4, 60_000, 10_000);
    JavaPairRDD<Long, String> b = pairs(sc, 3, 40_000, 12_000);
    return unordered(
        a.cogroup(b, 5)
            .map(
                t -> {
                  List<String> left = new ArrayList<>();
                  t._2._1.forEach(left::add);
                  left.sort(null);
                  List<String> right = new ArrayList<>();
                  t._2._2.forEach(right::add);
                  right.sort(null);
                  return t._1 + "=" + left + "/" + right;
                }));
  }

  /** Keys spread over 100 partitions with only 3 keys: 97 empty partitions; and an empty RDD. */
  static Summary emptyPartitions(JavaSparkContext sc) {
    Summary some =
        unordered(
            pairs(sc, 4, 20_000, 3)
                .partitionBy(new HashPartitioner(100))
                .mapPartitionsWithIndex(
                    (i, it) -> {
                      long n = 0;
                      while (it.hasNext()) {
                        it.next();
                        n++;
                      }
                      List<String> out = new ArrayList<>();
                      out.add(i + ":" + n);
                      return out.iterator();
                    },
                    true));
    long none = pairs(sc, 3, 0, 10).groupByKey(7).count();
    return new Summary(some.text() + " empty-rdd-groups=" + none);
  }

  static Summary tenThousandPartitions(JavaSparkContext sc) {
    return unordered(
        pairs(sc, 4, 60_000, 0)
            .partitionBy(new HashPartitioner(10_000))
            .map(t -> TaskContext.getPartitionId() + ":" + t._1 + "=" + t._2));
  }

  /** Values of 0.5 to 3 MiB: records larger than a block (64 KiB by default). */
  static Summary largeRecords(JavaSparkContext sc) {
    List<Integer> seeds = List.of(0, 1, 2, 3, 4, 5);
    JavaPairRDD<Long, String> big =
        sc.parallelize(seeds, 3)
            .flatMapToPair(
                seed -> {
                  List<Tuple2<Long, String>> out = new ArrayList<>();
                  for (int i = 0; i < 4; i++) {
                    int size = (512 << 10) + ((seed * 4 + i) * 113_000) % (5 << 19);
                    StringBuilder v = new StringBuilder(size);
                    for (int c = 0; c < size; c++) {
                      v.append((char) ('a' + (c * 31 + seed + i) % 26));
                    }
                    out.add(new Tuple2<>((long) (seed * 4 + i) % 7, v.toString()));
                  }
                  return out.iterator();
                });
    return unordered(
        big.groupByKey(3)
            .map(
                t -> {
                  List<String> sums = new ArrayList<>();
                  t._2.forEach(v -> sums.add(v.length() + "#" + mix(v)));
                  sums.sort(null);
                  return t._1 + "=" + sums;
                }));
  }

  /**
   * A job whose first attempts of some maps fail: every third map after its output was
   * committed (a completion listener throws, so Spark retries a map whose output the server
   * already holds), every third map in the middle of its writes (nothing committed).
   */
  static Summary retriedMaps(JavaSparkContext sc) {
    return unordered(
        pairs(sc, 9, 90_000, 4_000)
            .mapPartitionsToPair(
                it -> {
                  TaskContext ctx = TaskContext.get();
                  if (ctx.attemptNumber() == 0 && ctx.partitionId() % 3 == 0) {
                    ctx.addTaskCompletionListener(
                        (org.apache.spark.util.TaskCompletionListener)
                            c -> {
                              throw new IllegalStateException("injected: after the commit");
                            });
                  }
                  boolean failMidway = ctx.attemptNumber() == 0 && ctx.partitionId() % 3 == 1;
                  List<Tuple2<Long, String>> out = new ArrayList<>();
                  while (it.hasNext()) {
                    out.add(it.next());
                  }
                  if (!failMidway) {
                    return out.iterator();
                  }
                  final java.util.Iterator<Tuple2<Long, String>> source = out.iterator();
                  return new java.util.Iterator<Tuple2<Long, String>>() {
                    int n;

                    @Override
                    public boolean hasNext() {
                      return source.hasNext();
                    }

                    @Override
                    public Tuple2<Long, String> next() {
                      if (++n == 5_000) {
                        throw new IllegalStateException("injected: in the middle of the writes");
                      }
                      return source.next();
                    }
                  };
                },
                true)
            .groupByKey(6)
            .map(
                t -> {
                  List<String> values = new ArrayList<>();
                  t._2.forEach(values::add);
                  values.sort(null);
                  return t._1 + "=" + String.join("|", values);
                }));
  }

  /** Counts per key: a map stage (8 maps) and a reduce stage (6 partitions). */
  static JavaPairRDD<Long, Long> counts(JavaSparkContext sc) {
    return pairs(sc, 8, 200_000, 10_000).mapValues(v -> 1L).reduceByKey(Long::sum, 6);
  }

  /**
   * The same, but the first attempt of map 0 is a straggler deaf to being killed: it reads its
   * input (where Spark checks for a kill) first, then spins for 4 s and writes its output, so it
   * commits even after a speculative copy of it succeeded.
   */
  static JavaPairRDD<Long, Long> countsWithAStraggler(JavaSparkContext sc) {
    return pairs(sc, 8, 200_000, 10_000)
        .mapPartitionsToPair(
            it -> {
              List<Tuple2<Long, String>> input = new ArrayList<>();
              it.forEachRemaining(input::add);
              TaskContext ctx = TaskContext.get();
              if (ctx.partitionId() == 0 && ctx.attemptNumber() == 0) {
                long until = System.nanoTime() + 4_000_000_000L;
                while (System.nanoTime() < until) {
                  Thread.onSpinWait();
                }
              }
              return input.iterator();
            },
            true)
        .mapValues(v -> 1L)
        .reduceByKey(Long::sum, 6);
  }

  static Summary countsSummary(JavaPairRDD<Long, Long> rdd) {
    return unordered(rdd.map(t -> t._1 + "=" + t._2));
  }

  static Summary sqlGroupBy(SparkSession spark) {
    return unordered(
        spark.range(0, 400_000, 1, 6)
            .withColumn("k", expr("id % 997"))
            .groupBy("k")
            .agg(sum("id").as("s"), count("*").as("n")));
  }

  static Summary sqlJoin(SparkSession spark) {
    Dataset<Row> a = spark.range(0, 200_000, 1, 5).selectExpr("id % 50000 AS k", "id AS a");
    Dataset<Row> b = spark.range(0, 120_000, 1, 4).selectExpr("id % 40000 AS k", "id * 3 AS b");
    return unordered(a.join(b, "k"));
  }

  static Summary sqlWindow(SparkSession spark) {
    return unordered(
        spark.range(0, 150_000, 1, 5)
            .selectExpr("id % 1000 AS g", "(id * 7919) % 100003 AS v")
            .withColumn("rn", row_number().over(Window.partitionBy("g").orderBy("v"))));
  }

  static Summary sqlRepartition(SparkSession spark) {
    return unordered(
        spark.range(0, 300_000, 1, 3)
            .selectExpr("id", "concat('row-', id) AS s")
            .repartition(17, col("s"))
            .selectExpr("id", "s", "spark_partition_id() AS p"));
  }

  /** Many small shuffle partitions that AQE coalesces. */
  static Summary aqeCoalesce(SparkSession spark) {
    Dataset<Row> df =
        spark.range(0, 50_000, 1, 4).selectExpr("id % 300 AS k", "id").groupBy("k").agg(sum("id"));
    String[] planOut = new String[1];
    Summary s = unordered(df, planOut);
    String plan = planOut[0];
    if (!plan.contains("AQEShuffleRead") || !plan.contains("coalesced")) {
      throw new IllegalStateException("AQE did not coalesce the shuffle partitions: " + plan);
    }
    return s;
  }

  /** A join whose one key holds most rows: AQE splits the skewed partition. */
  static Summary aqeSkewJoin(SparkSession spark) {
    Dataset<Row> big =
        spark.range(0, 400_000, 1, 4)
            .selectExpr("CASE WHEN id % 10 < 8 THEN 0 ELSE id % 5000 END AS k", "id AS a");
    // Too large to broadcast (the adaptive threshold is 1m): the join stays a sort-merge join.
    Dataset<Row> small = spark.range(0, 200_000, 1, 2).selectExpr("id AS k", "id * 2 AS b");
    Dataset<Row> joined = big.join(small, "k");
    String[] planOut = new String[1];
    Summary s = unordered(joined, planOut);
    String plan = planOut[0];
    if (!plan.contains("skew=true")) {
      throw new IllegalStateException("AQE did not split the skewed join: " + plan);
    }
    return s;
  }

  /** A join that AQE turns into a broadcast join, reading the other side locally. */
  static Summary aqeLocalReader(SparkSession spark) {
    Dataset<Row> big = spark.range(0, 200_000, 1, 4).selectExpr("id % 1000 AS k", "id AS a");
    Dataset<Row> small =
        spark.range(0, 100_000, 1, 3).selectExpr("id AS k", "id AS b").where("b < 50");
    Dataset<Row> joined = big.join(small, "k");
    String[] planOut = new String[1];
    Summary s = unordered(joined, planOut);
    String plan = planOut[0];
    if (!plan.contains("local")) {
      throw new IllegalStateException("AQE used no local shuffle reader: " + plan);
    }
    return s;
  }
}
