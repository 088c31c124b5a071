package io.batchkit.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * How the plain-SQL baseline ({@link PlainSqlQueue}) scales on its own on PostgreSQL, without
 * batchkit: what 3 nodes' worth of clients cost this server when they share one queue and when they
 * share nothing. Each round runs 100,000 no-op jobs three ways, in an order that rotates from round
 * to round:
 *
 * <ul>
 *   <li><b>one queue</b>: 8 workers over a pool of 10, on one table (the baseline of issue 10's
 *       goals);
 *   <li><b>shared</b>: {@code scale} times the workers and the pool, on one table: the clients of
 *       {@code scale} nodes taking from one queue, as batchkit's nodes take from one batch;
 *   <li><b>split</b>: {@code scale} queues of 8 workers over a pool of 10, each on a table of its
 *       own with its share of the jobs, run at once: as many clients, sharing no rows and no index
 *       (what more clients give on this server when they share no rows).
 * </ul>
 *
 * <p>Per run (the rows are stored before it, untimed) it prints the time and PostgreSQL's CPU per
 * job ({@link Databases#postgresCpuMillis}: run it on the database's machine, Linux only), and ends
 * with the medians over the rounds after the first third (the warm-up; with fewer than 3 rounds,
 * over all of them): each form's time and CPU per job, and one queue's time over each other form's
 * (a throughput ratio). The pools hold 10 + 20 * {@code scale} connections together; keep that
 * under the server's {@code max_connections}.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.PlainSqlScaleProbe [rounds] [scale]
 * }</pre>
 *
 * <p>Bad arguments end it before anything is opened: fewer than 1 round or a scale below 2 with an
 * {@link IllegalArgumentException}, one that is not a number with a {@link NumberFormatException}.
 */
public final class PlainSqlScaleProbe {
  private static final int JOBS = 100_000;
  private static final String[] FORMS = {"one queue", "shared", "split"};

  private PlainSqlScaleProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 12;
    int scale = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    if (rounds < 1 || scale < 2) {
      throw new IllegalArgumentException(
          "rounds must be at least 1 and scale at least 2, were " + rounds + " and " + scale);
    }
    String url = Databases.url("postgres");
    int workers = DurableEndToEndBenchmark.WORKERS;
    int pool = DurableEndToEndBenchmark.POOL_SIZE;
    List<AutoCloseable> opened = new ArrayList<>();
    ExecutorService starter = Executors.newFixedThreadPool(scale);
    // per round: each form's time in ms, then its server CPU per job in µs
    List<double[]> rows = new ArrayList<>();
    Throwable failure = null;
    try {
      List<List<PlainSqlQueue>> forms = new ArrayList<>();
      forms.add(List.of(open(opened, new PlainSqlQueue(url, workers, 0, pool))));
      forms.add(List.of(open(opened, new PlainSqlQueue(url, scale * workers, 0, scale * pool))));
      List<PlainSqlQueue> split = new ArrayList<>();
      for (int i = 0; i < scale; i++) {
        split.add(open(opened, new PlainSqlQueue(url, workers, 0, pool)));
      }
      forms.add(split);
      for (int round = 0; round < rounds; round++) {
        double[] row = new double[2 * FORMS.length];
        StringBuilder line = new StringBuilder("round " + round + ":");
        for (int turn = 0; turn < FORMS.length; turn++) {
          int form = (turn + round) % FORMS.length;
          List<PlainSqlQueue> queues = forms.get(form);
          for (int i = 0; i < queues.size(); i++) {
            queues.get(i).insert(share(i, queues.size()));
          }
          long cpu = Databases.postgresCpuMillis();
          long start = System.nanoTime();
          List<Future<Integer>> running = new ArrayList<>();
          for (PlainSqlQueue queue : queues) {
            running.add(starter.submit(queue::runAll));
          }
          int ran = 0;
          for (Future<Integer> each : running) {
            ran += each.get();
          }
          long millis = (System.nanoTime() - start) / 1_000_000;
          double cpuPerJob = (Databases.postgresCpuMillis() - cpu) * 1000.0 / JOBS;
          if (ran != JOBS) {
            throw new IllegalStateException(FORMS[form] + " ran " + ran + " jobs of " + JOBS);
          }
          queues.forEach(PlainSqlQueue::clear);
          row[form] = millis;
          row[FORMS.length + form] = cpuPerJob;
          line.append(
              String.format(
                  " %s (%s) %d ms, PostgreSQL %.1f us CPU/job;",
                  FORMS[form], describe(form, scale), millis, cpuPerJob));
        }
        line.setLength(line.length() - 1);
        rows.add(row);
        System.out.println(line);
      }
    } catch (Throwable e) {
      failure = e;
      throw e;
    } finally {
      starter.shutdown();
      Fixtures.closeAll(opened, failure);
    }
    summarize(scale, rows.subList(rounds / 3, rounds));
  }

  private static PlainSqlQueue open(List<AutoCloseable> opened, PlainSqlQueue queue) {
    opened.add(queue);
    return queue;
  }

  /**
   * The jobs the {@code i}-th of {@code n} queues gets: {@link #JOBS} split as evenly as can be.
   */
  private static int share(int i, int n) {
    return JOBS / n + (i < JOBS % n ? 1 : 0);
  }

  private static String describe(int form, int scale) {
    int workers = DurableEndToEndBenchmark.WORKERS;
    return switch (form) {
      case 0 -> workers + " workers, 1 table";
      case 1 -> scale * workers + " workers, 1 table";
      default -> scale + " x " + workers + " workers, " + scale + " tables";
    };
  }

  private static void summarize(int scale, List<double[]> rows) {
    StringBuilder line = new StringBuilder("medians of " + rows.size() + " rounds:");
    for (int form = 0; form < FORMS.length; form++) {
      int f = form;
      line.append(
          String.format(
              " %s %.0f ms, %.1f us CPU/job;",
              FORMS[form],
              Fixtures.median(rows.stream().map(r -> r[f]).toList()),
              Fixtures.median(rows.stream().map(r -> r[FORMS.length + f]).toList())));
    }
    for (int form = 1; form < FORMS.length; form++) {
      int f = form;
      line.append(
          String.format(
              " %s / one queue %.2f%s",
              FORMS[form],
              Fixtures.median(rows.stream().map(r -> r[0] / r[f]).toList()),
              form < FORMS.length - 1 ? ";" : ""));
    }
    System.out.println(line + " (scale " + scale + ")");
  }
}
