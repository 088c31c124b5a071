package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Where the in-memory path's CPU goes (not JMH: it reads CPU times, which JMH does not report).
 * Batches of 100,000 no-op jobs through a {@link BatchService} on the in-memory store (8 slots,
 * settings at their defaults), each followed by the same tasks on a bare 8-thread pool, in one JVM;
 * it prints the medians of the last two thirds of the rounds (the process's CPU per job, the bytes
 * its live threads allocated per job, the rates, the {@code submit} call alone) and, over all
 * rounds, each kind of live thread's CPU per job (the main thread's includes handing the pool its
 * tasks). The allocated bytes move far less from run to run than the CPU times on a shared host.
 *
 * <pre>{@code
 * java -Xms2g -Xmx2g -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.CpuPerJobProbe [rounds]
 * }</pre>
 */
public final class CpuPerJobProbe {
  private static final int JOBS = 100_000;
  private static final int SLOTS = 8;

  private CpuPerJobProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 45;
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    List<String> items = Fixtures.payloads(JOBS);
    BatchService service = Fixtures.service(JobStore.inMemory(), SLOTS);
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(SLOTS, SLOTS, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>());
    pool.prestartAllCoreThreads();
    List<Double> cpu = new ArrayList<>();
    List<Double> poolCpu = new ArrayList<>();
    List<Double> rate = new ArrayList<>();
    List<Double> poolRate = new ArrayList<>();
    List<Double> submit = new ArrayList<>();
    List<Double> bytes = new ArrayList<>();
    List<Double> poolBytes = new ArrayList<>();
    try {
      for (int round = 0; round < rounds; round++) {
        long a0 = allocated();
        long c0 = os.getProcessCpuTime();
        long t0 = System.nanoTime();
        Batch batch =
            service.submit(
                BatchRequest.builder(Fixtures.NOOP).items(items).maxConcurrency(SLOTS).build());
        long t1 = System.nanoTime();
        Fixtures.requireCompleted(service.awaitCompletion(batch.id(), Fixtures.AWAIT), JOBS);
        long t2 = System.nanoTime();
        long c1 = os.getProcessCpuTime();
        long a1 = allocated();
        service.deleteBatch(batch.id());
        CountDownLatch done = new CountDownLatch(JOBS);
        long a2 = allocated();
        long c2 = os.getProcessCpuTime();
        long t3 = System.nanoTime();
        for (String item : items) {
          pool.execute(
              () -> {
                item.length();
                done.countDown();
              });
        }
        done.await();
        long t4 = System.nanoTime();
        long c3 = os.getProcessCpuTime();
        long a3 = allocated();
        if (round >= rounds / 3) {
          bytes.add((a1 - a0) / (double) JOBS);
          poolBytes.add((a3 - a2) / (double) JOBS);
          cpu.add((c1 - c0) / 1000.0 / JOBS);
          poolCpu.add((c3 - c2) / 1000.0 / JOBS);
          rate.add(JOBS * 1e9 / (t2 - t0));
          poolRate.add(JOBS * 1e9 / (t4 - t3));
          submit.add((t1 - t0) / 1e6);
        }
      }
      printThreads((long) JOBS * rounds);
      System.out.printf(
          "batchkit: %.2f us CPU and %.0f bytes per job, %.0f jobs/s, submit %.1f ms;"
              + " pool: %.2f us CPU and %.0f bytes per task, %.0f tasks/s; ratio %.3f%n",
          Fixtures.median(cpu),
          Fixtures.median(bytes),
          Fixtures.median(rate),
          Fixtures.median(submit),
          Fixtures.median(poolCpu),
          Fixtures.median(poolBytes),
          Fixtures.median(poolRate),
          Fixtures.median(rate) / Fixtures.median(poolRate));
    } finally {
      try {
        service.close();
      } finally {
        pool.shutdown();
      }
    }
  }

  /** Each kind of thread's CPU (worker threads together), per job of every round. */
  private static void printThreads(long jobs) {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    Map<String, Long> byKind = new TreeMap<>();
    for (long id : threads.getAllThreadIds()) {
      ThreadInfo info = threads.getThreadInfo(id);
      long nanos = threads.getThreadCpuTime(id);
      if (info != null && nanos > 0) {
        String kind = info.getThreadName().replaceAll("[-0-9]+$", "").replaceAll("-node.*", "");
        byKind.merge(kind, nanos, Long::sum);
      }
    }
    byKind.forEach(
        (kind, nanos) -> {
          if (nanos > TimeUnit.MILLISECONDS.toNanos(50)) {
            System.out.printf("  %s: %.2f us per job%n", kind, nanos / 1000.0 / jobs);
          }
        });
  }

  /**
   * The bytes the live threads have allocated so far (a thread that ended takes its count with it:
   * the service's workers and the pool's threads live through the run).
   */
  private static long allocated() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long sum = 0;
    for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
      sum += Math.max(bytes, 0);
    }
    return sum;
  }
}
