package io.batchkit.examples;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchListener;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobContext;
import io.batchkit.Progress;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.spi.JobStore;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The quick start on an H2 database file, so the batch outlives the JVM. Run it, press Ctrl-C
 * halfway, and run it again: the second run finds the unfinished batch through its idempotency key
 * and carries it on to the end.
 *
 * <p>On Ctrl-C a shutdown hook closes the service: running jobs get a few seconds to finish and the
 * rest go back to the store. After a {@code kill -9} nothing is closed, and the killed run's jobs
 * stay leased to it; every run uses the same node id, so the next run takes them back at once as it
 * starts, before it claims anything (H2 has no session lock to tell a dead process by: on
 * PostgreSQL and MariaDB another node would take them within seconds, whatever its id).
 *
 * <pre>
 * java -cp batch-examples/target/batchkit-examples.jar io.batchkit.examples.DurableRestart [file]
 * </pre>
 *
 * The database is {@code target/batchkit-demo-db.mv.db} under the working directory unless a path
 * (without {@code .mv.db}) is given. One process at a time; {@link SeveralNodes} shows sharing.
 */
public final class DurableRestart {
  private static final String IDEMPOTENCY_KEY = "durable-restart-demo";
  private static final Duration LEASE = Duration.ofSeconds(5);
  private static final String NODE_ID = "durable-restart-demo";

  private DurableRestart() {}

  public static void main(String[] args) {
    Path database = Path.of(args.length > 0 ? args[0] : "target/batchkit-demo-db");
    Outcome outcome =
        run(System.out, database, 50, Duration.ofMillis(400), 0, ProgressLine.isTerminal());
    System.exit(outcome.interrupted() ? 130 : 0);
  }

  /**
   * What one run ended with.
   *
   * @param batch the batch as the run left it (null if it was stopped before it had a batch)
   * @param continued whether the batch came from an earlier run
   * @param interrupted whether the run was stopped before the batch finished
   */
  record Outcome(Batch batch, boolean continued, boolean interrupted) {}

