package dev.shuffle.spark;

import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** The Spark sessions the tests compare: Spark's built-in shuffle, or the plugin. */
final class SparkSessions {
  private SparkSessions() {}

  /** Settings both runs share: small AQE thresholds so that small data coalesces and skews. */
  static SparkConf common(String master) {
    return new SparkConf()
        .setMaster(master)
        .setAppName("node-shuffle-test")
        .set("spark.ui.enabled", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.sql.shuffle.partitions", "24")
        .set("spark.sql.adaptive.enabled", "true")
        .set("spark.sql.adaptive.advisoryPartitionSizeInBytes", "64k")
        .set("spark.sql.adaptive.coalescePartitions.parallelismFirst", "false")
        .set("spark.sql.adaptive.skewJoin.skewedPartitionFactor", "2")
        .set("spark.sql.adaptive.skewJoin.skewedPartitionThresholdInBytes", "200k")
        .set("spark.sql.autoBroadcastJoinThreshold", "-1")
        .set("spark.sql.adaptive.autoBroadcastJoinThreshold", "1m")
        .set("spark.sql.adaptive.localShuffleReader.enabled", "true");
  }

  /** The plugin's settings for an application whose servers are {@code servers}. */
  static SparkConf plugin(SparkConf conf, String controlAddress, String dataAddress) {
    return conf.set("spark.shuffle.manager", NodeShuffleManager.class.getName())
        .set("spark.shuffle.sort.io.plugin.class", NodeShuffleDataIO.class.getName())
        .set(NodeShuffleConf.SERVERS, controlAddress)
        .set(NodeShuffleConf.SERVER, dataAddress);
  }

  static SparkSession start(SparkConf conf, Map<String, String> extra) {
    extra.forEach(conf::set);
    return SparkSession.builder().config(conf).getOrCreate();
  }
}
