package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * The latest progress a running job reported through {@link JobContext#reportProgress}, as the
 * store keeps it: a service writes it with its next lease renewal (at most once a second per job,
 * never a transaction per report), so what {@link Job#progress()} shows may be a second or two
 * behind the processor. Only a running job has it; a job that ended, or was queued again, has none.
 *
 * @param fraction how far the job has come, from 0.0 to 1.0
 * @param message a short note for people, at most {@value #MAX_MESSAGE_LENGTH} characters
 * @param reportedAt when the processor reported it, by its node's clock
 */
public record JobProgress(double fraction, Optional<String> message, Instant reportedAt) {
  /** The longest message kept; longer ones are cut. */
  public static final int MAX_MESSAGE_LENGTH = 500;

  /**
   * Creates a report. A message over {@value #MAX_MESSAGE_LENGTH} characters is cut to that (never
   * inside a surrogate pair), and a character no store can keep (NUL, an unpaired surrogate) is
   * replaced by U+FFFD, so that a report never fails for its text.
   *
   * @throws NullPointerException if {@code message} or {@code reportedAt} is null
   * @throws IllegalArgumentException if {@code fraction} is not within {@code [0, 1]}
   */
  public JobProgress {
    Checks.between(fraction, 0.0, 1.0, "fraction");
    Checks.notNull(message, "message");
    Checks.notNull(reportedAt, "reportedAt");
    message = message.map(JobProgress::cut);
  }

  private static String cut(String text) {
    if (text.length() <= MAX_MESSAGE_LENGTH) {
      return Checks.replaceUnstorable(text);
    }
    int end = MAX_MESSAGE_LENGTH;
    if (Character.isHighSurrogate(text.charAt(end - 1))) {
      end--;
    }
    return Checks.replaceUnstorable(text.substring(0, end));
  }
}
