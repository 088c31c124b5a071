package io.batchkit.internal.scheduler;

import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The service's running figures. Written by worker threads without locks: counters are {@link
 * LongAdder}s, recent durations a ring of the last {@value #SAMPLES} attempts, throughput a ring of
 * one-second buckets over the last minute, and the jobs ended in the last hour (succeeded, failed
 * for good; reported with the node's heartbeat) a ring of one-minute buckets.
 */
final class Stats {
  static final int SAMPLES = 1024;
  private static final int WINDOW_SECONDS = 60;

  private final LongAdder succeeded = new LongAdder();
  private final LongAdder failed = new LongAdder();
  private final AtomicLongArray durations = new AtomicLongArray(SAMPLES);
  private final AtomicLong next = new AtomicLong();
  private final AtomicLongArray bucketSecond = new AtomicLongArray(WINDOW_SECONDS);
  private final AtomicLongArray bucketCount = new AtomicLongArray(WINDOW_SECONDS);
  private final long startedSecond;

  private static final int HOUR_MINUTES = 60;
  private final AtomicLongArray minuteStamp = new AtomicLongArray(HOUR_MINUTES);
  private final AtomicLongArray minuteSucceeded = new AtomicLongArray(HOUR_MINUTES);
  private final AtomicLongArray minuteFailed = new AtomicLongArray(HOUR_MINUTES);

  Stats(long nowSecond) {
    this.startedSecond = nowSecond;
  }

  void record(boolean success, long durationNanos, long nowSecond) {
    (success ? succeeded : failed).increment();
    int slot = (int) (next.getAndIncrement() & (SAMPLES - 1));
    durations.set(slot, durationNanos);
    int bucket = (int) Math.floorMod(nowSecond, (long) WINDOW_SECONDS);
    long stamp = bucketSecond.get(bucket);
    if (stamp != nowSecond && bucketSecond.compareAndSet(bucket, stamp, nowSecond)) {
      bucketCount.set(bucket, 0);
    }
    bucketCount.incrementAndGet(bucket);
  }

  /**
   * Counts a job that ended for good in minute {@code nowMinute} (epoch minutes): succeeded, or
   * failed with no attempt left. A bucket is reset by the first count of its new minute; a count
   * racing that reset may be lost, and a reader racing it may briefly see the hour-old counts under
   * the new minute: the hourly figure is an estimate, and says so.
   */
  void ended(boolean success, long nowMinute) {
    int bucket = (int) Math.floorMod(nowMinute, (long) HOUR_MINUTES);
    long stamp = minuteStamp.get(bucket);
    if (stamp != nowMinute && minuteStamp.compareAndSet(bucket, stamp, nowMinute)) {
      minuteSucceeded.set(bucket, 0);
      minuteFailed.set(bucket, 0);
    }
    (success ? minuteSucceeded : minuteFailed).incrementAndGet(bucket);
  }

  /** Returns the jobs that succeeded and that failed for good in the last 60 minutes. */
  long[] endedLastHour(long nowMinute) {
    long succeededHour = 0;
    long failedHour = 0;
    for (int i = 0; i < HOUR_MINUTES; i++) {
      long age = nowMinute - minuteStamp.get(i);
      if (age >= 0 && age < HOUR_MINUTES) {
        succeededHour += minuteSucceeded.get(i);
        failedHour += minuteFailed.get(i);
      }
    }
    return new long[] {succeededHour, failedHour};
  }

  long succeeded() {
    return succeeded.sum();
  }

  long failed() {
    return failed.sum();
  }

  /** Attempts ended per second over the last minute, or since start if that is shorter. */
  double throughput(long nowSecond) {
    long total = 0;
    for (int i = 0; i < WINDOW_SECONDS; i++) {
      long age = nowSecond - bucketSecond.get(i);
      if (age >= 0 && age < WINDOW_SECONDS) {
        total += bucketCount.get(i);
      }
    }
    long span = Math.min(WINDOW_SECONDS, Math.max(1, nowSecond - startedSecond + 1));
    return (double) total / span;
  }

  /** Returns the 50th, 95th and 99th percentile of recent attempt durations. */
  Duration[] percentiles() {
    int count = (int) Math.min(next.get(), SAMPLES);
    long[] sample = new long[count];
    for (int i = 0; i < count; i++) {
      sample[i] = durations.get(i);
    }
    Arrays.sort(sample);
    return new Duration[] {at(sample, 0.50), at(sample, 0.95), at(sample, 0.99)};
  }

  private static Duration at(long[] sorted, double quantile) {
    if (sorted.length == 0) {
      return Duration.ZERO;
    }
    int index = (int) Math.ceil(quantile * sorted.length) - 1;
    return Duration.ofNanos(sorted[Math.max(0, Math.min(sorted.length - 1, index))]);
  }
}
