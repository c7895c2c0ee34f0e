package dev.shuffle.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The ready file shuffle-server writes once it serves (--ready-file): KEY=VALUE entries separated
 * by blanks or newlines (docs/ready-file.md), such as data=HOST:PORT control=HOST:PORT
 * metrics=HOST:PORT socket=PATH. Unknown keys are kept and ignored by callers that do not know
 * them. A plain value.
 */
public final class ReadyFile {
  private final Map<String, String> entries;

  private ReadyFile(Map<String, String> entries) {
    this.entries = Map.copyOf(entries);
  }

  /** Parses the file's text; entries without '=' are an error. */
  public static ReadyFile parse(String text) {
    Map<String, String> entries = new HashMap<>();
    for (String token : text.trim().split("\\s+")) {
      if (token.isEmpty() || token.startsWith("#")) {
        continue;
      }
      int eq = token.indexOf('=');
      if (eq <= 0) {
        throw new IllegalArgumentException("ready file entry '" + token + "' is not KEY=VALUE");
      }
      entries.put(token.substring(0, eq), token.substring(eq + 1));
    }
    return new ReadyFile(entries);
  }

  /** The file's entries once it exists and ends with a newline (written whole), else null. */
  public static ReadyFile readIfComplete(Path path) throws IOException {
    if (!Files.exists(path)) {
      return null;
    }
    String text = Files.readString(path, StandardCharsets.UTF_8);
    return text.endsWith("\n") ? parse(text) : null;
  }

  /** The value of {@code key}, or "" when the file has none. */
  public String get(String key) {
    return entries.getOrDefault(key, "");
  }

  /** The port of a HOST:PORT entry. */
  public int port(String key) {
    String value = get(key);
    int colon = value.lastIndexOf(':');
    if (colon < 0) {
      throw new IllegalArgumentException("ready file entry " + key + "='" + value + "' has no port");
    }
    return Integer.parseInt(value.substring(colon + 1));
  }
}
