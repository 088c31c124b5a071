package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobId;
import io.batchkit.JobProcessor;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.internal.util.Ids;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/** Batches, jobs and services shaped the same way in every benchmark. */
final class Fixtures {
  /** The job type every benchmark runs. */
  static final String NOOP = "noop";

  /** One shared empty payload: the figures are about scheduling, not about payload size. */
  static final String PAYLOAD = "";

  /** The processor of every benchmark: does nothing and stores no result. */
  static final JobProcessor NOOP_PROCESSOR = context -> null;

  /** How long a benchmark waits for a batch before it calls the run a failure. */
  static final Duration AWAIT = Duration.ofMinutes(10);

  private Fixtures() {}

  /** The median of {@code values} (of an even count, the mean of the middle two); NaN if none. */
  static double median(Collection<Double> values) {
    double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    if (sorted.length == 0) {
      return Double.NaN;
    }
    int mid = sorted.length / 2;
    return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  /**
   * Closes each of {@code opened} (clusters, queues), each even if closing one before it failed. A
   * close's exception is added to {@code failure}, the run's own, if there is one; else the first
   * is thrown with the others added to it.
   */
  static void closeAll(List<? extends AutoCloseable> opened, Throwable failure) throws Exception {
    Exception first = null;
    for (AutoCloseable each : opened) {
      try {
        each.close();
      } catch (Exception e) {
        if (failure != null) {
          failure.addSuppressed(e);
        } else if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  /** {@code n} payloads, as a user hands them to {@code BatchRequest.Builder.items}. */
  static List<String> payloads(int n) {
    return Collections.nCopies(n, PAYLOAD);
  }

  /** {@code n} new jobs with fresh ids and the shared payload, as the service builds them. */
  static List<NewJob> newJobs(int n) {
    // one run of consecutive time-ordered ids, as the service gives a batch's jobs
    UUID first = Ids.nextRun(n);
    List<NewJob> jobs = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      UUID id = new UUID(first.getMostSignificantBits(), first.getLeastSignificantBits() + i);
      jobs.add(new NewJob(new JobId(id), PAYLOAD));
    }
    return jobs;
  }

  /**
   * A new batch record of {@code n} no-op jobs, all queued, as {@code BatchService.createBatch}
   * builds it: {@code PROCESSING} when {@code started}, else {@code PENDING}.
   */
  static Batch newBatch(int n, int maxConcurrency, boolean started) {
    Instant now = Instant.now();
    return new Batch(
        BatchId.random(),
        "bench",
        NOOP,
        Priority.NORMAL,
        Map.of(),
        maxConcurrency,
        1,
        Duration.ofMinutes(15),
        FailurePolicy.never(),
        Optional.empty(),
        started ? BatchStatus.PROCESSING : BatchStatus.PENDING,
        Progress.allQueued(n),
        now,
        started ? Optional.of(now) : Optional.empty(),
        now,
        Optional.empty(),
        Optional.empty());
  }

  /** Stores a batch of {@code n} no-op jobs straight through the SPI; returns its id. */
  static BatchId insert(JobStore store, int n, int maxConcurrency, boolean started) {
    Batch batch = newBatch(n, maxConcurrency, started);
    store.insertBatch(batch, newJobs(n));
    return batch.id();
  }

  /**
   * A service that runs {@link #NOOP} jobs on {@code store}, {@code maxConcurrency} at once, every
   * other setting at its default.
   */
  static BatchService service(JobStore store, int maxConcurrency) {
    return service(store, maxConcurrency, NOOP_PROCESSOR);
  }

  /** A service that runs {@link #NOOP} jobs with {@code processor}, settings at their defaults. */
  static BatchService service(JobStore store, int maxConcurrency, JobProcessor processor) {
    return BatchService.builder()
        .store(store)
        .processor(NOOP, processor)
        .discoverProcessors(false)
        .maxConcurrency(maxConcurrency)
        .build();
  }

  /** Throws unless the batch ended with every job succeeded: a figure for a failed run is void. */
  static Batch requireCompleted(Batch batch, long jobs) {
    if (batch.status() != BatchStatus.COMPLETED || batch.progress().succeeded() != jobs) {
      throw new IllegalStateException(
          "batch " + batch.id() + " did not complete all " + jobs + " jobs: " + batch);
    }
    return batch;
  }
}
