package dev.shuffle.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The ready file shuffle-server writes once it serves (--ready-file), read as docs/ready-file.md
 * says: "version=1" first, then one KEY=VALUE a line (the value is the rest of the line, an
 * endpoint such as HOST:PORT or unix:/path), blank and '#' lines skipped, unknown keys kept and
 * ignored by callers that do not know them. The server writes it under another name and renames
 * it, so it is complete once it exists. A plain value.
 */
public final class ReadyFile {
  /** The format version this reader knows. */
  public static final int VERSION = 1;

  private final Map<String, String> entries;

  private ReadyFile(Map<String, String> entries) {
    this.entries = Map.copyOf(entries);
  }

  /** Parses the file's text; a missing or unknown version, or a line without '=', is an error. */
  public static ReadyFile parse(String text) {
    Map<String, String> entries = new HashMap<>();
    boolean versioned = false;
    int number = 0;
    for (String raw : text.split("\n", -1)) {
      ++number;
      String line = raw.endsWith("\r") ? raw.substring(0, raw.length() - 1) : raw;
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int eq = line.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException(
            "ready file line " + number + " '" + line + "' is not KEY=VALUE");
      }
      String key = line.substring(0, eq);
      String value = line.substring(eq + 1);
      if (!versioned) {
        if (!key.equals("version") || !value.equals(Integer.toString(VERSION))) {
          throw new IllegalArgumentException(
              "ready file line " + number + ": expected version=" + VERSION + ", got '" + line
                  + "'");
        }
        versioned = true;
        continue;
      }
      if (entries.putIfAbsent(key, value) != null) {
        throw new IllegalArgumentException("ready file key " + key + " is given twice");
      }
    }
    if (!versioned) {
      throw new IllegalArgumentException("ready file has no version=N line");
    }
    return new ReadyFile(entries);
  }

  /** The file's entries once it exists (it is renamed into place whole), else null. */
  public static ReadyFile readIfComplete(Path path) throws IOException {
    if (!Files.exists(path)) {
      return null;
    }
    return parse(Files.readString(path, StandardCharsets.UTF_8));
  }

  /** The value of {@code key}, or "" when the file has none (that listener is off). */
  public String get(String key) {
    return entries.getOrDefault(key, "");
  }

  /** The port of a HOST:PORT entry (split at the last ':'). */
  public int port(String key) {
    String value = get(key);
    int colon = value.lastIndexOf(':');
    if (colon < 0 || value.startsWith("unix:")) {
      throw new IllegalArgumentException("ready file entry " + key + "='" + value + "' has no port");
    }
    return Integer.parseInt(value.substring(colon + 1));
  }
}
