package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * What to run: a job type, one payload per job, and how the batch should behave. Made by {@link
 * #builder(String)}; immutable once built.
 *
 * <pre>{@code
 * BatchRequest request = BatchRequest.builder("thumbnail")
 *     .name("October uploads")
 *     .items(List.of("img-1.png", "img-2.png"))
 *     .maxConcurrency(4)
 *     .autoStart()
 *     .build();
 * }</pre>
 *
 * <p>Settings left out take the service's defaults when the batch is created.
 *
 * @param jobType selects the {@link JobProcessor}
 * @param name a human-readable name (default: the job type)
 * @param items one payload per job, in order
 * @param metadata the caller's key/value pairs, handed to every job
 * @param priority how urgently the jobs run
 * @param maxConcurrency jobs of this batch running at once, if set
 * @param maxAttempts attempts per job, if set
 * @param jobTimeout time allowed per attempt, if set
 * @param failurePolicy when the batch is aborted because too many jobs failed
 * @param idempotencyKey a key that makes creating the batch again return the first one
 * @param autoStart whether the batch starts as soon as it is created
 * @param startAt when the batch starts by itself, if set: see {@link Builder#startAt}
 * @param webhooks the addresses told when this batch starts, is cancelled or finishes, besides the
 *     service's own: see {@link Builder#webhook}
 */
public record BatchRequest(
    String jobType,
    String name,
    List<String> items,
    Map<String, String> metadata,
    Priority priority,
    OptionalInt maxConcurrency,
    OptionalInt maxAttempts,
    Optional<Duration> jobTimeout,
    FailurePolicy failurePolicy,
    Optional<String> idempotencyKey,
    boolean autoStart,
    Optional<Instant> startAt,
    List<Webhook> webhooks) {

  /** The longest job type, in characters. */
  public static final int MAX_JOB_TYPE_LENGTH = 100;

  /** The longest name, in characters. */
  public static final int MAX_NAME_LENGTH = 200;

  /** The longest metadata key, in characters. */
  public static final int MAX_METADATA_KEY_LENGTH = 100;

  /** The longest metadata value, in characters. */
  public static final int MAX_METADATA_VALUE_LENGTH = 1_000;

  /** The most metadata entries. */
  public static final int MAX_METADATA_ENTRIES = 64;

  /** The longest idempotency key, in characters. */
  public static final int MAX_IDEMPOTENCY_KEY_LENGTH = 200;

  /** The shortest job timeout: 1 millisecond, the precision durable stores keep. */
  public static final Duration MIN_JOB_TIMEOUT = Duration.ofMillis(1);

  /** The longest job timeout: 365 days (longer ones would overflow timers or stored columns). */
  public static final Duration MAX_JOB_TIMEOUT = Duration.ofDays(365);

  /** The earliest scheduled start: the Unix epoch (an earlier time starts the batch at once). */
  public static final Instant MIN_START_AT = Instant.EPOCH;

  /** The latest scheduled start: the end of year 9999, the last every database stores. */
  public static final Instant MAX_START_AT = Instant.parse("9999-12-31T23:59:59Z");

  /** The highest per-batch concurrency. */
  public static final int MAX_CONCURRENCY = 10_000;

  /** The most attempts per job. */
  public static final int MAX_ATTEMPTS = 100;

  /**
   * Creates a request; copies the collections. Checks the same rules as the {@link Builder}'s
   * setters, so that a request made either way is valid; prefer {@link #builder(String)}, which
   * reports a bad setting as it is given.
   *
   * @throws NullPointerException if a component, an item, a metadata key or value, or a webhook is
   *     null
   * @throws BatchValidationException naming every rule broken: no items, a blank or too long job
   *     type, name or idempotency key, bad metadata (a blank or too long key, a too long or
   *     unstorable value, too many entries), a {@code maxConcurrency}, {@code maxAttempts}, {@code
   *     jobTimeout} or {@code startAt} out of its range, or more than {@value
   *     Webhook#MAX_PER_BATCH} webhooks
   */
  public BatchRequest {
    Checks.notNull(jobType, "jobType");
    Checks.notNull(name, "name");
    items = List.copyOf(Checks.notNull(items, "items"));
    metadata = Map.copyOf(Checks.notNull(metadata, "metadata"));
    Checks.notNull(priority, "priority");
    Checks.notNull(maxConcurrency, "maxConcurrency");
    Checks.notNull(maxAttempts, "maxAttempts");
    Checks.notNull(jobTimeout, "jobTimeout");
    Checks.notNull(failurePolicy, "failurePolicy");
    Checks.notNull(idempotencyKey, "idempotencyKey");
    Checks.notNull(startAt, "startAt");
    webhooks = List.copyOf(Checks.notNull(webhooks, "webhooks"));
    List<BatchValidationException.Violation> violations = new ArrayList<>();
    if (webhooks.size() > Webhook.MAX_PER_BATCH) {
      violations.add(
          new BatchValidationException.Violation(
              "webhooks",
              "a batch has at most "
                  + Webhook.MAX_PER_BATCH
                  + " webhooks, had "
                  + webhooks.size()));
    }
    check(violations, "jobType", () -> Checks.notBlank(jobType, "jobType", MAX_JOB_TYPE_LENGTH));
    check(violations, "name", () -> Checks.notBlank(name, "name", MAX_NAME_LENGTH));
    if (items.isEmpty()) {
      violations.add(
          new BatchValidationException.Violation("items", "at least one item is required"));
    }
    if (metadata.size() > MAX_METADATA_ENTRIES) {
      violations.add(
          new BatchValidationException.Violation(
              "metadata",
              "metadata must have at most "
                  + MAX_METADATA_ENTRIES
                  + " entries, had "
                  + metadata.size()));
    }
    metadata.forEach(
        (key, value) -> {
          check(
              violations,
              "metadata",
              () -> Checks.notBlank(key, "metadata key", MAX_METADATA_KEY_LENGTH));
          String field = "metadata[" + key + "]";
          check(violations, field, () -> Checks.maxLength(value, field, MAX_METADATA_VALUE_LENGTH));
          check(violations, field, () -> Checks.storable(value, field));
        });
    maxConcurrency.ifPresent(
        n ->
            check(
                violations,
                "maxConcurrency",
                () -> Checks.between(n, 1, MAX_CONCURRENCY, "maxConcurrency")));
    maxAttempts.ifPresent(
        n ->
            check(
                violations,
                "maxAttempts",
                () -> Checks.between(n, 1, MAX_ATTEMPTS, "maxAttempts")));
    jobTimeout.ifPresent(
        t ->
            check(
                violations,
                "jobTimeout",
                () -> Checks.between(t, MIN_JOB_TIMEOUT, MAX_JOB_TIMEOUT, "jobTimeout")));
    startAt.ifPresent(
        at -> {
          if (at.isBefore(MIN_START_AT) || at.isAfter(MAX_START_AT)) {
            violations.add(
                new BatchValidationException.Violation(
                    "startAt", "startAt must be between " + MIN_START_AT + " and " + MAX_START_AT));
          }
        });
    idempotencyKey.ifPresent(
        key ->
            check(
                violations,
                "idempotencyKey",
                () -> Checks.notBlank(key, "idempotencyKey", MAX_IDEMPOTENCY_KEY_LENGTH)));
    if (!violations.isEmpty()) {
      throw new BatchValidationException(violations);
    }
  }

  /**
   * Creates a request without webhooks of its own: the form of the record before webhooks existed.
   *
   * @throws NullPointerException as the canonical constructor
   * @throws BatchValidationException as the canonical constructor
   */
  public BatchRequest(
      String jobType,
      String name,
      List<String> items,
      Map<String, String> metadata,
      Priority priority,
      OptionalInt maxConcurrency,
      OptionalInt maxAttempts,
      Optional<Duration> jobTimeout,
      FailurePolicy failurePolicy,
      Optional<String> idempotencyKey,
      boolean autoStart,
      Optional<Instant> startAt) {
    this(
        jobType,
        name,
        items,
        metadata,
        priority,
        maxConcurrency,
        maxAttempts,
        jobTimeout,
        failurePolicy,
        idempotencyKey,
        autoStart,
        startAt,
        List.of());
  }

  /** Runs one of the builder's checks and records its complaint, if any, as a violation. */
  private static void check(
      List<BatchValidationException.Violation> violations, String field, Runnable rule) {
    try {
      rule.run();
    } catch (IllegalArgumentException e) {
      violations.add(new BatchValidationException.Violation(field, e.getMessage()));
    }
  }

  /**
   * Starts a request for jobs of {@code jobType}.
   *
   * @throws NullPointerException if {@code jobType} is null
   * @throws IllegalArgumentException if it is blank or longer than {@value #MAX_JOB_TYPE_LENGTH}
   *     characters
   */
  public static Builder builder(String jobType) {
    return new Builder(jobType);
  }

  /**
   * Builds a {@link BatchRequest}. Each setter checks its argument at once; {@link #build()} checks
   * that there is at least one item. Not thread-safe.
   */
  public static final class Builder {
    private final String jobType;
    private String name;
    private final List<String> items = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private Priority priority = Priority.NORMAL;
    private OptionalInt maxConcurrency = OptionalInt.empty();
    private OptionalInt maxAttempts = OptionalInt.empty();
    private Optional<Duration> jobTimeout = Optional.empty();
    private FailurePolicy failurePolicy = FailurePolicy.never();
    private Optional<String> idempotencyKey = Optional.empty();
    private boolean autoStart;
    private Optional<Instant> startAt = Optional.empty();
    private final List<Webhook> webhooks = new ArrayList<>();

    private Builder(String jobType) {
      this.jobType = Checks.notBlank(jobType, "jobType", MAX_JOB_TYPE_LENGTH);
    }

    /**
     * Sets a human-readable name (default: the job type). The last call wins.
     *
     * @throws NullPointerException if {@code name} is null
     * @throws IllegalArgumentException if it is blank or longer than {@value #MAX_NAME_LENGTH}
     *     characters
     */
    public Builder name(String name) {
      this.name = Checks.notBlank(name, "name", MAX_NAME_LENGTH);
      return this;
    }

    /**
     * Adds one job whose payload is {@code payload}, stored and handed to the processor verbatim.
     *
     * @throws NullPointerException if {@code payload} is null
     */
    public Builder item(String payload) {
      items.add(Checks.notNull(payload, "items[" + items.size() + "]"));
      return this;
    }

    /**
     * Adds one job per payload, in iteration order.
     *
     * @throws NullPointerException if {@code payloads} or one of them is null; then none is added
     */
    public Builder items(Collection<String> payloads) {
      Checks.notNull(payloads, "items");
      int index = items.size();
      for (String payload : payloads) {
        if (payload == null) { // the field's name is made only when it is needed
          Checks.notNull(payload, "items[" + index + "]");
        }
        index++;
      }
      items.addAll(payloads);
      return this;
    }

    /**
     * Adds a metadata pair, handed to every job through {@link JobContext#batchMetadata()}.
     *
     * @throws NullPointerException if {@code key} or {@code value} is null
     * @throws IllegalArgumentException if the key is blank or over {@value
     *     #MAX_METADATA_KEY_LENGTH} characters, the value over {@value #MAX_METADATA_VALUE_LENGTH},
     *     the key was already given, or there would be more than {@value #MAX_METADATA_ENTRIES}
     *     entries
     */
    public Builder metadata(String key, String value) {
      Checks.notBlank(key, "metadata key", MAX_METADATA_KEY_LENGTH);
      Checks.maxLength(value, "metadata[" + key + "]", MAX_METADATA_VALUE_LENGTH);
      Checks.storable(value, "metadata[" + key + "]");
      if (metadata.containsKey(key)) {
        throw new IllegalArgumentException("metadata key '" + key + "' was already given");
      }
      if (metadata.size() >= MAX_METADATA_ENTRIES) {
        throw new IllegalArgumentException(
            "metadata must have at most " + MAX_METADATA_ENTRIES + " entries");
      }
      metadata.put(key, value);
      return this;
    }

    /**
     * Sets the priority (default {@link Priority#NORMAL}).
     *
     * @throws NullPointerException if {@code priority} is null
     */
    public Builder priority(Priority priority) {
      this.priority = Checks.notNull(priority, "priority");
      return this;
    }

    /**
     * Sets how many of this batch's jobs may run at once, over all nodes (default: the service's
     * {@code defaultBatchConcurrency}, 3 unless configured).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and {@value #MAX_CONCURRENCY}
     */
    public Builder maxConcurrency(int n) {
      this.maxConcurrency = OptionalInt.of(Checks.between(n, 1, MAX_CONCURRENCY, "maxConcurrency"));
      return this;
    }

    /**
     * Sets how many times a job is tried before it fails for good (default: the service's {@code
     * defaultMaxAttempts}, 3 unless configured).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and {@value #MAX_ATTEMPTS}
     */
    public Builder maxAttempts(int n) {
      this.maxAttempts = OptionalInt.of(Checks.between(n, 1, MAX_ATTEMPTS, "maxAttempts"));
      return this;
    }

    /**
     * Sets how long one attempt may run before it is interrupted and counted as failed (default:
     * the service's {@code defaultJobTimeout}).
     *
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if it is not between {@link #MIN_JOB_TIMEOUT} (1 ms) and
     *     {@link #MAX_JOB_TIMEOUT} (365 days)
     */
    public Builder jobTimeout(Duration timeout) {
      this.jobTimeout =
          Optional.of(Checks.between(timeout, MIN_JOB_TIMEOUT, MAX_JOB_TIMEOUT, "jobTimeout"));
      return this;
    }

    /**
     * Sets when to abort the batch because too many jobs failed (default {@link
     * FailurePolicy#never()}).
     *
     * @throws NullPointerException if {@code policy} is null
     */
    public Builder failurePolicy(FailurePolicy policy) {
      this.failurePolicy = Checks.notNull(policy, "failurePolicy");
      return this;
    }

    /**
     * Sets a key that makes this request idempotent: creating a batch with a key that a stored
     * batch already has returns that batch and creates nothing.
     *
     * @throws NullPointerException if {@code key} is null
     * @throws IllegalArgumentException if it is blank or over {@value #MAX_IDEMPOTENCY_KEY_LENGTH}
     *     characters
     */
    public Builder idempotencyKey(String key) {
      this.idempotencyKey =
          Optional.of(Checks.notBlank(key, "idempotencyKey", MAX_IDEMPOTENCY_KEY_LENGTH));
      return this;
    }

    /**
     * Schedules the batch's start: it is created {@code PENDING}, by {@link BatchService#submit}
     * too, and becomes {@code PROCESSING} at {@code time} (within about a second), started by
     * whichever service sharing the store is up then; the schedule is stored with the batch, so a
     * restart loses nothing. {@link BatchService#startBatch} before that time starts it at once. A
     * time that has passed when the batch is created starts it at once, as {@link #autoStart()}.
     *
     * @throws NullPointerException if {@code time} is null
     * @throws IllegalArgumentException if it is before {@link #MIN_START_AT} or after {@link
     *     #MAX_START_AT}
     */
    public Builder startAt(Instant time) {
      Checks.notNull(time, "startAt");
      if (time.isBefore(MIN_START_AT) || time.isAfter(MAX_START_AT)) {
        throw new IllegalArgumentException(
            "startAt must be between " + MIN_START_AT + " and " + MAX_START_AT);
      }
      this.startAt = Optional.of(time);
      return this;
    }

    /**
     * Adds an address told when this batch finishes, whatever its final status: see {@link
     * Webhook}. The service that creates the batch adds its own webhooks ({@link
     * BatchService.Builder#webhook}) and signs every notification with its {@link
     * BatchService.Builder#webhookSecret secret}; a service without one refuses the batch.
     *
     * @throws NullPointerException if {@code url} is null
     * @throws IllegalArgumentException if {@code url} is not an absolute {@code http} or {@code
     *     https} address (see {@link Webhook}), or the request has {@value Webhook#MAX_PER_BATCH}
     *     webhooks already
     */
    public Builder webhook(URI url) {
      return webhook(Webhook.onFinish(url));
    }

    /**
     * Adds a webhook told of the given events of this batch (among {@link Webhook#EVENTS}: started,
     * cancelled, finished); see {@link #webhook(URI)}.
     *
     * @throws NullPointerException if {@code webhook} is null
     * @throws IllegalArgumentException if the request has {@value Webhook#MAX_PER_BATCH} webhooks
     *     already
     */
    public Builder webhook(Webhook webhook) {
      Checks.notNull(webhook, "webhook");
      if (webhooks.size() >= Webhook.MAX_PER_BATCH) {
        throw new IllegalArgumentException(
            "a batch has at most " + Webhook.MAX_PER_BATCH + " webhooks");
      }
      webhooks.add(webhook);
      return this;
    }

    /** Makes {@link BatchService#createBatch} start the batch too, in the same atomic step. */
    public Builder autoStart() {
      this.autoStart = true;
      return this;
    }

    /**
     * Returns the request.
     *
     * @throws BatchValidationException if no item was added
     */
    public BatchRequest build() {
      return new BatchRequest(
          jobType,
          name == null ? jobType : name,
          items,
          metadata,
          priority,
          maxConcurrency,
          maxAttempts,
          jobTimeout,
          failurePolicy,
          idempotencyKey,
          autoStart,
          startAt,
          webhooks);
    }

    @Override
    public String toString() {
      return "BatchRequest.Builder{jobType="
          + jobType
          + ", items="
          + items.size()
          + (name == null ? "" : ", name=" + name)
          + (metadata.isEmpty() ? "" : ", metadata=" + metadata.keySet())
          + ", priority="
          + priority
          + (maxConcurrency.isPresent() ? ", maxConcurrency=" + maxConcurrency.getAsInt() : "")
          + (maxAttempts.isPresent() ? ", maxAttempts=" + maxAttempts.getAsInt() : "")
          + jobTimeout.map(t -> ", jobTimeout=" + t).orElse("")
          + (autoStart ? ", autoStart" : "")
          + startAt.map(t -> ", startAt=" + t).orElse("")
          + (webhooks.isEmpty() ? "" : ", webhooks=" + webhooks.size())
          + "}";
    }
  }

  /** Returns a description without the payloads, which may be large or sensitive. */
  @Override
  public String toString() {
    return "BatchRequest{jobType="
        + jobType
        + ", name="
        + name
        + ", items="
        + items.size()
        + ", priority="
        + priority
        + ", autoStart="
        + autoStart
        + "}";
  }
}
