package io.batchkit.spring.autoconfigure;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchPerformance;
import io.batchkit.BatchQuery;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatistics;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.LeaseState;
import io.batchkit.LeasedJob;
import io.batchkit.Node;
import io.batchkit.Page;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * The auto-configured {@link BatchService} bean: a {@link SmartLifecycle} that builds (and so
 * starts) the real service when the application context starts, and closes it, letting running jobs
 * end, when the context stops, in the phase of Spring's graceful shutdown of the web server. Until
 * it started, every call throws {@link IllegalStateException}; after it stopped, calls get a closed
 * service's answers (an {@code IllegalStateException} too). A context that is paused and started
 * again gets a new service. The web server starts in an earlier phase: a request that arrives
 * before this service started gets the exception.
 *
 * <p>Thread-safe: the delegate is published through a volatile field; starting and stopping are
 * guarded by this object.
 */
final class LifecycleBatchService implements BatchService, SmartLifecycle {
  private static final Logger LOG = LoggerFactory.getLogger(LifecycleBatchService.class);

  /**
   * The phase of Spring Boot's graceful shutdown of the web server ({@code
   * WebServerGracefulShutdownLifecycle}): stopped with it, so that requests and jobs drain at once.
   */
  static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 1024;

  private final Supplier<BatchService> factory;
  private final Consumer<BatchService> afterStart;
  private final Runnable beforeStop;
  private volatile BatchService delegate;

  /** The stop under way or done, guarded by this; null while the service runs (or never ran). */
  private CompletableFuture<Void> stopping;

  /**
   * A service that {@code factory} builds at start; {@code afterStart} is told of it then, and
   * {@code beforeStop} runs before it closes.
   */
  LifecycleBatchService(
      Supplier<BatchService> factory, Consumer<BatchService> afterStart, Runnable beforeStop) {
    this.factory = factory;
    this.afterStart = afterStart;
    this.beforeStop = beforeStop;
  }

  /** Builds and starts the service; after a stop (a context's pause, say), a new one. */
  @Override
  public synchronized void start() {
    if (delegate != null && stopping == null) {
      return; // running
    }
    if (stopping != null) {
      try {
        stopping.join(); // a restart waits until the former service has closed
      } catch (CompletionException e) {
        LOG.warn("the former batchkit service failed to close ({}); starting anew", e.getCause());
      } finally {
        stopping = null;
      }
    }
    BatchService service = factory.get();
    delegate = service;
    afterStart.accept(service);
  }

  /** Closes the service, letting its running jobs end; returns once it has closed. */
  @Override
  public void stop() {
    stopping().join();
  }

  /**
   * Closes the service on a thread of its own, so that the web server's graceful shutdown drains in
   * the same phase; {@code callback} runs once it has closed.
   */
  @Override
  public void stop(Runnable callback) {
    stopping().whenComplete((done, error) -> callback.run());
  }

  /** The stop under way, started if none is; a completed one if the service never started. */
  private synchronized CompletableFuture<Void> stopping() {
    if (stopping != null) {
      return stopping;
    }
    BatchService service = delegate;
    if (service == null) {
      return CompletableFuture.completedFuture(null);
    }
    stopping =
        CompletableFuture.runAsync(
            () -> {
              try {
                beforeStop.run();
              } catch (RuntimeException e) {
                LOG.warn("could not stop what runs beside the batchkit service ({})", e.toString());
              } finally {
                service.close();
              }
            },
            task -> new Thread(task, "batchkit-stop").start());
    return stopping;
  }

  @Override
  public synchronized boolean isRunning() {
    BatchService service = delegate;
    return service != null && stopping == null && !service.isClosed();
  }

  @Override
  public int getPhase() {
    return PHASE;
  }

  /** The started service, or an {@link IllegalStateException} saying why there is none. */
  BatchService service() {
    BatchService service = delegate;
    if (service == null) {
      throw new IllegalStateException(
          "the batchkit service starts with the application context and has not started yet");
    }
    return service;
  }

  @Override
  public Batch createBatch(BatchRequest request) {
    return service().createBatch(request);
  }

  @Override
  public Batch submit(BatchRequest request) {
    return service().submit(request);
  }

  @Override
  public Batch addItems(BatchId id, Collection<String> items) {
    return service().addItems(id, items);
  }

  @Override
  public Batch startBatch(BatchId id) {
    return service().startBatch(id);
  }

  @Override
  public Batch getBatch(BatchId id) {
    return service().getBatch(id);
  }

  @Override
  public Optional<Batch> findBatchByIdempotencyKey(String key) {
    return service().findBatchByIdempotencyKey(key);
  }

  @Override
  public Page<Job> getJobs(BatchId id, JobQuery query) {
    return service().getJobs(id, query);
  }

  @Override
  public Page<Job> listJobs(JobQuery query) {
    return service().listJobs(query);
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id) {
    return service().cancelBatch(id);
  }

  @Override
  public Batch retryFailed(BatchId id) {
    return service().retryFailed(id);
  }

  @Override
  public Batch retryJob(JobId id) {
    return service().retryJob(id);
  }

  @Override
  public List<Batch> retryJobs(Collection<JobId> ids) {
    return service().retryJobs(ids);
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    return service().listBatches(query);
  }

  @Override
  public void deleteBatch(BatchId id) {
    service().deleteBatch(id);
  }

  @Override
  public CompletableFuture<Batch> completion(BatchId id) {
    return service().completion(id);
  }

  @Override
  public Batch awaitCompletion(BatchId id, Duration timeout) {
    return service().awaitCompletion(id, timeout);
  }

  @Override
  public List<LeasedJob> poll(String jobType, int maxJobs, Duration lease) {
    return service().poll(jobType, maxJobs, lease);
  }

  @Override
  public List<LeasedJob> poll(String jobType, int maxJobs, Duration lease, Duration wait) {
    return service().poll(jobType, maxJobs, lease, wait);
  }

  @Override
  public boolean complete(String token, String result) {
    return service().complete(token, result);
  }

  @Override
  public boolean fail(String token, String error, boolean retryable) {
    return service().fail(token, error, retryable);
  }

  @Override
  public boolean release(String token) {
    return service().release(token);
  }

  @Override
  public LeaseState extend(String token, Duration lease) {
    return service().extend(token, lease);
  }

  @Override
  public BatchStatistics statistics() {
    return service().statistics();
  }

  @Override
  public String nodeId() {
    return service().nodeId();
  }

  @Override
  public List<Node> nodes() {
    return service().nodes();
  }

  @Override
  public List<BatchEvent> getBatchEvents(BatchId id) {
    return service().getBatchEvents(id);
  }

  @Override
  public List<JobAttempt> getJobHistory(JobId id) {
    return service().getJobHistory(id);
  }

  @Override
  public BatchPerformance getBatchPerformance(BatchId id) {
    return service().getBatchPerformance(id);
  }

  @Override
  public boolean isClosed() {
    BatchService service = delegate;
    return service == null || service.isClosed();
  }

  /**
   * Closes the service and returns once it has closed (the context's stop does it too, and the
   * context's close calls this again: it then waits for that stop).
   */
  @Override
  public void close() {
    stop();
  }

  @Override
  public String toString() {
    BatchService service = delegate;
    return "LifecycleBatchService{" + (service == null ? "not started" : service.nodeId()) + "}";
  }
}
