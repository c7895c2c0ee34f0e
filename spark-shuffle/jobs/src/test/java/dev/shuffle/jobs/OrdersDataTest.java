package dev.shuffle.jobs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/**
 * The generator's expected totals against Spark computing the same query in local mode (Spark's
 * own shuffle), the comparison catching a wrong row, and the argument parsing.
 */
class OrdersDataTest {
  @org.junit.jupiter.api.io.TempDir java.nio.file.Path warehouse;

  @Test
  void expectedTotalsEqualWhatSparkComputes() {
    OrdersData data = new OrdersData(2L << 20);
    SparkSession spark =
        SparkSession.builder()
            .master("local[2]")
            .appName("orders-data-test")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.warehouse.dir", warehouse.toString())
            .getOrCreate();
    try {
      List<Row> rows = data.query(spark, 3).collectAsList();
      OrdersData.Totals expected = data.expected();
      assertEquals("", OrdersData.compare(expected, rows));
      assertEquals(OrdersData.REGIONS, rows.size());
      // Customers ending in 9 do not exist: about a tenth of the orders find none.
      long joined = expected.totalOrders();
      assertTrue(joined < data.rows() && joined > data.rows() * 8 / 10,
          joined + " of " + data.rows());
    } finally {
      spark.stop();
    }
  }

  @Test
  void aWrongOrMissingRowIsReported() {
    OrdersData data = new OrdersData(200_000);
    OrdersData.Totals expected = data.expected();
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < OrdersData.REGIONS; r++) {
      rows.add(RowFactory.create((long) r, expected.orders()[r], expected.amount()[r],
          expected.ids()[r], expected.minId()[r], expected.maxId()[r], 0L));
    }
    assertEquals("", OrdersData.compare(expected, rows));
    Row last = rows.remove(rows.size() - 1);
    assertTrue(OrdersData.compare(expected, rows).contains("region 15 missing"));
    rows.add(RowFactory.create(last.getLong(0), last.getLong(1) - 1, last.getLong(2),
        last.getLong(3), last.getLong(4), last.getLong(5), 0L));
    assertTrue(OrdersData.compare(expected, rows).startsWith("region 15: got"));
    rows.set(rows.size() - 1, RowFactory.create(last.getLong(0), last.getLong(1),
        last.getLong(2), last.getLong(3), last.getLong(4), last.getLong(5), 1L));
    assertTrue(OrdersData.compare(expected, rows).contains("region 15"), "a bad note counts");
  }

  @Test
  void optionsParse() {
    MainJob.Options o =
        MainJob.options(
            MainJob.parseArgs(new String[] {"--size=3GiB", "--maps", "10", "--evict-during",
                "reduce", "--no-progress"}, MainJob.JOB_OPTIONS, MainJob.JOB_FLAGS),
            MainJob.Options.defaults());
    assertEquals(new MainJob.Options(3L << 30, 10, 32, Phase.REDUCE, false), o);
    assertEquals(512L << 20, MainJob.parseSize("512MiB"));
    assertEquals(1000, MainJob.parseSize("1000"));
    assertThrows(IllegalArgumentException.class, () -> MainJob.parseSize("lots"));
    assertThrows(IllegalArgumentException.class,
        () -> MainJob.parseArgs(new String[] {"--bogus", "1"}, MainJob.JOB_OPTIONS,
            MainJob.JOB_FLAGS));
    assertThrows(IllegalArgumentException.class, () -> Phase.parse("later"));
    assertThrows(IllegalArgumentException.class, () -> new OrdersData(1000));
  }
}
