package dev.shuffle.spark.write;

/** Where finished blocks of serialized records go (the native writer, or a test's list). */
interface BlockSink {
  /** Takes {@code length} bytes of {@code data} holding {@code records} records of a partition. */
  void block(int partition, byte[] data, int length, int records);
}