  /**
   * Runs (or continues) the batch of {@code items} photos, each taking {@code work} to {@code 2 *
   * work}. With {@code stopAfter > 0} the run stops itself after that many jobs, the way Ctrl-C
   * does, so tests can interrupt it.
   */
  static Outcome run(
      PrintStream out, Path database, int items, Duration work, int stopAfter, boolean terminal) {
    out.println("Database: " + database.toAbsolutePath() + ".mv.db");
    HikariDataSource pool = pool(database);
    JobStore store = JdbcJobStore.builder(pool).createSchema(true).build();
    Stopper stopper = new Stopper(out, store, pool);
    AtomicBoolean created = new AtomicBoolean();
    AtomicInteger doneHere = new AtomicInteger();
    BatchService service =
        BatchService.builder()
            .store(store)
            .processor("resize-image", ctx -> resize(ctx, work))
            .nodeId(NODE_ID) // the same on every run: a run takes back what a killed one held
            .leaseDuration(LEASE) // the safety net: another node would take them after 5 s
            .shutdownGracePeriod(Duration.ofSeconds(5)) // on Ctrl-C, running jobs may finish
            .listener(
                new BatchListener() {
                  @Override
                  public void batchCreated(Batch batch) {
                    created.set(true); // not raised when the idempotency key finds a batch
                  }

                  @Override
                  public void jobSucceeded(JobContext job, String result) {
                    if (doneHere.incrementAndGet() == stopAfter) {
                      new Thread(stopper::stop, "simulated-ctrl-c").start();
                    }
                  }
                })
            .build();
    stopper.attach(service);
    Thread hook = new Thread(stopper::stop, "ctrl-c");
    Runtime.getRuntime().addShutdownHook(hook);
    boolean continued = false;
    try {
      Batch batch = service.submit(request(items));
      if (!created.get() && batch.isFinished()) {
        out.println(
            "Batch "
                + batch.id()
                + " from an earlier run had finished "
                + batch.status()
                + "; deleting it and starting a fresh one.");
        service.deleteBatch(batch.id());
        batch = service.submit(request(items));
      }
      stopper.watch(batch.id());
      if (created.get()) {
        out.println("Started batch " + batch.id() + ": " + batch.name());
        out.println("Press Ctrl-C halfway, then run the same command again.");
      } else {
        continued = true;
        describeEarlierRun(out, batch);
      }

      Batch done = new ProgressLine(out, terminal).follow(service, batch.id());
      if (!stopper.finishFirst()) {
        return new Outcome(stopper.awaitStopped(), continued, true);
      }
      out.println("Finished " + done.status() + ": " + done.progress());
      out.println(
          "This run did "
              + doneHere.get()
              + " jobs, earlier runs "
              + (done.progress().succeeded() - doneHere.get())
              + "; no job was lost.");
      out.println("Run again to start a fresh batch.");
      stopper.closeAll();
      return new Outcome(done, continued, false);
    } catch (IllegalStateException e) {
      if (!stopper.isStopping()) {
        throw e;
      }
      // Ctrl-C closed the service under us: wait for the hook, which reports and cleans up
      return new Outcome(stopper.awaitStopped(), continued, true);
    } finally {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException shuttingDown) {
        // the hook is running: it closes everything
      }
    }
  }

  private static BatchRequest request(int items) {
    List<String> photos = new ArrayList<>();
    for (int i = 1; i <= items; i++) {
      photos.add("photo-" + i + ".png");
    }
    return BatchRequest.builder("resize-image")
        .name("resize " + items + " photos")
        .items(photos)
        .maxConcurrency(4)
        .idempotencyKey(IDEMPOTENCY_KEY) // a second run gets the same batch, not a new one
        .build();
  }

  /**
   * Says what an earlier run left. Jobs a killed run still held were taken back when this run's
   * service started (same node id), so they are queued again by now.
   */
  private static void describeEarlierRun(PrintStream out, Batch batch) {
    Progress p = batch.progress();
    out.println(
        "Found batch "
            + batch.id()
            + " from an earlier run: "
            + p.finished()
            + " of "
            + p.total()
            + " done, continuing.");
  }

  private static HikariDataSource pool(Path database) {
    HikariConfig config = new HikariConfig();
    // DB_CLOSE_ON_EXIT=FALSE: on Ctrl-C, H2 must not close the file before our hook is done
    config.setJdbcUrl("jdbc:h2:file:" + database.toAbsolutePath() + ";DB_CLOSE_ON_EXIT=FALSE");
    config.setMaximumPoolSize(4);
    config.setPoolName("durable-restart");
    return new HikariDataSource(config);
  }

  /** Pretends to resize an image; every job succeeds. */
  private static String resize(JobContext ctx, Duration work) throws InterruptedException {
    long millis = work.toMillis();
    Thread.sleep(millis + ThreadLocalRandom.current().nextLong(millis + 1));
    return ctx.payload().replace(".png", "-small.png");
  }

  /**
   * Ends a run once, whichever comes first: the batch finishing (main thread) or Ctrl-C (the
   * shutdown hook). Closing the service lets running jobs finish for the grace period and gives the
   * rest back to the store, so the next run finds every unfinished job queued.
   */
  private static final class Stopper {
    private final PrintStream out;
    private final JobStore store;
    private final HikariDataSource pool;
    private final CompletableFuture<BatchService> service = new CompletableFuture<>();
    private final AtomicBoolean stopping = new AtomicBoolean();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile BatchId batchId;
    private volatile Batch lastSeen;

    Stopper(PrintStream out, JobStore store, HikariDataSource pool) {
      this.out = out;
      this.store = store;
      this.pool = pool;
    }

    void attach(BatchService built) {
      service.complete(built);
    }

    void watch(BatchId id) {
      batchId = id;
    }

    boolean isStopping() {
      return stopping.get();
    }

    /** Called by the main thread when the batch finished; false if Ctrl-C came first. */
    boolean finishFirst() {
      return stopping.compareAndSet(false, true);
    }

    void closeAll() {
      service.join().close();
      pool.close();
      stopped.countDown();
    }

    /** Ctrl-C: closes the service and the pool and says how to carry on. */
    void stop() {
      if (!stopping.compareAndSet(false, true)) {
        return; // the batch finished first and the main thread closes everything
      }
      try {
        service.join().close(); // running jobs may finish; the rest go back to the store
        out.println();
        out.println("Interrupted: the service closed and gave its unfinished jobs back.");
        BatchId id = batchId;
        if (id != null) {
          lastSeen = store.findBatch(id).orElse(null); // the service is closed: ask the store
          Progress p = lastSeen.progress();
          out.println(
              "Batch "
                  + id
                  + " stopped with "
                  + p.finished()
                  + " of "
                  + p.total()
                  + " done and "
                  + p.queued()
                  + " queued in the database. Run the same command again to continue it.");
        }
      } finally {
        pool.close();
        stopped.countDown();
      }
    }

    /** Waits (bounded) for {@link #stop()} on another thread and returns the batch it saw. */
    Batch awaitStopped() {
      try {
        if (!stopped.await(60, TimeUnit.SECONDS)) {
          throw new IllegalStateException("the service did not stop within 60 s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return lastSeen;
    }
  }
}
