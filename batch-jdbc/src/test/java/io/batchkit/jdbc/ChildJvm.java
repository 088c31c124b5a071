package io.batchkit.jdbc;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A JVM of its own that runs a test's {@code main} class on the test class path, so that a test can
 * kill a node with {@code destroyForcibly()} or read everything the node logged. Its stderr (where
 * slf4j-simple logs) goes to a temporary file, {@link #log()}; its stdout is read line by line for
 * {@link #awaitLine}. Its stdin stays open until {@link #stop}: a child that drains its stdin ends
 * when the parent closes it or dies, so it never outlives the test JVM.
 *
 * <p>Used by {@link RestartIT}, {@link CrashLoopIT}, {@link OutageIT} and {@link NodeLivenessIT}.
 * Not thread-safe, except that {@link #awaitLine} may run while the child writes.
 */
final class ChildJvm implements AutoCloseable {
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  private final String name;
  private final Process process;
  private final Path log;
  private final List<String> stdout = new CopyOnWriteArrayList<>();
  private volatile boolean stdoutEnded;

  private ChildJvm(String name, Process process, Path log) {
    this.name = name;
    this.process = process;
    this.log = log;
  }

  /**
   * Starts {@code main} in a new JVM with {@code jvmOptions} (for example {@code -Dkey=value})
   * before the class name and {@code args} after it.
   */
  static ChildJvm start(Class<?> main, List<String> jvmOptions, String... args) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // under failsafe java.class.path may be just a booter jar; the test class path is kept here
    String classPath =
        System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> command = new ArrayList<>();
    command.add(java);
    command.add("-Xmx256m");
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(classPath);
    command.add(main.getName());
    command.addAll(List.of(args));
    Path log = Files.createTempFile("batchkit-" + main.getSimpleName() + "-", ".log");
    ProcessBuilder builder = new ProcessBuilder(command);
    builder.redirectError(ProcessBuilder.Redirect.to(log.toFile()));
    builder.directory(new File(System.getProperty("user.dir")));
    ChildJvm child = new ChildJvm(main.getSimpleName(), builder.start(), log);
    Thread reader = new Thread(child::readStdout, "child-stdout-" + main.getSimpleName());
    reader.setDaemon(true);
    reader.start();
    return child;
  }

  private void readStdout() {
    try (BufferedReader out =
        new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = out.readLine()) != null) {
        stdout.add(line);
      }
    } catch (IOException e) {
      // the child died; whoever waits for a line reports it with the log
    } finally {
      stdoutEnded = true;
    }
  }

  /**
   * Returns the rest of the first stdout line that starts with {@code prefix}, waiting up to {@code
   * timeout}; fails with the child's log if it does not come.
   */
  String awaitLine(String prefix, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      for (String line : stdout) {
        if (line.startsWith(prefix)) {
          return line.substring(prefix.length()).strip();
        }
      }
      if (stdoutEnded) {
        throw new AssertionError(
            name + " ended its output without a line starting with '" + prefix + "':\n" + log());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            name + " printed no line starting with '" + prefix + "' in " + timeout + ":\n" + log());
      }
      LockSupport.parkNanos(POLL_NANOS);
    }
  }

  /**
   * Polls {@code condition} every 20 ms until it holds; fails, with the child's log, after {@code
   * timeout} or as soon as the child has ended.
   */
  void awaitUntil(String what, Duration timeout, BooleanSupplier condition) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (!process.isAlive()) {
        throw new AssertionError(
            name
                + " ended (exit "
                + process.exitValue()
                + ") before "
                + what
                + "; its log:\n"
                + log());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out after "
                + timeout
                + " waiting until "
                + what
                + "; "
                + name
                + " log:\n"
                + log());
      }
      LockSupport.parkNanos(POLL_NANOS);
    }
  }

  boolean isAlive() {
    return process.isAlive();
  }

  /**
   * Sends {@code signal} (for example {@code STOP} or {@code CONT}) to the child with the system's
   * {@code kill} command, and waits until it was sent.
   */
  void signal(String signal) throws IOException, InterruptedException {
    Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(process.pid())).start();
    if (!kill.waitFor(30, TimeUnit.SECONDS) || kill.exitValue() != 0) {
      throw new AssertionError("could not send SIG" + signal + " to " + name);
    }
  }

  /** Returns every stdout line so far that starts with {@code prefix}, without the prefix. */
  List<String> lines(String prefix) {
    List<String> found = new ArrayList<>();
    for (String line : stdout) {
      if (line.startsWith(prefix)) {
        found.add(line.substring(prefix.length()).strip());
      }
    }
    return found;
  }

  /**
   * Kills the child with {@code destroyForcibly()} (SIGKILL: no shutdown hook, no finally block
   * runs) and waits until it is gone; returns the wall-clock time, in Unix milliseconds, at which
   * it was seen dead. No code of the child runs after that instant.
   */
  long kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(1, TimeUnit.MINUTES)) {
      throw new AssertionError(name + " did not die within a minute of destroyForcibly()");
    }
    return System.currentTimeMillis();
  }

  /**
   * Closes the child's stdin, which asks a child that drains it to close its service and end, and
   * waits up to {@code timeout} for it to end; returns its exit code. Fails if it did not end.
   */
  int stop(Duration timeout) throws IOException, InterruptedException {
    process.getOutputStream().close();
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError(name + " did not end within " + timeout + ":\n" + log());
    }
    return process.exitValue();
  }

  /** Returns everything the child wrote to stderr so far. */
  String log() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Kills the child if it still runs and deletes its log. */
  @Override
  public void close() throws IOException, InterruptedException {
    try {
      if (process.isAlive()) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    } finally {
      Files.deleteIfExists(log);
    }
  }
}
