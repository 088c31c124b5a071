package io.batchkit;

/**
 * Does the work of one job. One abstract method, so a lambda is enough:
 *
 * <pre>{@code
 * JobProcessor resize = ctx -> images.resize(ctx.payload());
 * }</pre>
 *
 * <p>Called on a batchkit worker thread, possibly by many threads at once for different jobs, so an
 * implementation must be thread-safe. A job may run more than once (after a crash, a lost lease or
 * a retry): make processors idempotent, using {@link JobContext#jobId()} as a key where needed.
 */
@FunctionalInterface
public interface JobProcessor {
  /**
   * Processes one job.
   *
   * @param context the job's payload and its link back to the service
   * @return the job's result, stored with the job (may be null)
   * @throws Exception to fail this attempt; it is retried while attempts remain. An {@link
   *     InterruptedException} after a cancellation ends the job {@link JobStatus#CANCELLED}.
   */
  String process(JobContext context) throws Exception;
}
