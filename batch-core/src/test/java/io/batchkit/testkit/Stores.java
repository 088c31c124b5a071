package io.batchkit.testkit;

import io.batchkit.BatchId;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.Page;
import io.batchkit.spi.JobStore;
import java.util.ArrayList;
import java.util.List;

/** Reads for tests of any store, shipped in batch-core's test-jar. */
public final class Stores {
  private Stores() {}

  /** Reads every job of a batch, in order, page by page. */
  public static List<Job> allJobs(JobStore store, BatchId id) {
    List<Job> all = new ArrayList<>();
    Page<Job> page;
    do {
      page = store.listJobs(id, JobQuery.all().page(all.size(), JobQuery.MAX_LIMIT));
      all.addAll(page.items());
    } while (page.hasMore());
    return all;
  }
}
