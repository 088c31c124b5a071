package io.batchkit.web.internal;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * A batch's results, streamed: as JSON Lines ({@code GET /api/batches/{id}/results}) and as a ZIP
 * of {@code batch.json}, {@code results.jsonl} and {@code failed.jsonl} ({@code results.zip}). Jobs
 * are read from the store a page of {@value #PAGE} at a time and written as they come, so a batch
 * of any size is exported in the memory of one page.
 *
 * <p>Pages are read by position, in the batch's order: a job that changes status during an export
 * is still written exactly once to {@code results.jsonl}; {@code failed.jsonl}, which filters by
 * status, holds the jobs that were failed when their page was read.
 */
final class Exports {
  /** Jobs read from the store at a time. */
  static final int PAGE = 1_000;

  private final BatchService service;
  private final boolean showPayloads;

  Exports(BatchService service, boolean showPayloads) {
    this.service = service;
    this.showPayloads = showPayloads;
  }

  /** Writes every job of {@code id} as one JSON line, in the batch's order. */
  void jsonLines(BatchId id, OutputStream out) throws IOException {
    writeLines(id, JobQuery.all(), out);
  }

  /** Writes the ZIP of {@code batch}'s export. */
  void zip(Batch batch, OutputStream out) throws IOException {
    ZipOutputStream zip = new ZipOutputStream(out, StandardCharsets.UTF_8);
    zip.putNextEntry(new ZipEntry("batch.json"));
    zip.write(Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(Json.batch(batch)));
    zip.closeEntry();
    zip.putNextEntry(new ZipEntry("results.jsonl"));
    writeLines(batch.id(), JobQuery.all(), zip);
    zip.closeEntry();
    zip.putNextEntry(new ZipEntry("failed.jsonl"));
    writeLines(batch.id(), JobQuery.withStatus(JobStatus.FAILED), zip);
    zip.closeEntry();
    zip.finish();
  }

  private void writeLines(BatchId id, JobQuery query, OutputStream out) throws IOException {
    int offset = 0;
    while (true) {
      Page<Job> page = service.getJobs(id, query.page(offset, PAGE));
      for (Job job : page.items()) {
        out.write(Json.MAPPER.writeValueAsBytes(Json.resultLine(job, showPayloads)));
        out.write('\n');
      }
      if (!page.hasMore()) {
        return;
      }
      offset = page.nextOffset();
    }
  }
}
