package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Python worker of {@code python/worker.py} (standard library only) runs a batch that a Java
 * service created: two workers at once, one of them slower than its lease, so that it must extend
 * it (the service looks for leases that ran out every 200 ms). Runs when {@code python3} is on the
 * path; under {@code CI=true} its absence fails the test.
 */
@Timeout(180)
class ExternalWorkersTest {
  private static final Path WORKER = Path.of("python", "worker.py");

  @Test
  void pythonWorkers_runTheJavaServicesBatch() throws Exception {
    boolean python = onPath("python3");
    String ci = System.getenv("CI"); // as the database tests read it: set, and not "false"
    if (!python && ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false")) {
      fail("python3 is required under CI=true: .ci/run installs it");
    }
    Assumptions.assumeTrue(python, "python3 is not installed: this test runs only with it");
    assertTrue(Files.isRegularFile(WORKER), WORKER.toAbsolutePath().toString());
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(printed, true, StandardCharsets.UTF_8);

    try (ExternalWorkers example = ExternalWorkers.start(out, 0, 12, Duration.ofMillis(200))) {
      String url = example.web().uri().toString();
      // the slow worker first, holding a job longer than its 10 s lease: only extending keeps it
      Process slow =
          worker(url, "slow", "--lease", "10", "--work-seconds", "12", "--idle-exit", "2");
      Batch batch = example.batch();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (example.service().getBatch(batch.id()).progress().count(JobStatus.PROCESSING) == 0) {
        assertTrue(System.nanoTime() < deadline, "the slow worker leased nothing within 60 s");
        assertTrue(slow.isAlive(), "the slow worker ended: " + output("slow"));
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
      }
      Process fast = worker(url, "fast", "--max", "3", "--idle-exit", "2");

      Batch done = example.service().awaitCompletion(batch.id(), Duration.ofSeconds(120));
      assertTrue(slow.waitFor(60, TimeUnit.SECONDS), "the slow worker did not exit");
      assertTrue(fast.waitFor(60, TimeUnit.SECONDS), "the fast worker did not exit");

      assertEquals(BatchStatus.COMPLETED, done.status(), output("slow") + output("fast"));
      assertEquals(12, done.progress().succeeded());
      List<Job> jobs = example.service().getJobs(batch.id(), JobQuery.all()).items();
      for (Job job : jobs) {
        assertEquals(summary(job.payload()), job.result().orElseThrow(), job.toString());
        assertEquals(1, job.attempt(), "no lease ran out: " + job);
        assertTrue(job.nodeId().orElseThrow().startsWith("pull:"), job.toString());
      }
      assertEquals(0, slow.exitValue(), output("slow"));
      assertEquals(0, fast.exitValue(), output("fast"));
      assertTrue(output("slow").contains("\"lost\": 0"), output("slow"));
      assertTrue(output("slow").matches("(?s).*\"succeeded\": [1-9].*"), output("slow"));
      assertTrue(output("fast").contains("\"lost\": 0"), output("fast"));
    }
    assertTrue(printed.toString(StandardCharsets.UTF_8).contains("python3 batch-examples/python"));
  }

  /** What the Python worker's pretend work makes of a payload, computed here independently. */
  private static String summary(String payload) {
    String[] words = payload.split("\\s+");
    List<String> first = new ArrayList<>(List.of(words).subList(0, Math.min(4, words.length)));
    return String.join(" ", first).toUpperCase(Locale.ROOT) + " (" + words.length + " words)";
  }

  private static Process worker(String url, String name, String... more) throws IOException {
    List<String> command =
        new ArrayList<>(
            List.of("python3", WORKER.toString(), "--url", url, "--job-type", "summarize"));
    command.addAll(List.of(more));
    return new ProcessBuilder(command)
        .redirectErrorStream(true)
        .redirectOutput(log(name).toFile())
        .start();
  }

  private static Path log(String name) {
    return Path.of("target", "python-worker-" + name + ".log");
  }

  private static String output(String name) {
    try {
      return Files.readString(log(name));
    } catch (IOException e) {
      return "(no output: " + e + ")";
    }
  }

  private static boolean onPath(String program) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return true;
      }
    }
    return false;
  }
}
