package dev.shuffle.jobs;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The live one-line progress display: elapsed time, each running stage's finished and total
 * tasks, live executors, shuffle bytes written, and the evictions so far. On a terminal the line
 * is redrawn in place every second; otherwise a line is printed every 10 s. close() prints the
 * last state and ends the line. Thread-safe.
 */
final class Progress implements AutoCloseable {
  private final PrintStream out;
  private final JobListener listener;
  private final Supplier<List<String>> evictions;
  private final boolean terminal;
  private final long start = System.nanoTime();
  private final Thread thread;
  private volatile boolean closed;
  private int width;

  Progress(PrintStream out, JobListener listener, Supplier<List<String>> evictions,
      boolean terminal) {
    this.out = out;
    this.listener = listener;
    this.evictions = evictions;
    this.terminal = terminal;
    this.thread = new Thread(this::loop, "job-progress");
    thread.setDaemon(true);
    thread.start();
  }

  private void loop() {
    long period = terminal ? 1000 : 10_000;
    while (!closed) {
      try {
        Thread.sleep(period);
      } catch (InterruptedException e) {
        return;
      }
      if (!closed) {
        draw();
      }
    }
  }

  String line() {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "[%5.1f s]", (System.nanoTime() - start) / 1e9));
    List<JobListener.StageProgress> stages = listener.runningStages();
    if (stages.isEmpty()) {
      b.append(" (between stages)");
    }
    for (JobListener.StageProgress s : stages) {
      b.append(String.format(Locale.ROOT, " stage %d%s %s %d/%d |", s.stageId(),
          s.attempt() > 0 ? "." + s.attempt() : "", s.map() ? "map" : "result", s.done(),
          s.tasks()));
    }
    b.append(String.format(Locale.ROOT, " executors %d | shuffle written %s",
        listener.liveExecutors(), Report.bytes(listener.shuffleBytesWritten())));
    int evicted = evictions.get().size();
    if (evicted > 0) {
      b.append(" | evicted ").append(evicted);
    }
    if (listener.stageReruns() > 0) {
      b.append(" | stage re-runs ").append(listener.stageReruns());
    }
    return b.toString();
  }

  private synchronized void draw() {
    String line = line();
    if (terminal) {
      int pad = Math.max(0, width - line.length());
      out.print("\r" + line + " ".repeat(pad));
      width = line.length();
    } else {
      out.println(line);
    }
    out.flush();
  }

  @Override
  public void close() {
    closed = true;
    thread.interrupt();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    draw();
    if (terminal) {
      out.println();
    }
  }
}
