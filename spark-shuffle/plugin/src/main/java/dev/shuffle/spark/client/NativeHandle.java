package dev.shuffle.spark.client;

/**
 * A native object (writer, reader) held by its handle: closed once, never used after. Not
 * thread-safe, like the objects it holds.
 */
abstract class NativeHandle implements AutoCloseable {
  private long handle;

  NativeHandle(long handle) {
    this.handle = handle;
  }

  /** The handle. @throws IllegalStateException once closed */
  final long live() {
    if (handle == 0) {
      throw new IllegalStateException("the shuffle " + kind() + " is closed");
    }
    return handle;
  }

  @Override
  public final void close() {
    if (handle != 0) {
      release(handle);
      handle = 0;
    }
  }

  /** "writer", "reader": for messages. */
  abstract String kind();

  /** Frees the native object. */
  abstract void release(long handle);
}
