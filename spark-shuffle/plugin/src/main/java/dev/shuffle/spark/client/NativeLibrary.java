package dev.shuffle.spark.client;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Loads libshuffle_jni.so once per JVM (class loader): from a configured path, else from the
 * copy the plugin's jar carries (extracted to a temporary file, removed when the JVM exits).
 * Thread-safe.
 */
public final class NativeLibrary {
  static final String RESOURCE = "/native/linux-x86_64/libshuffle_jni.so";

  private static volatile boolean loaded;

  private NativeLibrary() {}

  /**
   * Loads the library if it is not loaded yet. {@code configuredPath} (the setting
   * spark.nodeshuffle.nativeLibrary) wins when not empty.
   *
   * @throws IllegalStateException naming what was tried when the library cannot be loaded
   */
  public static void ensureLoaded(String configuredPath) {
    if (loaded) {
      return;
    }
    synchronized (NativeLibrary.class) {
      if (loaded) {
        return;
      }
      if (!System.getProperty("os.name", "").startsWith("Linux")
          || !"amd64".equals(System.getProperty("os.arch"))) {
        throw new IllegalStateException(
            "the shuffle plugin's native library is built for linux x86_64; this JVM runs on "
                + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
      }
      String path = configuredPath == null ? "" : configuredPath.trim();
      try {
        if (path.isEmpty()) {
          path = extract().toString();
        }
        System.load(path);
      } catch (IOException | UnsatisfiedLinkError e) {
        throw new IllegalStateException(
            "cannot load the shuffle client library from "
                + (path.isEmpty() ? "the plugin jar (" + RESOURCE + ")" : path)
                + ": " + e.getMessage()
                + " (set spark.nodeshuffle.nativeLibrary to the path of libshuffle_jni.so, or"
                + " install the runtime libraries it needs: see docs/spark.md)",
            e);
      }
      loaded = true;
    }
  }

  private static Path extract() throws IOException {
    try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IOException("the plugin jar has no " + RESOURCE);
      }
      Path file = Files.createTempFile("libshuffle_jni", ".so");
      file.toFile().deleteOnExit();
      Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
      return file;
    }
  }
}
