package dev.shuffle.spark;

import dev.shuffle.spark.driver.NodeShuffleDriverComponents;
import java.util.Map;
import org.apache.spark.SparkConf;
import org.apache.spark.shuffle.api.ShuffleDataIO;
import org.apache.spark.shuffle.api.ShuffleDriverComponents;
import org.apache.spark.shuffle.api.ShuffleExecutorComponents;
import org.apache.spark.shuffle.api.ShuffleMapOutputWriter;

/**
 * Spark's shuffle storage plugin (spark.shuffle.sort.io.plugin.class) for the node shuffle
 * service. Its driver components register the application with the servers and declare reliable
 * storage. Its executor components exist because Spark's interface requires them: map output is
 * written by NodeShuffleManager's own writer, so asking them for a map output writer (which only
 * Spark's sort shuffle manager does) is a configuration error and says so.
 */
public final class NodeShuffleDataIO implements ShuffleDataIO {
  private final SparkConf conf;

  public NodeShuffleDataIO(SparkConf conf) {
    this.conf = conf;
  }

  @Override
  public ShuffleDriverComponents driver() {
    return new NodeShuffleDriverComponents(conf);
  }

  @Override
  public ShuffleExecutorComponents executor() {
    return new ShuffleExecutorComponents() {
      @Override
      public void initializeExecutor(String appId, String execId, Map<String, String> extra) {}

      @Override
      public ShuffleMapOutputWriter createMapOutputWriter(
          int shuffleId, long mapTaskId, int numPartitions) {
        throw new UnsupportedOperationException(
            "dev.shuffle.spark.NodeShuffleDataIO goes with spark.shuffle.manager="
                + NodeShuffleManager.class.getName() + "; Spark's sort shuffle manager cannot"
                + " write through it");
      }
    };
  }
}
