package dev.shuffle.testkit;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A Spark "distribution" for child JVMs (standalone masters and workers, which launch executors
 * with $SPARK_HOME/jars on their class path): the Maven runtime closure of spark-sql that the
 * testkit module copies to target/spark-home/jars (system property spark.test.home).
 */
public final class SparkHome {
  /** The Scala version the jars are built for, which Spark's launcher insists on knowing. */
  public static final String SCALA_VERSION = "2.13";

  private SparkHome() {}

  public static Path path() {
    String home = System.getProperty("spark.test.home", "");
    if (home.isEmpty() || !Files.isDirectory(Path.of(home, "jars"))) {
      throw new IllegalStateException(
          "system property spark.test.home='" + home + "' has no jars/ directory (the testkit"
              + " module assembles it: mvn -pl testkit package)");
    }
    return Path.of(home);
  }

  /** The class path of every Spark jar. */
  public static String classPath() {
    return path().resolve("jars") + "/*";
  }

  /** The JVM options Spark needs on Java 17 (those spark-submit adds for its own JVMs). */
  public static final String[] JAVA_17_OPTIONS = {
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
    "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/java.net=ALL-UNNAMED",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
    "--add-opens=java.base/sun.security.action=ALL-UNNAMED",
    "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
    "-Djdk.reflect.useDirectMethodHandle=false",
    "-Dio.netty.tryReflectionSetAccessible=true",
  };
}
