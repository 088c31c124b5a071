package io.batchkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.TestServices;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Listeners that throw or block, through the public API with the in-memory store. The spec is
 * {@link BatchListener}'s Javadoc: callbacks run synchronously on batchkit threads (a worker for
 * job events, the caller or the dispatcher for batch events); a listener that blocks holds up that
 * thread; a listener that throws is logged at WARN and otherwise ignored, and never changes a job's
 * or a batch's outcome; job events are raised just before the attempt's outcome is stored.
 */
@Timeout(120)
class ListenerFaultTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private static final List<String> EVENTS =
      List.of(
          "batchCreated",
          "batchStarted",
          "batchFinished",
          "jobStarted",
          "jobProgress",
          "jobSucceeded",
          "jobFailed",
          "jobCancelled");

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  private BatchService start(BatchService.Builder builder) {
    BatchService service =
        builder
            .discoverProcessors(false)
            .pollInterval(Duration.ofMillis(20))
            .retryBackoff(Duration.ZERO, Duration.ZERO)
            .shutdownGracePeriod(Duration.ofSeconds(1))
            .build();
    services.add(service);
    return service;
  }

  private CountDownLatch gate() {
    return services.gate();
  }

  private static List<String> items(String prefix, int n) {
    return IntStream.range(0, n).mapToObj(i -> prefix + i).collect(Collectors.toList());
  }

  // ---------------------------------------------------------------- listeners that throw

  /** Counts every callback by event name, and throws {@code fault} from the events named. */
  private static final class RecordingListener implements BatchListener {
    private final String name;
    private final Set<String> throwFrom;
    private final Supplier<Throwable> fault;
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final AtomicInteger retried = new AtomicInteger();
    private final AtomicInteger failedForGood = new AtomicInteger();

    RecordingListener(String name, Set<String> throwFrom, Supplier<Throwable> fault) {
      this.name = name;
      this.throwFrom = throwFrom;
      this.fault = fault;
    }

    static RecordingListener quiet(String name) {
      return new RecordingListener(name, Set.of(), () -> null);
    }

    int count(String event) {
      AtomicInteger n = calls.get(event);
      return n == null ? 0 : n.get();
    }

    int total() {
      return calls.values().stream().mapToInt(AtomicInteger::get).sum();
    }

    private void on(String event) {
      calls.computeIfAbsent(event, k -> new AtomicInteger()).incrementAndGet();
      if (throwFrom.contains(event)) {
        Throwable t = fault.get();
        throw ListenerFaultTest.<RuntimeException>sneakyThrow(t);
      }
    }

    @Override
    public void batchCreated(Batch batch) {
      on("batchCreated");
    }

    @Override
    public void batchStarted(Batch batch) {
      on("batchStarted");
    }

    @Override
    public void batchFinished(Batch batch) {
      on("batchFinished");
    }

    @Override
    public void jobStarted(JobContext job) {
      on("jobStarted");
    }

    @Override
    public void jobProgress(JobContext job, double fraction, String message) {
      on("jobProgress");
    }

    @Override
    public void jobSucceeded(JobContext job, String result) {
      on("jobSucceeded");
    }

    @Override
    public void jobFailed(JobContext job, Throwable error, boolean willRetry) {
      (willRetry ? retried : failedForGood).incrementAndGet();
      on("jobFailed");
    }

    @Override
    public void jobCancelled(JobContext job) {
      on("jobCancelled");
    }

    @Override
    public String toString() {
      return name;
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> RuntimeException sneakyThrow(Throwable t) throws T {
    throw (T) t;
  }

  /**
   * The processor of the throwing-listener scenarios. Payloads: {@code ok-*} reports progress and
   * succeeds; {@code once-*} fails its first attempt; {@code fail-*} fails every attempt; {@code
   * hold} waits until interrupted (its batch is cancelled). An exception that escapes {@code
   * reportProgress} into the processor is recorded in {@code leaked}.
   */
  private static JobProcessor scenarioProcessor(CountDownLatch holding, List<Throwable> leaked) {
    return ctx -> {
      String payload = ctx.payload();
      if (payload.startsWith("ok-")) {
        try {
          ctx.reportProgress(0.5, "half");
        } catch (Throwable t) {
          leaked.add(t);
        }
        return "ok";
      }
      if (payload.startsWith("once-") && ctx.attempt() > 1) {
        return "ok";
      }
      if (payload.equals("hold")) {
        holding.countDown();
        new CountDownLatch(1).await(); // until the cancellation interrupts it
      }
      throw new IOException("planned failure of " + payload);
    };
  }

  /**
   * Every callback of the first listener throws: no job or batch outcome changes, the caller of
   * createBatch, startBatch, submit and cancelBatch sees nothing, the processor calling
   * reportProgress sees nothing, the next listener still hears every event, the counts are exact,
   * and each throw is logged at WARN.
   */
  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(strings = {"RuntimeException", "Error", "undeclared checked exception"})
  void everyCallbackThrowing_changesNoOutcomeAndEachThrowIsLoggedAtWarn(String kind) {
    String marker = "listener-fault-" + kind.replace(' ', '-');
    Supplier<Throwable> fault =
        switch (kind) {
          case "RuntimeException" -> () -> new IllegalStateException(marker);
          case "Error" -> () -> new Error(marker);
          default -> () -> new IOException(marker);
        };
    RecordingListener broken = new RecordingListener("BrokenListener", Set.copyOf(EVENTS), fault);
    RecordingListener next = RecordingListener.quiet("NextListener");
    List<Throwable> leaked = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch holding = gate();

    try (ErrCapture log = new ErrCapture()) {
      BatchService service =
          start(
              BatchService.builder()
                  .maxConcurrency(4)
                  .listener(broken)
                  .listener(next)
                  .processor("t", scenarioProcessor(holding, leaked)));
      List<String> payloads = new ArrayList<>(items("ok-", 10));
      payloads.addAll(items("once-", 2));
      payloads.addAll(items("fail-", 2));
      BatchRequest request =
          BatchRequest.builder("t").items(payloads).maxAttempts(2).maxConcurrency(4).build();

      Batch created = assertDoesNotThrow(() -> service.createBatch(request));
      assertEquals(BatchStatus.PENDING, created.status());
      Batch started = assertDoesNotThrow(() -> service.startBatch(created.id()));
      assertEquals(BatchStatus.PROCESSING, started.status());
      Batch held =
          assertDoesNotThrow(() -> service.submit(BatchRequest.builder("t").item("hold").build()));
      assertTrue(await(holding), "the held job started");
      CancellationSummary summary = assertDoesNotThrow(() -> service.cancelBatch(held.id()));
      assertEquals(1, summary.stoppingRunning());

      Batch done = service.awaitCompletion(created.id(), WAIT);
      Batch cancelled = service.awaitCompletion(held.id(), WAIT);

      assertEquals(BatchStatus.PARTIAL, done.status(), done.toString());
      assertEquals(new Progress(14, 0, 0, 12, 2, 0), done.progress());
      for (Job job : service.getJobs(created.id(), JobQuery.all()).items()) {
        if (job.payload().startsWith("fail-")) {
          assertEquals(JobStatus.FAILED, job.status(), job.toString());
        } else {
          assertEquals(JobStatus.SUCCEEDED, job.status(), job.toString());
          assertEquals(Optional.of("ok"), job.result(), job.toString());
        }
        assertEquals(job.payload().startsWith("ok-") ? 1 : 2, job.attempt(), job.toString());
      }
      assertEquals(BatchStatus.CANCELLED, cancelled.status());
      assertEquals(new Progress(1, 0, 0, 0, 0, 1), cancelled.progress());
      assertEquals(List.of(), leaked, "reportProgress passed the listener's fault on");
      Await.until(
          "both batches were announced finished to both listeners",
          () -> broken.count("batchFinished") >= 2 && next.count("batchFinished") >= 2);
      for (RecordingListener listener : List.of(broken, next)) {
        String who = listener + " " + listener.calls;
        assertEquals(2, listener.count("batchCreated"), who);
        assertEquals(2, listener.count("batchStarted"), who);
        assertEquals(2, listener.count("batchFinished"), who);
        assertEquals(10 + 2 * 2 + 2 * 2 + 1, listener.count("jobStarted"), who);
        assertEquals(10, listener.count("jobProgress"), who);
        assertEquals(12, listener.count("jobSucceeded"), who);
        assertEquals(6, listener.count("jobFailed"), who);
        assertEquals(4, listener.retried.get(), who);
        assertEquals(2, listener.failedForGood.get(), who);
        assertEquals(1, listener.count("jobCancelled"), who);
      }
      BatchStatistics stats = service.statistics();
      assertEquals(12, stats.succeeded(), stats.toString());
      assertEquals(6, stats.failed(), stats.toString());
      assertEquals(0, stats.running(), stats.toString());
      assertEquals(0, stats.queued(), stats.toString());

      List<String> warnings = log.linesWith(" WARN ", broken.toString());
      assertEquals(
          broken.total(),
          warnings.size(),
          "one WARN per throw; got:\n" + String.join("\n", warnings));
      assertTrue(log.text().contains(marker), "the fault itself is logged");
      assertTrue(log.linesWith(" WARN ", next.toString()).isEmpty(), "the quiet one is not");
    }
  }

  /**
   * A listener that overflows its stack (unbounded recursion is the common listener bug that throws
   * an Error which is a {@link VirtualMachineError}) from one callback. The Javadoc makes no
   * exception for it: the listener is logged and ignored and never changes an outcome. The same
   * error from a processor only fails its attempt (see {@link MisbehavingProcessorTest}).
   */
  @ParameterizedTest(name = "[{index}] StackOverflowError from {0}")
  @ValueSource(
      strings = {
        "batchCreated",
        "batchStarted",
        "batchFinished",
        "jobStarted",
        "jobProgress",
        "jobSucceeded",
        "jobFailed",
        "jobCancelled"
      })
  void aCallbackThrowingStackOverflowError_changesNoOutcome(String event) {
    Duration wait = Duration.ofSeconds(15); // the scenario takes well under a second
    RecordingListener broken =
        new RecordingListener(
            "OverflowingListener",
            Set.of(event),
            () -> new StackOverflowError("listener recursed in " + event));
    List<Throwable> leaked = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch holding = gate();
    BatchService service =
        start(
            BatchService.builder()
                .maxConcurrency(2)
                .listener(broken)
                .processor("t", scenarioProcessor(holding, leaked))
                .processor("fine", ctx -> "ok"));
    BatchRequest request =
        BatchRequest.builder("t")
            .items(List.of("ok-0", "ok-1", "ok-2", "once-0"))
            .maxAttempts(2)
            .build();

    Batch created = assertDoesNotThrow(() -> service.createBatch(request));
    assertDoesNotThrow(() -> service.startBatch(created.id()));
    Batch held =
        assertDoesNotThrow(() -> service.submit(BatchRequest.builder("t").item("hold").build()));
    assertTrue(await(holding, wait), "the held job started");
    assertDoesNotThrow(() -> service.cancelBatch(held.id()));

    Batch done = service.awaitCompletion(created.id(), wait);
    Batch cancelled = service.awaitCompletion(held.id(), wait);

    assertTrue(broken.count(event) >= 1, event + " was raised: " + broken.calls);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(new Progress(4, 0, 0, 4, 0, 0), done.progress());
    for (Job job : service.getJobs(created.id(), JobQuery.all()).items()) {
      assertEquals(Optional.of("ok"), job.result(), job.toString());
      assertEquals(job.payload().startsWith("once-") ? 2 : 1, job.attempt(), job.toString());
    }
    assertEquals(BatchStatus.CANCELLED, cancelled.status(), cancelled.toString());
    assertTrue(cancelled.isFinished(), cancelled.toString());
    assertEquals(List.of(), leaked, "reportProgress passed the listener's error on");
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), wait).status());
    assertEquals(0, service.statistics().running());
  }

  // ---------------------------------------------------------------- listeners that block

  /**
   * A listener blocking in jobSucceeded holds up the worker that raised it, and only that worker:
   * the next listener waits for it (listeners are called in order, synchronously), the job's
   * outcome is not stored until it returns (the event comes just before), and jobs on other workers
   * go on to the end. Once released, everything is stored exactly. The block outlasts the held
   * job's timeout plus interrupt grace period: that must not change its outcome either.
   */
  @Test
  void aListenerBlockingInJobSucceeded_holdsOnlyItsOwnWorkerAndDelaysThatOutcome()
      throws Exception {
    CountDownLatch entered = gate();
    CountDownLatch release = gate();
    AtomicReference<Thread> heldThread = new AtomicReference<>();
    Set<Thread> otherThreads = ConcurrentHashMap.newKeySet();
    AtomicInteger interruptedWhileHeld = new AtomicInteger();
    ConcurrencyProbe probe = new ConcurrencyProbe();
    BatchListener blocker =
        new BatchListener() {
          @Override
          public void jobSucceeded(JobContext job, String result) {
            if (job.jobType().equals("held")) {
              heldThread.set(Thread.currentThread());
              entered.countDown();
              awaitUninterruptibly(release, interruptedWhileHeld);
            }
          }
        };
    RecordingListener next = RecordingListener.quiet("NextListener");
    BatchService service =
        start(
            BatchService.builder()
                .maxConcurrency(3)
                .interruptGracePeriod(Duration.ofMillis(100))
                .listener(blocker)
                .listener(next)
                .processor("held", ctx -> "held-result")
                .processor(
                    "other",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        otherThreads.add(Thread.currentThread());
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                      }
                    }));
    Batch held =
        service.submit(
            BatchRequest.builder("held")
                .item("h")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(100))
                .build());
    assertTrue(await(entered), "jobSucceeded was raised");

    Batch other =
        service.submit(
            BatchRequest.builder("other").items(items("o-", 20)).maxConcurrency(3).build());
    Batch otherDone = service.awaitCompletion(other.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, otherDone.status(), "other workers carried on");
    assertEquals(new Progress(20, 0, 0, 20, 0, 0), otherDone.progress());
    assertFalse(otherThreads.contains(heldThread.get()), "the held worker ran nothing else");
    assertTrue(probe.peak() <= 3, "peak " + probe.peak());
    // a bounded window, longer than the held job's timeout plus grace period (200 ms)
    Batch stillHeld = service.awaitCompletion(held.id(), Duration.ofMillis(500));
    assertFalse(stillHeld.isFinished(), "its outcome waits for the listener: " + stillHeld);
    assertEquals(new Progress(1, 0, 1, 0, 0, 0), stillHeld.progress());
    Job heldJob = service.getJobs(held.id(), JobQuery.all()).items().get(0);
    assertEquals(JobStatus.PROCESSING, heldJob.status(), heldJob.toString());
    assertEquals(20, next.count("jobSucceeded"), "the next listener waits its turn");

    release.countDown();
    Batch heldDone = service.awaitCompletion(held.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, heldDone.status(), heldDone.toString());
    heldJob = service.getJobs(held.id(), JobQuery.all()).items().get(0);
    assertEquals(Optional.of("held-result"), heldJob.result(), heldJob.toString());
    assertEquals(1, heldJob.attempt());
    assertEquals(21, next.count("jobSucceeded"));
    BatchStatistics stats = service.statistics();
    assertEquals(21, stats.succeeded(), stats.toString());
    assertEquals(0, stats.failed(), stats.toString());
    assertEquals(0, stats.running(), stats.toString());
  }

  /**
   * While a listener blocks in jobSucceeded past the job's timeout plus interrupt grace period, the
   * processor has long returned: nothing ignored an interrupt and no slot is given back, so the
   * service must not keep logging that it did. At most one WARN may name the held job.
   */
  @Test
  void aListenerBlockingPastTheJobTimeout_isNotLoggedAsAnIgnoredInterruptOverAndOver() {
    CountDownLatch entered = gate();
    CountDownLatch release = gate();
    AtomicInteger interruptedWhileHeld = new AtomicInteger();
    BatchListener blocker =
        new BatchListener() {
          @Override
          public void jobSucceeded(JobContext job, String result) {
            entered.countDown();
            awaitUninterruptibly(release, interruptedWhileHeld);
          }
        };
    try (ErrCapture log = new ErrCapture()) {
      BatchService service =
          start(
              BatchService.builder()
                  .interruptGracePeriod(Duration.ofMillis(50))
                  .listener(blocker)
                  .processor("t", ctx -> "ok"));
      Batch held =
          service.submit(
              BatchRequest.builder("t").item("h").jobTimeout(Duration.ofMillis(50)).build());
      assertTrue(await(entered), "jobSucceeded was raised");

      // a bounded window, well past the job's timeout plus grace period (100 ms)
      assertFalse(service.awaitCompletion(held.id(), Duration.ofSeconds(1)).isFinished());
      release.countDown();
      Batch done = service.awaitCompletion(held.id(), WAIT);

      assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
      String jobId = service.getJobs(held.id(), JobQuery.all()).items().get(0).id().toString();
      List<String> warnings = log.linesWith(" WARN ", jobId);
      assertTrue(
          warnings.size() <= 1,
          warnings.size()
              + " WARN lines about a job whose processor returned at once, e.g.:\n"
              + warnings.stream().limit(3).collect(Collectors.joining("\n")));
    }
  }

  /**
   * A listener blocking in jobStarted holds up its worker, and with it the job's slot. Whatever the
   * service does about the time spent there (count it against the job's timeout or not), it must
   * never run the processor for an attempt it has already ended, and never run more processors at
   * once than maxConcurrency.
   */
  @Test
  void aListenerBlockingInJobStarted_neverLetsAProcessorRunAnAttemptAlreadyEnded() {
    CountDownLatch entered = gate();
    CountDownLatch release = gate();
    AtomicInteger interruptedWhileHeld = new AtomicInteger();
    AtomicReference<BatchService> self = new AtomicReference<>();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    List<String> wrong = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch firstProcessed = gate();
    ConcurrencyProbe probe = new ConcurrencyProbe();
    BatchListener blocker =
        new BatchListener() {
          @Override
          public void jobStarted(JobContext job) {
            if (job.payload().equals("first") && entered.getCount() > 0) {
              entered.countDown();
              awaitUninterruptibly(release, interruptedWhileHeld);
            }
          }
        };
    BatchService service =
        start(
            BatchService.builder()
                .maxConcurrency(1)
                .interruptGracePeriod(Duration.ofMillis(100))
                .listener(blocker)
                .processor(
                    "t",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        runs.computeIfAbsent(ctx.payload(), k -> new AtomicInteger())
                            .incrementAndGet();
                        Job stored =
                            self.get().getJobs(ctx.batchId(), JobQuery.all()).items().stream()
                                .filter(j -> j.id().equals(ctx.jobId()))
                                .findFirst()
                                .orElseThrow();
                        if (stored.status() != JobStatus.PROCESSING
                            || stored.attempt() != ctx.attempt()) {
                          wrong.add("attempt " + ctx.attempt() + " ran, but stored: " + stored);
                        }
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                        if (ctx.payload().equals("first")) {
                          firstProcessed.countDown();
                        }
                      }
                    }));
    self.set(service);
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .items(List.of("first", "second"))
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(100))
                .build());
    assertTrue(await(entered), "jobStarted was raised");

    // a bounded window, well past the job's timeout plus grace period (200 ms)
    service.awaitCompletion(batch.id(), Duration.ofSeconds(2));
    release.countDown();
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    // once released, the worker either runs the first job's processor at once or never: wait for
    // it a bounded while, so that a late run is seen
    boolean firstRan = await(firstProcessed, Duration.ofSeconds(2));
    Await.until("no processor is running", () -> probe.current() == 0);

    assertTrue(done.isFinished(), done.toString());
    List<Job> jobs = service.getJobs(batch.id(), JobQuery.all()).items();
    assertEquals(List.of(), wrong, "processor ran an attempt that was already ended: " + jobs);
    assertTrue(probe.peak() <= 1, "ran " + probe.peak() + " at once with maxConcurrency 1");
    assertEquals(0, probe.overlaps());
    Job first = jobs.get(0);
    if (first.status() == JobStatus.FAILED) {
      assertFalse(firstRan, "first was ended, yet its processor ran afterwards: " + first);
    } else {
      assertEquals(JobStatus.SUCCEEDED, first.status(), first.toString());
      assertEquals(1, runs.get("first").get());
    }
  }

  /**
   * A listener blocking in batchFinished is told about a batch that is already final and has no job
   * left running, and that is what a reader sees meanwhile. It holds up the thread that raised it
   * (the dispatcher, when the last job's outcome finished the batch); once released, work submitted
   * meanwhile runs to the end with exact counts.
   */
  @Test
  void aListenerBlockingInBatchFinished_seesTheBatchFinishedAndLaterWorkStillEnds() {
    CountDownLatch entered = gate();
    CountDownLatch release = gate();
    AtomicInteger interruptedWhileHeld = new AtomicInteger();
    AtomicReference<Batch> announced = new AtomicReference<>();
    RecordingListener next = RecordingListener.quiet("NextListener");
    BatchListener blocker =
        new BatchListener() {
          @Override
          public void batchFinished(Batch batch) {
            if (batch.name().equals("first")) {
              announced.set(batch);
              entered.countDown();
              awaitUninterruptibly(release, interruptedWhileHeld);
            }
          }
        };
    BatchService service =
        start(
            BatchService.builder()
                .maxConcurrency(2)
                .listener(blocker)
                .listener(next)
                .processor("t", ctx -> "ok"));
    Batch first = service.submit(BatchRequest.builder("t").name("first").item("a").build());
    assertTrue(await(entered), "batchFinished was raised");

    assertTrue(announced.get().isFinished(), announced.get().toString());
    assertEquals(BatchStatus.COMPLETED, announced.get().status());
    Batch read = service.getBatch(first.id());
    assertTrue(read.isFinished(), read.toString());
    assertEquals(new Progress(1, 0, 0, 1, 0, 0), read.progress());
    assertEquals(0, next.count("batchFinished"), "the next listener waits its turn");
    Batch second =
        service.submit(BatchRequest.builder("t").name("second").items(items("s-", 5)).build());

    release.countDown();
    Batch secondDone = service.awaitCompletion(second.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, secondDone.status(), secondDone.toString());
    assertEquals(new Progress(5, 0, 0, 5, 0, 0), secondDone.progress());
    Await.until("both batches were announced", () -> next.count("batchFinished") == 2);
    assertEquals(6, service.statistics().succeeded());
  }

  // ---------------------------------------------------------------- helpers

  private static boolean await(CountDownLatch latch) {
    return await(latch, WAIT);
  }

  private static boolean await(CountDownLatch latch, Duration timeout) {
    try {
      return latch.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Blocks until released, counting interrupts and restoring the flag at the end. */
  private static void awaitUninterruptibly(CountDownLatch release, AtomicInteger interrupts) {
    boolean interrupted = false;
    while (true) {
      try {
        if (release.await(WAIT.toSeconds() * 2, TimeUnit.SECONDS)) {
          break;
        }
        throw new AssertionError("the test never released the listener");
      } catch (InterruptedException e) {
        interrupts.incrementAndGet();
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  /** Collects what is written to System.err (where slf4j-simple logs) while it is open. */
  private static final class ErrCapture implements AutoCloseable {
    private final PrintStream original = System.err;
    private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

    ErrCapture() {
      OutputStream tee =
          new OutputStream() {
            @Override
            public void write(int b) {
              synchronized (captured) {
                captured.write(b);
              }
              original.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
              synchronized (captured) {
                captured.write(b, off, len);
              }
              original.write(b, off, len);
            }
          };
      System.setErr(new PrintStream(tee, true, UTF_8));
    }

    String text() {
      synchronized (captured) {
        return captured.toString(UTF_8);
      }
    }

    /** Lines holding every one of {@code parts}. */
    List<String> linesWith(String... parts) {
      return text()
          .lines()
          .filter(line -> List.of(parts).stream().allMatch(line::contains))
          .collect(Collectors.toList());
    }

    @Override
    public void close() {
      System.setErr(original);
    }
  }
}
