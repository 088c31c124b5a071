package io.batchkit.spi;

import static io.batchkit.spi.JobStoreContractTest.at;
import static io.batchkit.spi.JobStoreContractTest.batch;
import static io.batchkit.spi.JobStoreContractTest.jobs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import io.batchkit.spi.JobOutcome.Kind;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link JobStore#listJobs(JobQuery)}: the jobs of every batch, filtered by status,
 * the batch's job type and metadata and the job's finish time, by job id highest first, paged.
 * Ships in batch-core's test-jar; a store joins by extending it.
 */
public abstract class JobListContractTest {
  /** The store under test: a fresh one, or an emptied one, per test. */
  protected JobStore store;

  /** Returns a new, empty store. Called once before each test. */
  protected abstract JobStore newStore();

  @BeforeEach
  void createStore() {
    store = newStore();
  }

  /** Closes the store when it is {@link AutoCloseable} (a subclass that shares one overrides). */
  @AfterEach
  protected void closeStore() throws Exception {
    if (store instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }

  @Test
  void failedJobsOfEveryBatch_newestFirst_byJobId() {
    BatchId a = insert(batch(3).jobType("video").metadata("tenant", "acme"));
    BatchId b = insert(batch(2).jobType("mail").metadata("tenant", "other"));
    List<JobId> failed = new ArrayList<>();
    failed.addAll(end(a, "video", at(10), Kind.FAILED, Kind.SUCCEEDED, Kind.FAILED));
    failed.addAll(end(b, "mail", at(20), Kind.FAILED, Kind.SUCCEEDED));

    Page<Job> page = store.listJobs(JobQuery.withStatus(JobStatus.FAILED));

    failed.sort(
        Comparator.comparing((JobId id) -> id.value(), JobListContractTest::unsigned).reversed());
    assertEquals(failed, ids(page.items()));
    assertFalse(page.hasMore());
    assertTrue(page.items().stream().allMatch(j -> j.status() == JobStatus.FAILED));
  }

  @Test
  void filtersByTheBatchsJobTypeAndMetadata() {
    BatchId acmeVideo = insert(batch(1).jobType("video").metadata("tenant", "acme"));
    BatchId otherVideo = insert(batch(1).jobType("video").metadata("tenant", "other"));
    BatchId acmeMail =
        insert(batch(1).jobType("mail").metadata("tenant", "acme").metadata("env", "prod"));
    end(acmeVideo, "video", at(1), Kind.FAILED);
    end(otherVideo, "video", at(1), Kind.FAILED);
    end(acmeMail, "mail", at(1), Kind.FAILED);

    assertEquals(
        List.of(acmeVideo),
        batches(store.listJobs(JobQuery.all().jobType("video").metadata("tenant", "acme"))));
    assertEquals(
        List.of(acmeMail),
        batches(store.listJobs(JobQuery.all().metadata("tenant", "acme").metadata("env", "prod"))));
    assertEquals(3, store.listJobs(JobQuery.withStatus(JobStatus.FAILED)).items().size());
    assertEquals(0, store.listJobs(JobQuery.all().jobType("none")).items().size());
  }

  @Test
  void filtersByFinishTime_atOrAfterTheStart_beforeTheEnd_andNeverAJobThatDidNotFinish() {
    BatchId id = insert(batch(4));
    JobId early = end(id, JobStoreContractTest.JOB_TYPE, at(10), Kind.FAILED).get(0);
    JobId atStart = end(id, JobStoreContractTest.JOB_TYPE, at(20), Kind.FAILED).get(0);
    end(id, JobStoreContractTest.JOB_TYPE, at(30), Kind.FAILED); // at the end: left out
    // the fourth job is still queued: no finish time, never in a window

    Page<Job> window = store.listJobs(JobQuery.all().finishedBetween(at(20), at(30)));

    assertEquals(List.of(atStart), ids(window.items()));
    assertEquals(
        List.of(early), ids(store.listJobs(JobQuery.all().finishedBetween(at(0), at(11))).items()));
  }

  @Test
  void pages_throughEveryMatch_withHasMoreUntilTheLast() {
    for (int i = 0; i < 3; i++) {
      insert(batch(3));
    }
    List<JobId> all = ids(store.listJobs(JobQuery.all().page(0, 100)).items());
    assertEquals(9, all.size());

    List<JobId> paged = new ArrayList<>();
    for (int offset = 0; ; offset += 4) {
      Page<Job> page = store.listJobs(JobQuery.all().page(offset, 4));
      paged.addAll(ids(page.items()));
      if (!page.hasMore()) {
        break;
      }
    }

    assertEquals(all, paged);
    List<JobId> sorted = new ArrayList<>(all);
    sorted.sort(
        Comparator.comparing((JobId id) -> id.value(), JobListContractTest::unsigned).reversed());
    assertEquals(sorted, all);
  }

  @Test
  void ordersIdsAsUnsignedNumbers_anIdWithItsTopBitSetIsTheHighest() {
    // signed, this id is the lowest of all; unsigned, as the databases compare, the highest
    UUID high = new UUID(0x8000_0000_0000_7000L, 0x8000_0000_0000_0001L);
    UUID low = new UUID(0x0100_0000_0000_7000L, 0x8000_0000_0000_0001L);
    Batch topBit = batch(2).build();
    Batch plain = batch(2).build();
    assertTrue(store.insertBatch(topBit, JobStoreContractTest.consecutiveJobs(high, 2)).created());
    assertTrue(store.insertBatch(plain, JobStoreContractTest.consecutiveJobs(low, 2)).created());

    List<UUID> order =
        store.listJobs(JobQuery.all()).items().stream().map(j -> j.id().value()).toList();

    assertEquals(
        List.of(
            new UUID(high.getMostSignificantBits(), high.getLeastSignificantBits() + 1),
            high,
            new UUID(low.getMostSignificantBits(), low.getLeastSignificantBits() + 1),
            low),
        order);
  }

  @Test
  void rejectsANullQuery() {
    assertThrows(NullPointerException.class, () -> store.listJobs((JobQuery) null));
  }

  // ------------------------------------------------------------------ helpers

  private BatchId insert(JobStoreContractTest.BatchSpec spec) {
    Batch batch = spec.build();
    assertTrue(store.insertBatch(batch, jobs((int) batch.progress().total())).created());
    return batch.id();
  }

  /** Claims one job of {@code type} per kind at {@code now} and ends them so; returns their ids. */
  private List<JobId> end(BatchId id, String type, Instant now, Kind... kinds) {
    List<ClaimedJob> claimed =
        store.claim(
            JobStoreContractTest.request(
                JobStoreContractTest.NODE_A, kinds.length, now, Map.of(type, kinds.length)));
    assertEquals(kinds.length, claimed.size(), "jobs of " + id);
    List<JobOutcome> outcomes = new ArrayList<>();
    List<JobId> failed = new ArrayList<>();
    for (int i = 0; i < kinds.length; i++) {
      outcomes.add(JobStoreContractTest.outcome(claimed.get(i), kinds[i], now));
      if (kinds[i] == Kind.FAILED) {
        failed.add(claimed.get(i).id());
      }
    }
    store.complete(outcomes, now);
    return failed;
  }

  private static List<JobId> ids(List<Job> jobs) {
    return jobs.stream().map(Job::id).toList();
  }

  private static List<BatchId> batches(Page<Job> page) {
    return page.items().stream().map(Job::batchId).distinct().toList();
  }

  private static int unsigned(UUID x, UUID y) {
    int high = Long.compareUnsigned(x.getMostSignificantBits(), y.getMostSignificantBits());
    return high != 0
        ? high
        : Long.compareUnsigned(x.getLeastSignificantBits(), y.getLeastSignificantBits());
  }
}
