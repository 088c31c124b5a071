package io.batchkit.micrometer;

import io.batchkit.Batch;
import io.batchkit.BatchListener;
import io.batchkit.BatchService;
import io.batchkit.BatchStatistics;
import io.batchkit.JobContext;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.observation.Observation;
import io.micrometer.observation.ObservationRegistry;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Micrometer metrics, and optionally observations, of one {@link BatchService}: a {@link
 * MeterBinder} that is also the {@link BatchListener} it counts with, so that batch-core needs no
 * Micrometer. Add it as a listener when you build the service, bind it to your registry, and let it
 * watch the built service for the gauges:
 *
 * <pre>{@code
 * BatchkitMetrics metrics = BatchkitMetrics.builder().observationRegistry(observations).build();
 * BatchService service = BatchService.builder().listener(metrics) ... .build();
 * metrics.watch(service);
 * metrics.bindTo(meterRegistry);
 * }</pre>
 *
 * <p>Meters (their names are the constants below; no batch or job id is ever a tag, so their number
 * stays bounded by the job types):
 *
 * <ul>
 *   <li>{@value #JOBS_FINISHED}, a counter of ended attempts tagged {@code type} (the job type) and
 *       {@code outcome}: {@code succeeded}, {@code failed} (for good), {@code retried} (failed, to
 *       be tried again), {@code timed-out} (retried or not) or {@code cancelled};
 *   <li>{@value #JOB_DURATION}, a timer of attempts from their start to their end, tagged {@code
 *       type}; it publishes the percentiles given to the builder, and whatever the registry's own
 *       distribution settings ask for;
 *   <li>{@value #JOBS_RUNNING}, a gauge of the jobs running on this service now, and {@value
 *       #JOBS_QUEUED}, of the jobs queued in the store for started batches, on all nodes (both read
 *       from {@link BatchService#statistics()} at most once a second; NaN until {@link #watch});
 *   <li>{@value #BATCHES_FINISHED}, a counter of batches this service finished, tagged {@code
 *       status} ({@code completed}, {@code partial}, {@code failed}, {@code cancelled}).
 * </ul>
 *
 * <p>With an {@link ObservationRegistry}, each attempt is also an observation named {@value
 * #JOB_OBSERVATION}: started when the job starts, stopped when it ends, with the low-cardinality
 * key values {@code type} and {@code outcome} and the high-cardinality ones {@code batch.id},
 * {@code job.id} and {@code attempt} (for traces; a meter handler makes tags of the low-cardinality
 * ones only). The observation is not opened as a scope around the processor. An attempt whose node
 * lost its lease, or that was given back at shutdown, ends without an outcome ({@link
 * BatchListener#jobReleased}): its observation stops with the outcome {@code released}, and it is
 * not counted.
 *
 * <p>Thread-safe: the listener methods run on the service's worker threads.
 */
public final class BatchkitMetrics implements MeterBinder, BatchListener {
  /** Ended attempts, by job type and outcome. */
  public static final String JOBS_FINISHED = "batchkit.jobs.finished";

  /** Attempt durations, by job type. */
  public static final String JOB_DURATION = "batchkit.job.duration";

  /** Jobs running on this service. */
  public static final String JOBS_RUNNING = "batchkit.jobs.running";

  /** Jobs queued in the store for started batches. */
  public static final String JOBS_QUEUED = "batchkit.jobs.queued";

  /** Batches this service finished, by final status. */
  public static final String BATCHES_FINISHED = "batchkit.batches.finished";

  /** The observation of one attempt. */
  public static final String JOB_OBSERVATION = "batchkit.job";

  private static final long STATISTICS_MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final ObservationRegistry observations;
  private final double[] percentiles;
  private final List<Meters> registries = new CopyOnWriteArrayList<>();

  /** The attempts running, by their context; weak, so that one that ends unseen is dropped. */
  private final Map<JobContext, Running> running = new WeakHashMap<>();

  private volatile BatchService watched;
  private volatile Snapshot snapshot;

  private BatchkitMetrics(Builder builder) {
    this.observations = builder.observations;
    this.percentiles = builder.percentiles;
  }

  /** Metrics without observations or percentiles: the same as {@code builder().build()}. */
  public BatchkitMetrics() {
    this(new Builder());
  }

  /** Starts the settings of a {@link BatchkitMetrics}. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Reads the gauges from {@code service} from now on: its jobs running, and the store's jobs
   * queued.
   *
   * @throws NullPointerException if {@code service} is null
   */
  public void watch(BatchService service) {
    this.watched = Objects.requireNonNull(service, "service");
    this.snapshot = null;
  }

  /**
   * Registers the gauges in {@code registry} and counts every later attempt and batch in it too.
   * Binding the same registry twice binds it once.
   *
   * @throws NullPointerException if {@code registry} is null
   */
  @Override
  public void bindTo(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    synchronized (registries) {
      for (Meters bound : registries) {
        if (bound.registry == registry) {
          return;
        }
      }
      Gauge.builder(JOBS_RUNNING, this, m -> m.figure(false))
          .description("Jobs running on this batchkit service")
          .register(registry);
      Gauge.builder(JOBS_QUEUED, this, m -> m.figure(true))
          .description("Jobs queued in the store for started batches, on all nodes")
          .register(registry);
      registries.add(new Meters(registry));
    }
  }

  // ------------------------------------------------------------------ the listener

  @Override
  public void jobStarted(JobContext job) {
    Observation observation = null;
    if (observations != null && !observations.isNoop()) {
      observation =
          Observation.createNotStarted(JOB_OBSERVATION, observations)
              .lowCardinalityKeyValue("type", job.jobType())
              .highCardinalityKeyValue("batch.id", job.batchId().toString())
              .highCardinalityKeyValue("job.id", job.jobId().toString())
              .highCardinalityKeyValue("attempt", Integer.toString(job.attempt()))
              .start();
    }
    synchronized (running) {
      running.put(job, new Running(System.nanoTime(), observation));
    }
  }

  @Override
  public void jobSucceeded(JobContext job, String result) {
    ended(job, "succeeded", null);
  }

  @Override
  public void jobFailed(JobContext job, Throwable error, boolean willRetry) {
    // timed out: the service stopped it for its time-out (a processor's own TimeoutException, from
    // a Future.get say, is an ordinary failure)
    boolean timedOut = error instanceof TimeoutException && job.isCancelled();
    String outcome = timedOut ? "timed-out" : willRetry ? "retried" : "failed";
    ended(job, outcome, error);
  }

  /** An attempt that ended without an outcome: its observation stops; nothing is counted. */
  @Override
  public void jobReleased(JobContext job) {
    Running attempt;
    synchronized (running) {
      attempt = running.remove(job);
    }
    if (attempt != null && attempt.observation != null) {
      attempt.observation.lowCardinalityKeyValue("outcome", "released").stop();
    }
  }

  @Override
  public void jobCancelled(JobContext job) {
    ended(job, "cancelled", null);
  }

  @Override
  public void batchFinished(Batch batch) {
    String status = batch.status().name().toLowerCase(Locale.ROOT);
    for (Meters meters : registries) {
      meters.batchesFinished(status).increment();
    }
  }

  private void ended(JobContext job, String outcome, Throwable error) {
    Running attempt;
    synchronized (running) {
      attempt = running.remove(job);
    }
    String type = job.jobType();
    for (Meters meters : registries) {
      meters.jobsFinished(type, outcome).increment();
      if (attempt != null) {
        meters.duration(type).record(System.nanoTime() - attempt.startNanos, TimeUnit.NANOSECONDS);
      }
    }
    if (attempt != null && attempt.observation != null) {
      attempt.observation.lowCardinalityKeyValue("outcome", outcome);
      if (error != null) {
        attempt.observation.error(error);
      }
      attempt.observation.stop();
    }
  }

  /**
   * The queued or running figure of the watched service, read at most once a second; NaN while the
   * store does not answer (a failed read is kept for a second too, so that a scrape during an
   * outage does not wait on the database once per gauge).
   */
  private double figure(boolean queued) {
    BatchService service = watched;
    if (service == null || service.isClosed()) {
      return Double.NaN;
    }
    Snapshot last = snapshot;
    long now = System.nanoTime();
    if (last == null || now - last.nanos > STATISTICS_MAX_AGE_NANOS) {
      BatchStatistics statistics;
      try {
        statistics = service.statistics();
      } catch (RuntimeException e) {
        statistics = null; // the store is down: the gauges show no figure rather than a stale one
      }
      last = new Snapshot(now, statistics);
      snapshot = last;
    }
    if (last.statistics == null) {
      return Double.NaN;
    }
    return queued ? last.statistics.queued() : last.statistics.running();
  }

  private record Running(long startNanos, Observation observation) {}

  /** The figures read at {@code nanos}; null statistics when the read failed. */
  private record Snapshot(long nanos, BatchStatistics statistics) {}

  /** The meters of one registry, each made once per tag values. */
  private final class Meters {
    final MeterRegistry registry;
    final Map<String, Counter> finished = new ConcurrentHashMap<>();
    final Map<String, Timer> durations = new ConcurrentHashMap<>();
    final Map<String, Counter> batches = new ConcurrentHashMap<>();

    Meters(MeterRegistry registry) {
      this.registry = registry;
    }

    Counter jobsFinished(String type, String outcome) {
      return finished.computeIfAbsent(
          type + '\u0000' + outcome,
          k ->
              Counter.builder(JOBS_FINISHED)
                  .description("Ended job attempts, by job type and outcome")
                  .tag("type", type)
                  .tag("outcome", outcome)
                  .register(registry));
    }

    Timer duration(String type) {
      return durations.computeIfAbsent(
          type,
          k -> {
            Timer.Builder timer =
                Timer.builder(JOB_DURATION)
                    .description("Job attempts from their start to their end, by job type")
                    .tag("type", type);
            if (percentiles.length > 0) {
              timer.publishPercentiles(percentiles);
            }
            return timer.register(registry);
          });
    }

    Counter batchesFinished(String status) {
      return batches.computeIfAbsent(
          status,
          k ->
              Counter.builder(BATCHES_FINISHED)
                  .description("Batches this service finished, by final status")
                  .tag("status", status)
                  .register(registry));
    }
  }

  /** The settings of a {@link BatchkitMetrics}; each setter checks its argument at once. */
  public static final class Builder {
    private ObservationRegistry observations;
    private double[] percentiles = new double[0];

    private Builder() {}

    /**
     * Makes each attempt an observation in {@code registry} (see the class comment).
     *
     * @throws NullPointerException if {@code registry} is null
     */
    public Builder observationRegistry(ObservationRegistry registry) {
      this.observations = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /**
     * Makes {@value BatchkitMetrics#JOB_DURATION} publish these percentiles (for example 0.5, 0.95,
     * 0.99), computed in this process.
     *
     * @throws NullPointerException if {@code percentiles} is null
     * @throws IllegalArgumentException if one is not within [0, 1]
     */
    public Builder publishPercentiles(double... percentiles) {
      Objects.requireNonNull(percentiles, "percentiles");
      for (double p : percentiles) {
        if (!(p >= 0 && p <= 1)) {
          throw new IllegalArgumentException("a percentile must be within [0, 1], was " + p);
        }
      }
      this.percentiles = Arrays.copyOf(percentiles, percentiles.length);
      return this;
    }

    /** Returns the metrics. */
    public BatchkitMetrics build() {
      return new BatchkitMetrics(this);
    }
  }
}
