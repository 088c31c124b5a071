package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.testkit.ConcurrencyProbe;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Processors that throw checked exceptions, Errors or stranger Throwables, return nothing or too
 * much, hang (honouring or ignoring their interrupt), call back into the service or cancel their
 * own batch; and all of them at once in one service, which must keep its limits and exact counts.
 */
@Timeout(60)
class MisbehavingProcessorTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  /** 10 MiB of ASCII: ten times the default maxPayloadBytes (1 MiB). */
  private static final String TEN_MIB = "x".repeat(10 * 1024 * 1024);

  private final List<BatchService> services = new ArrayList<>();

  /** Never counted down by a test: processors that hang wait on it until interrupted. */
  private final CountDownLatch never = new CountDownLatch(1);

  @AfterEach
  void closeAll() {
    never.countDown();
    services.forEach(BatchService::close);
  }

  private BatchService start(String jobType, JobProcessor processor) {
    BatchService service =
        BatchService.builder()
            .discoverProcessors(false)
            .maxPayloadBytes(1024)
            .retryBackoff(Duration.ZERO, Duration.ZERO)
            .processor(jobType, processor)
            .processor("fine", ctx -> "ok")
            .build();
    services.add(service);
    return service;
  }

  private static Job onlyJob(BatchService service, BatchId id) {
    List<Job> jobs = service.getJobs(id, JobQuery.all()).items();
    assertEquals(1, jobs.size());
    return jobs.get(0);
  }

  @Test
  void anError_failsTheAttemptAndTheServiceCarriesOn() {
    BatchService service =
        start(
            "t",
            ctx -> {
              throw new StackOverflowError("deep recursion in user code");
            });
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(2, job.attempt());
    assertTrue(job.error().orElseThrow().contains("StackOverflowError"), job.toString());
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), WAIT).status());
    assertEquals(0, service.statistics().running());
  }

  @Test
  void aNullResult_succeedsWithNoResult() {
    BatchService service = start("t", ctx -> null);
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(Optional.empty(), onlyJob(service, batch.id()).result());
  }

  @Test
  void aResultOverTheLimit_failsTheAttemptAndIsNotStored() {
    BatchService service = start("t", ctx -> "é".repeat(600)); // 1,200 bytes in UTF-8
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(Optional.empty(), job.result());
    assertTrue(job.error().orElseThrow().contains("1200 bytes"), job.toString());
    assertTrue(job.error().orElseThrow().contains("1024"), job.toString());
  }

  /**
   * A result no store can keep as given (PostgreSQL refuses NUL in text; drivers turn an unpaired
   * surrogate into '?') fails the attempt here, rather than failing, on the store, the whole group
   * of outcomes it would be written with.
   */
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"before\u0000after", "lone \uD800 high", "lone \uDC00 low"})
  void aResultAStoreCannotKeep_failsTheAttemptAndIsNotStored(String result) {
    BatchService service = start("t", ctx -> ctx.payload().equals("bad") ? result : "fine");
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(List.of("ok-1", "bad", "ok-2")).maxAttempts(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(3, 0, 0, 2, 1, 0), done.progress(), done.toString());
    Job bad = service.getJobs(batch.id(), JobQuery.withStatus(JobStatus.FAILED)).items().get(0);
    assertEquals("bad", bad.payload());
    assertEquals(Optional.empty(), bad.result());
    String error = bad.error().orElseThrow();
    assertTrue(error.contains("NUL") || error.contains("unpaired surrogate"), error);
    assertTrue(error.contains("not stored"), error);
  }

  @Test
  void aProcessorThatCancelsItsOwnBatch_endsCancelledWithExactCounts() {
    BatchService[] self = new BatchService[1];
    BatchService service =
        start(
            "t",
            ctx -> {
              self[0].cancelBatch(ctx.batchId());
              return "done anyway";
            });
    self[0] = service;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(List.of("a", "b", "c", "d")).maxConcurrency(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.CANCELLED, done.status());
    assertTrue(done.isFinished());
    assertEquals(new Progress(4, 0, 0, 0, 0, 4), done.progress());
    assertEquals(0, service.statistics().running());
  }

  @Test
  void aProcessorIgnoringItsTimeoutInterrupt_losesItsSlotAfterTheGracePeriod() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch returned = new java.util.concurrent.CountDownLatch(1);
    BatchService service =
        BatchService.builder()
            .discoverProcessors(false)
            .maxConcurrency(1)
            .interruptGracePeriod(Duration.ofMillis(200))
            .processor(
                "stubborn",
                ctx -> {
                  try {
                    while (true) {
                      try {
                        if (release.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                          return "late";
                        }
                      } catch (InterruptedException ignored) {
                        // a badly behaved processor swallows the interrupt and carries on
                      }
                    }
                  } finally {
                    returned.countDown();
                  }
                })
            .processor("fine", ctx -> "ok")
            .build();
    services.add(service);
    Batch stuck =
        service.submit(
            BatchRequest.builder("stubborn")
                .item("x")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(100))
                .build());

    Batch done = service.awaitCompletion(stuck.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, stuck.id());
    assertTrue(job.error().orElseThrow().contains("did not return within"), job.toString());
    // the only slot is free again although the stubborn thread still runs
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), WAIT).status());
    assertEquals(1, returned.getCount(), "the stubborn processor is still running");
    release.countDown();
    assertTrue(returned.await(30, java.util.concurrent.TimeUnit.SECONDS));
    service.awaitCompletion(after.id(), WAIT);
    assertEquals(
        JobStatus.FAILED, onlyJob(service, stuck.id()).status(), "its late result is ignored");
    assertEquals(Optional.empty(), onlyJob(service, stuck.id()).result());
  }

  // ---------------------------------------------------------------- checked and odd throwables

  /** Neither an Exception nor an Error: only a sneaky throw gets it out of a processor. */
  static final class Oddity extends Throwable {
    private static final long serialVersionUID = 1L;

    Oddity(String message) {
      super(message);
    }
  }

  /** A checked exception whose message cannot be read. */
  static final class UnreadableCheckedException extends IOException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      throw new IllegalStateException("the message of this exception cannot be read");
    }
  }

  /** An unchecked exception whose message cannot be read. */
  static final class UnreadableRuntimeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      throw new IllegalStateException("the message of this exception cannot be read");
    }
  }

  @SuppressWarnings("unchecked")
  private static <T extends Throwable> RuntimeException sneakyThrow(Throwable t) throws T {
    throw (T) t;
  }

  static Stream<Arguments> throwingProcessors() {
    return Stream.of(
        Arguments.of(
            "declared IOException",
            (JobProcessor)
                ctx -> {
                  throw new IOException("disk on fire: " + ctx.payload());
                },
            "java.io.IOException: disk on fire: x"),
        Arguments.of(
            "undeclared Throwable that is no Exception nor Error",
            (JobProcessor)
                ctx -> {
                  throw MisbehavingProcessorTest.<RuntimeException>sneakyThrow(
                      new Oddity("not an exception"));
                },
            Oddity.class.getName() + ": not an exception"),
        Arguments.of(
            "InterruptedException without any cancellation",
            (JobProcessor)
                ctx -> {
                  throw new InterruptedException("spurious");
                },
            "java.lang.InterruptedException: spurious"),
        Arguments.of(
            "exception without a message",
            (JobProcessor)
                ctx -> {
                  throw new IOException();
                },
            "java.io.IOException"),
        Arguments.of(
            "checked exception whose getMessage() throws",
            (JobProcessor)
                ctx -> {
                  throw new UnreadableCheckedException();
                },
            "" /* any description will do; the job must still fail */),
        Arguments.of(
            "unchecked exception whose getMessage() throws",
            (JobProcessor)
                ctx -> {
                  throw new UnreadableRuntimeException();
                },
            "" /* any description will do; the job must still fail */));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("throwingProcessors")
  void aThrowingProcessor_failsEachAttemptAndTheServiceCarriesOn(
      String kind, JobProcessor processor, String errorStart) {
    BatchService service = start("t", processor);
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status(), kind + ": " + done);
    assertEquals(new Progress(1, 0, 0, 0, 1, 0), done.progress());
    Job job = onlyJob(service, batch.id());
    assertEquals(JobStatus.FAILED, job.status(), "not CANCELLED: nothing was cancelled");
    assertEquals(2, job.attempt(), job.toString());
    assertEquals(Optional.empty(), job.result());
    String error = job.error().orElseThrow();
    assertTrue(error.startsWith(errorStart), kind + ": " + error);
    assertEquals(2, service.statistics().failed());
    assertEquals(0, service.statistics().succeeded());
    assertUsable(service);
  }

  @Test
  void anExceptionWithATenMebibyteMessage_isStoredAsABoundedError() {
    BatchService service =
        start(
            "t",
            ctx -> {
              throw new IOException(TEN_MIB);
            });
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    String error = onlyJob(service, batch.id()).error().orElseThrow();
    assertTrue(error.startsWith("java.io.IOException: xxx"), error.substring(0, 40));
    assertTrue(
        error.length() < TEN_MIB.length() / 100,
        "the error is limited, not stored whole: " + error.length() + " characters");
    assertUsable(service);
  }

  // ---------------------------------------------------------------- a 10 MiB result

  @Test
  void aTenMebibyteResult_failsEachAttemptWithTheSizesAndIsNotStored() {
    // the service's own default limit (1 MiB), not a small one set for the test
    BatchService service =
        keep(
            BatchService.builder()
                .discoverProcessors(false)
                .retryBackoff(Duration.ZERO, Duration.ZERO)
                .processor("huge", ctx -> TEN_MIB)
                .processor("fine", ctx -> "ok")
                .build());
    Batch batch =
        service.submit(
            BatchRequest.builder("huge").items(List.of("a", "b", "c")).maxAttempts(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    assertEquals(new Progress(3, 0, 0, 0, 3, 0), done.progress());
    for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals(2, job.attempt(), job.toString());
      assertEquals(Optional.empty(), job.result(), "the result is not stored");
      String error = job.error().orElseThrow();
      assertTrue(error.contains("10485760 bytes"), error);
      assertTrue(error.contains("1048576"), error);
      assertTrue(error.length() < 1_000, error);
    }
    assertEquals(6, service.statistics().failed());
    assertUsable(service);
  }

  // ---------------------------------------------------------------- hanging, honouring interrupts

  @Test
  void aHangingProcessorThatHonoursItsInterrupt_isTimedOutOnEachAttemptThenFailed() {
    AtomicInteger interrupted = new AtomicInteger();
    List<Boolean> willRetry = Collections.synchronizedList(new ArrayList<>());
    List<String> failures = Collections.synchronizedList(new ArrayList<>());
    BatchService service =
        keep(
            BatchService.builder()
                .discoverProcessors(false)
                .maxConcurrency(1)
                .retryBackoff(Duration.ZERO, Duration.ZERO)
                .listener(
                    new BatchListener() {
                      @Override
                      public void jobFailed(JobContext job, Throwable error, boolean retry) {
                        willRetry.add(retry);
                        failures.add(job.attempt() + ":" + error);
                      }
                    })
                .processor(
                    "hang",
                    ctx -> {
                      try {
                        never.await();
                      } catch (InterruptedException e) {
                        interrupted.incrementAndGet();
                        throw e;
                      }
                      return "unreachable";
                    })
                .processor("fine", ctx -> "ok")
                .build());
    Batch batch =
        service.submit(
            BatchRequest.builder("hang")
                .item("x")
                .maxAttempts(3)
                .jobTimeout(Duration.ofMillis(50))
                .build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(3, job.attempt());
    assertTrue(job.error().orElseThrow().contains("timed out after PT0.05S"), job.toString());
    assertEquals(3, interrupted.get(), "each attempt was interrupted");
    assertEquals(List.of(true, true, false), willRetry, failures.toString());
    assertEquals(3, service.statistics().failed());
    // the only slot was given back: the next job runs
    assertUsable(service);
  }

  // ---------------------------------------------------------------- calling back into the service

  @Test
  void aProcessorCallingBackIntoTheService_seesItsOwnJobRunningAndStartsAnotherBatch() {
    AtomicReference<BatchService> self = new AtomicReference<>();
    List<BatchId> children = Collections.synchronizedList(new ArrayList<>());
    List<String> wrong = Collections.synchronizedList(new ArrayList<>());
    BatchService service =
        start(
            "parent",
            ctx -> {
              checkOwnState(self.get(), ctx, wrong);
              BatchRequest child =
                  BatchRequest.builder("fine")
                      .item(ctx.payload())
                      .name("child of " + ctx.jobId())
                      .build();
              Batch started = self.get().submit(child);
              children.add(started.id());
              return started.id().toString();
            });
    self.set(service);
    Batch parent =
        service.submit(BatchRequest.builder("parent").items(List.of("a", "b", "c", "d")).build());

    Batch done = service.awaitCompletion(parent.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(4, 0, 0, 4, 0, 0), done.progress());
    assertEquals(List.of(), wrong);
    assertEquals(4, children.size());
    List<String> results =
        service.getJobs(parent.id(), JobQuery.all()).items().stream()
            .map(j -> j.result().orElseThrow())
            .sorted()
            .toList();
    assertEquals(children.stream().map(BatchId::toString).sorted().toList(), results);
    for (BatchId child : children) {
      Batch childDone = service.awaitCompletion(child, WAIT);
      assertEquals(BatchStatus.COMPLETED, childDone.status());
      assertEquals(new Progress(1, 0, 0, 1, 0, 0), childDone.progress());
    }
    assertEquals(8, service.statistics().succeeded());
  }

  /**
   * From inside a processor: its batch is PROCESSING and counts it as processing, and its own job
   * is stored PROCESSING with the attempt the context names. Problems go to {@code wrong}.
   */
  private static void checkOwnState(BatchService service, JobContext ctx, List<String> wrong) {
    Batch own = service.getBatch(ctx.batchId());
    if (own.status() != BatchStatus.PROCESSING || own.progress().processing() < 1) {
      wrong.add(ctx.jobId() + ": own batch " + own.status() + " " + own.progress());
    }
    List<Job> running =
        service
            .getJobs(
                ctx.batchId(),
                JobQuery.withStatus(JobStatus.PROCESSING).page(0, JobQuery.MAX_LIMIT))
            .items();
    boolean found =
        running.stream().anyMatch(j -> j.id().equals(ctx.jobId()) && j.attempt() == ctx.attempt());
    if (!found) {
      wrong.add(ctx.jobId() + " attempt " + ctx.attempt() + " not among running " + running);
    }
  }

  // ---------------------------------------------------------------- all of them in one service

  /** The misbehaviours mixed in one service; the interrupt-ignoring one is left out (see below). */
  private enum Kind {
    CHECKED,
    ERROR,
    NULL_RESULT,
    HUGE_RESULT,
    HANG,
    FLAKY,
    CALLBACK,
    SELF_CANCEL
  }

  private record Planned(Kind kind, Batch batch) {}

  /**
   * Rounds of batches, one per misbehaviour in a random order and of random sizes, all submitted at
   * once to one service. Each batch's outcome is predictable, so its Progress, its jobs and the
   * service's statistics are checked exactly. A processor that ignores its interrupt is left out on
   * purpose: it legitimately keeps running after its slot was given back, so a probe would see more
   * than maxConcurrency threads in processors.
   */
  @Test
  void allMisbehavioursInOneService_keepTheLimitsAndExactCounts(TestReporter reporter) {
    long seed = Long.getLong("batchkit.misbehaving.seed", System.nanoTime());
    int rounds = Integer.getInteger("batchkit.misbehaving.rounds", 20);
    reporter.publishEntry("seed", Long.toString(seed));
    Random random = new Random(seed);
    int maxConcurrency = 4;
    int maxAttempts = 2;
    ConcurrencyProbe probe = new ConcurrencyProbe();
    AtomicReference<BatchService> self = new AtomicReference<>();
    List<BatchId> children = Collections.synchronizedList(new ArrayList<>());
    List<String> wrong = Collections.synchronizedList(new ArrayList<>());
    Map<Kind, JobProcessor> processors = new EnumMap<>(Kind.class);
    processors.put(
        Kind.CHECKED,
        ctx -> {
          throw new IOException("checked " + ctx.payload());
        });
    processors.put(
        Kind.ERROR,
        ctx -> {
          throw new AssertionError("error " + ctx.payload());
        });
    processors.put(Kind.NULL_RESULT, ctx -> null);
    processors.put(Kind.HUGE_RESULT, ctx -> TEN_MIB);
    processors.put(
        Kind.HANG,
        ctx -> {
          never.await(); // interrupted by the job timeout
          return "unreachable";
        });
    processors.put(
        Kind.FLAKY,
        ctx -> {
          if (ctx.attempt() == 1) {
            throw new IOException("first attempt fails");
          }
          return "ok:" + ctx.payload();
        });
    processors.put(
        Kind.CALLBACK,
        ctx -> {
          checkOwnState(self.get(), ctx, wrong);
          Batch child = self.get().submit(BatchRequest.builder("fine").item(ctx.payload()).build());
          children.add(child.id());
          return child.id().toString();
        });
    processors.put(
        Kind.SELF_CANCEL,
        ctx -> {
          self.get().cancelBatch(ctx.batchId());
          return "done anyway";
        });
    BatchService.Builder builder =
        BatchService.builder()
            .discoverProcessors(false)
            .maxConcurrency(maxConcurrency)
            .retryBackoff(Duration.ZERO, Duration.ZERO)
            .pollInterval(Duration.ofMillis(10))
            .processor("fine", probed(probe, ctx -> "ok"));
    processors.forEach((kind, p) -> builder.processor(kind.name(), probed(probe, p)));
    BatchService service = keep(builder.build());
    self.set(service);

    List<Planned> plans = new ArrayList<>();
    for (int round = 0; round < rounds; round++) {
      List<Kind> kinds = new ArrayList<>(List.of(Kind.values()));
      Collections.shuffle(kinds, random);
      for (Kind kind : kinds) {
        int size = 1 + random.nextInt(6);
        BatchRequest.Builder request =
            BatchRequest.builder(kind.name())
                .name(kind + "-" + round)
                .items(
                    IntStream.range(0, size)
                        .mapToObj(i -> kind + "-" + i)
                        .collect(Collectors.toList()))
                .maxAttempts(maxAttempts)
                .maxConcurrency(kind == Kind.SELF_CANCEL ? 1 : 1 + random.nextInt(4));
        if (kind == Kind.HANG) {
          request.jobTimeout(Duration.ofMillis(50));
        }
        plans.add(new Planned(kind, service.submit(request.build())));
      }
    }

    long succeeded = 0;
    long failedAttempts = 0;
    for (Planned plan : plans) {
      Batch done = service.awaitCompletion(plan.batch().id(), WAIT);
      String context = "seed " + seed + ", " + done.name() + " " + done.status() + " " + done;
      assertTrue(done.isFinished(), context);
      long n = done.progress().total();
      List<Job> jobs = service.getJobs(done.id(), JobQuery.all()).items();
      assertEquals(n, jobs.size(), context);
      assertProgressMatchesJobs(done, jobs, context);
      assertTrue(
          probe.peak(done.id()) <= done.maxConcurrency(),
          "batch limit exceeded (" + probe.peak(done.id()) + "): " + context);
      switch (plan.kind()) {
        case CHECKED, ERROR, HUGE_RESULT, HANG -> {
          assertEquals(BatchStatus.FAILED, done.status(), context);
          assertEquals(new Progress(n, 0, 0, 0, n, 0), done.progress(), context);
          for (Job job : jobs) {
            assertEquals(maxAttempts, job.attempt(), job + " " + context);
            assertEquals(Optional.empty(), job.result(), job + " " + context);
            String error = job.error().orElseThrow();
            String expected =
                switch (plan.kind()) {
                  case CHECKED -> "java.io.IOException: checked";
                  case ERROR -> "java.lang.AssertionError: error";
                  case HUGE_RESULT -> "10485760 bytes";
                  default -> "timed out after PT0.05S";
                };
            assertTrue(error.contains(expected), error + " " + context);
          }
          failedAttempts += n * maxAttempts;
        }
        case NULL_RESULT, FLAKY, CALLBACK -> {
          assertEquals(BatchStatus.COMPLETED, done.status(), context);
          assertEquals(new Progress(n, 0, 0, n, 0, 0), done.progress(), context);
          int attempts = plan.kind() == Kind.FLAKY ? 2 : 1;
          for (Job job : jobs) {
            assertEquals(attempts, job.attempt(), job + " " + context);
            if (plan.kind() == Kind.NULL_RESULT) {
              assertEquals(Optional.empty(), job.result(), job + " " + context);
            } else if (plan.kind() == Kind.FLAKY) {
              assertEquals(Optional.of("ok:" + job.payload()), job.result(), context);
            }
          }
          succeeded += n;
          failedAttempts += plan.kind() == Kind.FLAKY ? n : 0;
        }
        case SELF_CANCEL -> {
          assertEquals(BatchStatus.CANCELLED, done.status(), context);
          assertEquals(new Progress(n, 0, 0, 0, 0, n), done.progress(), context);
        }
      }
    }
    for (BatchId child : List.copyOf(children)) {
      Batch done = service.awaitCompletion(child, WAIT);
      assertEquals(BatchStatus.COMPLETED, done.status(), "seed " + seed + ", " + done);
      assertEquals(new Progress(1, 0, 0, 1, 0, 0), done.progress(), "seed " + seed);
      succeeded++;
    }
    assertEquals(List.of(), wrong, "seed " + seed);
    long callbackJobs =
        plans.stream()
            .filter(p -> p.kind() == Kind.CALLBACK)
            .mapToLong(p -> p.batch().progress().total())
            .sum();
    assertEquals(callbackJobs, children.size(), "seed " + seed);
    assertTrue(
        probe.peak() <= maxConcurrency,
        "ran " + probe.peak() + " at once, limit " + maxConcurrency + ", seed " + seed);
    assertEquals(0, probe.overlaps(), "a job ran twice at the same time, seed " + seed);
    BatchStatistics stats = service.statistics();
    assertEquals(succeeded, stats.succeeded(), "seed " + seed + ", " + stats);
    assertEquals(failedAttempts, stats.failed(), "seed " + seed + ", " + stats);
    assertEquals(0, stats.running(), stats.toString());
    assertEquals(0, stats.queued(), stats.toString());
  }

  private static JobProcessor probed(ConcurrencyProbe probe, JobProcessor processor) {
    return ctx -> {
      probe.enter(ctx);
      try {
        return processor.process(ctx);
      } finally {
        probe.exit(ctx);
      }
    };
  }

  /** Every job is counted once, in the status it is stored with. */
  private static void assertProgressMatchesJobs(Batch batch, List<Job> jobs, String context) {
    Map<JobStatus, Long> counted =
        jobs.stream()
            .collect(
                Collectors.groupingBy(
                    Job::status, () -> new EnumMap<>(JobStatus.class), Collectors.counting()));
    for (JobStatus status : JobStatus.values()) {
      assertEquals(
          batch.progress().count(status),
          (long) counted.getOrDefault(status, 0L),
          status + " " + context);
    }
    assertFalse(jobs.stream().anyMatch(j -> !j.status().isFinal()), context);
  }

  // ---------------------------------------------------------------- helpers

  private BatchService keep(BatchService service) {
    services.add(service);
    return service;
  }

  /** The service still runs new work to the end and has no job left running. */
  private static void assertUsable(BatchService service) {
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), WAIT).status());
    assertEquals(0, service.statistics().running());
  }
}
