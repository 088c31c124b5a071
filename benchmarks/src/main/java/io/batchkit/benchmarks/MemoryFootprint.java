package io.batchkit.benchmarks;

import io.batchkit.spi.JobStore;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Benchmark 5: the heap the in-memory store retains per queued job, measured, not estimated.
 *
 * <p>Each round collects garbage until the used heap stops shrinking, notes it, stores one batch of
 * {@code jobs} queued jobs (shared empty payload, so the payload is excluded) in a fresh {@code
 * JobStore.inMemory()}, drops every other reference, collects again and divides the growth by the
 * number of jobs. What is counted is what the store keeps: the job's state, its id, and the index
 * entries that find it. A first round warms up and is not reported. For scale, the same is done for
 * a {@code LinkedBlockingQueue} of one small task per item, which is what a bare thread pool holds
 * for each queued task.
 *
 * <p>Not a JMH benchmark, because JMH measures time: run it from the benchmarks jar, best with a
 * stop-the-world collector so that a requested collection is complete: {@code java -Xmx4g
 * -XX:+UseSerialGC -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.MemoryFootprint
 * [jobs [rounds]]}.
 */
public final class MemoryFootprint {
  private static final Logger LOG = LoggerFactory.getLogger(MemoryFootprint.class);

  private MemoryFootprint() {}

  /**
   * Prints the retained bytes per queued job.
   *
   * @param args optionally the number of jobs (default 1,000,000) and of rounds (default 5)
   */
  public static void main(String[] args) throws InterruptedException {
    int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 5;
    LOG.info(
        "MemoryFootprint: {} jobs per round, {} rounds after one warm-up round, collectors {}, {}",
        jobs,
        rounds,
        ManagementFactory.getGarbageCollectorMXBeans().stream()
            .map(GarbageCollectorMXBean::getName)
            .collect(Collectors.joining("/")),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
    double[] store = new double[rounds];
    double[] queue = new double[rounds];
    for (int round = -1; round < rounds; round++) {
      double perJob = storeBytesPerJob(jobs);
      double perTask = queueBytesPerTask(jobs);
      if (round >= 0) {
        store[round] = perJob;
        queue[round] = perTask;
        LOG.info(
            "round {}: in-memory store {} bytes/job, LinkedBlockingQueue {} bytes/task",
            round + 1,
            format(perJob),
            format(perTask));
      }
    }
    LOG.info(
        "RESULT in-memory store retained bytes per queued job: median {} (min {}, max {})",
        format(median(store)),
        format(min(store)),
        format(max(store)));
    LOG.info(
        "RESULT LinkedBlockingQueue retained bytes per queued task: median {} (min {}, max {})",
        format(median(queue)),
        format(min(queue)),
        format(max(queue)));
  }

  private static double storeBytesPerJob(int jobs) throws InterruptedException {
    long before = LiveHeap.usedAfterGc();
    JobStore store = JobStore.inMemory();
    Fixtures.insert(store, jobs, 8, true);
    long after = LiveHeap.usedAfterGc();
    Reference.reachabilityFence(store);
    return (double) (after - before) / jobs;
  }

  private static double queueBytesPerTask(int tasks) throws InterruptedException {
    long before = LiveHeap.usedAfterGc();
    LinkedBlockingQueue<Runnable> queue = new LinkedBlockingQueue<>();
    List<String> items = Fixtures.payloads(tasks);
    for (int i = 0; i < tasks; i++) {
      String item = items.get(i);
      queue.add(() -> item.length());
    }
    long after = LiveHeap.usedAfterGc();
    Reference.reachabilityFence(queue);
    return (double) (after - before) / tasks;
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  private static double min(double[] values) {
    return Arrays.stream(values).min().orElse(Double.NaN);
  }

  private static double max(double[] values) {
    return Arrays.stream(values).max().orElse(Double.NaN);
  }

  private static String format(double bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes);
  }
}
